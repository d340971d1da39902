"""Writing a SavedModel version for TF Serving.

`export_saved_model` writes `<export_dir>/<version>/` in TF Serving's layout (saved_model.pb,
variables/, assets/classes.txt, assets.extra/tf_serving_warmup_requests) plus the model's
record in assets.extra (tf_alexnet.json, stats.json, mean_image.npy: workdir/info.py) for
our own evaluate and predict (TFLite files beside it: tf_alexnet/export/tflite.py). A version
is staged under a temporary name and renamed when complete, so a polling server never sees
half of it; an existing version is replaced only when asked.
"""

import glob
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tf_alexnet import lock
from tf_alexnet.errors import ExportError
from tf_alexnet.export import serving, warmup
from tf_alexnet.model.class_names import display_names
from tf_alexnet.model.groupings import convert_grouping
from tf_alexnet.workdir.restore import restore_model
from tf_alexnet.workdir.ensemble import restore_ensemble, workdir_list
from tf_alexnet.workdir.info import RunInfo, load_run_info, save_record

META = "tf_alexnet.json"


def serving_versions(base):
    """The integer version directories of a TF Serving base directory, ascending."""
    if not os.path.isdir(base):
        return []
    return sorted(
        int(d) for d in os.listdir(base) if d.isdigit() and os.path.isdir(os.path.join(base, d))
    )


def _sample_jpeg(size=320):
    """A small JPEG for the warm-up requests (gradient pattern; content is irrelevant)."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    return tf.io.encode_jpeg(image).numpy(), image


def _write_version(out, model, run, version, model_name):
    """The SavedModel of `model` (an AlexNet or ensemble) and its assets, into the
    directory `out`; `run`: the RunInfo of the data it trained on."""
    names = display_names(model.class_names)
    names_file = os.path.join(os.path.dirname(out), "classes.txt")
    with open(names_file, "w") as f:
        f.write("".join(n.replace("\n", " ") + "\n" for n in names))
    module = serving.ServingModule(model, names_file, model.preprocessing)
    tf.saved_model.save(module, out, signatures=module.signatures())
    save_record(
        os.path.join(out, "assets.extra"),
        model,
        run,
        META,
        display_names=names,
        checkpoint=getattr(model, "checkpoint_path", ""),
        version=version,
        signatures=list(serving.SIGNATURES),
    )
    jpeg, image = _sample_jpeg()
    warmup.write_warmup(
        out, model_name, warmup.warmup_requests(jpeg, model.preprocessing.image_size, image)
    )


def _restore(workdir, checkpoint):
    """(model, RunInfo) of a workdir, or of an ensemble "a,b,c" (one model of their mean
    probabilities: workdir/ensemble.py)."""
    workdirs = workdir_list(workdir)
    if len(workdirs) > 1:
        if checkpoint:
            raise ExportError(
                "--checkpoint names one checkpoint; an ensemble (--workdir "
                "a,b,...) exports each run's newest."
            )
        return restore_ensemble(workdirs), load_run_info(workdirs[0])
    return restore_model(workdir, checkpoint), load_run_info(workdir)


def export_model(model, export_dir, version=0, overwrite=False, model_name=None, run=RunInfo()):
    """Writes the SavedModel version of a Keras model (an AlexNet, or an ensemble of them:
    their class names and preprocessing are the model's); returns its directory. A fused
    model is exported as the towers: Keras runs Conv2D(groups=2) as an XLA must-compile
    function, which TF Serving refuses without --xla_cpu_compilation_enabled."""
    if getattr(model, "grouping", None) == "fused" and hasattr(model, "spec"):
        path = getattr(model, "checkpoint_path", "")
        model = convert_grouping(model, "towers")
        model.checkpoint_path = path
    os.makedirs(export_dir, exist_ok=True)
    # One export at a time per base directory: two started together would both choose the
    # next version number, and the second's publishing would replace the first's.
    with lock.in_turn(export_dir, "export"):
        versions = serving_versions(export_dir)
        version = version or (versions[-1] + 1 if versions else 1)
        target = os.path.join(export_dir, str(version))
        if os.path.exists(target) and not overwrite:  # before any work
            raise ExportError(
                f"{target} exists; pass --overwrite to replace it or choose another --version."
            )
        return _publish(model, run, export_dir, version, target, model_name)


def _publish(model, run, export_dir, version, target, model_name):
    """Writes the version into a hidden staging directory, then renames it to `target`
    (TF Serving never sees half a version)."""
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        out = os.path.join(staging, "model")
        _write_version(
            out, model, run, version, model_name or os.path.basename(os.path.normpath(export_dir))
        )
        if os.path.exists(target):  # overwrite: the whole version, its TFLite files too
            shutil.rmtree(target)
            for stale in glob.glob(os.path.join(export_dir, f"{version}_*.tflite*")):
                os.remove(stale)
        os.rename(out, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def export_saved_model(
    workdir, export_dir, version=0, checkpoint=None, overwrite=False, model_name=None
):
    """Writes the SavedModel version of a workdir's checkpoint (or of several workdirs,
    "a,b,c", averaged); returns its directory."""
    versions = serving_versions(export_dir)
    target = os.path.join(export_dir, str(version or (versions[-1] + 1 if versions else 1)))
    if os.path.exists(target) and not overwrite:  # before restoring anything
        raise ExportError(
            f"{target} exists; pass --overwrite to replace it or choose another --version."
        )
    model, run = _restore(workdir, checkpoint)
    return export_model(model, export_dir, version, overwrite, model_name, run)
