"""One writer per directory: an fcntl lock on DIR/.lock (training workdirs, prepare output).

The lock goes with the process: a killed holder leaves no stale lock behind.
"""

import contextlib
import fcntl
import logging
import os

from tf_alexnet.errors import WorkdirError


@contextlib.contextmanager
def exclusive(directory, holder="trainer"):
    """Holds an exclusive lock on `directory` (its .lock file) while a training run (or a
    prepare run) writes into it: a second one stops at once, naming the process that holds
    it."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, ".lock")
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = (f.read().split() or ["unknown"])[-1]
            raise WorkdirError(
                f"{directory} is in use by another {holder} (process {pid}); "
                "wait for it to finish or use another directory."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def in_turn(directory, holder):
    """Holds an exclusive lock on `directory` itself (no file is added to it: a TF Serving
    base directory stays as the user sees it), waiting while another process holds it:
    writers that must not interleave (exports choosing the next version) take turns."""
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logging.warning("%s: waiting for another %s to finish.", directory, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def held(directory):
    """True while a process holds `directory`'s lock (a live trainer); never blocks, never
    creates the lock file."""
    path = os.path.join(directory, ".lock")
    try:
        f = open(path)
    except OSError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False
