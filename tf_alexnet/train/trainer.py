"""`train(config)`: a TrainingTask opened, built and run (tf_alexnet/train/task.py), with
the run's process settings (tf_alexnet/train/process.py) and the workdir's lock.

A resumed run continues the step, the optimizer's velocities, the learning-rate schedule's
state and the data position (the stream is seeded by example index, see
data.pipeline.train_dataset).
"""

import contextlib
import logging
import os
import shutil

from tf_alexnet.errors import NonFiniteLoss
from tf_alexnet.lock import exclusive
from tf_alexnet.train import rerun
from tf_alexnet.train.devices import auto_precision, is_chief, make_strategy, resolve_auto
from tf_alexnet.train.process import process_settings
from tf_alexnet.train.task import TrainingTask
from tf_alexnet.train.transfer import resolve_init_from
from tf_alexnet.workdir.checkpoints import latest_checkpoint, remove_partial_saves


def train(config):
    """Trains (or resumes) as `config` (a TrainConfig) says; returns the last evaluation's
    metrics with the step, images/s and the first call's time (after a SIGINT or SIGTERM:
    `stopped_at`, `checkpoint` and `signal`). WORKDIR/flags.txt records the flags as used
    (train/rerun.py: what a rerun may change).

    A run that fails before it saved anything (a bad flag value found late, data that
    cannot be read, a workdir of another model) removes the workdir it created, so that a
    typo leaves no empty directory behind; a run whose loss diverged keeps its logs."""
    config.validate()
    fresh = not os.path.exists(config.workdir)
    try:
        return _train(config)
    except BaseException as e:
        if fresh and not isinstance(e, NonFiniteLoss):
            remove_unsaved(config.workdir)
        raise


def remove_unsaved(workdir):
    """Removes a workdir this process created when no checkpoint was saved into it. Only
    the process that held its lock (the chief: lock.py writes its pid) removes it; another
    worker of a multi-worker run never does."""
    try:
        with open(os.path.join(workdir, ".lock")) as f:
            ours = f.read().split() == [str(os.getpid())]
    except OSError:
        ours = False
    if ours and latest_checkpoint(workdir) is None:
        shutil.rmtree(workdir, ignore_errors=True)
        logging.info("Removed %s: the run saved nothing.", workdir)


def _train(typed):
    recorded = None
    if typed.precision == "auto":  # a resumed run keeps the precision it ran in
        old = None
        if os.path.isdir(typed.workdir):  # the rerun check says the rest, once (task.py)
            old = rerun.recorded_config(typed.workdir, warn=False)
        recorded = old.precision if old else None
    config = resolve_auto(typed, recorded)
    why = auto_precision(recorded)[1] if typed.precision == "auto" else "--precision"
    logging.info(
        "Precision %s (%s), %d step(s) per compiled call%s.",
        config.precision,
        why,
        config.steps_per_loop,
        ", XLA" if config.xla else "",
    )
    with process_settings(config) as stop:
        strategy = make_strategy(config.strategy)
        chief = is_chief(strategy)
        with exclusive(config.workdir) if chief else contextlib.nullcontext():
            if chief:
                remove_partial_saves(config.workdir)
            config, transfer = resolve_init_from(config)
            task = TrainingTask(
                config, strategy=strategy, stop=stop, transfer=transfer, typed=typed
            )
            task.open()
            state = task.build_state()
            task.save_records(state)
            return task.build_loop(state).run_to_end()
