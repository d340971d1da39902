"""Benchmarks, measured in one run so that their ratios can be compared.

    python -m tf_alexnet.bench model|data|train|inference   (tf_alexnet/bench/__main__.py)

Every figure is put next to "the 2-core limit": the machine's measured fp32 matmul rate
(a 4096x4096 TensorFlow matmul, taken in the same run) divided by the model's FLOPs per
image (2 x multiply-adds forward; x3 for a training step).
"""

import dataclasses
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from tf_alexnet.config import TrainConfig
from tf_alexnet.data.augment import make_augment_on_device
from tf_alexnet.data.pipeline import train_dataset
from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.export.loading import load
from tf_alexnet.export.savedmodel import export_model
from tf_alexnet.export.tflite import TFLiteRunner, export_tflite
from tf_alexnet.model.alexnet import build_alexnet, build_from_spec
from tf_alexnet.model.spec import AlexNetSpec
from tf_alexnet.train.devices import resolve_auto
from tf_alexnet.train.process import process_settings
from tf_alexnet.train.step import make_optimizer, make_train_step
from tf_alexnet.train.trainer import train
from tf_alexnet.workdir.info import RunInfo


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
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def time_steps(step, args, steps, warmup):
    """Images/s of `step(*args)` (a tf.function returning a tensor) over `steps` calls."""
    for _ in range(warmup):
        step(*args).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        out = step(*args)
    out.numpy()
    return steps / (time.perf_counter() - start)


def bench_model(cfg):
    peak = matmul_gflops()
    size = cfg.augment.image_size
    print(
        f"fp32 matmul peak: {peak:.1f} GFLOP/s; batch {cfg.augment.batch_size}, "
        f"image {size}, oneDNN={os.environ['TF_ENABLE_ONEDNN_OPTS']}"
    )
    print(
        f"{'grouping':9s} {'GFLOP/img':>9s} {'train img/s':>12s} {'limit':>6s} {'ratio':>6s} "
        f"{'infer img/s':>12s} {'limit':>6s} {'ratio':>6s}"
    )
    n = cfg.augment.batch_size
    x = tf.random.uniform([n, size, size, 3], -120, 130)
    for grouping in cfg.groupings:
        model = build_alexnet(image_size=size, grouping=grouping, seed=0)
        flops = 2 * model_macs(model)
        train_ips = train_step_ips(cfg, model)
        infer = tf.function(lambda x: model(x, training=False))
        infer_ips = n * time_steps(infer, (x,), cfg.steps, cfg.warmup)
        train_limit, infer_limit = peak * 1e9 / (3 * flops), peak * 1e9 / flops
        print(
            f"{grouping:9s} {flops / 1e9:9.2f} {train_ips:12.1f} {train_limit:6.1f} "
            f"{train_ips / train_limit:6.0%} {infer_ips:12.1f} {infer_limit:6.1f} "
            f"{infer_ips / infer_limit:6.0%}",
            flush=True,
        )
    print("limit = matmul peak / FLOPs per image (forward; x3 for a train step)")


def pipeline_rate(ds, cfg):
    """(images/s, host CPU core-microseconds per image) of a training dataset over
    cfg.seconds, after cfg.warmup batches. The CPU time is the whole process's (every
    thread, user and system): what the pipeline costs a machine, so that a 2-core figure
    says how many cores a faster consumer would need."""
    it = iter(ds)
    for _ in range(cfg.warmup):
        next(it)
    start, cpu, images = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - start < cfg.seconds:
        images += int(next(it)[1].shape[0])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return images / wall, cpu * 1e6 / max(images, 1)


def bench_data(cfg):
    """Images/s of the training pipeline as `train` runs it (decode to the uint8 square and
    the batch's draws; the crop, flip, lighting and mean subtraction run on the device),
    and of the same pipeline doing that augmentation on the host too."""
    ds, data = train_dataset(cfg.source, cfg.augment, cfg.split)
    augment = make_augment_on_device(cfg.augment, data.stats)
    host = ds.map(
        lambda features, labels: (augment(features), labels), num_parallel_calls=tf.data.AUTOTUNE
    )
    for name, dataset in (("augmentation on the device", ds), ("augmentation on the host", host)):
        rate, core_us = pipeline_rate(dataset, cfg)
        print(
            f"{cfg.source.source} split={cfg.split}, {name}: {rate:.0f} images/s, "
            f"{core_us:.0f} core-us/image ({cfg.augment.resize}->{cfg.augment.image_size} "
            f"crops, batch {cfg.augment.batch_size}, {os.cpu_count()} cores)",
            flush=True,
        )


class ResidentBatch:
    """An 'iterator' whose next() is one batch held in device memory: the bare step reads
    no input at all."""

    def __init__(self, n, size, crop, classes=1000, seed=0):
        g = tf.random.Generator.from_seed(seed)
        self.batch = (
            {
                "image": tf.cast(g.uniform([n, size, size, 3], 0, 256, tf.int32), tf.uint8),
                "offset": g.uniform([n, 2], 0, size - crop + 1, tf.int32),
                "flip": g.uniform([n]) < 0.5,
                "alpha": g.normal([n, 3]) * 0.1,
            },
            g.uniform([n], 0, classes, tf.int32),
        )

    def __iter__(self):
        return self

    def __next__(self):
        return self.batch


def bytes_per_image(size):
    """Host -> device bytes of one training example: the uint8 square and its draws."""
    return size * size * 3 + 2 * 4 + 1 + 3 * 4


def train_step_ips(cfg, model, steps_per_call=1):
    """Images/s of the package's compiled train step (train_step.make_train_step, PaperSGD,
    the on-device augmentation) on a batch already in device memory: the model's training
    speed without input pipeline cost."""
    n, size = cfg.augment.batch_size, cfg.augment.image_size
    optimizer, _ = make_optimizer(TrainConfig(augment=cfg.augment), 10000, 10**6)
    sums = tf.Variable(tf.zeros([3]))
    augment = make_augment_on_device(dataclasses.replace(cfg.augment, mean="channel"), Stats())
    step = make_train_step(
        model, optimizer, tf.distribute.get_strategy(), n, sums, augment, cfg.xla
    )
    batch = ResidentBatch(n, cfg.augment.resize, size, model.output_shape[-1])
    count = tf.constant(steps_per_call)

    def run():
        step(batch, count)
        return sums

    return n * steps_per_call * time_steps(run, (), max(1, cfg.steps // steps_per_call), cfg.warmup)


def loop_config(cfg, grouping, workdir):
    """The TrainConfig of the measured train run: synthetic:random data, no evaluation, one
    checkpoint at the end, "auto" settings resolved for this machine."""
    steps = cfg.warmup + cfg.steps
    return resolve_auto(
        TrainConfig(
            source=dataclasses.replace(
                cfg.source,
                source="synthetic:random",
                synthetic_examples=steps * cfg.augment.batch_size,
            ),
            augment=dataclasses.replace(cfg.augment, mean="channel"),
            workdir=workdir,
            grouping=grouping,
            tower_devices="none",
            eval_split="",
            train_steps=steps,
            log_every_steps=steps,
            checkpoint_every_steps=steps,
            xla=cfg.xla,
            steps_per_loop=cfg.steps_per_loop,
        )
    )


def bench_train(cfg):
    """In one run, per grouping: (a) the real train loop on synthetic data and (b) the bare
    compiled step on a device-resident batch; their ratio is what the input pipeline and
    the loop cost."""
    peak = matmul_gflops()
    n, size = cfg.augment.batch_size, cfg.augment.image_size
    print(
        f"fp32 matmul peak: {peak:.1f} GFLOP/s; batch {n}, image {size}; host->device "
        f"{bytes_per_image(cfg.augment.resize):,} bytes per image (uint8 square + its "
        "augmentation draws)"
    )
    for grouping in cfg.groupings:
        config = loop_config(cfg, grouping, tempfile.mkdtemp(prefix="tf_alexnet_bench_"))
        # (a) python -m tf_alexnet.train itself: pipeline, prefetch, loop, timed after its
        # first (compiling) call.
        loop = train(config)["images_per_sec"]
        per_call = config.steps_per_loop
        with process_settings(config):  # the same precision for (b)
            model = build_alexnet(image_size=size, grouping=grouping, seed=0)
            bare = train_step_ips(cfg, model, per_call)
        limit = peak * 1e9 / (3 * 2 * model_macs(model))
        print(
            f"{grouping:9s} train loop {loop:8.1f} img/s  bare step {bare:8.1f} img/s  "
            f"loop/bare {loop / bare:.0%}  ({per_call} step(s) per call; fp32 limit "
            f"{limit:.1f} img/s, bare/limit {bare / limit:.0%})",
            flush=True,
        )


def _paper_export(directory):
    """The (untrained) paper model, exported with float32 and int8 TFLite:
    speed does not depend on the weights' values."""
    model = build_from_spec(
        AlexNetSpec(),
        "towers",
        None,
        seed=0,
        class_names=tuple(f"class_{i}" for i in range(1000)),
        preprocessing=Preprocessing(),
    )
    version = export_model(
        model, os.path.join(directory, "alexnet"), run=RunInfo("synthetic:random")
    )
    export_tflite(version, ["float32", "int8"], calibration=8)
    return os.path.join(directory, "alexnet")


def bench_inference(cfg):
    """SavedModel images/s at --batch_size (predict_preprocessed, as TF Serving runs it)
    and TFLite single-image latency, of --model or of a fresh paper-model export."""
    base = cfg.model or _paper_export(tempfile.mkdtemp(prefix="tf_alexnet_bench_"))
    model = load(base)
    n, size = cfg.augment.batch_size, model.size
    x = tf.random.uniform([n, size, size, 3], -120, 130)
    signature = model.signatures["predict_preprocessed"]
    ips = n * time_steps(
        lambda x: signature(images=x)["probabilities"], (x,), cfg.steps, cfg.warmup
    )
    peak = matmul_gflops()
    keras_model = build_alexnet(
        image_size=size, num_classes=len(model.class_names), grouping="towers"
    )
    limit = peak * 1e9 / (2 * model_macs(keras_model))
    print(
        f"SavedModel {model.path}: {ips:.1f} images/s at batch {n} (limit {limit:.1f}, "
        f"ratio {ips / limit:.0%})"
    )
    version = os.path.basename(model.path)
    for q in ("float32", "int8"):
        path = os.path.join(os.path.dirname(model.path), f"{version}_{q}.tflite")
        if not os.path.exists(path):
            continue
        runner = TFLiteRunner(path, cfg.tflite_threads)
        resize = model.network.preprocessing.resize
        one = np.random.default_rng(0).integers(0, 256, [1, resize, resize, 3], np.uint8)
        for _ in range(cfg.warmup):
            runner(one)
        start = time.perf_counter()
        for _ in range(cfg.steps):
            runner(one)
        ms = (time.perf_counter() - start) / cfg.steps * 1000
        print(
            f"TFLite {q}: {ms:.1f} ms per image (batch 1, {runner.num_threads} thread(s))",
            flush=True,
        )


COMMANDS = {
    "model": bench_model,
    "data": bench_data,
    "train": bench_train,
    "inference": bench_inference,
}
