"""What only a fresh process shows, in one: importing the package loads no TensorFlow (and
turns oneDNN on), every public name resolves, and on two logical CPU devices (set before
TensorFlow starts) the towers are placed as asked and MirroredStrategy trains like one
device."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from helpers import TINY

SCRIPT = textwrap.dedent("""
    import dataclasses, json, os, sys
    import tf_alexnet
    out = dict(onednn=os.environ["TF_ENABLE_ONEDNN_OPTS"],
               tf_after_import="tensorflow" in sys.modules)
    from tf_alexnet import TrainConfig, SourceConfig
    out["tf_after_configs"] = "tensorflow" in sys.modules
    out["missing_api"] = [n for n in tf_alexnet._API if getattr(tf_alexnet, n, None) is None]
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.config.experimental.enable_tensor_float_32_execution(False)  # exact on GPUs too
    out["devices"] = [d.name for d in tf.config.list_logical_devices("CPU")]

    # Placement: towers on the two devices; the same numbers as an unplaced copy.
    from tf_alexnet import build_alexnet, convert_grouping
    tiny = json.loads(sys.argv[1])
    placed = build_alexnet(**tiny, tower_devices=("/CPU:0", "/CPU:1"), seed=5)
    plain = convert_grouping(placed, "towers")
    graph = tf.function(lambda x: placed(x, training=False)).get_concrete_function(
        tf.TensorSpec([2, 67, 67, 3])).graph
    out["ops"] = [(op.name, op.type, op.device) for op in graph.get_operations()]
    out["variables"] = {v.path: v.value.device for v in placed.weights}
    x = np.random.default_rng(0).random((2, 67, 67, 3)).astype("float32") * 255
    out["diff"] = float(np.abs(placed(x).numpy() - plain(x).numpy()).max())

    # MirroredStrategy over the two devices against one device, 3 steps each.
    from tf_alexnet.config import AugmentConfig
    from tf_alexnet.train.devices import make_strategy
    from tf_alexnet.train.trainer import train
    base = TrainConfig(source=SourceConfig(source="synthetic:shapes", synthetic_examples=64),
                       augment=AugmentConfig(image_size=67, batch_size=16, pca_sigma=0.1),
                       workdir="w", width=0.125, fc_units=32, init="he", dropout=0.0,
                       learning_rate=0.002, train_steps=3, eval_split="", log_every_steps=1,
                       grouping="towers", tower_devices="none", precision="float32")
    out["replicas"] = {}
    for strategy in ("default", "mirrored"):
        train(dataclasses.replace(base, workdir=sys.argv[2] + "/" + strategy, strategy=strategy))
        out["replicas"][strategy] = make_strategy(strategy).num_replicas_in_sync
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    work = tmp_path_factory.mktemp("fresh")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(TINY), str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(env, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]), work=work)


def test_import_loads_no_tensorflow_and_the_public_api_resolves(fresh):
    assert fresh["onednn"] == "1"
    assert not fresh["tf_after_import"] and not fresh["tf_after_configs"]
    assert fresh["missing_api"] == []


def test_tower_placement_on_two_logical_devices(fresh):
    assert len(fresh["devices"]) == 2
    layers_seen = set()
    for name, op_type, device in fresh["ops"]:
        layer = name.split("/")[1].rsplit("_", 1)[0] if "/" in name else ""
        if op_type in ("Placeholder", "ReadVariableOp"):
            continue  # variable handles and reads are colocated with the variable (below)
        if layer[:4] in ("conv", "lrn1", "lrn2", "pool") and layer[-1] in "ab":
            want = "/device:CPU:0" if layer.endswith("a") else "/device:CPU:1"
            assert device == want, (name, op_type, device)
            layers_seen.add(layer)
    towers = {
        f"{n}{h}"
        for n in (
            "conv1",
            "lrn1",
            "pool1",
            "conv2",
            "lrn2",
            "pool2",
            "conv3",
            "conv4",
            "conv5",
            "pool5",
        )
        for h in "ab"
    }
    assert layers_seen == towers
    conv_ops = [(n, d) for n, t, d in fresh["ops"] if t == "Conv2D"]
    assert len(conv_ops) == 10 and all(d for _, d in conv_ops)
    for path, device in fresh["variables"].items():
        if path.split("/")[0][-1:] in "ab" and path.startswith("conv"):
            assert device.endswith("CPU:0" if path.split("/")[0].endswith("a") else "CPU:1")
    assert fresh["diff"] == 0.0


def weights(workdir):
    reader = tf.train.load_checkpoint(os.path.join(workdir, "checkpoints"))
    return {
        k: reader.get_tensor(k)
        for k in reader.get_variable_to_shape_map()
        if k.startswith("layers/")
    }


def test_mirrored_on_two_logical_cpus_equals_default(fresh):
    assert fresh["replicas"] == {"default": 1, "mirrored": 2}
    a, b = weights(fresh["work"] / "default"), weights(fresh["work"] / "mirrored")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6, err_msg=k)
