"""Benchmarks, measured in one run so that their ratios can be compared.

    python -m tf_alexnet.bench ceilings   # the CPU's GFLOP/s in each precision it has
    python -m tf_alexnet.bench model      # train step + inference img/s for each grouping
    python -m tf_alexnet.bench data --data SPEC
    python -m tf_alexnet.bench train      # the package's real train step, synthetic data
    python -m tf_alexnet.bench inference [--model export/models/alexnet]

Every throughput is put next to the limit of its own precision: the ceiling measured in the
same run with TensorFlow's own kernels on the paper's conv2 (bench/measure.py), divided by
the model's FLOPs per image (2 x multiply-adds forward; x3 for a training step).
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

from absl import app

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.bench import measure
from tf_alexnet.command_configs import BenchConfig

COMMANDS = {
    "ceilings": measure.bench_ceilings,
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
