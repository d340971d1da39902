"""Exports a trained workdir for TF Serving (SavedModel) and devices (TFLite).

    python -m tf_alexnet.export --workdir W [--checkpoint PATH]
        [--export_dir export/models/alexnet] [--version N] [--overwrite]
        [--tflite float32,float16,dynamic,int8]
    python -m tf_alexnet.export --tflite_only --export_dir DIR [--version N] --tflite int8

The layout is described in tf_alexnet/savedmodel.py and export/README.md.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import os

from absl import app, logging

from tf_alexnet import flags as flags_lib


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet import cli

    cli.run("export", lambda: export(flags_lib.export_config()))


def export(config):
    """The SavedModel version (unless --tflite_only) and the TFLite files of `config`."""
    from tf_alexnet import savedmodel

    if config.tflite_only:
        versions = savedmodel.serving_versions(config.export_dir)
        if not versions:
            raise ValueError(f"{config.export_dir}: no SavedModel versions to convert.")
        version_dir = os.path.join(config.export_dir, str(config.version or versions[-1]))
    else:
        version_dir = savedmodel.export_saved_model(
            config.workdir, config.export_dir, config.version, config.checkpoint or None,
            config.overwrite)
        print(f"SavedModel: {version_dir}")
    for path in savedmodel.export_tflite(version_dir, config.tflite, config.calibration_images,
                                         config.calibration_data or None):
        print(f"TFLite: {path}")


if __name__ == "__main__":
    flags_lib.define_export_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
