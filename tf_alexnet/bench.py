"""Benchmarks, measured in one run so that their ratios can be compared.

    python -m tf_alexnet.bench model      # train step + inference img/s for each grouping
    python -m tf_alexnet.bench data --data SPEC
    python -m tf_alexnet.bench train      # the package's real train step, synthetic data
    python -m tf_alexnet.bench inference [--model export/models/alexnet]

Every figure is put next to "the 2-core limit": the machine's measured fp32 matmul rate
(a 4096x4096 TensorFlow matmul, taken in the same run) divided by the model's FLOPs per
image (2 x multiply-adds forward; x3 for a training step).
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import os
import time

from absl import app, flags
import numpy as np
import tensorflow as tf

from tf_alexnet.model import build_alexnet

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 8, "Timed steps per measurement (after warm-up steps).")
flags.DEFINE_integer("warmup", 2, "Untimed steps before timing (tracing, XLA compilation).")
flags.DEFINE_list("groupings", ["towers", "fused", "none"], "Groupings for `bench model`.")
flags.DEFINE_string("split", "train", "`bench data`: the split to read.")
flags.DEFINE_bool("xla", False, "`bench train`: compile the step with XLA.")
flags.DEFINE_string("model", "", "`bench inference`: an export (TF Serving base, version "
                    "dir); empty: export a fresh paper model to a temporary directory.")
flags.DEFINE_float("seconds", 20.0, "`bench data`: how long to measure, in seconds.")


def model_macs(model):
    """Forward multiply-adds per image of the model's conv and dense layers."""
    macs = 0
    for layer in model.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        kernel = layer.kernel.shape
        out = layer.output.shape[1:]
        positions = int(np.prod(out[:-1])) if len(out) > 1 else 1
        macs += positions * int(np.prod(kernel))
    return macs


def matmul_gflops(n=4096, repeats=10):
    """Measured fp32 GFLOP/s of a TensorFlow n x n matmul: the machine's practical peak."""
    a = tf.random.normal([n, n])
    f = tf.function(lambda x: tf.matmul(x, x))
    f(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        r = f(a)
    r.numpy()
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def time_steps(step, args, steps, warmup):
    """Images/s of `step(*args)` (a tf.function returning a tensor) over `steps` calls."""
    for _ in range(warmup):
        step(*args).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        out = step(*args)
    out.numpy()
    return steps / (time.perf_counter() - start)


def bench_model():
    peak = matmul_gflops()
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s; batch {FLAGS.batch_size}, "
          f"image {FLAGS.image_size}, oneDNN={os.environ['TF_ENABLE_ONEDNN_OPTS']}")
    print(f"{'grouping':9s} {'GFLOP/img':>9s} {'train img/s':>12s} {'limit':>6s} {'ratio':>6s} "
          f"{'infer img/s':>12s} {'limit':>6s} {'ratio':>6s}")
    n = FLAGS.batch_size
    x = tf.random.uniform([n, FLAGS.image_size, FLAGS.image_size, 3], -120, 130)
    y = tf.random.uniform([n], 0, 1000, tf.int32)
    for grouping in FLAGS.groupings:
        model = build_alexnet(image_size=FLAGS.image_size, grouping=grouping, seed=0)
        flops = 2 * model_macs(model)
        train_ips = train_step_ips(model, n, x, y)
        infer = tf.function(lambda x: model(x, training=False))
        infer_ips = n * time_steps(infer, (x,), FLAGS.steps, FLAGS.warmup)
        train_limit, infer_limit = peak * 1e9 / (3 * flops), peak * 1e9 / flops
        print(f"{grouping:9s} {flops / 1e9:9.2f} {train_ips:12.1f} {train_limit:6.1f} "
              f"{train_ips / train_limit:6.0%} {infer_ips:12.1f} {infer_limit:6.1f} "
              f"{infer_ips / infer_limit:6.0%}", flush=True)
    print("limit = matmul peak / FLOPs per image (forward; x3 for a train step)")


def bench_data():
    """Images/s through the full training pipeline (decode, crop, flip, lighting, mean)."""
    from tf_alexnet import flags as flags_lib
    from tf_alexnet.data import make_dataset

    config = flags_lib.data_config()
    ds = make_dataset(config, FLAGS.split, training=True)
    it = iter(ds)
    for _ in range(FLAGS.warmup):
        next(it)
    start, images = time.perf_counter(), 0
    while time.perf_counter() - start < FLAGS.seconds:
        images += int(next(it)[1].shape[0])
    rate = images / (time.perf_counter() - start)
    print(f"{config.data} split={FLAGS.split}: {rate:.0f} images/s through the training "
          f"pipeline ({config.resize}->{config.image_size} crops, batch {config.batch_size}, "
          f"{images} images in {FLAGS.seconds:.0f} s)")


def train_step_ips(model, n, images, labels):
    """Images/s of the package's own train step (train_lib.make_train_step, PaperSGD) on a
    fixed batch: the model's training speed without input pipeline cost."""
    from tf_alexnet import train_lib
    from tf_alexnet.config import DataConfig, TrainConfig

    config = TrainConfig(data=DataConfig(image_size=FLAGS.image_size, batch_size=n),
                         workdir="")
    optimizer, _ = train_lib.make_optimizer(config, 10000, 10**6)
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    sums = tf.Variable(tf.zeros([3]))
    step = train_lib.make_train_step(model, optimizer, tf.distribute.get_strategy(), n, sums,
                                     FLAGS.xla)

    def run(it):
        step(it)
        return sums

    return n * time_steps(run, (iterator,), FLAGS.steps, FLAGS.warmup)


def bench_train():
    """The train step of the paper model at --batch_size (128 in the paper)."""
    peak = matmul_gflops()
    n, size = FLAGS.batch_size, FLAGS.image_size
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s; train step, batch {n}, image {size}")
    x = tf.random.uniform([n, size, size, 3], -120, 130)
    y = tf.random.uniform([n], 0, 1000, tf.int32)
    for grouping in FLAGS.groupings:
        model = build_alexnet(image_size=size, grouping=grouping, seed=0)
        ips = train_step_ips(model, n, x, y)
        limit = peak * 1e9 / (3 * 2 * model_macs(model))
        print(f"{grouping:9s} {ips:8.1f} img/s  limit {limit:5.1f} img/s  ratio {ips / limit:.0%}",
              flush=True)


def _paper_export(directory):
    """A workdir holding the (untrained) paper model, exported with float32 and int8 TFLite:
    speed does not depend on the weights' values."""
    from tf_alexnet import export, preprocess, workdir as workdir_lib
    from tf_alexnet.config import DataConfig
    from tf_alexnet.model import model_grouping, model_spec

    model = build_alexnet(grouping="towers", seed=0)
    work = os.path.join(directory, "work")
    tf.train.Checkpoint(model=model, layers=workdir_lib.checkpoint_layers(model)).save(
        os.path.join(work, "checkpoints", "ckpt"))
    meta = workdir_lib.metadata(model_spec(model), model_grouping(model),
                                [f"class_{i}" for i in range(1000)],
                                DataConfig(data="synthetic:random"))
    workdir_lib.save_metadata(work, meta, preprocess.Stats())
    version = export.export_saved_model(work, os.path.join(directory, "alexnet"))
    export.export_tflite(version, ["float32", "int8"], calibration=8)
    return os.path.join(directory, "alexnet")


def bench_inference():
    """SavedModel images/s at --batch_size (predict_preprocessed, as TF Serving runs it)
    and TFLite single-image latency, of --model or of a fresh paper-model export."""
    import tempfile

    from tf_alexnet import exported, tflite

    base = FLAGS.model or _paper_export(tempfile.mkdtemp(prefix="tf_alexnet_bench_"))
    model = exported.load(base)
    n, size = FLAGS.batch_size, model.size
    x = tf.random.uniform([n, size, size, 3], -120, 130)
    signature = model.signatures["predict_preprocessed"]
    ips = n * time_steps(lambda x: signature(images=x)["probabilities"], (x,), FLAGS.steps,
                         FLAGS.warmup)
    peak = matmul_gflops()
    keras_model = build_alexnet(image_size=size, num_classes=len(model.class_names),
                                grouping="towers")
    limit = peak * 1e9 / (2 * model_macs(keras_model))
    print(f"SavedModel {model.path}: {ips:.1f} images/s at batch {n} (limit {limit:.1f}, "
          f"ratio {ips / limit:.0%})")
    version = os.path.basename(model.path)
    for q in ("float32", "int8"):
        path = os.path.join(os.path.dirname(model.path), f"{version}_{q}.tflite")
        if not os.path.exists(path):
            continue
        runner = tflite.TFLiteRunner(path)
        one = x[:1].numpy()
        for _ in range(FLAGS.warmup):
            runner(one)
        start = time.perf_counter()
        for _ in range(FLAGS.steps):
            runner(one)
        ms = (time.perf_counter() - start) / FLAGS.steps * 1000
        print(f"TFLite {q}: {ms:.1f} ms per image (batch 1)", flush=True)


COMMANDS = {"model": bench_model, "data": bench_data, "train": bench_train,
            "inference": bench_inference}


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"usage: python -m tf_alexnet.bench {{{'|'.join(COMMANDS)}}} [flags]")
    COMMANDS[argv[1]]()


if __name__ == "__main__":
    from tf_alexnet import flags as flags_lib

    flags_lib.define_data_flags(batch_size=64)
    app.run(main)
