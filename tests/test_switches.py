"""The switches the paper argues against (tanh, no LRN, 2x2 pooling) change the network as
stated, and every combination still converts, exports and serves in each grouping.

References: parameter counts from the layer formula, tf.nn ops applied by hand to the model's
own weights, the fused vs. the tower model, a process without tf_alexnet."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY, clean_process_probabilities, export_for_check, random_images
from tf_alexnet.model.alexnet import build_alexnet, build_from_spec
from tf_alexnet.model.groupings import canonical_weights, convert_grouping
from tf_alexnet.model.spec import AlexNetSpec, feature_map_sizes

pytestmark = pytest.mark.usefixtures("exact_float32")

SWITCHES = list(
    itertools.product(("relu", "tanh"), ("paper", "none"), ("overlapping", "non_overlapping"))
)
# 71 px: conv1 maps are 16 x 16 (even), so 2x2 pools keep more than 3x3 ones: 8/4/2 vs 7/3/1.
SIZE = 71


def pool_side(side, window):
    return (side - window) // 2 + 1


def parameters(filters, units, classes, size, window, groups):
    """AlexNet's parameter count from its layers (independent of the model code)."""
    f1, f2, f3, f4, f5 = filters
    side = pool_side(pool_side(pool_side((size - 11) // 4 + 1, window), window), window)
    conv = [
        (11 * 11 * 3, f1),
        (5 * 5 * f1 // groups, f2),
        (3 * 3 * f2, f3),
        (3 * 3 * f3 // groups, f4),
        (3 * 3 * f4 // groups, f5),
    ]
    dense = [(side * side * f5, units), (units, units), (units, classes)]
    return sum(inputs * out + out for inputs, out in conv + dense)


def spec_of(activation, lrn, pooling, image_size=SIZE):
    return AlexNetSpec.create(
        **dict(TINY, image_size=image_size), lrn=lrn, activation=activation, pooling=pooling
    )


def test_the_papers_network_by_formula():
    assert parameters((96, 256, 384, 384, 256), 4096, 1000, 227, 3, 2) == 60_965_224
    # At 227 px 2x2 pooling gives the same 55/27/13/6 maps (the paper's "same size").
    assert feature_map_sizes(227, "non_overlapping") == feature_map_sizes(227) == (55, 27, 13, 6)
    assert feature_map_sizes(SIZE, "non_overlapping") == (16, 8, 4, 2)
    assert feature_map_sizes(SIZE) == (16, 7, 3, 1)


@pytest.mark.parametrize("grouping", ("towers", "fused", "none"))
@pytest.mark.parametrize("activation, lrn, pooling", SWITCHES)
def test_each_switch_changes_the_network_as_stated(grouping, activation, lrn, pooling):
    model = build_from_spec(spec_of(activation, lrn, pooling), grouping, None, seed=1)
    spec = spec_of(activation, lrn, pooling)
    window = 3 if pooling == "overlapping" else 2
    assert model.count_params() == parameters(
        spec.filters, spec.fc_units, spec.num_classes, SIZE, window, 1 if grouping == "none" else 2
    )
    names = [layer.name for layer in model.layers]
    assert any(n.startswith("lrn") for n in names) == (lrn != "none")
    weighted = [layer for layer in model.layers if layer.weights and layer.name != "fc8"]
    assert {layer.activation.__name__ for layer in weighted} == {activation}
    pools = [layer for layer in model.layers if layer.name.startswith("pool")]
    assert {layer.pool_size for layer in pools} == {(window, window)}
    side = feature_map_sizes(SIZE, pooling)[3]
    assert model.get_layer("fc6").kernel.shape[0] == side * side * spec.filters[-1]


def test_tanh_without_lrn_is_the_formula_on_the_models_weights():
    """conv1 -> tanh -> 2x2/2 max pool, computed with tf.nn on the model's own weights,
    equals the model's pool1 (no LRN layer in between)."""
    import keras
    import tensorflow as tf

    model = build_from_spec(spec_of("tanh", "none", "non_overlapping"), "none", None, seed=2)
    x = random_images(2, SIZE) / 60.0
    kernel, bias = model.get_layer("conv1").get_weights()
    want = tf.nn.max_pool2d(
        tf.tanh(tf.nn.conv2d(x, kernel, 4, "VALID") + bias), 2, 2, "VALID"
    ).numpy()
    probe = keras.Model(model.input, model.get_layer("pool1").output)
    np.testing.assert_allclose(probe(x).numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation, lrn, pooling", SWITCHES)
def test_convert_grouping_keeps_every_combination(activation, lrn, pooling):
    spec = spec_of(activation, lrn, pooling)
    model = build_from_spec(spec, "towers", None, seed=3)
    fused = convert_grouping(model, "fused")
    x = random_images(3, SIZE)
    want = model(x, training=False).numpy()
    np.testing.assert_allclose(
        fused(x, training=False).numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max()
    )
    for name, (kernel, _) in canonical_weights(model, "towers").items():
        np.testing.assert_array_equal(canonical_weights(fused, "fused")[name][0], kernel)


def test_every_combination_exports_and_serves_without_tf_alexnet(tmp_path):
    """One SavedModel per combination (towers) and the all-switched network in the other
    groupings, run by one process that does not import tf_alexnet."""
    cases = [(s, "towers") for s in SWITCHES] + [
        (("tanh", "none", "non_overlapping"), g) for g in ("fused", "none")
    ]
    exports, wants = [], []
    for i, (switches, grouping) in enumerate(cases):
        spec = spec_of(*switches)
        model = build_from_spec(spec, grouping, None, seed=4)
        version, inputs, want = export_for_check(model, spec, grouping, tmp_path / str(i))
        exports.append((version, inputs))
        wants.append(want)
    for case, got, want in zip(cases, clean_process_probabilities(exports), wants):
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(case))


def test_tflite_of_the_all_switched_network(tmp_path):
    from tf_alexnet.export.loading import load
    from tf_alexnet.export.tflite import export_tflite

    spec = spec_of("tanh", "none", "non_overlapping")
    model = build_from_spec(spec, "towers", None, seed=5)
    version, _, _ = export_for_check(model, spec, "towers", tmp_path)  # mean none, resize 76
    (path,) = export_tflite(version, ("float32",), 1, None)
    # A .tflite takes uint8 squares and crops their center itself.
    squares = np.random.default_rng(0).integers(0, 256, [2, 76, 76, 3], dtype=np.uint8)
    off, size = (76 - spec.image_size) // 2, spec.image_size
    crops = squares[:, off : off + size, off : off + size].astype(np.float32)
    want = tf.nn.softmax(model(crops, training=False)).numpy()
    got = load(path).predict_preprocessed(squares)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_old_specs_read_as_the_paper():
    old = AlexNetSpec.create(**TINY).to_json()
    for key in ("activation", "pooling"):
        old.pop(key)
    spec = AlexNetSpec.from_json(old)
    assert (spec.activation, spec.pooling) == ("relu", "overlapping")
    assert AlexNetSpec.from_json(spec_of("tanh", "none", "non_overlapping").to_json()) == (
        spec_of("tanh", "none", "non_overlapping")
    )


def test_build_alexnet_takes_the_switches():
    model = build_alexnet(**TINY, lrn="none", activation="tanh", pool_window=2)
    assert not [layer for layer in model.layers if layer.name.startswith("lrn")]
    with pytest.raises(ValueError, match="activation"):
        build_alexnet(**TINY, activation="sigmoid")
