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

import dataclasses
import json
import os

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


def latest_checkpoint(workdir):
    return tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))


def restore_model(workdir, checkpoint=None):
    """(model, RunInfo, checkpoint path) with the weights of `checkpoint` (default: the
    latest)."""
    info = load_run_info(workdir)
    path = checkpoint or latest_checkpoint(workdir)
    if not path:
        raise WorkdirError(f"{workdir}: no checkpoint in {workdir}/checkpoints.")
    model = build_from_spec(info.spec, info.grouping, None)
    status = tf.train.Checkpoint(model=model, layers=checkpoint_layers(model)).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise WorkdirError(f"{path}: does not match {workdir}/{MODEL_JSON} ({e}).") from None
    status.expect_partial()
    return model, info, path
