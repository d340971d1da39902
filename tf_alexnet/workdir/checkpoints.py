"""A workdir's checkpoints: their keys, finding them on disk, restoring the newest that
restores (damaged ones set aside, never overwritten), and a model restored from one.
"""

import glob
import logging
import os
import re
import shutil
import time

import tensorflow as tf

from tf_alexnet.validation import finite_weights

from tf_alexnet import lock
from tf_alexnet.errors import WorkdirError
from tf_alexnet.workdir.info import MODEL_JSON


def checkpoint_layers(model):
    """{layer: {weight: variable}}: saved beside the model so that checkpoint keys read
    `layers/conv2a/kernel` rather than the optimizer's numbered references."""
    # layer.variables also holds the dropout layers' seed-generator states, so that a
    # resumed run draws the same dropout masks as an uninterrupted one.
    return {
        layer.name: {v.name: v for v in layer.variables}
        for layer in model.layers
        if layer.variables
    }


# What a damaged checkpoint raises: NotFoundError (index missing), IndexError ("Read less
# bytes than requested": data file truncated), DataLossError (checksum mismatch). A
# checkpoint of another model raises AssertionError instead: that is never "damaged".
DAMAGE = (tf.errors.OpError, IndexError)
UNREADABLE = "unreadable"


def checkpoint_prefixes(workdir):
    """Every `checkpoints/ckpt-N` that has any file on disk, newest first. Read from the
    files, not from the `checkpoint` state file, which may be missing or stale."""
    numbers = set()
    for path in glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*")):
        match = re.fullmatch(r"ckpt-(\d+)\.(index|data-\d+-of-\d+)", os.path.basename(path))
        if match:
            numbers.add(int(match.group(1)))
    return [os.path.join(workdir, "checkpoints", f"ckpt-{n}") for n in sorted(numbers)[::-1]]


def latest_checkpoint(workdir):
    """The newest checkpoint prefix with files on disk, or None."""
    prefixes = checkpoint_prefixes(workdir)
    return prefixes[0] if prefixes else None


def _why(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160] if text else ''}"


def restore_newest(workdir, restore, move_damaged=False, quiet=False):
    """Restores the newest checkpoint that restores completely; returns its prefix or None.

    `restore(prefix)` raises on failure. A newer checkpoint that does not restore (index
    missing, file truncated, checksum mismatch) is reported in one line and the previous one
    tried; with `move_damaged` its files move to checkpoints/unreadable/ (kept, never
    overwritten by a new save of the same number). Raises WorkdirError when checkpoint
    files exist but none restores: training never silently starts again from step 0."""
    prefixes, damaged = checkpoint_prefixes(workdir), []
    for prefix in prefixes:
        try:
            restore(prefix)
        except DAMAGE as e:
            if not quiet:  # quiet: a reader of a live run, whose files come and go
                logging.warning(
                    "Checkpoint %s cannot be restored (%s); trying the previous one.",
                    prefix,
                    _why(e),
                )
            damaged.append(prefix)
            continue
        for newer in damaged if move_damaged else ():  # only once a good one restored
            logging.warning("Moved %s to checkpoints/unreadable/.", newer)
            set_aside(newer)
        return prefix
    if prefixes:
        raise NoCheckpointRestores(workdir, prefixes)
    return None


class NoCheckpointRestores(WorkdirError):
    """Checkpoint files exist but none restores (the trainer's message: a reader's says
    otherwise, restore_into)."""

    def __init__(self, workdir, prefixes, advice=None):
        self.workdir, self.prefixes = workdir, prefixes
        super().__init__(
            f"{workdir}/checkpoints: none of {len(prefixes)} checkpoint(s) can be restored "
            f"({', '.join(os.path.basename(p) for p in prefixes)}); "
            + (
                advice
                or "not starting again from step 0. Move the checkpoints away to start afresh."
            )
        )


def set_aside(prefix):
    target = os.path.join(os.path.dirname(prefix), UNREADABLE)
    os.makedirs(target, exist_ok=True)
    for path in glob.glob(prefix + ".*"):
        shutil.move(path, os.path.join(target, os.path.basename(path)))


def remove_partial_saves(workdir):
    """Deletes the `*_temp` directories a save killed midway leaves (never a checkpoint)."""
    for path in glob.glob(os.path.join(workdir, "checkpoints", "*_temp*")):
        logging.warning("Removing %s, left by a save that did not finish.", path)
        shutil.rmtree(path, ignore_errors=True)


def restore_into(model, workdir, checkpoint=None):
    """Restores `model` (built as the workdir's model.json says) from `checkpoint`
    (default: the newest that restores); sets and returns `model.checkpoint_path`."""

    def restore(path):
        # A fresh Checkpoint each try: one whose restore failed midway (files removed by a
        # live run) keeps half-bound state that fails the next try's match.
        saved = tf.train.Checkpoint(model=model, layers=checkpoint_layers(model))
        status = saved.restore(path)
        status.expect_partial()  # the optimizer's slots are the trainer's, not ours
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            if not _complete(path):  # removed while being read (a live run): not a mismatch
                raise IndexError(f"{path}: removed while being read") from None
            raise WorkdirError(f"{path}: does not match {workdir}/{MODEL_JSON} ({e}).") from None

    if checkpoint:
        try:
            restore(checkpoint)
        except DAMAGE as e:
            raise WorkdirError(
                f"--checkpoint {checkpoint}: cannot be restored ({_why(e)})."
            ) from None
        path = checkpoint
    else:
        path = _restore_while_training(workdir, restore)
    if not path:
        raise WorkdirError(f"{workdir}: no checkpoint in {workdir}/checkpoints.")
    finite_weights(model.weights, path, WorkdirError)
    model.checkpoint_path = path
    return path


def _complete(prefix):
    """Whether a checkpoint's index and data files are all on disk."""
    names = [os.path.basename(p) for p in glob.glob(prefix + ".*")]
    return any(n.endswith(".index") for n in names) and any(".data-" in n for n in names)


READ_SECONDS = 60  # how long a reader of a live run keeps trying


def _restore_while_training(workdir, restore):
    """restore_newest for a reader. While a trainer holds the workdir (a live run saving
    and removing checkpoints), a failure to restore is a race, not damage: it lists the
    checkpoints again and retries, for up to READ_SECONDS."""
    deadline = time.monotonic() + READ_SECONDS
    while True:
        try:
            return restore_newest(workdir, restore, quiet=lock.held(workdir))
        except NoCheckpointRestores as e:
            if not lock.held(workdir):
                raise NoCheckpointRestores(
                    workdir,
                    e.prefixes,
                    "they are damaged (give --checkpoint of one that restores).",
                ) from None
            if time.monotonic() > deadline:
                raise WorkdirError(
                    f"{workdir}/checkpoints: the live run replaced its "
                    f"checkpoints at every try for {READ_SECONDS} s; try "
                    "again."
                ) from None
        time.sleep(0.05)
