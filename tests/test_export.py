"""The export as TF Serving and devices see it: no tf_alexnet, no XLA, named signatures."""

import base64
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from helpers import TINY_FLAGS, colour_classes, last_json, run_cli, saved_model_ops

from tf_alexnet.data.crops import make_eval_preprocess
from tf_alexnet.export import serving, warmup
from tf_alexnet.model.class_names import display_names
from tf_alexnet.workdir.restore import restore_model

# The export is compared with the Keras model to float32 rounding: no TF32 on GPUs.
# One worker holds the shared colour run and its export (tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("exact_float32"), pytest.mark.xdist_group("colour_run")]


def keras_probabilities(run, paths):
    """The trained Keras model with the evaluation preprocessing: the reference."""
    model = restore_model(str(run))
    fn = make_eval_preprocess(model.preprocessing)
    images = np.stack([fn(tf.io.read_file(p)).numpy() for p in paths])
    return tf.nn.softmax(model(images, training=False)).numpy(), images


CLEAN_LOADER = textwrap.dedent("""
    import json, sys
    sys.modules["tf_alexnet"] = None  # prove nothing of the package is needed
    import numpy as np, tensorflow as tf
    tf.config.experimental.enable_tensor_float_32_execution(False)  # exact on GPUs too
    path, files = sys.argv[1], sys.argv[2:]
    data = [open(f, "rb").read() for f in files]
    out = {}
    loaded = tf.saved_model.load(path)
    out["v2_names"] = [n.decode() for n in loaded.signatures["serving_default"](
        image_bytes=tf.constant(data))["top_k_names"].numpy()[:, 0]]
    out["v2"] = loaded.signatures["serving_default"](
        image_bytes=tf.constant(data))["probabilities"].numpy().tolist()
    images = np.stack([tf.io.decode_jpeg(d, channels=3).numpy() for d in data[:1]])
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        feeds = {"serving_default": {"image_bytes": data},
                 "serving_ten_crop": {"image_bytes": data},
                 "predict_images": {"images": images.astype(np.float32)},
                 "predict_images_uint8": {"images": images}}
        for name, inputs in feeds.items():
            sig = meta.signature_def[name]
            fetch = {k: v.name for k, v in sig.outputs.items()}
            feed = {sig.inputs[k].name: v for k, v in inputs.items()}
            res = sess.run(fetch, feed)
            out["v1_" + name] = res["probabilities"].tolist()
            out["v1_" + name + "_outputs"] = sorted(sig.outputs)
            out["v1_" + name + "_inputs"] = sorted(sig.inputs)
    print(json.dumps(out))
""")


def test_clean_process_runs_every_signature_like_tf_serving(exported, tmp_path):
    files = exported["images"][:6]
    result = subprocess.run(
        [sys.executable, "-c", CLEAN_LOADER, str(exported["version"]), *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    want, _ = keras_probabilities(exported["run"], files)
    np.testing.assert_allclose(out["v2"], want, atol=1e-4)
    np.testing.assert_allclose(out["v1_serving_default"], want, atol=1e-4)
    assert out["v2_names"][0] == "red"  # names come from the asset
    # Same image as pixels: predict_images decodes nothing, so it equals serving_default.
    np.testing.assert_allclose(out["v1_predict_images"][0], want[0], atol=1e-3)
    np.testing.assert_allclose(out["v1_predict_images_uint8"][0], want[0], atol=1e-3)
    ten = np.array(out["v1_serving_ten_crop"])
    np.testing.assert_allclose(ten.sum(1), 1.0, atol=1e-5)
    assert (ten.argmax(1) == want.argmax(1)).all()
    for name in ("serving_default", "predict_images"):
        assert out[f"v1_{name}_outputs"] == [
            "probabilities",
            "top_k_indices",
            "top_k_names",
            "top_k_scores",
        ]
    assert out["v1_serving_default_inputs"] == ["image_bytes"]
    assert out["v1_predict_images_inputs"] == ["images"]


def test_no_xla_and_only_core_ops(exported, tmp_path):
    from tensorflow.python.framework import op_def_registry

    ops, xla = saved_model_ops(exported["version"])
    assert not xla
    assert not [op for op in ops if op_def_registry.get(op) is None]
    assert {"Conv2D", "LRN", "DecodeImage", "DecodeJpeg"} <= ops, ops
    # A model trained fused (XLA grouped convolutions) exports without XLA too.
    fused = tmp_path / "fused"
    result = run_cli(
        "train",
        f"--workdir={fused}",
        *TINY_FLAGS,
        "--grouping=fused",
        "--train_steps=2",
        "--eval_split=",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_cli("export", f"--workdir={fused}", f"--export_dir={tmp_path / 'm'}")
    assert result.returncode == 0, result.stderr[-2000:]
    ops, xla = saved_model_ops(tmp_path / "m" / "1")
    assert not xla and "Conv2D" in ops


def test_saved_model_cli_show_and_run(exported, tmp_path):
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    show = subprocess.run(
        cli + ["show", "--dir", str(exported["version"]), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for name in serving.SIGNATURES:
        assert f"signature_def['{name}']" in show.stdout
    assert "inputs['image_bytes']" in show.stdout and "outputs['top_k_names']" in show.stdout
    _, images = keras_probabilities(exported["run"], exported["images"][:2])
    np.save(tmp_path / "batch.npy", images)
    run = subprocess.run(
        cli
        + [
            "run",
            "--dir",
            str(exported["version"]),
            "--tag_set",
            "serve",
            "--signature_def",
            "predict_preprocessed",
            "--inputs",
            f"images={tmp_path / 'batch.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "probabilities" in run.stdout and "top_k_names" in run.stdout


def test_warmup_records_parse_and_replay(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    path = exported["version"] / "assets.extra" / "tf_serving_warmup_requests"
    loaded = tf.saved_model.load(str(exported["version"]))
    seen = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        name = request.model_spec.signature_name
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        assert request.model_spec.name == "alexnet"  # the export directory's name
        out = loaded.signatures[name](**inputs)
        assert out["probabilities"].shape == (1, 3)
        seen.append(name)
    assert sorted(seen) == sorted(serving.SIGNATURES)  # one request per signature


def test_grpc_request_and_rest_body_map_onto_the_signature(exported):
    import importlib.util

    module_spec = importlib.util.spec_from_file_location(
        "grpc_client", ROOT / "export" / "grpc_client.py"
    )
    grpc_client = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(grpc_client)
    data = open(exported["images"][0], "rb").read()
    loaded = tf.saved_model.load(str(exported["version"]))
    signature = loaded.signatures["serving_default"]
    request = grpc_client.make_request("alexnet", [data])  # the kit's gRPC client
    assert request.model_spec.signature_name == "serving_default"
    spec = signature.structured_input_signature[1]
    assert set(request.inputs) == set(spec)
    assert request.inputs["image_bytes"].dtype == spec["image_bytes"].dtype.as_datatype_enum
    grpc = signature(image_bytes=tf.constant(tf.make_ndarray(request.inputs["image_bytes"])))
    # The REST body from the helper (python -m tf_alexnet.predict --rest_body) decodes to the
    # same bytes and gives the same answer.
    result = run_cli("predict", "--rest_body", exported["images"][0])
    assert result.returncode == 0, result.stderr[-2000:]
    body = json.loads(result.stdout)
    assert body == warmup.rest_body([data])
    assert body["signature_name"] == "serving_default"
    rest = [base64.b64decode(i["image_bytes"]["b64"]) for i in body["instances"]]
    assert rest == [data]
    np.testing.assert_allclose(
        signature(image_bytes=tf.constant(rest))["probabilities"], grpc["probabilities"], atol=1e-6
    )
    readme = (ROOT / "export" / "README.md").read_text()
    assert "python -m tf_alexnet.predict --rest_body" in readme


def test_tflite_matches_saved_model(exported):
    from tf_alexnet.export import tflite

    from tf_alexnet.data.decode import to_square
    from tf_alexnet.export.loading import load

    files = exported["images"]
    loaded = tf.saved_model.load(str(exported["version"]))
    # A .tflite takes the uint8 squares that the resize rule gives and subtracts the mean
    # and crops inside; the SavedModel's uint8 signature does the same in its graph.
    resize = load(str(exported["version"])).network.preprocessing.resize
    images = np.stack(
        [np.round(to_square(tf.io.read_file(f), resize).numpy()).astype(np.uint8) for f in files]
    )
    want = loaded.signatures["predict_images_uint8"](images=tf.constant(images))[
        "probabilities"
    ].numpy()
    got = {}
    for q in ("float32", "float16", "dynamic", "int8"):
        path = exported["base"] / f"1_{q}.tflite"
        ops = tflite.op_names(path.read_bytes())
        assert not [op for op in ops if "flex" in op.lower()], ops
        runner = tflite.TFLiteRunner(path)
        got[q] = np.concatenate([runner(images[i : i + 1]) for i in range(len(images))])
    np.testing.assert_allclose(got["float32"], want, atol=1e-4)
    np.testing.assert_allclose(got["float16"], want, atol=1e-2)
    # int8 agreement on the images of the model's own classes (the held-out colour JPEGs):
    # on photos of other things its near-uniform answers make top-1 a coin toss.
    own = [i for i, f in enumerate(files) if "imagenet-sample" not in f]
    agree = np.mean(got["int8"][own].argmax(1) == got["float32"][own].argmax(1))
    assert agree >= 0.95, agree
    assert (want[own].argmax(1) == np.repeat([2, 1, 0], 4)).mean() >= 0.9  # red, green, blue
    assert "LOCAL_RESPONSE_NORMALIZATION" in tflite.op_names(
        (exported["base"] / "1_int8.tflite").read_bytes()
    )


def test_a_tflite_with_its_sidecar_alone_predicts_and_says_what_to_feed(exported, tmp_path):
    """Copied alone (with its .json) to a folder of its own, a .tflite predicts as in the
    export; its sidecar holds what to feed it in numbers and the class names."""
    import shutil

    from tf_alexnet.export.loading import load

    alone = tmp_path / "phone"
    alone.mkdir()
    for name in ("1_int8.tflite", "1_int8.tflite.json"):
        shutil.copy(exported["base"] / name, alone / name)
    red = exported["images"][0]
    here = last_json(
        run_cli("predict", f"--model={exported['base'] / '1_int8.tflite'}", "--json", red)
    )
    there = last_json(run_cli("predict", f"--model={alone / '1_int8.tflite'}", "--json", red))
    assert there == dict(here, image=red) and there["predictions"][0]["class"] == "red"
    meta = json.loads((alone / "1_int8.tflite.json").read_text())
    resize = meta["resize"]
    assert meta["input"]["dtype"] == "uint8" and meta["input"]["shape"] == [-1, resize, resize, 3]
    assert meta["input"]["range"] == [0, 255] and meta["input"]["channels"] == "RGB"
    assert "central square" in meta["input"]["resize"] and "per-channel mean" in meta["inside"]
    assert meta["class_names"] == ["blue", "green", "red"]
    # Every core by default, or as many threads as asked.
    assert load(str(alone / "1_int8.tflite"))._tflite.num_threads == os.cpu_count()
    assert load(str(alone / "1_int8.tflite"), num_threads=1)._tflite.num_threads == 1
    # Without its sidecar: one line saying what is missing.
    (alone / "1_int8.tflite.json").unlink()
    result = run_cli("predict", f"--model={alone / '1_int8.tflite'}", red)
    assert result.returncode == 1 and "sidecar" in result.stderr.strip().splitlines()[-1]


def test_predict_top1_and_error_paths(exported, tmp_path):
    red = exported["images"][0]
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    for model in (exported["base"], exported["version"], exported["base"] / "1_int8.tflite"):
        result = run_cli(
            "predict", f"--model={model}", "--json", red, str(bad), str(tmp_path / "missing.png")
        )
        assert result.returncode == 1  # some images failed; the others were predicted
        lines = [json.loads(l) for l in result.stdout.strip().splitlines()]
        assert lines[0]["predictions"][0]["class"] == "red"
        assert lines[1]["image"] == str(bad) and "not a JPEG" in lines[1]["error"]
        assert "cannot read" in lines[2]["error"]
    text = run_cli("predict", f"--model={exported['base']}", red)
    assert text.returncode == 0 and "red" in text.stdout.splitlines()[1]
    wrong = run_cli("predict", f"--model={tmp_path}", red)
    assert wrong.returncode != 0
    assert "neither a SavedModel" in wrong.stderr.strip().splitlines()[-1]


def test_predict_a_directory_predicts_the_images_in_it(exported, tmp_path):
    folder = tmp_path / "photos"
    red, green = exported["images"][0], exported["images"][4]
    (folder / "more").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(open(red, "rb").read())
    (folder / "more" / "b.jpg").write_bytes(open(green, "rb").read())
    (folder / "notes.txt").write_text("not an image")
    result = run_cli(
        "predict", f"--model={exported['base']}", "--json", str(folder), str(tmp_path)
    )  # tmp_path holds the folder: its images, found again
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [l["image"] for l in lines] == [
        str(folder / "a.jpg"),
        str(folder / "more" / "b.jpg"),
        str(folder / "a.jpg"),
        str(folder / "more" / "b.jpg"),
    ]
    assert [l["predictions"][0]["class"] for l in lines[:2]] == ["red", "green"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("predict", f"--model={exported['base']}", "--json", str(empty))
    assert result.returncode == 1 and "no images" in json.loads(result.stdout)["error"]


def test_evaluate_exported_models(exported, tmp_path):
    data = colour_classes(tmp_path / "eval", ["blue", "green", "red"], per_class=6)
    scores = {}
    for model in (exported["base"], exported["base"] / "1_float32.tflite"):
        scores[str(model)] = last_json(
            run_cli(
                "evaluate", f"--model={model}", f"--data=folder:{data}", "--split=all", "--json"
            )
        )
    a, b = scores.values()
    assert a["num_images"] == b["num_images"] == 18
    assert a["top1_error"] == b["top1_error"] < 0.2


def test_versions_overwrite_and_tflite_only(exported, tmp_path):
    base = tmp_path / "alexnet"
    assert (
        run_cli(
            "export", f"--workdir={exported['run']}", f"--export_dir={base}", "--tflite=float32"
        ).returncode
        == 0
    )
    assert run_cli("export", f"--workdir={exported['run']}", f"--export_dir={base}").returncode == 0
    assert sorted(p.name for p in base.iterdir()) == [
        "1",
        "1_float32.tflite",
        "1_float32.tflite.json",
        "2",
    ]
    again = run_cli("export", f"--workdir={exported['run']}", f"--export_dir={base}", "--version=1")
    assert again.returncode != 0 and "--overwrite" in again.stderr.strip().splitlines()[-1]
    assert (
        run_cli(
            "export",
            f"--workdir={exported['run']}",
            f"--export_dir={base}",
            "--version=1",
            "--overwrite",
        ).returncode
        == 0
    )
    # --overwrite replaces the whole version: its TFLite files were of the old weights.
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    only = run_cli("export", "--tflite_only", f"--export_dir={base}", "--tflite=float32")
    assert only.returncode == 0, only.stderr[-2000:]
    assert (base / "2_float32.tflite").exists() and (base / "2_float32.tflite.json").exists()


def test_imagenet_synsets_get_readable_names_offline():
    assert display_names(["n01440764", "n01443537"]) == ["tench", "goldfish"]
    assert display_names(["cat", "dog"]) == ["cat", "dog"]


@pytest.mark.slow
def test_export_serves_in_tensorflow_2_20(exported):
    """TF Serving's newest release (2.20) links TensorFlow 2.20's TF1 session loader: an
    export made with 2.21 loads there and every signature gives 2.21's probabilities.
    TensorFlow 2.20 goes into its own virtual environment (PyPI; cached in
    ~/.cache/tf_alexnet/tf220 or $TF_ALEXNET_TF220_VENV)."""
    import pathlib

    venv = pathlib.Path(
        os.environ.get(
            "TF_ALEXNET_TF220_VENV", pathlib.Path.home() / ".cache" / "tf_alexnet" / "tf220"
        )
    )
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "tensorflow==2.20.*"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert install.returncode == 0, install.stderr[-2000:]
    files = exported["images"][:6]
    outputs = {}
    for name, interpreter in (("2.20", str(python)), ("2.21", sys.executable)):
        script = "import tensorflow as tf; print(tf.__version__)"
        version = subprocess.run([interpreter, "-c", script], capture_output=True, text=True)
        assert version.stdout.strip().startswith(name), version.stdout
        result = subprocess.run(
            [interpreter, "-c", CLEAN_LOADER, str(exported["version"]), *files],
            capture_output=True,
            text=True,
            timeout=600,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = json.loads(result.stdout.strip().splitlines()[-1])
    old, new = outputs["2.20"], outputs["2.21"]
    assert set(old) == set(new) and "v1_serving_ten_crop" in new
    for key, value in new.items():
        if key.endswith(("_outputs", "_inputs")) or key == "v2_names":
            assert old[key] == value, key
        else:  # probabilities of every signature
            np.testing.assert_allclose(old[key], value, atol=1e-6, err_msg=key)


def test_a_failed_tflite_conversion_keeps_no_version_and_the_rerun_is_version_1(
    exported, tmp_path, monkeypatch
):
    """float32 converts, then int8 fails: neither the SavedModel version nor the float32
    file stays (a rerun would otherwise become version 2); the rerun writes version 1."""
    from tf_alexnet.export import tflite

    real = tflite.convert

    def convert(saved_model_dir, quantization, images=None):
        if quantization == "int8":
            raise ValueError("int8: calibration failed (a test's failure)")
        return real(saved_model_dir, quantization, images)

    base = tmp_path / "alexnet"
    args = [f"--workdir={exported['run']}", f"--export_dir={base}", "--calibration_images=4"]
    monkeypatch.setattr(tflite, "convert", convert)
    failed = run_cli("export", *args, "--tflite=float32,int8")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        "export: int8: calibration failed (a test's failure)"
    )
    assert "Not kept:" in failed.stdout and not list(base.iterdir())
    monkeypatch.setattr(tflite, "convert", real)
    again = run_cli("export", *args, "--tflite=float32")
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(p.name for p in base.iterdir()) == [
        "1",
        "1_float32.tflite",
        "1_float32.tflite.json",
    ]


def test_tflite_without_its_runtime_is_one_line_naming_the_package_and_writes_nothing(
    exported, tmp_path, monkeypatch
):
    """ai-edge-litert is a dependency; where it is missing anyway (pip install --no-deps),
    export --tflite stops before writing, in one line that says what to install."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    base = tmp_path / "alexnet"
    result = run_cli(
        "export", f"--workdir={exported['run']}", f"--export_dir={base}", "--tflite=float32"
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert lines[-1].startswith("export: export --tflite needs the Python package ai-edge-litert")
    assert lines[-1].endswith("pip install ai-edge-litert")
    assert not base.exists()
