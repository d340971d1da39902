"""The training loop: one tf.function step, periodic evaluation, checkpoints, summaries.

`train(config)` resumes from the workdir's latest checkpoint when there is one: the step,
the optimizer's velocities, the learning-rate schedule's state and the data position (the
stream is seeded by example index, see data.make_dataset) all continue where they stopped.
"""

import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet import evaluation, workdir as workdir_lib
from tf_alexnet.data import make_dataset
from tf_alexnet.model import build_from_spec, AlexNetSpec, resolve_tower_devices, scaled_filters
from tf_alexnet.layers import lrn_arguments
from tf_alexnet.optim import LearningRate, PaperSGD


class NonFiniteLoss(RuntimeError):
    pass


def make_strategy(name):
    """default: one device (or the two placed towers); mirrored: data parallel over the
    local GPUs (over the logical CPUs when there is no GPU, e.g. in tests); multi_worker:
    the cluster in TF_CONFIG."""
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def resolve_grouping(config, strategy, previous=None):
    """(grouping, tower devices): "auto" keeps a resumed run's grouping, else picks towers
    on CPU (3x faster training than Keras' XLA grouped conv there, FACTS §2) and on two or
    more GPUs under the default strategy (the paper's placement), fused on other GPU setups."""
    default = config.strategy == "default"
    gpus = tf.config.list_logical_devices("GPU")
    grouping = config.grouping
    if grouping == "auto":
        grouping = previous or ("towers" if not gpus or (default and len(gpus) >= 2)
                                else "fused")
    devices = None
    if grouping == "towers" and default:
        devices = resolve_tower_devices(config.tower_devices)
    elif config.tower_devices not in ("auto", "none", ""):
        raise ValueError("--tower_devices places the two towers of --grouping=towers under "
                         "--strategy=default only.")
    return grouping, devices


def model_spec(config, num_classes):
    return AlexNetSpec(num_classes=num_classes, image_size=config.data.image_size,
                       filters=scaled_filters(config.width),
                       fc_units=config.fc_units,
                       lrn=tuple(sorted(lrn_arguments(config.lrn).items())),
                       dropout=config.dropout)


def make_optimizer(config, steps_per_epoch, total_steps):
    schedule = LearningRate(
        config.schedule, config.learning_rate, total_steps,
        boundaries=[round(e * steps_per_epoch) for e in config.step_epochs],
        factor=config.lr_factor, patience=config.plateau_patience,
        max_reductions=config.plateau_max_reductions,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch))
    optimizer = PaperSGD(schedule, momentum=config.momentum, decay=config.weight_decay,
                         decay_biases=config.decay_biases)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer, schedule


def make_train_step(model, optimizer, strategy, global_batch, sums, jit_compile=False):
    """tf.function(iterator): one step on the next global batch.

    Loss is softmax cross-entropy averaged over the global batch (each replica divides its
    sum by the global batch; the optimizer sums the replicas' gradients). The step adds the
    batch's loss sum, correct top-1 count and size to `sums` (variables read only at log
    intervals, so nothing waits on the host inside the step)."""
    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(
            tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
        return tf.stack([tf.reduce_sum(per_example), correct,
                         tf.cast(tf.size(labels), tf.float32)])

    if jit_compile:  # XLA compiles the model step; reading the iterator stays outside it
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def step(iterator):
        images, labels = next(iterator)
        per_replica = strategy.run(replica_step, args=(images, labels))
        sums.assign_add(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))

    return step


def filter_grid(model):
    """conv1's filters as one image [1, H, W, 3], each filter scaled to [0, 1]."""
    names = [l.name for l in model.layers]
    layers = ["conv1a", "conv1b"] if "conv1a" in names else ["conv1"]
    kernel = tf.concat([model.get_layer(n).kernel for n in layers], -1)  # [k, k, 3, F]
    f = tf.transpose(kernel, [3, 0, 1, 2])
    lo = tf.reduce_min(f, [1, 2, 3], keepdims=True)
    hi = tf.reduce_max(f, [1, 2, 3], keepdims=True)
    f = tf.pad((f - lo) / (hi - lo + 1e-8), [[0, 0], [1, 1], [1, 1], [0, 0]])
    count, k = f.shape[0], f.shape[1]
    cols = 16 if count >= 16 else count
    rows = -(-count // cols)
    f = tf.concat([f, tf.zeros([rows * cols - count, k, k, 3])], 0)
    f = tf.reshape(f, [rows, cols, k, k, 3])
    return tf.reshape(tf.transpose(f, [0, 2, 1, 3, 4]), [1, rows * k, cols * k, 3])


class Progress:
    """A progress bar per epoch on a terminal; log lines at log intervals otherwise."""

    def __init__(self, steps_per_epoch):
        self.tty = sys.stdout.isatty()
        self.steps_per_epoch = steps_per_epoch
        self.bar, self.last = None, 0

    def update(self, step, epoch, values):
        if not self.tty:
            logging.info("epoch %d step %d: %s", epoch + 1, step,
                         ", ".join(f"{k} {v:.4g}" for k, v in values))
            return
        in_epoch = step - epoch * self.steps_per_epoch
        if self.bar is None or in_epoch <= self.last:
            print(f"Epoch {epoch + 1}")
            self.bar = keras.utils.Progbar(self.steps_per_epoch, unit_name="step",
                                           stateful_metrics=[k for k, _ in values])
        self.bar.update(in_epoch, values)
        self.last = in_epoch


def _install_stop_handlers():
    stop = {"signal": None}

    def handler(signum, frame):
        stop["signal"] = signum
        logging.warning("Received %s: saving a checkpoint after this step.",
                        signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return stop


def train(config, flagfile=None):
    """Trains (or resumes) as `config` says; returns the last evaluation's metrics.

    `flagfile`: text written to workdir/flags.txt (by the chief) to reproduce the run."""
    if config.deterministic:
        keras.utils.set_random_seed(config.data.seed)
        tf.config.experimental.enable_op_determinism()
    if config.precision != "float32":
        keras.mixed_precision.set_global_policy(config.precision)
    strategy = make_strategy(config.strategy)
    chief = is_chief(strategy)
    data = config.data
    train_ds = make_dataset(data, config.split, training=True)  # opens the data: fail early
    classes = train_ds.class_names
    num_classes = config.num_classes or len(classes)
    if config.num_classes and num_classes != len(classes):
        raise ValueError(f"--num_classes {num_classes} but {data.data} has {len(classes)} "
                         "classes.")
    examples = train_ds.num_examples
    if examples <= 0 and not config.train_steps:
        raise ValueError(f"{data.data}: unknown size; give --train_steps.")
    steps_per_epoch = max(1, examples // data.batch_size) if examples > 0 else config.train_steps
    total_steps = config.train_steps or math.ceil(config.epochs * steps_per_epoch)

    previous = None
    if os.path.exists(os.path.join(config.workdir, workdir_lib.MODEL_JSON)):
        previous = workdir_lib.load_metadata(config.workdir)
    grouping, devices = resolve_grouping(config, strategy, previous and previous["grouping"])
    spec = model_spec(config, num_classes)
    meta = workdir_lib.metadata(spec, grouping, classes, data)
    if previous and workdir_lib.latest_checkpoint(config.workdir):
        workdir_lib.check_compatible(previous, meta)

    with strategy.scope():
        model = build_from_spec(spec, grouping, devices, config.init, data.seed)
        optimizer, schedule = make_optimizer(config, steps_per_epoch, total_steps)
        optimizer.build(model.trainable_variables)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var,
                                     layers=workdir_lib.checkpoint_layers(model),
                                     **schedule.trackables())
    ckpt_dir = os.path.join(config.workdir, "checkpoints")
    if not chief:  # every worker saves (collectively); only the chief's copy is kept
        ckpt_dir = tempfile.mkdtemp(prefix="tf_alexnet_worker_")
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, config.keep_checkpoints)
    latest = workdir_lib.latest_checkpoint(config.workdir)
    if latest:
        try:
            checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:
            raise workdir_lib.WorkdirError(f"Cannot resume from {latest}: {e}") from None
        logging.info("Resumed from %s at step %d.", latest, int(step_var.numpy()))
    if chief:
        workdir_lib.save_metadata(config.workdir, meta, train_ds.stats)
        if flagfile:
            with open(os.path.join(config.workdir, "flags.txt"), "w") as f:
                f.write(flagfile)

    start = int(step_var.numpy())
    if start:
        train_ds = make_dataset(data, config.split, True, start_example=start * data.batch_size)
    if config.strategy == "multi_worker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        train_ds = train_ds.with_options(options)
    iterator = iter(strategy.experimental_distribute_dataset(train_ds))
    eval_ds = make_dataset(data, config.eval_split, False) if config.eval_split else None
    mapping = evaluation.label_map(eval_ds.class_names, classes) if eval_ds else None

    sums = tf.Variable(tf.zeros([3]), trainable=False)
    train_step = make_train_step(model, optimizer, strategy, data.batch_size, sums, config.xla)
    predict = evaluation.make_predict_fn(model)
    writers = {k: tf.summary.create_file_writer(os.path.join(config.workdir, k)) if chief
               else tf.summary.create_noop_writer() for k in ("train", "eval")}
    progress = Progress(steps_per_epoch) if chief else None
    stop = _install_stop_handlers()
    eval_every = config.eval_every_steps or steps_per_epoch
    last_log_step, last_log_time, last_good = start, time.perf_counter(), latest
    metrics = {}

    def save(step):
        nonlocal last_good
        loss_sum = float(sums.numpy()[0])
        if not math.isfinite(loss_sum):
            raise NonFiniteLoss(
                f"Loss became non-finite between steps {last_log_step + 1} and {step}; "
                f"stopped without saving. Last good checkpoint: {last_good or 'none'}.")
        path = manager.save(checkpoint_number=step)
        last_good = path if chief else last_good
        if not chief:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        return path

    def run_eval(step):
        result = evaluation.evaluate(predict, eval_ds, mapping, config.eval_examples)
        reduced = schedule.report(result["top1_error"])
        with writers["eval"].as_default(step=step):
            for k in ("top1_error", "top5_error", "loss"):
                tf.summary.scalar(k, result[k])
            tf.summary.image("conv1_filters", filter_grid(model))
        if chief:
            logging.info("step %d eval on %d images: top-1 error %.4f, top-5 error %.4f%s",
                         step, result["num_images"], result["top1_error"],
                         result["top5_error"],
                         "; learning rate divided" if reduced else "")
        return result

    step = start
    while step < total_steps:
        train_step(iterator)
        step += 1
        step_var.assign(step)
        epoch = (step - 1) // steps_per_epoch
        if step % config.log_every_steps == 0 or step == total_steps or stop["signal"]:
            loss_sum, correct, count = sums.numpy()
            sums.assign(tf.zeros([3]))
            now = time.perf_counter()
            if not math.isfinite(loss_sum):
                raise NonFiniteLoss(
                    f"Loss became non-finite between steps {last_log_step + 1} and {step}; "
                    f"stopped. Last good checkpoint: {last_good or 'none'}.")
            ips = count / max(now - last_log_time, 1e-9)
            lr = float(schedule(optimizer.iterations))
            values = [("loss", loss_sum / count), ("top1", correct / count), ("lr", lr),
                      ("img/s", ips)]
            with writers["train"].as_default(step=step):
                tf.summary.scalar("loss", loss_sum / count)
                tf.summary.scalar("top1_error", 1 - correct / count)
                tf.summary.scalar("learning_rate", lr)
                tf.summary.scalar("images_per_sec", ips)
            if progress:
                progress.update(step, epoch, values)
            last_log_step, last_log_time = step, now
        if stop["signal"]:
            path = save(step)
            logging.warning("Stopped by %s at step %d; saved %s. Rerun the same command to "
                            "resume.", signal.Signals(stop["signal"]).name, step, path)
            return dict(stopped_at=step, checkpoint=path)
        if eval_ds is not None and (step % eval_every == 0 or step == total_steps):
            metrics = run_eval(step)
            save(step)
        elif step % config.checkpoint_every_steps == 0 or step == total_steps:
            save(step)
    for w in writers.values():
        w.flush()
    if eval_ds is not None and not metrics:  # resumed at the end: report the final model
        metrics = evaluation.evaluate(predict, eval_ds, mapping, config.eval_examples)
    return dict(metrics, step=step)
