"""Shared test setup: oneDNN on before TensorFlow loads, paths to ../shared/data."""

import os
import pathlib

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts):
    """Path under ../shared/data, or skip the test when that data is not beside the project."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the shared data is only beside the project's own "
            "checkout (see ../shared/README.md)"
        )
    return path


@pytest.fixture
def exact_float32():
    """TF32 off (Ampere and later GPUs run float32 matmuls and convolutions in TF32 by
    default): for tests that compare two computations to float32 rounding."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(True)


@pytest.fixture(scope="session")
def colour_run(tmp_path_factory):
    """One small trained workdir shared by the export, report, evaluate and hostile tests:
    the paper's network at quarter width on a folder of red, green and blue photos (noisy
    40x40 PNGs, 24 per class, a fifth carved out for validation), 150 steps of 16 images,
    checkpoints and evaluations every 50 steps, the learning rate divided at step 90
    (--lr_schedule=step, 3 steps an epoch), trained by the train command in this process.

    {"run": workdir, "data": the folder, "flags": the training flags}."""
    from helpers import colour_classes, run_cli

    root = tmp_path_factory.mktemp("colour_run")
    data = colour_classes(root / "colours", ["blue", "green", "red"])
    flags = COLOUR_FLAGS + [f"--data=folder:{data}"]
    result = run_cli("train", f"--workdir={root / 'run'}", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(run=root / "run", data=data, flags=flags, root=root)


# --seed=3: the held-out colour JPEGs of helpers.jpeg_files (50 to 300 pixels, fine noise) are
# not drawn like the 40-pixel training squares, so whether a 150-step model gets all of them
# right, in float32 and int8, depends on the training draws. With the per-batch draws of
# data.augment.make_batch_draws, seeds 0 and 2 gave a model whose int8 file lost the red
# class (seed 0) or whose float model called every held-out photo blue (seed 2); seed 3's
# is right on all of them (--min_epoch_steps=0 keeps the batch of 16 that all this was
# chosen with: the small-data cap would make it 6). The export tests check the files against
# that model, not the model's generalization.
COLOUR_FLAGS = [
    "--precision=float32",  # the same numerics on every CPU (auto: bf16 on some)
    "--image_size=67",
    "--width=0.25",
    "--fc_units=64",
    "--batch_size=16",
    "--init=he",
    "--validation_fraction=0.2",
    "--train_steps=150",
    "--mean=channel",
    "--dropout=0",
    "--learning_rate=0.01",
    "--warmup_epochs=1",
    "--lr_schedule=step",
    "--step_epochs=30",
    "--log_every_steps=10",
    "--eval_every_steps=50",
    "--checkpoint_every_steps=50",
    "--deterministic",
    "--seed=3",
    "--min_epoch_steps=0",
]


@pytest.fixture(scope="session")
def exported(colour_run, tmp_path_factory):
    """The shared colour run exported by the export command, with every TFLite file."""
    from helpers import jpeg_files, run_cli

    root = tmp_path_factory.mktemp("export")
    run = colour_run["run"]
    base = root / "models" / "alexnet"
    result = run_cli(
        "export",
        f"--workdir={run}",
        f"--export_dir={base}",
        "--tflite=float32,float16,dynamic,int8",
        "--calibration_images=32",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(run=run, base=base, version=base / "1", images=jpeg_files(root / "jpegs"))
