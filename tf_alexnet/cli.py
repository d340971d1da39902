"""How every command starts and ends: flags in, one line out on an expected failure.

Expected failures are the package's errors (tf_alexnet/errors.py), ValueError, OSError,
RuntimeError and TensorFlow's OpError: the command prints `command: <one line naming the
file or flag>` and exits 1. TF_ALEXNET_TRACEBACK=1 shows the traceback as well. A command
module defines `define_flags(flag_values)` and `main(argv, flag_values)`; `start` runs it
under absl as `python -m`, and tests call the same two functions in-process.

`--help` (also -h, --helpshort) prints the command's docstring and its own flags, each with
its help text, units, choices and default; `--helpfull` adds absl's flags. Both exit 0.
"""

import logging as std_logging
import os
import sys
import textwrap

from absl import app, logging

from tf_alexnet import flags as flags_lib
from tf_alexnet.errors import describe


def run(command, body, explain=None):
    """body(); an expected error ends the process with `command: <one line>`.

    `explain(error)`, if given, may return a better line (e.g. the file behind a decode
    error in the data pipeline)."""
    # Imported here, not at the top: commands parse their flags (and set XLA's environment)
    # before TensorFlow loads.
    import tensorflow as tf

    try:
        return body()
    except (ValueError, OSError, RuntimeError, tf.errors.OpError) as e:
        if os.environ.get("TF_ALEXNET_TRACEBACK"):
            raise
        line = (explain(e) if explain else None) or describe(e)
        sys.exit(f"{command}: {line}")


class TensorFlowInfo(std_logging.Filter):
    """Drops TensorFlow's own INFO lines (e.g. functional_saver.py's at every checkpoint):
    they speak to its developers. Its warnings and errors pass."""

    def filter(self, record):
        return record.levelno >= std_logging.WARNING or (
            f"{os.sep}tensorflow{os.sep}" not in record.pathname
        )


def config(prog, config_class, flag_values, argv=None, quiet=False, **given):
    """The validated config of command `prog` from its flags; a bad value ends with one
    line naming `prog`. `given`: fields set by the command itself (bench's `command`).

    argv: the positional arguments, refused when given (a command taking none). quiet:
    absl's log at WARNING (the commands that print their own results)."""
    for name in ("absl", "tensorflow"):  # TensorFlow logs through absl's logger
        logger = std_logging.getLogger(name)
        if not any(isinstance(f, TensorFlowInfo) for f in logger.filters):
            logger.addFilter(TensorFlowInfo())
    if argv is not None:
        no_arguments(argv)
    if quiet:
        logging.set_verbosity(logging.WARNING)
    try:
        return flags_lib.read(config_class, flag_values, **given)
    except ValueError as e:
        sys.exit(f"{prog}: {e}")


def no_arguments(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")


HELP = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")
HELPFULL = ("--helpfull", "-helpfull")


def command_help(doc, flag_values, full=False):
    """The command's docstring and its own flags (those flags.define made), with absl's
    flags after them when `full`."""
    lines = [textwrap.dedent(doc or "").strip(), "", "Flags (--name=value; the default after =):"]
    for flag in flag_values.get_flags_for_module(flags_lib.MODULE):
        default = flag.default_as_str.strip("'") if flag.default_as_str else ""
        lines.append(f"  --{flag.name}={default}")
        lines += textwrap.wrap(flag.help, 88, initial_indent="      ", subsequent_indent="      ")
    if full:
        lines += ["", "absl's flags:"]
        for module, module_flags in sorted(flag_values.flags_by_module_dict().items()):
            if module != flags_lib.MODULE and not module.endswith("__main__.py"):
                lines += [f"  --{flag.name}: {flag.help}" for flag in module_flags]
    else:
        lines += ["", "--helpfull also lists absl's own flags."]
    return "\n".join(lines)


def start(define_flags, main):
    """`python -m tf_alexnet.<command>`: defines the flags and runs main under absl (the
    help flags print the command's help and exit 0)."""
    define_flags(flags_lib.FLAGS)
    asked = [arg.split("=")[0] for arg in sys.argv[1:]]
    if any(arg in HELP + HELPFULL for arg in asked):
        doc = getattr(sys.modules.get("__main__"), "__doc__", "")
        print(command_help(doc, flags_lib.FLAGS, full=any(a in HELPFULL for a in asked)))
        sys.exit(0)
    app.run(lambda argv: main(argv, flags_lib.FLAGS))
