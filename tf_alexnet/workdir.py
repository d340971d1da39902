"""What a training workdir holds besides checkpoints, and rebuilding its model.

    workdir/model.json        the network (AlexNetSpec), grouping, class names, and the
                              evaluation preprocessing (sizes, mean mode)
    workdir/stats.json        the dataset statistics used (mean, PCA), and mean_image.npy
    workdir/flags.txt         the resolved flags, a flagfile that reproduces the run
    workdir/checkpoints/      tf.train.CheckpointManager checkpoints
    workdir/train, eval/      TensorBoard summaries

evaluate and export read only these files: a workdir can be moved to another machine.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from tf_alexnet.model import AlexNetSpec, build_from_spec, resolve_tower_devices
from tf_alexnet.preprocess import load_stats

MODEL_JSON = "model.json"


class WorkdirError(ValueError):
    """A workdir that cannot be used as asked; the message says why and what to do."""


def metadata(spec, grouping, class_names, data_config):
    return dict(spec=dataclasses.asdict(spec), grouping=grouping,
                class_names=list(class_names), image_size=data_config.image_size,
                resize=data_config.resize, mean=data_config.mean, data=data_config.data)


def save_metadata(workdir, meta, stats):
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, MODEL_JSON), "w") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(workdir, "stats.json"), "w") as f:
        json.dump(dict(mean_rgb=list(stats.mean_rgb), std_rgb=list(stats.std_rgb),
                       pca_eigenvalues=list(stats.pca_eigenvalues),
                       pca_eigenvectors=[list(r) for r in stats.pca_eigenvectors],
                       source=stats.source), f, indent=2)
    mean_path = os.path.join(workdir, "mean_image.npy")
    if stats.mean_image is not None:
        np.save(mean_path, np.asarray(stats.mean_image, np.float32))
    elif os.path.exists(mean_path):
        os.remove(mean_path)


def load_metadata(workdir):
    path = os.path.join(workdir, MODEL_JSON)
    if not os.path.exists(path):
        raise WorkdirError(f"{workdir}: no {MODEL_JSON}; is it a tf_alexnet.train workdir?")
    with open(path) as f:
        return json.load(f)


def load_workdir_stats(workdir):
    return load_stats(os.path.join(workdir, "stats.json"))


def spec_from_meta(meta):
    spec = dict(meta["spec"])
    spec["filters"] = tuple(spec["filters"])
    spec["lrn"] = tuple(tuple(x) for x in spec["lrn"])
    return AlexNetSpec(**spec)


def check_compatible(old, new):
    """Raises WorkdirError when resuming `old` metadata with `new` would load wrong weights."""
    new = json.loads(json.dumps(new))  # tuples -> lists, as stored
    problems = []
    if old["spec"] != new["spec"]:
        diff = {k: (old["spec"][k], new["spec"][k]) for k in new["spec"]
                if old["spec"].get(k) != new["spec"][k]}
        problems.append(f"the network differs (workdir vs. now: {diff})")
    if old["grouping"] != new["grouping"]:
        problems.append(f"grouping {old['grouping']!r} vs. {new['grouping']!r} (use "
                        f"--grouping={old['grouping']})")
    if old["class_names"] != new["class_names"]:
        problems.append(f"the class list differs ({len(old['class_names'])} classes, "
                        f"first {old['class_names'][:3]}, vs. {len(new['class_names'])}, "
                        f"first {new['class_names'][:3]})")
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


def restore_model(workdir, checkpoint=None, grouping=None, tower_devices=None):
    """(model, metadata) with the weights of `checkpoint` (default: the latest).

    `grouping` rebuilds the trained network in another grouping (same function)."""
    meta = load_metadata(workdir)
    path = checkpoint or latest_checkpoint(workdir)
    if not path:
        raise WorkdirError(f"{workdir}: no checkpoint in {workdir}/checkpoints.")
    spec = spec_from_meta(meta)
    trained = build_from_spec(spec, meta["grouping"], None)
    status = tf.train.Checkpoint(model=trained, layers=checkpoint_layers(trained)).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise WorkdirError(f"{path}: does not match {workdir}/{MODEL_JSON} ({e}).") from None
    status.expect_partial()
    if grouping and grouping != meta["grouping"]:
        from tf_alexnet.model import convert_grouping
        trained = convert_grouping(trained, grouping, resolve_tower_devices(tower_devices))
    return trained, meta, path


__all__ = ["WorkdirError", "metadata", "save_metadata", "load_metadata",
           "check_compatible", "restore_model", "latest_checkpoint", "load_workdir_stats"]
