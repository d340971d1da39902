"""Benchmarks, measured in one run so that their ratios can be compared.

    python -m tf_alexnet.bench model      # train step + inference img/s for each grouping
    python -m tf_alexnet.bench data --data SPEC
    python -m tf_alexnet.bench train      # the package's real train step, synthetic data
    python -m tf_alexnet.bench inference [--model export/models/alexnet]

Every figure is put next to "the 2-core limit": the machine's measured fp32 matmul rate
(a 4096x4096 TensorFlow matmul, taken in the same run) divided by the model's FLOPs per
image (2 x multiply-adds forward; x3 for a training step).
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

from absl import app

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.bench import measure
from tf_alexnet.command_configs import BenchConfig

COMMANDS = {
    "model": measure.bench_model,
    "data": measure.bench_data,
    "train": measure.bench_train,
    "inference": measure.bench_inference,
}
EXCLUDE = ("num_classes",)


def define_flags(flag_values):
    flags_lib.define(BenchConfig, flag_values, EXCLUDE)


def main(argv, flag_values):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"usage: python -m tf_alexnet.bench {{{'|'.join(COMMANDS)}}} [flags]")
    COMMANDS[argv[1]](cli.config("bench", BenchConfig, flag_values, command=argv[1]))


if __name__ == "__main__":
    cli.start(define_flags, main)
