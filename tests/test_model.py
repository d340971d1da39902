"""The network's numbers: parameters, feature maps, groupings, init, save/load, placement."""

import numpy as np
import pytest

from helpers import TINY, random_images

from tf_alexnet.model.alexnet import build_alexnet
from tf_alexnet.model.groupings import canonical_weights, convert_grouping
from tf_alexnet.model.spec import AlexNetSpec, feature_map_sizes

# Fused vs towers and converted models are compared to float32 rounding: no TF32 on GPUs
# (on an H100 it made them differ by 8e-4).
pytestmark = pytest.mark.usefixtures("exact_float32")


def test_feature_maps_fused():
    m = build_alexnet(grouping="fused")
    shape = lambda name: tuple(m.get_layer(name).output.shape[1:])
    assert m.input_shape == (None, 227, 227, 3)
    assert shape("conv1") == (55, 55, 96) and shape("pool1") == (27, 27, 96)
    assert shape("conv2") == (27, 27, 256) and shape("pool2") == (13, 13, 256)
    assert shape("conv3") == (13, 13, 384) and shape("conv4") == (13, 13, 384)
    assert shape("conv5") == (13, 13, 256) and shape("pool5") == (6, 6, 256)
    assert shape("flatten") == (9216,) and shape("fc6") == (4096,) and shape("fc8") == (1000,)
    assert m.get_layer("conv2").groups == 2 and m.get_layer("conv3").groups == 1
    assert feature_map_sizes(227) == (55, 27, 13, 6)


def test_feature_maps_towers():
    m = build_alexnet(grouping="towers")
    shape = lambda name: tuple(m.get_layer(name).output.shape[1:])
    for h in "ab":
        assert shape("conv1" + h) == (55, 55, 48) and shape("pool1" + h) == (27, 27, 48)
        assert shape("conv2" + h) == (27, 27, 128) and shape("pool2" + h) == (13, 13, 128)
        assert shape("conv3" + h) == (13, 13, 192) and shape("conv4" + h) == (13, 13, 192)
        assert shape("conv5" + h) == (13, 13, 128) and shape("pool5" + h) == (6, 6, 128)
    assert shape("concat2") == (13, 13, 256)  # conv3 sees both columns
    assert m.get_layer("conv3a").kernel.shape == (3, 3, 256, 192)
    assert m.get_layer("conv4a").kernel.shape == (3, 3, 192, 192)
    assert shape("flatten") == (9216,)


def test_paper_init():
    m = build_alexnet(grouping="fused", seed=0)
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"):
        kernel, bias = m.get_layer(name).get_weights()
        assert abs(kernel.std() - 0.01) < 0.0005 and abs(kernel.mean()) < 0.001, name
        want = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        np.testing.assert_array_equal(bias, want)
    caffe = build_alexnet(grouping="fused", init="caffe", seed=0, num_classes=10)
    assert abs(caffe.get_layer("fc6").kernel.numpy().std() - 0.005) < 0.0003
    np.testing.assert_array_equal(caffe.get_layer("conv2").bias.numpy(), np.float32(0.1))


def test_seed_makes_weights_reproducible():
    a, b = (build_alexnet(**TINY, seed=3) for _ in range(2))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("source,target", [("fused", "towers"), ("towers", "fused")])
def test_convert_grouping_keeps_function(source, target):
    model = build_alexnet(**TINY, grouping=source, seed=1)
    # Non-trivial biases so that a misplaced half would show.
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 3, np.linspace(-0.5, 0.5, bias.size).astype("float32")])
    other = convert_grouping(model, target)
    assert ("conv1a" in {layer.name for layer in other.layers}) == (target == "towers")
    x = random_images(4, 67)
    want, got = model(x, training=False).numpy(), other(x, training=False).numpy()
    assert np.abs(want).max() > 1e-2
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    back = convert_grouping(other, source)
    for name, (k, b) in canonical_weights(model, source).items():
        np.testing.assert_array_equal(canonical_weights(back, source)[name][0], k)


def test_paper_size_fused_equals_towers():
    model = build_alexnet(grouping="fused", seed=2)
    towers = convert_grouping(model, "towers")
    x = random_images(2, 227)
    np.testing.assert_allclose(towers(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_ungrouped_cannot_convert():
    with pytest.raises(ValueError, match="only the grouped"):
        convert_grouping(build_alexnet(**TINY, grouping="none"), "towers")


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="too small"):
        build_alexnet(image_size=64)
    with pytest.raises(ValueError, match="Unknown grouping"):
        build_alexnet(grouping="split")
    with pytest.raises(ValueError, match="needs grouping='towers'"):
        build_alexnet(**TINY, grouping="fused", tower_devices=("/CPU:0", "/CPU:1"))


def test_lrn_across_groups_is_the_same_function_in_every_layout(tmp_path):
    """Caffe's bvlc_alexnet normalizes across all channels: the towers (each keeping its
    half of an LRN over both towers' maps) and the fused model (one LRN) agree, the towers
    differ from per-tower LRN, and the .keras file keeps it."""
    import dataclasses

    import keras

    from tf_alexnet.model.alexnet import build_from_spec

    spec = dataclasses.replace(AlexNetSpec.create(**TINY, lrn="caffe"), lrn_across_groups=True)
    towers = build_from_spec(spec, "towers", None, seed=3)
    for layer in towers.layers:  # large activations: the LRN window matters
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 20, bias])
    fused = convert_grouping(towers, "fused")
    per_tower = build_from_spec(dataclasses.replace(spec, lrn_across_groups=False), "towers")
    per_tower.set_weights(towers.get_weights())
    x = random_images(2, 67)
    want = fused(x, training=False).numpy()
    np.testing.assert_allclose(
        towers(x, training=False).numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max()
    )
    assert np.abs(per_tower(x, training=False).numpy() - want).max() > 1e-3 * np.abs(want).max()
    towers.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        again(x, training=False).numpy(), towers(x, training=False).numpy()
    )
