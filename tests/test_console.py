"""The console says only what matters: no TensorFlow start-up banners or CUDA lines on a
machine without GPUs, no per-checkpoint internals, each command's --help its own flags."""

import os
import subprocess
import sys

from conftest import ROOT
from helpers import TINY_FLAGS, run_cli

NOISE = (
    "oneDNN custom operations",
    "absl::InitializeLog",
    "cudart_stub",
    "cuInit",
    "cpu_feature_guard",
    "Sharding callback",
    "XNNPACK delegate",
)


def command(*args):
    """`python -m tf_alexnet.<args>` in a fresh process: the start-up lines are the
    process's own (a subprocess, as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def test_help_lists_the_commands_own_flags_and_exits_0():
    short = command("tf_alexnet.evaluate", "--help")
    assert short.returncode == 0, short.stderr[-2000:]
    text = short.stdout
    assert "--workdir=" in text and "--max_examples=0" in text and "Must be >= 0" in text
    assert "--tflite_threads=0" in text and "<center|ten>" in text
    assert "--verbosity" not in text and "--helpfull" in text  # absl's only under --helpfull
    for noise in NOISE:
        assert noise not in short.stdout + short.stderr, noise
    full = command("tf_alexnet.train", "--helpfull")
    assert full.returncode == 0 and "--min_epoch_steps=8" in full.stdout
    assert "--verbosity" in full.stdout


def test_training_and_export_print_no_internals(tmp_path):
    trained = run_cli(
        "train",
        f"--workdir={tmp_path / 'w'}",
        *TINY_FLAGS,
        "--train_steps=4",
        "--checkpoint_every_steps=2",
    )
    exported = run_cli(
        "export",
        f"--workdir={tmp_path / 'w'}",
        f"--export_dir={tmp_path / 'e'}",
        "--tflite=float32",
    )
    predicted = run_cli(
        "predict",
        f"--model={tmp_path / 'e' / '1_float32.tflite'}",
        str(ROOT / "docs" / "cifar10_filters.png"),
    )
    for result in (trained, exported, predicted):
        assert result.returncode == 0, result.stderr[-2000:]
        for noise in NOISE:
            assert noise not in result.stdout + result.stderr, noise
    # The progress lines and the evaluation lines use the same words.
    assert "top-1 error" in trained.stderr and "top1 " not in trained.stderr
