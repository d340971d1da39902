"""Exports a trained workdir for TF Serving (SavedModel) and devices (TFLite).

    python -m tf_alexnet.export --workdir W [--checkpoint PATH]
        [--export_dir export/models/alexnet] [--version N] [--overwrite]
        [--tflite float32,float16,dynamic,int8]
    python -m tf_alexnet.export --tflite_only --export_dir DIR [--version N] --tflite int8

writes `<export_dir>/<version>/` in TF Serving's layout (saved_model.pb, variables/,
assets/classes.txt, assets.extra/tf_serving_warmup_requests, and assets.extra/tf_alexnet.json,
stats.json, mean_image.npy for our own evaluate/predict), and `<export_dir>/<version>_<q>.tflite`
next to it with a `.json` sidecar. The version is the next free integer unless given; an
existing version is never replaced without --overwrite. A version is written under a
temporary name and renamed when complete, so a polling server never sees half of it.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import os
import shutil
import sys
import tempfile

from absl import app, flags, logging
import numpy as np
import tensorflow as tf

from tf_alexnet import flags as flags_lib


FLAGS = flags.FLAGS
META = "tf_alexnet.json"


def serving_versions(base):
    return sorted(int(d) for d in os.listdir(base) if d.isdigit()
                  and os.path.isdir(os.path.join(base, d))) if os.path.isdir(base) else []


def _sample_jpeg(size=320):
    """A small JPEG for the warm-up requests (gradient pattern; content is irrelevant)."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    return tf.io.encode_jpeg(image).numpy(), image


def export_saved_model(workdir, export_dir, version=0, checkpoint=None, overwrite=False,
                       model_name=None):
    """Writes the SavedModel version; returns its directory."""
    from tf_alexnet import serving, workdir as workdir_lib
    from tf_alexnet.config import DataConfig

    model, meta, ckpt = workdir_lib.restore_model(workdir, checkpoint)
    if meta["grouping"] == "fused":
        # Keras runs Conv2D(groups=2) as an XLA must-compile function, which TF Serving
        # refuses without --xla_cpu_compilation_enabled: export the towers, same numbers.
        from tf_alexnet.model import convert_grouping
        model = convert_grouping(model, "towers")
    stats = workdir_lib.load_workdir_stats(workdir)
    data = DataConfig(image_size=meta["image_size"], resize_size=meta["resize"],
                      mean=meta["mean"])
    versions = serving_versions(export_dir)
    version = version or (versions[-1] + 1 if versions else 1)
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it or choose "
                              "another --version.")
    os.makedirs(export_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        names = serving.display_names(meta["class_names"])
        names_file = os.path.join(staging, "classes.txt")
        with open(names_file, "w") as f:
            f.write("".join(n.replace("\n", " ") + "\n" for n in names))
        module = serving.ServingModule(model, names_file, data, stats)
        out = os.path.join(staging, "model")
        tf.saved_model.save(module, out, signatures=module.signatures())
        extra = os.path.join(out, "assets.extra")
        os.makedirs(extra, exist_ok=True)
        shutil.copy(os.path.join(workdir, "stats.json"), os.path.join(extra, "stats.json"))
        mean_image = os.path.join(workdir, "mean_image.npy")
        if os.path.exists(mean_image):
            shutil.copy(mean_image, os.path.join(extra, "mean_image.npy"))
        with open(os.path.join(extra, META), "w") as f:
            json.dump(dict(meta, display_names=names, checkpoint=ckpt, version=version,
                           signatures=list(serving.SIGNATURES)), f, indent=2)
        jpeg, image = _sample_jpeg()
        serving.write_warmup(out, model_name or os.path.basename(os.path.normpath(export_dir)),
                             serving.warmup_requests(jpeg, data.image_size, image))
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(out, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def calibration_images(meta, count, data_spec=None):
    """Images from the training pipeline's evaluation transform (no augmentation), for int8."""
    from tf_alexnet.config import DataConfig
    from tf_alexnet.data import make_dataset

    config = DataConfig(data=data_spec or meta["data"], image_size=meta["image_size"],
                        resize_size=meta["resize"], mean=meta["mean"], batch_size=count,
                        stats=meta["stats_path"], synthetic_examples=max(count, 64))
    images, _ = next(iter(make_dataset(config, "train", training=False)))
    return images.numpy()[:count]


def export_tflite(version_dir, quantizations, calibration=100, data_spec=None):
    """Writes `<base>/<version>_<q>.tflite` (+ .json sidecar) for each quantization."""
    from tf_alexnet import tflite

    with open(os.path.join(version_dir, "assets.extra", META)) as f:
        meta = json.load(f)
    meta["stats_path"] = os.path.join(version_dir, "assets.extra", "stats.json")
    base, version = os.path.split(os.path.normpath(version_dir))
    images = (calibration_images(meta, calibration, data_spec) if "int8" in quantizations
              else None)
    written = []
    for q in quantizations:
        model = tflite.convert(version_dir, q, images)
        flex = [op for op in tflite.op_names(model) if op.lower().startswith("flex")]
        if flex:
            raise RuntimeError(f"TFLite {q} needs Flex ops {flex}; not exported.")
        path = os.path.join(base, f"{version}_{q}.tflite")
        with open(path, "wb") as f:
            f.write(model)
        with open(path + ".json", "w") as f:
            json.dump(dict(meta, quantization=q, saved_model=version,
                           extra_dir=os.path.join(version, "assets.extra")), f, indent=2)
        written.append(path)
    return written


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet.data import DataError
    from tf_alexnet.workdir import WorkdirError

    try:
        if FLAGS.tflite_only:
            versions = serving_versions(FLAGS.export_dir)
            if not versions:
                raise ValueError(f"{FLAGS.export_dir}: no SavedModel versions to convert.")
            version_dir = os.path.join(FLAGS.export_dir, str(FLAGS.version or versions[-1]))
        else:
            if not FLAGS.workdir:
                raise ValueError("--workdir is required (or --tflite_only).")
            version_dir = export_saved_model(FLAGS.workdir, FLAGS.export_dir, FLAGS.version,
                                             FLAGS.checkpoint or None, FLAGS.overwrite)
            print(f"SavedModel: {version_dir}")
        for path in export_tflite(version_dir, FLAGS.tflite, FLAGS.calibration_images,
                                  FLAGS.calibration_data or None):
            print(f"TFLite: {path}")
    except (DataError, WorkdirError, ValueError, OSError, RuntimeError) as e:
        sys.exit(f"export: {e}")


if __name__ == "__main__":
    flags_lib.define_export_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
