"""Imports Caffe's bvlc_alexnet (the paper's network) as a workdir:

    python -m tf_alexnet.import_weights --caffemodel bvlc_alexnet.caffemodel \
        [--mean_file imagenet_mean.binaryproto] --workdir runs/bvlc_alexnet
    python -m tf_alexnet.import_weights --npy bvlc_alexnet.npy --workdir runs/bvlc_alexnet

evaluate, export, predict and report then take the workdir (tf_alexnet/workdir/importer.py).
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.command_configs import ImportConfig
from tf_alexnet.workdir.importer import import_weights


def define_flags(flag_values):
    flags_lib.define(ImportConfig, flag_values)


def main(argv, flag_values):
    config = cli.config("import_weights", ImportConfig, flag_values, argv, quiet=True)
    model = cli.run("import_weights", lambda: import_weights(config))
    print(
        json.dumps(
            dict(
                workdir=config.workdir,
                classes=len(model.class_names),
                filters=list(model.spec.filters),
                image_size=model.spec.image_size,
                mean=model.preprocessing.mean,
            )
        )
    )


if __name__ == "__main__":
    cli.start(define_flags, main)
