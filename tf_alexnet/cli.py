"""How every command ends on an expected failure: one line naming the file or flag, exit 1.

Expected: bad flags and paths, permissions, damaged checkpoints, models and shards, images
that do not decode (ValueError and its DataError/WorkdirError/ExportError, OSError,
TensorFlow's OpError). A traceback is left for real bugs; TF_ALEXNET_TRACEBACK=1 shows one
for these too.
"""

import os
import sys


def describe(error):
    """One line for an expected error."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    text = getattr(error, "message", None) or str(error)
    # TensorFlow's errors from a graph open with boilerplate lines; the cause follows.
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()
             and not line.startswith(("Graph execution error", "Detected at node"))
             and not line.strip().startswith(("File ", "{{function_node"))]
    return lines[0][:400] if lines else type(error).__name__


def run(command, body, explain=None):
    """body(); an expected error ends the process with `command: <one line>`.

    `explain(error)`, if given, may return a better line (e.g. the file behind a decode
    error in the data pipeline)."""
    import tensorflow as tf

    try:
        return body()
    except (ValueError, OSError, RuntimeError, tf.errors.OpError) as e:
        if os.environ.get("TF_ALEXNET_TRACEBACK"):
            raise
        line = (explain(e) if explain else None) or describe(e)
        sys.exit(f"{command}: {line}")
