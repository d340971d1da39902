"""What a rerun of a workdir may change: WORKDIR/flags.txt, the run's record of its flags.

flags.txt holds every flag of the run with the value it used (inherited from --init_from and
capped for small data included), so `train --flagfile WORKDIR/flags.txt --workdir NEW`
trains the same network on the same data with the same preprocessing. A rerun that resumes
the workdir must give the same values, except for the run's length, its log/checkpoint
cadence, where the towers run and the workdir's path (`FREE`); otherwise it stops before
training with one line naming each flag and both values. With --allow_changed_flags the
new values take effect from the step it resumes at: a changed learning-rate flag
(`SCHEDULE`) starts the schedule's state afresh (no plateau reduction carried over), and
flags.txt keeps a comment line per change. A flags.txt of 0.2 or before (`MARK` absent: the
flags as typed) is not compared. The network, the
classes and the frozen layers are checked apart (workdir/info.py, train/transfer.py) and can
never change.
"""

import logging
import os
import re

import numpy as np

from tf_alexnet.config import TrainConfig
from tf_alexnet.data.specs import same_path, same_spec
from tf_alexnet.data.stats import Stats
from tf_alexnet.errors import DataError, WorkdirError
from tf_alexnet.files import replaced
from tf_alexnet.flags import config_flags, flag_text, flagfile_text, read_flagfile

FLAGS_TXT = "flags.txt"
FREE = (
    "epochs",
    "train_steps",
    "log_every_steps",
    "checkpoint_every_steps",
    "keep_checkpoints",
    "steps_per_loop",
    "profile_steps",
    "tower_devices",
    "workdir",
    "allow_changed_flags",
)
SCHEDULE = (
    "lr_schedule",
    "learning_rate",
    "lr_factor",
    "plateau_patience",
    "plateau_min_steps",
    "plateau_max_reductions",
    "step_epochs",
    "warmup_epochs",
)
HISTORY = "changed at step "  # the comment lines of flags.txt that keep the history
HEADER = (
    "This run's flags, as used (tf_alexnet flags.txt 2). Rerun it afresh: python -m "
    "tf_alexnet.train --flagfile THIS_FILE --workdir NEW"
)
MARK = "(tf_alexnet flags.txt 2)"  # flags.txt of 0.2 and before held the flags as typed


def recorded_config(workdir, warn=True):
    """The TrainConfig of WORKDIR/flags.txt, or None when there is none, or when an older
    version wrote it (the flags as typed, "auto" and inherited values unresolved: comparing
    them would refuse every resume; one line says they are not compared). `warn`: say so
    in a warning line for such an older flags.txt."""
    path = os.path.join(workdir, FLAGS_TXT)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        first = f.readline()
    try:
        first = first.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkdirError(
            f"{path}: damaged: not text (not UTF-8); it records the run's flags: mend it "
            "(its flags, one per line) or use a new --workdir."
        ) from None
    if MARK not in first:
        if warn:
            logging.warning(
                "%s was written by tf_alexnet 0.2 or before: a rerun's flags are "
                "not compared with it; it now records this run's.",
                path,
            )
        return None
    try:
        return read_flagfile(TrainConfig, path)
    except ValueError as e:
        raise WorkdirError(
            f"{e}; it records the run's flags: mend it or use a new --workdir."
        ) from None


def _same_stats(a, b):
    """Two --stats paths holding the same statistics and mean image: a run from --init_from
    records the source's, and resumes from its own copy of them. A recorded path that no
    longer exists (the source moved or deleted since) counts as the same: the run's copy is
    what it trained with."""
    if not os.path.exists(a):
        return True
    try:
        x, y = Stats.load(a), Stats.load(b)
    except DataError:
        return False
    same_image = (x.mean_image is None and y.mean_image is None) or (
        x.mean_image is not None
        and y.mean_image is not None
        and np.array_equal(x.mean_image, y.mean_image)
    )
    return x == y and same_image


# Flags that hold a path (or a data spec holding one): `photos/` and `photos` are the same.
PATHS = {"data": same_spec, "init_from": same_path, "tfds_data_dir": same_path}


def _same_value(a, b, name=""):
    """Equal as settings: numbers by value (a config built in Python may hold 1 where
    flags.txt reads 1.0), paths as paths (`PATHS`), anything else by its flag text."""
    if name in PATHS and isinstance(a, str) and isinstance(b, str):
        return PATHS[name](a, b)
    number = (int, float)
    if isinstance(a, number) and isinstance(b, number) and bool not in (type(a), type(b)):
        return a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(map(_same_value, a, b))
    return flag_text(a) == flag_text(b)


def changed_flags(old, new, free=FREE):
    """{flag: (old value, new value)} where two TrainConfigs differ, outside `free`."""
    before, after = config_flags(old), config_flags(new)
    changes = {
        name: (flag_text(before[name]), flag_text(value))
        for name, value in after.items()
        if name not in free and not _same_value(before[name], value, name)
    }
    if "stats" in changes and _same_stats(*changes["stats"]):
        del changes["stats"]
    return changes


def listed(changes, old_chosen=None, new_chosen=None):
    """ "--a 'x', now 'y'; --b ..." of changed_flags' result; a value the package chose
    (`chosen_values`: the run's recorded ones, `old_chosen`, and this command's,
    `new_chosen`) says so and names the value typed."""

    def told(name, value, chosen):
        if name in (chosen or {}) and chosen[name][1] == value:
            typed, _, why = chosen[name]
            return f"{value!r} ({why}; typed {typed!r})"
        return repr(value)

    return "; ".join(
        f"--{name} {told(name, a, old_chosen)}, now {told(name, b, new_chosen)}"
        for name, (a, b) in changes.items()
    )


# The comment lines of flags.txt that say which values the package chose, and why.
CHOSEN = "chosen: "
_CHOSEN_LINE = re.compile(r"^# chosen: --(\w+)=(.*) \(typed '(.*)'\): (.*)$")


def chosen_values(typed, used, reasons):
    """{flag: (typed value, value used, why)} for each flag whose value the package chose
    (`used` differs from `typed`: "auto" resolved, the small-data batch, a value inherited
    from --init_from); `reasons`: {flag: why} (default: "chosen by the package")."""
    before, after = config_flags(typed), config_flags(used)
    why = "chosen by the package"
    return {
        name: (flag_text(before[name]), flag_text(value), reasons.get(name, why))
        for name, value in after.items()
        if name not in ("workdir",) and not _same_value(before[name], value, name)
    }


def recorded_choices(workdir):
    """The `chosen_values` a workdir's flags.txt records ({} before 0.5)."""
    path = os.path.join(workdir, FLAGS_TXT)
    found = {}
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                match = _CHOSEN_LINE.match(line.rstrip("\n"))
                if match:
                    name, value, typed, why = match.groups()
                    found[name] = (typed, value, why)
    return found


def check_rerun(config, resuming, chosen=None):
    """The flags a resumed run changes ({} when it changes none, starts afresh or has no
    flags.txt). Raises WorkdirError naming each one once, with the run's value and, when
    the package chose it, why and what was typed (`chosen`: this command's choices),
    unless --allow_changed_flags."""
    old = recorded_config(config.workdir) if resuming else None
    changes = changed_flags(old, config) if old is not None else {}
    if changes and not config.allow_changed_flags:
        raise WorkdirError(
            f"{config.workdir} was trained with other flags ({FLAGS_TXT}): "
            f"{listed(changes, recorded_choices(config.workdir), chosen)}. Rerun "
            "with its values to continue it, use a new --workdir to start afresh, or add "
            "--allow_changed_flags to continue it with the new values."
        )
    return changes


def changes_schedule(changes):
    return any(name in SCHEDULE for name in changes)


def write_flags(config, step, changes, chosen=None):
    """Writes WORKDIR/flags.txt: the header, the history of changes (with `changes` made at
    `step` added), the values the package chose (`chosen`: chosen_values' result) and every
    flag's value in `config`."""
    path = os.path.join(config.workdir, FLAGS_TXT)
    history = []
    if os.path.exists(path):
        with open(path) as f:
            history = [line[2:].rstrip("\n") for line in f if line.startswith("# " + HISTORY)]
    if changes:
        history.append(
            HISTORY
            + f"{step}: "
            + "; ".join(f"--{name} {a} -> {b}" for name, (a, b) in changes.items())
            + " (--allow_changed_flags)"
        )
    notes = [
        f"{CHOSEN}--{name}={value} (typed {typed!r}): {why}"
        for name, (typed, value, why) in sorted((chosen or {}).items())
    ]
    with replaced(path) as f:
        f.write(
            flagfile_text(config, (HEADER, *history, *notes), leave_out=("allow_changed_flags",))
        )
