"""LRN against an independent numpy implementation of the paper's formula."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from tf_alexnet.model.layers import LocalResponseNormalization
from tf_alexnet.model.spec import LRN_PRESETS


def numpy_lrn(a, k, n, alpha, beta):
    """b_i = a_i / (k + alpha * sum_{j=i-n//2}^{i+n//2} a_j^2) ** beta, window cut at the edges."""
    a = np.asarray(a, np.float64)
    channels = a.shape[-1]
    out = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        sq = np.sum(a[..., lo : hi + 1] ** 2, axis=-1)
        out[..., i] = a[..., i] / (k + alpha * sq) ** beta
    return out


PRESET_FORMULA = {  # (k, n, alpha-per-squared-term, beta): the paper §3.3, cuda-convnet, Caffe
    "paper": (2.0, 5, 1e-4, 0.75),
    "cuda_convnet": (2.0, 5, 2e-5, 0.75),
    "caffe": (1.0, 5, 2e-5, 0.75),
}


def test_defaults_are_the_paper():
    layer = LocalResponseNormalization()
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 2.0, 1e-4, 0.75)
    assert set(LRN_PRESETS) == set(PRESET_FORMULA)


@pytest.mark.parametrize("preset", sorted(PRESET_FORMULA))
@pytest.mark.parametrize("scale", [1.0, 100.0, 3000.0])
def test_matches_numpy_formula(preset, scale):
    # Channels = 7 so that both edge windows (cut at 0 and at C-1) and a full window occur;
    # scale 3000 makes alpha * sum a^2 dominate k (large activations).
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((2, 3, 4, 7)) * scale).astype(np.float32)
    got = LocalResponseNormalization(preset=preset)(a).numpy()
    want = numpy_lrn(a, *PRESET_FORMULA[preset])
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6 * scale)


def test_edge_channels_use_a_cut_window():
    a = np.zeros((1, 1, 1, 6), np.float32)
    a[..., 0] = 100.0  # only channels 0..2 see channel 0
    got = LocalResponseNormalization(preset="paper")(a).numpy()[0, 0, 0]
    assert got[0] == pytest.approx(100.0 / (2 + 1e-4 * 1e4) ** 0.75, rel=1e-5)
    np.testing.assert_array_equal(got[1:], 0.0)


def test_groups_normalize_each_half_alone():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((2, 3, 3, 8)) * 50).astype(np.float32)
    got = LocalResponseNormalization(groups=2)(a).numpy()
    want = np.concatenate(
        [
            numpy_lrn(a[..., :4], *PRESET_FORMULA["paper"]),
            numpy_lrn(a[..., 4:], *PRESET_FORMULA["paper"]),
        ],
        -1,
    )
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)


def test_gradient_matches_numeric_gradient_of_formula():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal((1, 2, 2, 6)) * 30).astype(np.float32)
    upstream = rng.standard_normal(a.shape)
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = LocalResponseNormalization()(x)
        loss = tf.reduce_sum(y * upstream.astype(np.float32))
    got = tape.gradient(loss, x).numpy()
    # Central differences of the float64 numpy formula.
    eps, want = 1e-4, np.zeros(a.size)
    flat = a.astype(np.float64).ravel()
    for i in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[i] += eps
        minus[i] -= eps
        f = lambda v: np.sum(numpy_lrn(v.reshape(a.shape), *PRESET_FORMULA["paper"]) * upstream)
        want[i] = (f(plus) - f(minus)) / (2 * eps)
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-3, atol=1e-4)


def test_serializes():
    layer = LocalResponseNormalization(preset="caffe", groups=2, device="/CPU:0", name="n")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is LocalResponseNormalization
    assert (clone.bias, clone.alpha, clone.groups, clone.device) == (1.0, 2e-5, 2, "/CPU:0")


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown LRN preset 'torch'"):
        LocalResponseNormalization(preset="torch")
