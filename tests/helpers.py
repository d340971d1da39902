"""Tiny configs, small files and runners shared by the tests, and the per-grouping checks.

The tiny model is the paper's network built from parameters (narrow, 67 px): the same code
path as the real one. `check_*` are the model checks every grouping must pass (in the
spirit of keras-hub's TestCase.run_* helpers); tests/test_groupings.py runs them.
"""

import contextlib
import dataclasses
import importlib
import io
import json
import logging
import os
import subprocess
import sys
import textwrap

from absl import app, flags
import keras
import numpy as np
import tensorflow as tf

from conftest import ROOT, SHARED_DATA
from tf_alexnet.config import AugmentConfig, EvalDataConfig, SourceConfig, TrainConfig

# Small variant of the paper's network: same code path, built from parameters.
TINY = dict(num_classes=10, image_size=67, width=0.125, fc_units=64)
# The same, as training flags on the embedded synthetic data.
TINY_FLAGS = [
    "--precision=float32",  # exact tests: the same numerics on every CPU (auto: bf16 on some)
    "--data=synthetic:shapes",
    "--synthetic_examples=64",
    "--image_size=67",
    "--width=0.125",
    "--fc_units=32",
    "--batch_size=16",
    "--init=he",
    "--learning_rate=0.002",
    "--log_every_steps=2",
    "--eval_examples=16",
]
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (20, 40, 230),
    "purple": (150, 20, 160),
}


def write_image(path, array, fmt=None):
    """Writes a uint8 [h, w, c] array as PNG or JPEG (by extension unless fmt given)."""
    array = tf.constant(np.asarray(array, np.uint8))
    fmt = fmt or ("png" if str(path).endswith(".png") else "jpeg")
    data = tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array, quality=95)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.numpy())
    return path


def solid(h, w, colour):
    return np.broadcast_to(np.asarray(colour, np.uint8), (h, w, len(colour))).copy()


def colour_classes(root, names, per_class=24, seed=0):
    """An image folder of noisy 40x40 PNGs, one class per colour name of COLOURS."""
    rng = np.random.default_rng(seed)
    for name in names:
        for i in range(per_class):
            noise = rng.integers(-25, 25, (40, 40, 3))
            write_image(root / name / f"{i}.png", np.clip(np.add(COLOURS[name], noise), 0, 255))
    return root


def jpeg_files(root, rng_seed=1):
    """Real JPEG files: held-out colour photos-alike, plus ImageNet sample photos if present."""
    rng = np.random.default_rng(rng_seed)
    paths = []
    for name, colour in (("red", (220, 30, 30)), ("green", (30, 200, 40)), ("blue", (20, 40, 230))):
        for i in range(4):
            h, w = rng.integers(50, 300, 2)
            noise = rng.integers(-25, 25, (h, w, 3))
            paths.append(
                write_image(root / f"{name}_{i}.jpg", np.clip(np.add(colour, noise), 0, 255))
            )
    sample = SHARED_DATA / "imagenet-sample"
    if sample.exists():
        paths += sorted(str(p) for p in sample.glob("*/*.JPEG"))[:20]
    return [str(p) for p in paths]


def random_images(n, size, seed=0):
    """Float32 [n, size, size, 3] in the network's input range (0..255 minus a mean)."""
    return (np.random.default_rng(seed).random((n, size, size, 3)) * 255 - 120).astype("float32")


def tiny_config(workdir, **overrides):
    """TINY_FLAGS as a TrainConfig: fields of the nested configs may be given by name."""
    parts = {
        "source": SourceConfig(source="synthetic:shapes", synthetic_examples=64),
        "augment": AugmentConfig(image_size=67, batch_size=16),
        "evaluation": EvalDataConfig(batch_size=16),
    }
    top = dict(
        workdir=str(workdir),
        precision="float32",  # as TINY_FLAGS
        width=0.125,
        fc_units=32,
        init="he",
        learning_rate=0.002,
        log_every_steps=2,
        eval_examples=16,
    )
    for key, value in overrides.items():
        owner = next((n for n, c in parts.items() if key in c.__dataclass_fields__), None)
        if owner:
            parts[owner] = dataclasses.replace(parts[owner], **{key: value})
            if key == "batch_size":
                parts["evaluation"] = dataclasses.replace(parts["evaluation"], batch_size=value)
        else:
            top[key] = value
    return TrainConfig(**parts, **top)


COMMANDS = {
    "train": "tf_alexnet.train.__main__",
    "evaluate": "tf_alexnet.evaluate.__main__",
    "export": "tf_alexnet.export.__main__",
    "report": "tf_alexnet.report.__main__",
    "bench": "tf_alexnet.bench.__main__",
    "predict": "tf_alexnet.predict",
    "prepare": "tf_alexnet.prepare",
    "import_weights": "tf_alexnet.import_weights",
    "experiment": "tf_alexnet.experiment.__main__",
}


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(command, *args, cwd=ROOT):
    """`python -m tf_alexnet.<command> args`, in this process, from directory `cwd`: the
    command's own flag definitions, parsing and main(), with stdout, stderr and log lines
    captured and the exit status a process would have (sys.exit("line") -> 1, that line on
    stderr)."""
    module = importlib.import_module(COMMANDS[command])
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root, absl_logger = logging.getLogger(), logging.getLogger("absl")
    levels = root.level, absl_logger.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    here, code = os.getcwd(), 0
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                module.main(flag_values([command, *map(str, args)]), flag_values)
            except SystemExit as e:
                code = 1 if isinstance(e.code, str) else (e.code or 0)
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
            except (flags.Error, app.UsageError) as e:
                print(f"FATAL Flags parsing error: {e}", file=sys.stderr)
                code = 1
    finally:
        os.chdir(here)
        root.removeHandler(handler)
        root.setLevel(levels[0])
        absl_logger.setLevel(levels[1])
    return Result(code, out.getvalue(), err.getvalue())


def last_json(result):
    """The JSON of a command's last stdout line (asserting that it succeeded)."""
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_module(module, *args, timeout=600, env=None, cwd=ROOT):
    """Runs `python -m tf_alexnet.<module> args` in a fresh process from directory `cwd`
    (for what only a process shows: signals, exit status, environment); CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", f"tf_alexnet.{module}", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def check_keras_round_trip(model, tmp_path):
    """A .keras file reloads to the same layers and the same function."""
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = random_images(3, model.input_shape[1])
    np.testing.assert_array_equal(
        loaded(x, training=False).numpy(), model(x, training=False).numpy()
    )
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


def check_precision(build, policy):
    """Under a mixed policy the model computes in low precision, returns finite logits close
    to the float32 model with the same weights, and has finite gradients."""
    reference = build()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.set_weights(reference.get_weights())
    compute = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[policy]
    assert model.get_layer("fc6").compute_dtype == compute
    x = random_images(2, model.input_shape[1]) / 60.0
    with tf.GradientTape() as tape:
        logits = tf.cast(model(x, training=False), tf.float32)
        loss = tf.reduce_sum(logits**2)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    want = reference(x, training=False).numpy()
    np.testing.assert_allclose(logits.numpy(), want, atol=0.05 * np.abs(want).max() + 1e-3)


CLEAN_PREDICT = textwrap.dedent("""
    import json, sys
    sys.modules["tf_alexnet"] = None  # nothing of the package is needed to serve
    import numpy as np, tensorflow as tf
    tf.config.experimental.enable_tensor_float_32_execution(False)  # exact on GPUs too
    out = []
    for version, inputs in zip(sys.argv[1::2], sys.argv[2::2]):
        loaded = tf.saved_model.load(version)
        x = np.load(inputs)
        probs = loaded.signatures["predict_preprocessed"](images=tf.constant(x))
        out.append(probs["probabilities"].numpy().tolist())
    print(json.dumps(out))
""")


def export_for_check(model, spec, grouping, tmp_path):
    """A workdir holding `model`, exported: (version dir, inputs .npy, the Keras model's
    probabilities on them)."""
    from tf_alexnet.data.stats import Preprocessing
    from tf_alexnet.export.savedmodel import export_saved_model
    from tf_alexnet.workdir.checkpoints import checkpoint_layers
    from tf_alexnet.workdir.info import NetworkRecord, RunInfo, save_record

    work = tmp_path / "work"
    tf.train.Checkpoint(model=model, layers=checkpoint_layers(model)).save(
        str(work / "checkpoints" / "ckpt")
    )
    classes = tuple(f"c{i}" for i in range(spec.num_classes))
    save_record(
        str(work),
        NetworkRecord(spec, grouping, classes, Preprocessing(spec.image_size, 76, "none")),
        RunInfo("synthetic:shapes"),
    )
    version = export_saved_model(str(work), str(tmp_path / "models"))
    x = random_images(2, spec.image_size)
    np.save(tmp_path / "x.npy", x)
    return version, str(tmp_path / "x.npy"), tf.nn.softmax(model(x, training=False)).numpy()


def clean_process_probabilities(exports):
    """predict_preprocessed of each (version, inputs) in one process without tf_alexnet."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = [str(part) for pair in exports for part in pair]
    out = subprocess.run(
        [sys.executable, "-c", CLEAN_PREDICT, *args],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return [np.array(p) for p in json.loads(out.stdout.strip().splitlines()[-1])]


def saved_model_ops(version_dir):
    """(op types of a SavedModel's graph and functions, names of XLA must-compile ones)."""
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString(open(os.path.join(version_dir, "saved_model.pb"), "rb").read())
    graph = sm.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node}
    xla = []
    for f in graph.library.function:
        ops |= {n.op for n in f.node_def}
        if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b:
            xla.append(f.signature.name)
        xla += [
            n.name
            for n in f.node_def
            if n.attr.get("_XlaMustCompile") and n.attr["_XlaMustCompile"].b
        ]
    functions = {f.signature.name for f in graph.library.function}
    return ops - functions, xla
