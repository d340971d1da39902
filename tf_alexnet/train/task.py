"""One training run as an object with named build steps (TF Model Garden's `Task`).

    task = TrainingTask(config, strategy=..., stop=StopSignal())
    task.open()          the data (opened once), the batch capped for small data, lengths,
                         grouping, the network's and the run's records (model.json), checked
                         against the workdir's (and the flags against its flags.txt) when
                         resuming: `task.run`, before any model exists
    task.build_model()   the AlexNet of the record (frozen layers set)
    task.build_optimizer(model)        PaperSGD over the configured schedule, built
    task.restore(model, optimizer, schedule)   the checkpoint state: the newest checkpoint
                         that restores, else the --init_from weights (train/transfer.py)
    task.save_records()  model.json and flags.txt (train/rerun.py) by the chief
    task.build_loop()    the TrainLoop: the compiled step on the training stream, validation,
                         logs (train/loop.py)

`train(config)` (train/trainer.py) runs them in this order.
"""

import dataclasses
import logging
import math
import os
import tempfile

import tensorflow as tf

from tf_alexnet.data.augment import make_augment_on_device
from tf_alexnet.data.pipeline import eval_dataset, train_dataset
from tf_alexnet.errors import DataError, WorkdirError
from tf_alexnet.evaluate.metrics import label_map
from tf_alexnet.model.alexnet import build_network
from tf_alexnet.model.predict import make_predict_fn
from tf_alexnet.train import advice, rerun, transfer as transfer_lib
from tf_alexnet.train.devices import is_chief, resolve_grouping
from tf_alexnet.train.logs import Progress, Summaries
from tf_alexnet.train.loop import LoopSchedule, TrainLoop, Validation
from tf_alexnet.train.process import StopSignal
from tf_alexnet.train.step import make_optimizer, make_train_step
from tf_alexnet.workdir import checkpoints
from tf_alexnet.workdir.info import (
    MODEL_JSON,
    NetworkRecord,
    RunInfo,
    check_compatible,
    load_network,
    save_record,
)


@dataclasses.dataclass(kw_only=True)
class Run:
    """What a run is, before any model exists: config, data, lengths, the network it builds
    and the data it records (model.json)."""

    config: object
    strategy: object
    chief: bool
    network: NetworkRecord
    info: RunInfo
    devices: tuple
    train_source: object  # the training split, opened once (data.source.Source)
    eval_ds: object
    label_map: object
    steps_per_epoch: int
    total_steps: int
    transfer: object = transfer_lib.Transfer()  # what --init_from gives (train/transfer.py)
    changes: dict = dataclasses.field(default_factory=dict)  # flags changed since flags.txt
    chosen: dict = dataclasses.field(default_factory=dict)  # values the package chose


def lengths(config, examples):
    """(steps per epoch, total steps) of a training split of `examples` images."""
    if examples <= 0 and not config.train_steps:
        raise DataError(f"{config.source.source}: unknown size; give --train_steps.")
    per_epoch = (
        max(1, examples // config.augment.batch_size) if examples > 0 else config.train_steps
    )
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
    logging.warning(
        "--batch_size %d gives %d step(s) an epoch of the %d training images: "
        "training with batch %d (%d steps an epoch; --min_epoch_steps=%d, 0 "
        "keeps the batch).",
        batch,
        examples // batch,
        examples,
        capped,
        examples // capped,
        least,
    )
    augment = dataclasses.replace(config.augment, batch_size=capped)
    return dataclasses.replace(config, augment=augment)


def _classes(config, data):
    classes = tuple(data.class_names)
    if len(classes) < 2:
        raise DataError(
            f"{config.source.source}: split {config.split!r} has {len(classes)} "
            f"class {list(classes)}; training a classifier needs at least 2."
        )
    wanted = config.source.num_classes
    if wanted and wanted != len(classes):
        raise DataError(
            f"--num_classes {wanted} but {config.source.source} has {len(classes)} classes."
        )
    return classes


def _reasons(config, examples):
    """{flag: why the package chose its value} for the values a run resolves itself."""
    return dict(
        batch_size=f"the small-data cap: {examples} training images, at least "
        f"--min_epoch_steps={config.min_epoch_steps} steps an epoch",
        grouping="--grouping=auto on this machine",
        precision="--precision=auto on this machine",
        steps_per_loop="--steps_per_loop=0: auto on this machine",
        **{
            name: f"inherited from --init_from {config.init_from}"
            for name in transfer_lib.INHERITED
        },
    )


def _open_run(config, strategy, transfer, typed=None):
    """The Run: opens the data and the workdir; raises before any model is built if they
    disagree. `transfer`: train/transfer.py's resolve_init_from() (the network's base).
    `typed`: the config as given, before "auto" and --init_from were resolved (default
    `config`): flags.txt and a refused rerun say which values the package chose."""
    _, data = train_dataset(config.source, config.augment, config.split)  # fail early
    classes = _classes(config, data)
    config = cap_batch(config, data.num_examples)
    previous = None
    if os.path.exists(os.path.join(config.workdir, MODEL_JSON)):
        previous = load_network(config.workdir)
    resuming = bool(previous and checkpoints.latest_checkpoint(config.workdir))
    grouping, devices = resolve_grouping(config, previous and previous.grouping)
    config = dataclasses.replace(config, grouping=grouping)  # "auto" as resolved
    gpus = tf.config.list_logical_devices("GPU")
    if config.strategy == "default" and not devices and gpus:
        # One device: its strategy fetches each batch to the GPU ahead of the step.
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name)
    spec = transfer_lib.network_spec(config, len(classes), transfer.base)
    network = NetworkRecord(spec, grouping, classes, config.augment.preprocessing(data.stats))
    info = RunInfo(
        config.source.source,
        dict(
            source=dataclasses.asdict(config.source),
            split=config.eval_split,
            examples=config.eval_examples,
        ),
    )
    if resuming:
        check_compatible(previous, network)
    chosen = rerun.chosen_values(typed or config, config, _reasons(config, data.num_examples))
    changes = rerun.check_rerun(config, resuming, chosen)
    eval_ds = mapping = None
    if config.eval_split:
        # Part of the split (--eval_examples): a seeded random sample, not the first classes
        # of a folder listed class by class.
        eval_ds, eval_info = eval_dataset(
            config.source,
            config.evaluation,
            config.eval_split,
            network.preprocessing,
            sample=config.eval_examples > 0,
        )
        mapping = label_map(eval_info.class_names, classes)
    steps_per_epoch, total_steps = lengths(config, data.num_examples)
    return Run(
        config=config,
        strategy=strategy,
        chief=is_chief(strategy),
        network=network,
        info=info,
        devices=devices,
        train_source=data.opened,
        eval_ds=eval_ds,
        label_map=mapping,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        transfer=transfer,
        changes=changes,
        chosen=chosen,
    )


def eval_interval(run):
    """Steps between evaluations (0: none)."""
    if run.eval_ds is None:
        return 0
    return run.config.eval_every_steps or run.steps_per_epoch


@dataclasses.dataclass(kw_only=True)
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


class TrainingTask:
    """One training run: its config and the steps that build it (module docstring)."""

    def __init__(
        self, config, *, strategy, stop=None, transfer=transfer_lib.Transfer(), typed=None
    ):
        self.config, self.strategy, self.transfer = config, strategy, transfer
        self.typed = typed  # the config as given (flags.txt notes what the package chose)
        self.stop = StopSignal() if stop is None else stop
        self.run = None  # the Run, after open()

    def open(self):
        """The Run of the config (`self.run`); the config as resolved is `self.run.config`."""
        self.run = _open_run(self.config, self.strategy, self.transfer, self.typed)
        self.config, self.strategy = self.run.config, self.run.strategy
        return self.run

    def build_model(self):
        """The run's AlexNet, initialized by --init and --seed, --freeze applied."""
        run = self.run
        with run.strategy.scope():
            model = build_network(
                run.network, run.devices, self.config.init, self.config.source.seed
            )
            transfer_lib.freeze(model, self.config.frozen_layers)
        return model

    def build_optimizer(self, model):
        """(optimizer, schedule): PaperSGD over the configured schedule, built for `model`'s
        trainable variables."""
        run = self.run
        with run.strategy.scope():
            optimizer, schedule = make_optimizer(
                self.config, run.steps_per_epoch, run.total_steps, eval_interval(run)
            )
            optimizer.build(model.trainable_variables)
        return optimizer, schedule

    def restore(self, model, optimizer, schedule):
        """The State: the workdir's newest checkpoint that restores, else (step 0) the
        --init_from weights loaded."""
        run, config = self.run, self.config
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            step=step,
            layers=checkpoints.checkpoint_layers(model),
            **schedule.trackables(),
        )
        ckpt_dir = os.path.join(config.workdir, "checkpoints")
        if not run.chief:  # every worker saves (collectively); only the chief's copy is kept
            ckpt_dir = tempfile.mkdtemp(prefix="tf_alexnet_worker_")
        manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, config.keep_checkpoints)

        def restore(prefix):
            try:
                checkpoint.restore(prefix).assert_existing_objects_matched()
            except (AssertionError, ValueError) as e:  # another model's checkpoint
                raise WorkdirError(f"Cannot resume from {prefix}: {e}") from None

        latest = checkpoints.restore_newest(config.workdir, restore, move_damaged=run.chief)
        if latest:
            logging.info("Resumed from %s at step %d.", latest, int(step.numpy()))
            if rerun.changes_schedule(run.changes):
                schedule.restart()
                logging.warning(
                    "Learning-rate flags changed (--allow_changed_flags): the "
                    "schedule starts afresh at step %d.",
                    int(step.numpy()),
                )
        else:
            with run.strategy.scope():
                transfer_lib.load_init_weights(model, run, run.transfer)
        return State(
            model=model,
            optimizer=optimizer,
            schedule=schedule,
            step=step,
            checkpoint=checkpoint,
            manager=manager,
            restored_from=latest,
            chief=run.chief,
        )

    def build_state(self):
        """build_model, build_optimizer and restore, in that order."""
        model = self.build_model()
        return self.restore(model, *self.build_optimizer(model))

    def save_records(self, state):
        """The chief writes model.json and flags.txt (train/rerun.py) into the workdir."""
        if self.run.chief:
            save_record(self.config.workdir, self.run.network, self.run.info)
            rerun.write_flags(
                self.config, int(state.step.numpy()), self.run.changes, self.run.chosen
            )

    def build_inputs(self, start_step):
        """The distributed iterator of the training stream from `start_step` on; batches are
        fetched to the replicas' devices ahead of the step (a GPU's memory, when there is
        one)."""
        run, config = self.run, self.config
        ds, _ = train_dataset(
            config.source,
            config.augment,
            config.split,
            start_example=start_step * config.augment.batch_size,
            opened=run.train_source,
        )
        if config.strategy == "multi_worker":
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = (
                tf.data.experimental.AutoShardPolicy.DATA
            )
            ds = ds.with_options(options)
        fetch = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        return iter(run.strategy.experimental_distribute_dataset(ds, fetch))

    def build_loop(self, state):
        """The TrainLoop of the opened run and its restored `state`."""
        run, config = self.run, self.config
        batch = config.augment.batch_size
        iterator = self.build_inputs(int(state.step.numpy()))
        sums = tf.Variable(tf.zeros([3]), trainable=False)
        augment = make_augment_on_device(config.augment, run.network.preprocessing.stats)
        steps = make_train_step(
            state.model, state.optimizer, run.strategy, batch, sums, augment, config.xla
        )
        validation = None
        if run.eval_ds is not None:
            validation = Validation(
                make_predict_fn(state.model), run.eval_ds, run.label_map, config.eval_examples
            )
        schedule = LoopSchedule(
            run.total_steps,
            config.steps_per_loop,
            config.log_every_steps,
            config.checkpoint_every_steps,
            eval_interval(run),
            config.profile_steps,
        )
        return TrainLoop(
            state=state,
            schedule=schedule,
            train_steps=lambda count: steps(iterator, count),
            sums=sums,
            batch_size=batch,
            validation=validation,
            summaries=Summaries(config.workdir, run.chief),
            progress=Progress(run.steps_per_epoch) if run.chief else None,
            stop=self.stop,
            profile_dir=os.path.join(config.workdir, "train") if run.chief else "",
            advice=dict(not_learning=advice.not_learning(config), diverged=advice.diverged(config)),
        )
