"""The package's expected failures, and the one line each is told in.

Data, model, workdir and export code raise these (or OSError, or TensorFlow's OpError); the
commands (tf_alexnet/cli.py) end with `command: <describe(error)>` and exit status 1.
Plain Python: flags and configs import it before TensorFlow loads.
"""

import re


class Error(ValueError):
    """An expected failure the user can fix; the message names the file or flag and says
    what to do."""


class DataError(Error):
    """A data source, image, shard or statistics file that cannot be used as asked."""


class WorkdirError(Error):
    """A training workdir (its model.json, checkpoints or lock) that cannot be used."""


class ExportError(Error):
    """An exported model that cannot be found, loaded or written."""


class MissingDependency(Error):
    """A Python package a command needs is not installed (pip install --no-deps, a
    partial environment)."""


def require(module, package, purpose):
    """Imports and returns `module`; if it is not installed, raises MissingDependency:
    one line naming what needs it and the pip line that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"{purpose} needs the Python package {package} (module {module}), which "
            f"`pip install .` installs with tf_alexnet: pip install {package}"
        ) from None


class NonFiniteLoss(RuntimeError):
    """The loss became nan or inf: the run stops and keeps its last good checkpoint."""


_BOILERPLATE_LINES = ("Graph execution error", "Detected at node")
_BOILERPLATE_STARTS = ("File ",)
_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_OP = re.compile(r"\s*\[Op:(\w+)\]")
_ASSERTION = re.compile(r"assertion failed: \[(.*?)\]")


def describe(error):
    """One line for an expected error: an OSError's file and cause; for an error raised
    while TensorFlow traced a function ("in user code:" and the frames), its last line, the
    cause; else the first line of the message that is not TensorFlow's boilerplate (a graph
    error opens with the node and Python frames; an eager op's message is wrapped in
    {{function_node ...}} and ends with [Op:NAME], said as "(op NAME)")."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    text = getattr(error, "message", None) or str(error)
    text = _OP.sub(r" (op \1)", _FUNCTION_NODE.sub("", text))
    assertion = _ASSERTION.search(text)  # a check of ours in a graph (data/labels.py)
    if assertion:
        return assertion.group(1)[:400]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0] == "in user code:":
        return lines[-1][:400]
    lines = [
        line
        for line in lines
        if not line.startswith(_BOILERPLATE_LINES) and not line.startswith(_BOILERPLATE_STARTS)
    ]
    return lines[0][:400] if lines else type(error).__name__
