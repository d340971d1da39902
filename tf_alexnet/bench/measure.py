"""Benchmarks, measured in one run so that their ratios can be compared.

    python -m tf_alexnet.bench ceilings|model|data|train|inference   (bench/__main__.py)

Every throughput is put next to the limit of its own precision: the machine's ceiling in
that precision, measured in the same run with TensorFlow's own kernels (oneDNN on CPU) on
the paper's conv2 (5x5, 96 -> 256 maps of 27x27, batch 64: the layer that dominates the
network's multiply-adds), divided by the model's FLOPs per image (2 x multiply-adds forward;
x3 for a training step). `ceilings` prints each precision the CPU has (float32 always,
bfloat16 where it has native bf16 instructions) for conv2 and a 2048x2048 matmul. numpy is
no ceiling: its OpenBLAS may run another instruction set's kernel.
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
from tf_alexnet.train.devices import cpu_flags, native_bfloat16, resolve_auto
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


# The paper's conv2 as one convolution: [batch, side, side, in] * [k, k, in, out], SAME.
CONV2 = dict(batch=64, side=27, channels_in=96, channels_out=256, kernel=5)
DTYPES = {"float32": tf.float32, "bfloat16": tf.bfloat16}


def precisions():
    """The compute precisions this CPU runs natively: float32, and bfloat16 where it can."""
    return ("float32", "bfloat16") if native_bfloat16() else ("float32",)


def _rate(f, args, flops, repeats):
    """GFLOP/s of the fastest of 3 x `repeats` single calls of `f`: a ceiling, so the best
    call counts (these machines are shared; a neighbour's load only slows calls down)."""
    f(*args).numpy()  # trace and warm up
    f(*args).numpy()
    best = float("inf")
    for _ in range(3 * repeats):
        start = time.perf_counter()
        f(*args).numpy()
        best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def matmul_gflops(n=2048, repeats=10, dtype="float32"):
    """GFLOP/s of a TensorFlow n x n matmul in `dtype` (the best of three timings)."""
    a = tf.cast(tf.random.normal([n, n]), DTYPES[dtype])
    return _rate(tf.function(lambda x: tf.matmul(x, x)), (a,), 2 * n**3, repeats)


def conv_gflops(dtype="float32", repeats=5, shape=CONV2):
    """GFLOP/s of TensorFlow's convolution in `dtype` on the paper's conv2 (`CONV2`): the
    ceiling a convolutional network's step can approach in that precision."""
    b, s, k = shape["batch"], shape["side"], shape["kernel"]
    cin, cout = shape["channels_in"], shape["channels_out"]
    x = tf.cast(tf.random.normal([b, s, s, cin]), DTYPES[dtype])
    w = tf.cast(tf.random.normal([k, k, cin, cout]) * 0.01, DTYPES[dtype])
    conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    return _rate(conv, (x, w), 2 * b * s * s * k * k * cin * cout, repeats)


def ceilings(repeats=5):
    """{precision: {"conv": GFLOP/s, "matmul": GFLOP/s}} for each precision this CPU runs."""
    return {
        p: dict(conv=conv_gflops(p, repeats), matmul=matmul_gflops(repeats=2 * repeats, dtype=p))
        for p in precisions()
    }


def compute_precision(policy):
    """The ceiling's precision of a Keras policy name: bfloat16 for mixed_bfloat16."""
    return "bfloat16" if "bfloat16" in policy else "float32"


def bench_ceilings(cfg):
    """The ceilings of every precision this CPU runs, in one run."""
    found = ceilings(cfg.steps)
    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16"})
    print(f"CPU flags: {' '.join(flags) or 'none of note'}; {os.cpu_count()} cores")
    b, s = CONV2["batch"], CONV2["side"]
    print(f"{'precision':10s} {'conv2 GFLOP/s':>14s} {'matmul GFLOP/s':>15s}")
    for precision, rates in found.items():
        print(f"{precision:10s} {rates['conv']:14.1f} {rates['matmul']:15.1f}", flush=True)
    print(
        f"conv2: 5x5, {CONV2['channels_in']}->{CONV2['channels_out']}, {s}x{s}, batch {b}"
        f"; matmul 2048x2048; the fastest of {3 * cfg.steps} (conv2) and {6 * cfg.steps} "
        "(matmul) calls"
    )
    return found


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
    peak = conv_gflops("float32")
    size = cfg.augment.image_size
    print(
        f"fp32 conv2 ceiling: {peak:.1f} GFLOP/s; batch {cfg.augment.batch_size}, "
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
    print("limit = fp32 conv2 ceiling / FLOPs per image (forward; x3 for a train step)")


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


def loop_config(cfg, grouping, workdir, precision="auto"):
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
            precision=precision,
        )
    )


def bench_train(cfg):
    """In one run, per grouping and precision (--precisions): (a) the real train loop on
    synthetic data and (b) the bare compiled step on a device-resident batch, each against
    the ceiling of its own precision; their ratio is what the input pipeline and the loop
    cost, and each precision's loop is compared with float32's."""
    n, size = cfg.augment.batch_size, cfg.augment.image_size
    found = ceilings()
    print(
        "conv2 ceilings: "
        + ", ".join(f"{p} {r['conv']:.1f} GFLOP/s" for p, r in found.items())
        + f"; batch {n}, image {size}; host->device {bytes_per_image(cfg.augment.resize):,} "
        "bytes per image (uint8 square + its augmentation draws)"
    )
    runs, loops = [(g, p) for g in cfg.groupings for p in cfg.precisions], {}
    for grouping, wanted in runs:
        workdir = tempfile.mkdtemp(prefix="tf_alexnet_bench_")
        config = loop_config(cfg, grouping, workdir, wanted)
        precision = compute_precision(config.precision)
        peak = found.get(precision, found["float32"])["conv"]
        # (a) python -m tf_alexnet.train itself: pipeline, prefetch, loop, timed after its
        # first (compiling) call.
        loop = train(config)["images_per_sec"]
        per_call = config.steps_per_loop
        with process_settings(config):  # the same precision for (b)
            model = build_alexnet(image_size=size, grouping=grouping, seed=0)
            bare = train_step_ips(cfg, model, per_call)
        limit = peak * 1e9 / (3 * 2 * model_macs(model))
        print(
            f"{grouping:9s} {config.precision}: train loop {loop:8.1f} img/s ({loop / limit:.0%} "
            f"of the {precision} limit {limit:.1f} img/s)  bare step {bare:8.1f} img/s "
            f"({bare / limit:.0%})  loop/bare {loop / bare:.0%}  ({per_call} step(s) per call)",
            flush=True,
        )
        loops[grouping, config.precision] = loop
    for (grouping, policy), loop in loops.items():
        if policy != "float32" and (grouping, "float32") in loops:
            ratio = loop / loops[grouping, "float32"]
            print(f"{grouping} {policy} / float32 train loop: {ratio:.2f}x")


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
    peak = conv_gflops("float32")
    keras_model = build_alexnet(
        image_size=size, num_classes=len(model.class_names), grouping="towers"
    )
    limit = peak * 1e9 / (2 * model_macs(keras_model))
    print(
        f"SavedModel {model.path}: {ips:.1f} images/s at batch {n} (float32 limit "
        f"{limit:.1f}, ratio {ips / limit:.0%})"
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
    "ceilings": bench_ceilings,
    "model": bench_model,
    "data": bench_data,
    "train": bench_train,
    "inference": bench_inference,
}
