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
        pytest.skip(f"{path} is absent: the shared data is only beside the project's own "
                    "checkout (see ../shared/README.md)")
    return path


@pytest.fixture
def exact_float32():
    """TF32 off (Ampere and later GPUs run float32 matmuls and convolutions in TF32 by
    default): for tests that compare two computations to float32 rounding."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(True)
