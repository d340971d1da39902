"""Serialization of every model the package makes, in the spirit of keras-hub's TestCase
(`run_serialization_test`, `run_model_saving_test`): for every grouping and each switch of
the paper's comparisons and of the head, the config round-trips (`from_config(get_config())`
is the same config and the same layers), `keras.saving.serialize_keras_object` round-trips,
and the `.keras` file loads in a fresh process with `import tf_alexnet` alone and computes
the same outputs."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import tf_alexnet
from conftest import ROOT
from helpers import random_images
from tf_alexnet.data.stats import Preprocessing, Stats

pytestmark = pytest.mark.usefixtures("exact_float32")
TINY = dict(num_classes=4, image_size=67, width=0.125, fc_units=16)
SWITCHES = {
    "paper": {},
    "tanh": dict(activation="tanh"),
    "no_lrn": dict(lrn="none"),
    "pool2": dict(pool_window=2),
    "caffe_lrn": dict(lrn="caffe", lrn_across_groups=True),
    "pool5_features": dict(include_top=False),
    "fc7_features": dict(include_top=False, features="fc7"),
    "avg_pooled": dict(include_top=False, global_pool="avg"),
    "softmax": dict(classifier_activation="softmax"),
    "named": dict(
        class_names=["a", "b", "c", "d"],
        preprocessing=Preprocessing(
            67, 76, "image", Stats(mean_image=np.full((76, 76, 3), 7.0, np.float32))
        ),
    ),
}
CASES = [
    (g, s)
    for g in ("towers", "fused", "none")
    for s in SWITCHES
    if not (g == "none" and SWITCHES[s].get("lrn_across_groups"))
]


def build(grouping, switch):
    return tf_alexnet.AlexNet(**TINY, grouping=grouping, seed=3, **SWITCHES[switch])


def check_config_round_trip(model):
    """from_config(get_config()) is the same config, layers and weight shapes; the config
    is JSON; serialize/deserialize_keras_object gives the same."""
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    for again in (
        type(model).from_config(config),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model)),
    ):
        assert type(again) is type(model) and again.get_config() == config
        assert [l.name for l in again.layers] == [l.name for l in model.layers]
        assert [w.shape for w in again.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("grouping,switch", CASES)
def test_config_round_trip(grouping, switch):
    check_config_round_trip(build(grouping, switch))


FRESH = """
    import json, sys
    import numpy as np
    import tf_alexnet
    import keras
    out, names = sys.argv[1], json.loads(sys.argv[2])
    x = np.load(out + "/x.npy")
    result = {}
    for name in names:
        model = keras.models.load_model(f"{out}/{name}.keras")
        result[name] = dict(y=model(x, training=False).numpy().tolist(),
                            config=model.get_config(), type=type(model).__name__,
                            mean=float(model.preprocessor.mean_image.numpy().sum())
                            if model.preprocessor.mean_image is not None else None)
    print(json.dumps(result))
"""


def test_keras_files_load_in_a_fresh_process(tmp_path):
    """All the cases saved here, loaded by one fresh process that imports tf_alexnet and
    keras only: the same outputs (bit for bit), config and class."""
    x = random_images(2, TINY["image_size"])
    np.save(tmp_path / "x.npy", x)
    want, names = {}, []
    for grouping, switch in CASES:
        model, name = build(grouping, switch), f"{grouping}_{switch}"
        model.save(tmp_path / f"{name}.keras")
        want[name] = (model(x, training=False).numpy(), model.get_config())
        names.append(name)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FRESH), str(tmp_path), json.dumps(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for name in names:
        np.testing.assert_array_equal(got[name]["y"], want[name][0], err_msg=name)
        assert got[name]["config"] == json.loads(json.dumps(want[name][1])), name
        assert got[name]["type"] == "AlexNet"
    assert got["towers_named"]["mean"] == 7.0 * 76 * 76 * 3  # the mean image, a weight


def test_grouping_conversion_keeps_the_config_but_the_layout():
    for switch in SWITCHES:
        towers = build("towers", switch)
        fused = tf_alexnet.convert_grouping(towers, "fused")
        a, b = towers.get_config(), fused.get_config()
        assert {k for k in a if a[k] != b[k]} == {"grouping"}, switch
        x = random_images(2, TINY["image_size"])
        np.testing.assert_allclose(fused(x).numpy(), towers(x).numpy(), rtol=1e-4, atol=1e-5)
