"""The same model on Keras' JAX backend: `.keras` files saved under TensorFlow load, build
and predict there (LRN in keras.ops, placement a no-op) with TensorFlow's outputs. Training
stays TensorFlow (README: Python API)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tf_alexnet
from conftest import ROOT
from helpers import random_images

pytestmark = pytest.mark.usefixtures("exact_float32")
TINY = dict(num_classes=5, image_size=67, width=0.125, fc_units=32)
CASES = {  # every grouping, and each switch of the paper's comparisons
    "towers": dict(grouping="towers", tower_devices=("/CPU:0", "/CPU:0")),
    "fused": dict(grouping="fused"),
    "none": dict(grouping="none", activation="tanh", pool_window=2),
    "caffe_lrn": dict(grouping="towers", lrn="caffe", lrn_across_groups=True),
    "no_lrn": dict(grouping="fused", lrn="none"),
    "features": dict(grouping="towers", include_top=False, global_pool="avg"),
}

ON_JAX = """
    import json, sys
    import numpy as np
    import tf_alexnet, keras
    out = sys.argv[1]
    x = np.load(out + "/x.npy")
    result = {"backend": keras.backend.backend()}
    for name in json.loads(sys.argv[2]):
        model = keras.models.load_model(f"{out}/{name}.keras")
        result[name] = np.asarray(model.predict(x, verbose=0)).tolist()
    # Built on JAX and given the TF model's weights by weights=: the same numbers.
    again = tf_alexnet.AlexNet(weights=out + "/fused.keras", grouping="towers")
    result["weights_to_towers"] = np.asarray(again.predict(x, verbose=0)).tolist()
    print(json.dumps(result))
"""


def test_models_saved_under_tensorflow_predict_the_same_on_jax(tmp_path):
    pytest.importorskip("jax")
    x = random_images(3, TINY["image_size"])
    np.save(tmp_path / "x.npy", x)
    want = {}
    for name, args in CASES.items():
        model = tf_alexnet.AlexNet(**TINY, **args, seed=7)
        for layer in model.layers:  # large activations: the LRN window matters
            if layer.weights and layer.name.startswith("conv"):
                kernel, bias = layer.get_weights()
                layer.set_weights([kernel * 20, bias])
        model.save(tmp_path / f"{name}.keras")
        want[name] = model(x, training=False).numpy()
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ON_JAX), str(tmp_path), json.dumps(list(CASES))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["backend"] == "jax"
    for name in CASES:
        scale = np.abs(want[name]).max()
        np.testing.assert_allclose(
            got[name], want[name], rtol=1e-5, atol=1e-5 * scale, err_msg=name
        )
    np.testing.assert_allclose(
        got["weights_to_towers"], want["fused"], rtol=1e-5, atol=1e-5 * np.abs(want["fused"]).max()
    )
