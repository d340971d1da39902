"""Trains AlexNet: python -m tf_alexnet.train --flagfile configs/paper.flags [--flag=value ...]

Flags after --flagfile override the file. Rerunning the same command resumes from the
workdir's last checkpoint. See configs/ for the recipes and docs/training.md for the flags.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import sys

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.config import TrainConfig
from tf_alexnet.train.environment import set_xla_environment


def define_flags(flag_values):
    flags_lib.define(TrainConfig, flag_values)


def main(argv, flag_values):
    config = cli.config("train", TrainConfig, flag_values, argv)
    set_xla_environment(config)
    # Imported after the line above, not at the top: XLA reads its environment when
    # TensorFlow starts, and nothing above imports TensorFlow.
    from tf_alexnet.data.pipeline import explain_failure
    from tf_alexnet.train.trainer import train

    def explain(error):
        return explain_failure(
            config.source, (config.split, config.eval_split), error, config.augment.resize
        )

    result = cli.run("train", lambda: train(config), explain)
    print(json.dumps(result))
    if result.get("signal") == "SIGINT":
        # Ctrl-C: saved, and the shell's convention for an interrupted command (128 + 2),
        # so that `train && export` stops there. SIGTERM (a scheduler's preemption) exits 0
        # after its save: the job ended as asked.
        sys.exit(130)


if __name__ == "__main__":
    cli.start(define_flags, main)
