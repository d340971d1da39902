"""Several trained runs as one model (the paper's Table 2: the predictions of 5 CNNs
averaged).

    workdir_list(text)          "a,b,c" -> ["a", "b", "c"]
    restore_ensemble(workdirs)  (members, RunInfo, checkpoint paths); refuses, in one line,
                                runs whose classes or preprocessing differ
    ensemble_model(members)     one Keras model whose softmax is the members' mean softmax

The ensemble's outputs are log(mean of the members' probabilities): every consumer of
logits (evaluation, the serving signatures, TFLite) applies a softmax, and softmax(log p) is
p itself, so an ensemble evaluates and exports as any single model does.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet.errors import WorkdirError
from tf_alexnet.model.groupings import convert_grouping
from tf_alexnet.workdir.checkpoints import restore_model


def workdir_list(text):
    """The workdirs of a --workdir value ("a,b,c"; one for a single run). A run named twice
    is refused: the mean of a run's copies is that run, not an ensemble."""
    workdirs = [part.strip() for part in text.split(",") if part.strip()]
    seen = {}
    for workdir in workdirs:
        key = os.path.realpath(workdir)
        if key in seen:
            raise WorkdirError(f"--workdir names {seen[key]} twice ({workdir}); an ensemble "
                               "takes each run once.")
        seen[key] = workdir
    return workdirs


def _preprocessing_difference(a, b):
    """Why two Preprocessings differ, or ''."""
    for field in ("image_size", "resize", "mean", "resize_mode"):
        if getattr(a, field) != getattr(b, field):
            return f"{field} {getattr(a, field)!r} vs. {getattr(b, field)!r}"
    for field in ("mean_rgb", "pca_eigenvalues", "pca_eigenvectors", "mean_image"):
        x, y = getattr(a.stats, field), getattr(b.stats, field)
        if (x is None) != (y is None) or (x is not None and not np.allclose(x, y)):
            return f"statistics ({field}) differ"
    return ""


def restore_ensemble(workdirs):
    """(member models, the first member's RunInfo, their checkpoint paths)."""
    members, infos, paths = [], [], []
    for i, workdir in enumerate(workdirs):
        model, info, path = restore_model(workdir, name=f"member{i}")
        if info.grouping == "fused":  # the towers compute the same without XLA
            model = convert_grouping(model, info.spec, "fused", "towers")
        if infos and info.class_names != infos[0].class_names:
            raise WorkdirError(f"Cannot average {workdirs[0]} and {workdir}: other classes "
                               f"({len(infos[0].class_names)} vs. {len(info.class_names)}, "
                               f"first {list(infos[0].class_names[:3])} vs. "
                               f"{list(info.class_names[:3])}).")
        why = infos and _preprocessing_difference(infos[0].preprocessing, info.preprocessing)
        if why:
            raise WorkdirError(f"Cannot average {workdirs[0]} and {workdir}: their "
                               f"preprocessing differs ({why}); members must see the same "
                               "input.")
        members.append(model)
        infos.append(info)
        paths.append(path)
    return members, infos[0], paths


def ensemble_model(members, name="ensemble"):
    """A Keras model of the same input: log of the members' mean softmax (float32)."""
    inputs = keras.Input(members[0].input_shape[1:], name="images")
    probabilities = [keras.layers.Softmax(name=f"softmax{i}", dtype="float32")(
        keras.layers.Activation("linear", dtype="float32", name=f"logits{i}")(m(inputs)))
        for i, m in enumerate(members)]
    mean = keras.layers.Average(name="mean")(probabilities)
    logits = keras.layers.Lambda(lambda p: tf.math.log(tf.maximum(p, 1e-30)),
                                 name="log")(mean)
    return keras.Model(inputs, logits, name=name)
