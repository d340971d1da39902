"""Several trained runs as one model (the paper's Table 2: the predictions of 5 CNNs
averaged).

    workdir_list(text)          "a,b,c" -> ["a", "b", "c"]
    restore_ensemble(workdirs)  the AlexNetEnsemble of their checkpoints; refuses, in one line,
                                runs whose classes or preprocessing differ
    ensemble_model(members)     one Keras model whose softmax is the members' mean softmax
                                (tf_alexnet/model/ensemble.py)
"""

import os
import re

import numpy as np

from tf_alexnet.errors import WorkdirError
from tf_alexnet.model.ensemble import ensemble_model
from tf_alexnet.model.groupings import convert_grouping
from tf_alexnet.workdir.restore import restore_model


def workdir_list(text):
    """The workdirs of a --workdir value ("a,b,c"; one for a single run). A value that is an
    existing directory as typed is one run, commas and all; else commas separate runs, and
    a comma inside one of their paths is written `\\,` ("runs/a\\,b,runs/c"). A run named
    twice is refused: the mean of a run's copies is that run, not an ensemble."""
    if os.path.isdir(text):
        return [text]
    parts = re.split(r"(?<!\\),", text)
    workdirs = [part.strip().replace("\\,", ",") for part in parts if part.strip()]
    seen = {}
    for workdir in workdirs:
        key = os.path.realpath(workdir)
        if key in seen:
            raise WorkdirError(
                f"--workdir names {seen[key]} twice ({workdir}); an ensemble takes each run once."
            )
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
    """The AlexNetEnsemble of the runs' newest checkpoints (fused members as towers: the
    same numbers without XLA); `checkpoint_path`: their checkpoints, comma-separated."""
    members = []
    for i, workdir in enumerate(workdirs):
        model = restore_model(workdir, name=f"member{i}")
        path = model.checkpoint_path
        if model.grouping == "fused":  # the towers compute the same without XLA
            model = convert_grouping(model, "towers")
            model.checkpoint_path = path
        first = members[0] if members else None
        if first and model.class_names != first.class_names:
            raise WorkdirError(
                f"Cannot average {workdirs[0]} and {workdir}: other classes "
                f"({len(first.class_names)} vs. {len(model.class_names)}, "
                f"first {list(first.class_names[:3])} vs. "
                f"{list(model.class_names[:3])})."
            )
        why = first and _preprocessing_difference(first.preprocessing, model.preprocessing)
        if why:
            raise WorkdirError(
                f"Cannot average {workdirs[0]} and {workdir}: their "
                f"preprocessing differs ({why}); members must see the same "
                "input."
            )
        members.append(model)
    ensemble = ensemble_model(members)
    ensemble.checkpoint_path = ",".join(m.checkpoint_path for m in members)
    return ensemble
