"""Writing a file whole: a reader (evaluate of a live run) sees the old content or the new,
never half of it. Plain Python."""

import contextlib
import os


@contextlib.contextmanager
def replaced(path, mode="w"):
    """Opens `path`.tmp-PID for writing; on success renames it over `path` (atomic on POSIX
    within one file system); on failure removes it."""
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, mode) as f:
            yield f
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
