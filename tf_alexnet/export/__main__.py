"""Exports a trained workdir for TF Serving (SavedModel) and devices (TFLite).

    python -m tf_alexnet.export --workdir W [--checkpoint PATH]
        [--export_dir export/models/alexnet] [--version N] [--overwrite]
        [--tflite float32,float16,dynamic,int8]
    python -m tf_alexnet.export --tflite_only --export_dir DIR [--version N] --tflite int8

The layout is described in tf_alexnet/export/savedmodel.py and export/README.md.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.config import ExportConfig
from tf_alexnet.export.exporter import export


def define_flags(flag_values):
    flags_lib.define(ExportConfig, flag_values)


def main(argv, flag_values):
    config = cli.config("export", ExportConfig, flag_values, argv, quiet=True)
    cli.run("export", lambda: export(config))


if __name__ == "__main__":
    cli.start(define_flags, main)
