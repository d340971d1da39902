"""A training run's directory, and `RunInfo`, the one record of what a run trained.

    workdir/model.json        RunInfo: the network (AlexNetSpec), grouping, class names, the
                              evaluation preprocessing (sizes, mean mode) and the data spec
    workdir/stats.json        the dataset statistics used (mean, PCA), and mean_image.npy
    workdir/flags.txt         the resolved flags, a flagfile that reproduces the run
    workdir/checkpoints/      tf.train.CheckpointManager checkpoints
    workdir/train, eval/      TensorBoard summaries

An export carries the same RunInfo (assets.extra/tf_alexnet.json and stats.json): evaluate,
export and predict read only these files, so a workdir can be moved to another machine.
"""

import contextlib
import dataclasses
import fcntl
import glob
import json
import logging
import os
import re
import shutil

import tensorflow as tf

from tf_alexnet.model import AlexNetSpec, build_from_spec
from tf_alexnet.preprocess import STATS_JSON, Preprocessing, Stats

MODEL_JSON = "model.json"


class WorkdirError(ValueError):
    """A workdir that cannot be used as asked; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a trained model is: enough to rebuild it, feed it and name its outputs."""
    spec: AlexNetSpec
    grouping: str                  # towers | fused | none
    class_names: tuple
    preprocessing: Preprocessing   # with the run's Stats
    source: str = ""               # the training data spec (--data)

    def to_json(self):
        """The model.json content (statistics are stored apart, in stats.json)."""
        p = self.preprocessing
        return dict(spec=self.spec.to_json(), grouping=self.grouping,
                    class_names=list(self.class_names), image_size=p.image_size,
                    resize=p.resize, mean=p.mean, data=self.source)

    @classmethod
    def from_json(cls, d, stats):
        """Reads today's model.json and that of earlier versions (LRN as sorted pairs)."""
        return cls(AlexNetSpec.from_json(d["spec"]), d["grouping"], tuple(d["class_names"]),
                   Preprocessing(int(d["image_size"]), int(d["resize"]), d["mean"], stats),
                   d.get("data", ""))

    def save(self, directory, filename=MODEL_JSON, **extra):
        """Writes `filename` (with `extra` keys), stats.json and mean_image.npy."""
        os.makedirs(directory, exist_ok=True)
        self.preprocessing.stats.save(directory)
        with open(os.path.join(directory, filename), "w") as f:
            json.dump({**self.to_json(), **extra}, f, indent=2)

    @classmethod
    def load(cls, directory, filename=MODEL_JSON, stats_dir=None):
        """(RunInfo, the raw JSON) from `directory`; stats from `stats_dir` (default: the
        same directory)."""
        path = os.path.join(directory, filename)
        with open(path) as f:
            d = json.load(f)
        stats = Stats.load(os.path.join(stats_dir or directory, STATS_JSON))
        return cls.from_json(d, stats), d

    def incompatibilities(self, new):
        """Why resuming this run's checkpoints as `new` would load wrong weights."""
        problems = []
        if self.spec != new.spec:
            diff = {f.name: (getattr(self.spec, f.name), getattr(new.spec, f.name))
                    for f in dataclasses.fields(AlexNetSpec)
                    if getattr(self.spec, f.name) != getattr(new.spec, f.name)}
            problems.append(f"the network differs (workdir vs. now: {diff})")
        if self.grouping != new.grouping:
            problems.append(f"grouping {self.grouping!r} vs. {new.grouping!r} (use "
                            f"--grouping={self.grouping})")
        if self.class_names != new.class_names:
            problems.append(f"the class list differs ({len(self.class_names)} classes, first "
                            f"{list(self.class_names[:3])}, vs. {len(new.class_names)}, "
                            f"first {list(new.class_names[:3])})")
        return problems


def load_run_info(workdir):
    """The RunInfo of a training workdir."""
    if not os.path.exists(os.path.join(workdir, MODEL_JSON)):
        raise WorkdirError(f"{workdir}: no {MODEL_JSON}; is it a tf_alexnet.train workdir?")
    return RunInfo.load(workdir)[0]


def check_compatible(old, new):
    """Raises WorkdirError when resuming `old` (RunInfo) as `new` would load wrong weights."""
    problems = old.incompatibilities(new)
    if problems:
        raise WorkdirError("Cannot resume: the workdir's checkpoints are of another model: "
                           + "; ".join(problems) + ". Use a new --workdir, or the flags of "
                           "the original run (its flags.txt).")


def checkpoint_layers(model):
    """{layer: {weight: variable}}: saved beside the model so that checkpoint keys read
    `layers/conv2a/kernel` rather than the optimizer's numbered references."""
    # layer.variables also holds the dropout layers' seed-generator states, so that a
    # resumed run draws the same dropout masks as an uninterrupted one.
    return {layer.name: {v.name: v for v in layer.variables}
            for layer in model.layers if layer.variables}


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


def restore_newest(workdir, restore, move_damaged=False):
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
            logging.warning("Checkpoint %s cannot be restored (%s); trying the previous one.",
                            prefix, _why(e))
            damaged.append(prefix)
            continue
        for newer in damaged if move_damaged else ():  # only once a good one restored
            logging.warning("Moved %s to checkpoints/unreadable/.", newer)
            set_aside(newer)
        return prefix
    if prefixes:
        raise WorkdirError(
            f"{workdir}/checkpoints: none of {len(prefixes)} checkpoint(s) can be restored "
            f"({', '.join(os.path.basename(p) for p in prefixes)}); not starting again from "
            "step 0. Move the checkpoints away to start afresh.")
    return None


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


@contextlib.contextmanager
def exclusive(workdir):
    """Holds an exclusive lock on the workdir (its .lock file) for a training run: a second
    trainer on the same workdir stops at once, naming the process that holds it."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, ".lock")
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = (f.read().split() or ["unknown"])[-1]
            raise WorkdirError(f"{workdir} is in use by another trainer (process {holder}); "
                               "wait for it to finish or use another --workdir.") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def restore_model(workdir, checkpoint=None):
    """(model, RunInfo, checkpoint path) with the weights of `checkpoint` (default: the
    newest that restores)."""
    info = load_run_info(workdir)
    model = build_from_spec(info.spec, info.grouping, None)
    saved = tf.train.Checkpoint(model=model, layers=checkpoint_layers(model))

    def restore(path):
        status = saved.restore(path)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            raise WorkdirError(f"{path}: does not match {workdir}/{MODEL_JSON} ({e}).") from None
        status.expect_partial()

    if checkpoint:
        try:
            restore(checkpoint)
        except DAMAGE as e:
            raise WorkdirError(f"--checkpoint {checkpoint}: cannot be restored ({_why(e)})."
                               ) from None
        return model, info, checkpoint
    path = restore_newest(workdir, restore)
    if not path:
        raise WorkdirError(f"{workdir}: no checkpoint in {workdir}/checkpoints.")
    return model, info, path
