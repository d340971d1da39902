"""The first two parts of training: open the run, build the state.

    open_run(config, strategy, transfer)  the data (opened once), the batch capped for small
                                data, lengths, grouping and the RunInfo, checked against the
                                workdir's (and the flags against its flags.txt) when resuming
    build_state(run)            model (frozen layers set), optimizer, checkpoint manager;
                                restores the newest checkpoint that restores, else loads the
                                --init_from weights (train/transfer.py)
"""

import dataclasses
import logging
import math
import os
import tempfile

import tensorflow as tf

from tf_alexnet.data.pipeline import eval_dataset, train_dataset
from tf_alexnet.errors import DataError, WorkdirError
from tf_alexnet.evaluate.metrics import label_map
from tf_alexnet.model.alexnet import build_from_spec
from tf_alexnet.train import rerun, transfer as transfer_lib
from tf_alexnet.train.devices import is_chief, resolve_grouping
from tf_alexnet.train.step import make_optimizer
from tf_alexnet.workdir import checkpoints
from tf_alexnet.workdir.info import MODEL_JSON, RunInfo, check_compatible, load_run_info


@dataclasses.dataclass
class Run:
    """What a run is, before any model exists: config, data, lengths and its RunInfo."""
    config: object
    strategy: object
    chief: bool
    info: RunInfo
    devices: tuple
    train_source: object  # the training split, opened once (data.source.Source)
    eval_ds: object
    label_map: object
    steps_per_epoch: int
    total_steps: int
    transfer: object = transfer_lib.Transfer()  # what --init_from gives (train/transfer.py)
    changes: dict = dataclasses.field(default_factory=dict)  # flags changed since flags.txt


def lengths(config, examples):
    """(steps per epoch, total steps) of a training split of `examples` images."""
    if examples <= 0 and not config.train_steps:
        raise DataError(f"{config.source.source}: unknown size; give --train_steps.")
    per_epoch = (max(1, examples // config.augment.batch_size) if examples > 0
                 else config.train_steps)
    return per_epoch, config.train_steps or math.ceil(config.epochs * per_epoch)


def cap_batch(config, examples):
    """`config` with the batch size capped so that an epoch of `examples` training images
    has at least --min_epoch_steps steps (one line says so). An epoch of one step makes the
    per-epoch evaluation and the schedules act on every step, and drops the remainder of
    the images each epoch."""
    batch, least = config.augment.batch_size, config.min_epoch_steps
    if not least or examples <= 0 or examples // batch >= least:
        return config
    capped = max(1, examples // least)
    logging.warning("--batch_size %d gives %d step(s) an epoch of the %d training images: "
                    "training with batch %d (%d steps an epoch; --min_epoch_steps=%d, 0 "
                    "keeps the batch).", batch, examples // batch, examples, capped,
                    examples // capped, least)
    augment = dataclasses.replace(config.augment, batch_size=capped)
    return dataclasses.replace(config, augment=augment)


def _classes(config, info):
    classes = tuple(info.class_names)
    if len(classes) < 2:
        raise DataError(f"{config.source.source}: split {config.split!r} has {len(classes)} "
                        f"class {list(classes)}; training a classifier needs at least 2.")
    wanted = config.source.num_classes
    if wanted and wanted != len(classes):
        raise DataError(f"--num_classes {wanted} but {config.source.source} has "
                        f"{len(classes)} classes.")
    return classes


def open_run(config, strategy, transfer=transfer_lib.Transfer()):
    """Opens the data and the workdir; raises before any model is built if they disagree.
    `transfer`: train/transfer.py's resolve() of the config (its network base)."""
    _, data = train_dataset(config.source, config.augment, config.split)  # fail early
    classes = _classes(config, data)
    config = cap_batch(config, data.num_examples)
    previous = None
    if os.path.exists(os.path.join(config.workdir, MODEL_JSON)):
        previous = load_run_info(config.workdir)
    resuming = bool(previous and checkpoints.latest_checkpoint(config.workdir))
    grouping, devices = resolve_grouping(config, previous and previous.grouping)
    config = dataclasses.replace(config, grouping=grouping)  # "auto" as resolved
    gpus = tf.config.list_logical_devices("GPU")
    if config.strategy == "default" and not devices and gpus:
        # One device: its strategy fetches each batch to the GPU ahead of the step.
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name)
    spec = transfer_lib.network_spec(config, len(classes), transfer.base)
    info = RunInfo(spec, grouping, classes, config.augment.preprocessing(data.stats),
                   config.source.source, dict(source=dataclasses.asdict(config.source),
                                              split=config.eval_split,
                                              examples=config.eval_examples))
    if resuming:
        check_compatible(previous, info)
    changes = rerun.check_rerun(config, resuming)
    eval_ds = mapping = None
    if config.eval_split:
        # Part of the split (--eval_examples): a seeded random sample, not the first classes
        # of a folder listed class by class.
        eval_ds, eval_info = eval_dataset(config.source, config.evaluation,
                                          config.eval_split, info.preprocessing,
                                          sample=config.eval_examples > 0)
        mapping = label_map(eval_info.class_names, classes)
    return Run(config, strategy, is_chief(strategy), info, devices, data.opened, eval_ds,
               mapping, *lengths(config, data.num_examples), transfer, changes)


def eval_interval(run):
    """Steps between evaluations (0: none)."""
    if run.eval_ds is None:
        return 0
    return run.config.eval_every_steps or run.steps_per_epoch


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
    chief: bool = True


def build_state(run):
    """The model, optimizer and checkpoint of `run`, restored from the workdir's newest."""
    config = run.config
    with run.strategy.scope():
        model = build_from_spec(run.info.spec, run.info.grouping, run.devices, config.init,
                                config.source.seed)
        transfer_lib.freeze(model, config.frozen_layers)
        optimizer, schedule = make_optimizer(config, run.steps_per_epoch, run.total_steps,
                                             eval_interval(run))
        optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step,
                                     layers=checkpoints.checkpoint_layers(model),
                                     **schedule.trackables())
    ckpt_dir = os.path.join(config.workdir, "checkpoints")
    if not run.chief:  # every worker saves (collectively); only the chief's copy is kept
        ckpt_dir = tempfile.mkdtemp(prefix="tf_alexnet_worker_")
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, config.keep_checkpoints)

    def restore(prefix):
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:  # another model's checkpoint, not damage
            raise WorkdirError(f"Cannot resume from {prefix}: {e}") from None

    latest = checkpoints.restore_newest(config.workdir, restore, move_damaged=run.chief)
    if latest:
        logging.info("Resumed from %s at step %d.", latest, int(step.numpy()))
        if rerun.changes_schedule(run.changes):
            schedule.restart()
            logging.warning("Learning-rate flags changed (--allow_changed_flags): the "
                            "schedule starts afresh at step %d.", int(step.numpy()))
    else:
        with run.strategy.scope():
            transfer_lib.start(model, run, run.transfer)
    return State(model, optimizer, schedule, step, checkpoint, manager, latest, run.chief)


def save_run_files(run, state):
    """The chief writes the RunInfo and flags.txt (train/rerun.py) into the workdir."""
    if run.chief:
        run.info.save(run.config.workdir)
        rerun.write_flags(run.config, int(state.step.numpy()), run.changes)
