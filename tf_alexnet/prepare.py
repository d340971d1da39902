"""The paper's offline step: every image to 256 x 256, as sharded TFRecords, with statistics.

    python -m tf_alexnet.prepare --data folder:PATH --output DIR
    python -m tf_alexnet.prepare --verify DIR     # every shard against its checksums

See tf_alexnet/data/shards.py for what is written.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import sys

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.config import PrepareConfig
from tf_alexnet.data import checksums, pipeline, shards

EXCLUDE = (
    "num_classes",
    "batch_size",
    "stats",
    "mean",
    "pca_sigma",
    "flip",
    "shuffle_buffer",
    "cache_train",
)


def define_flags(flag_values):
    flags_lib.define(PrepareConfig, flag_values, EXCLUDE)


def main(argv, flag_values):
    config = cli.config("prepare", PrepareConfig, flag_values, argv)
    if config.verify:
        problems, checked = cli.run("prepare", lambda: checksums.verify(config.verify))
        for line in problems:
            print(line)
        print(
            f"{config.verify}: {checked} shard(s) checked, {len(problems)} damaged or missing."
            if checked
            else "",
            end="\n" if checked else "",
        )
        sys.exit(1 if problems else 0)
    splits = config.splits or shards.default_splits(config.source)
    stats = cli.run(
        "prepare",
        lambda: shards.prepare(config),
        lambda e: pipeline.explain_failure(config.source, splits, e, config.augment.resize),
    )
    print(
        json.dumps(
            {
                k: stats[k]
                for k in ("num_images", "mean_rgb", "std_rgb", "pca_eigenvalues", "bad_files")
            }
        )
    )


if __name__ == "__main__":
    cli.start(define_flags, main)
