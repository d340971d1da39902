"""Trains AlexNet: python -m tf_alexnet.train --flagfile configs/paper.flags [--flag=value ...]

Flags after --flagfile override the file. Rerunning the same command resumes from the
workdir's last checkpoint. See configs/ for the recipes and README.md for the flags.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import logging
import sys

from absl import app

from tf_alexnet import flags as flags_lib


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet import train_lib

    try:
        config = flags_lib.train_config()
        result = train_lib.train(config, flags_lib.resolved_flagfile())
    except (ValueError, train_lib.NonFiniteLoss) as e:  # DataError, WorkdirError included
        logging.error("%s", e)
        sys.exit(f"train: {e}")
    print(json.dumps(result))


if __name__ == "__main__":
    flags_lib.define_train_flags()
    app.run(main)
