"""The training loop in three parts: open the run, build the state, run the loop.

    open_run(config, strategy)  the data (opened once), steps, grouping, and the RunInfo,
                                checked against the workdir's when resuming
    build_state(run)            model, optimizer, checkpoint manager; restores the latest
    TrainLoop(run, state).run() the compiled step, logs, evaluations, checkpoints

`train(config)` does the three inside `process_settings`, which sets the precision policy,
op determinism and the SIGINT/SIGTERM handlers for the run and restores them afterwards.
A resumed run continues the step, the optimizer's velocities, the learning-rate schedule's
state and the data position (the stream is seeded by example index, see data.make_dataset).
"""

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import signal
import tempfile

import keras
import tensorflow as tf

from tf_alexnet import rundir
from tf_alexnet.data import DataError, make_dataset
from tf_alexnet.model import AlexNetSpec, build_from_spec, resolve_tower_devices
from tf_alexnet.rundir import RunInfo
from tf_alexnet.train_step import make_optimizer


class NonFiniteLoss(RuntimeError):
    """The loss became nan or inf: the run stops and keeps its last good checkpoint."""


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


def resolve_auto(config):
    """The config with "auto" made concrete for this machine: precision mixed_bfloat16 on
    GPUs of compute capability >= 8.0 (bfloat16 tensor cores), else float32; steps_per_loop
    1 on CPU (a call costs nothing there next to a step) and 50 on GPUs, where one Python
    call per step would leave the GPU waiting."""
    gpus = tf.config.list_physical_devices("GPU")
    precision = config.precision
    if precision == "auto":
        capabilities = [tf.config.experimental.get_device_details(g).get(
            "compute_capability") or (0, 0) for g in gpus]
        precision = ("mixed_bfloat16" if gpus and min(capabilities) >= (8, 0)
                     else "float32")
    steps = config.steps_per_loop or (50 if gpus else 1)
    return dataclasses.replace(config, precision=precision, steps_per_loop=steps)


def resolve_grouping(config, previous=None):
    """(grouping, tower devices): "auto" keeps a resumed run's grouping, else picks towers
    on CPU (3x faster training than Keras' XLA grouped conv there: `bench model`), on two
    or more GPUs under the default strategy (the paper's placement) and on GPUs without
    --xla (fastest uncompiled); fused with --xla on GPUs (XLA compiles the grouped conv,
    the fastest step measured on one H100: README, "Which strategy")."""
    default = config.strategy == "default"
    gpus = tf.config.list_logical_devices("GPU")
    grouping = config.grouping
    if grouping == "auto":
        fused = gpus and config.xla and not (default and len(gpus) >= 2)
        grouping = previous or ("fused" if fused else "towers")
    devices = None
    if grouping == "towers" and default:
        devices = resolve_tower_devices(config.tower_devices)
    elif config.tower_devices not in ("auto", "none", ""):
        raise ValueError("--tower_devices places the two towers of --grouping=towers under "
                         "--strategy=default only.")
    return grouping, devices


@dataclasses.dataclass
class Run:
    """What a run is, before any model exists: config, data, lengths and its RunInfo."""
    config: object
    strategy: object
    chief: bool
    info: RunInfo
    devices: tuple
    train_source: object  # the training split, opened once (sources.Source)
    eval_ds: object
    label_map: object
    steps_per_epoch: int
    total_steps: int


def _lengths(config, examples):
    """(steps per epoch, total steps) of a training split of `examples` images."""
    if examples <= 0 and not config.train_steps:
        raise ValueError(f"{config.data.source}: unknown size; give --train_steps.")
    per_epoch = (max(1, examples // config.data.batch_size) if examples > 0
                 else config.train_steps)
    return per_epoch, config.train_steps or math.ceil(config.epochs * per_epoch)


def open_run(config, strategy):
    """Opens the data and the workdir; raises before any model is built if they disagree."""
    from tf_alexnet import metrics

    data = config.data
    train_ds = make_dataset(data, config.split, training=True)  # opens the data: fail early
    classes = tuple(train_ds.class_names)
    if len(classes) < 2:
        raise DataError(f"{data.source}: split {config.split!r} has {len(classes)} class "
                        f"{list(classes)}; training a classifier needs at least 2.")
    if config.num_classes and config.num_classes != len(classes):
        raise ValueError(f"--num_classes {config.num_classes} but {data.source} has "
                         f"{len(classes)} classes.")
    previous = None
    if os.path.exists(os.path.join(config.workdir, rundir.MODEL_JSON)):
        previous = rundir.load_run_info(config.workdir)
    grouping, devices = resolve_grouping(config, previous and previous.grouping)
    gpus = tf.config.list_logical_devices("GPU")
    if config.strategy == "default" and not devices and gpus:
        # One device: its strategy fetches each batch to the GPU ahead of the step.
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name)
    spec = AlexNetSpec.create(len(classes), data.image_size, config.width, config.fc_units,
                              config.lrn, config.dropout)
    info = RunInfo(spec, grouping, classes, data.preprocessing(train_ds.stats), data.source)
    if previous and rundir.latest_checkpoint(config.workdir):
        rundir.check_compatible(previous, info)
    eval_ds = make_dataset(data, config.eval_split, False) if config.eval_split else None
    mapping = metrics.label_map(eval_ds.class_names, classes) if eval_ds else None
    return Run(config, strategy, is_chief(strategy), info, devices, train_ds.source, eval_ds,
               mapping, *_lengths(config, train_ds.num_examples))


@dataclasses.dataclass
class State:
    """What a checkpoint holds, and the manager that writes it."""
    model: object
    optimizer: object
    schedule: object
    step: tf.Variable
    checkpoint: tf.train.Checkpoint
    manager: tf.train.CheckpointManager
    restored_from: str


def build_state(run):
    """The model, optimizer and checkpoint of `run`, restored from the workdir's latest."""
    config = run.config
    with run.strategy.scope():
        model = build_from_spec(run.info.spec, run.info.grouping, run.devices, config.init,
                                config.data.seed)
        optimizer, schedule = make_optimizer(config, run.steps_per_epoch, run.total_steps)
        optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step,
                                     layers=rundir.checkpoint_layers(model),
                                     **schedule.trackables())
    ckpt_dir = os.path.join(config.workdir, "checkpoints")
    if not run.chief:  # every worker saves (collectively); only the chief's copy is kept
        ckpt_dir = tempfile.mkdtemp(prefix="tf_alexnet_worker_")
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, config.keep_checkpoints)

    def restore(prefix):
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:  # another model's checkpoint, not damage
            raise rundir.WorkdirError(f"Cannot resume from {prefix}: {e}") from None

    latest = rundir.restore_newest(config.workdir, restore, move_damaged=run.chief)
    if latest:
        logging.info("Resumed from %s at step %d.", latest, int(step.numpy()))
    return State(model, optimizer, schedule, step, checkpoint, manager, latest)


def save_run_files(run, flagfile):
    """The chief writes the RunInfo and the resolved flags into the workdir."""
    if run.chief:
        run.info.save(run.config.workdir)
        if flagfile:
            with open(os.path.join(run.config.workdir, "flags.txt"), "w") as f:
                f.write(flagfile)


@contextlib.contextmanager
def process_settings(config):
    """Sets the run's process-wide settings; yields {"signal": None or the one received}.

    SIGINT/SIGTERM handlers (save a checkpoint after this step), the precision policy and
    op determinism are restored on exit, so that `train` can be called as a library."""
    from tensorflow.python.framework import config as tf_config

    stop = {"signal": None}

    def handler(signum, frame):
        stop["signal"] = signum
        logging.warning("Received %s: saving a checkpoint after this step.",
                        signal.Signals(signum).name)

    handlers = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    policy = keras.mixed_precision.global_policy()
    determinism = tf_config.is_op_determinism_enabled()
    if config.deterministic:
        keras.utils.set_random_seed(config.data.seed)
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        yield stop
    finally:
        keras.mixed_precision.set_global_policy(policy)
        if not determinism:
            tf_config.disable_op_determinism()
        for sig, previous in handlers.items():
            signal.signal(sig, previous)


def train(config, flagfile=None):
    """Trains (or resumes) as `config` says; returns the last evaluation's metrics.

    `flagfile`: text written to workdir/flags.txt (by the chief) to reproduce the run."""
    from tf_alexnet.loop import TrainLoop

    config = resolve_auto(config)
    logging.info("Precision %s, %d step(s) per compiled call%s.", config.precision,
                 config.steps_per_loop, ", XLA" if config.xla else "")
    with process_settings(config) as stop:
        strategy = make_strategy(config.strategy)
        chief = is_chief(strategy)
        with rundir.exclusive(config.workdir) if chief else contextlib.nullcontext():
            if chief:
                rundir.remove_partial_saves(config.workdir)
            run = open_run(config, strategy)
            state = build_state(run)
            save_run_files(run, flagfile)
            return TrainLoop(run, state, stop).run_to_end()


def remove_worker_checkpoints(run, state):
    """Off the chief, the collective save's copy is a temporary directory: delete it."""
    if not run.chief:
        shutil.rmtree(state.manager.directory, ignore_errors=True)
