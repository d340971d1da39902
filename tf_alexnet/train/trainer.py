"""`train(config)`: open the run, build the state, run the loop, with the run's process
settings (tf_alexnet/train/process.py) and the workdir's lock.

A resumed run continues the step, the optimizer's velocities, the learning-rate schedule's
state and the data position (the stream is seeded by example index, see
data.pipeline.train_dataset).
"""

import contextlib
import logging
import os

import tensorflow as tf

from tf_alexnet.data.augment import make_augment_on_device
from tf_alexnet.data.pipeline import train_dataset
from tf_alexnet.lock import exclusive
from tf_alexnet.model.predict import make_predict_fn
from tf_alexnet.train.devices import is_chief, make_strategy, resolve_auto
from tf_alexnet.train.logs import Progress, Summaries
from tf_alexnet.train.loop import LoopSchedule, TrainLoop, Validation
from tf_alexnet.train.process import process_settings
from tf_alexnet.train.setup import build_state, eval_interval, open_run, save_run_files
from tf_alexnet.train.transfer import resolve
from tf_alexnet.train.step import make_train_step
from tf_alexnet.workdir.checkpoints import remove_partial_saves


def training_iterator(run, start_step):
    """The distributed iterator of the training stream from `start_step` on; batches are
    fetched to the replicas' devices ahead of the step (a GPU's memory, when there is one)."""
    config = run.config
    ds, _ = train_dataset(config.source, config.augment, config.split,
                          start_example=start_step * config.augment.batch_size,
                          opened=run.train_source)
    if config.strategy == "multi_worker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        ds = ds.with_options(options)
    fetch = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return iter(run.strategy.experimental_distribute_dataset(ds, fetch))


def make_loop(run, state, stop):
    """The TrainLoop of an opened run and its restored state."""
    config = run.config
    batch = config.augment.batch_size
    iterator = training_iterator(run, int(state.step.numpy()))
    sums = tf.Variable(tf.zeros([3]), trainable=False)
    augment = make_augment_on_device(config.augment, run.info.preprocessing.stats)
    steps = make_train_step(state.model, state.optimizer, run.strategy, batch, sums, augment,
                            config.xla)
    validation = None
    if run.eval_ds is not None:
        validation = Validation(make_predict_fn(state.model), run.eval_ds, run.label_map,
                                config.eval_examples)
    eval_every = eval_interval(run)
    schedule = LoopSchedule(run.total_steps, config.steps_per_loop, config.log_every_steps,
                            config.checkpoint_every_steps, eval_every, config.profile_steps)
    progress = Progress(run.steps_per_epoch) if run.chief else None
    profile_dir = os.path.join(config.workdir, "train") if run.chief else ""
    return TrainLoop(state, schedule, lambda count: steps(iterator, count), sums, batch,
                     validation, Summaries(config.workdir, run.chief), progress, stop,
                     profile_dir)


def train(config):
    """Trains (or resumes) as `config` (a TrainConfig) says; returns the last evaluation's
    metrics with the step, images/s and the first call's time. WORKDIR/flags.txt records
    the flags as used (train/rerun.py: what a rerun may change)."""
    config = resolve_auto(config.validate())
    logging.info("Precision %s, %d step(s) per compiled call%s.", config.precision,
                 config.steps_per_loop, ", XLA" if config.xla else "")
    with process_settings(config) as stop:
        strategy = make_strategy(config.strategy)
        chief = is_chief(strategy)
        with exclusive(config.workdir) if chief else contextlib.nullcontext():
            if chief:
                remove_partial_saves(config.workdir)
            config, transfer = resolve(config)
            run = open_run(config, strategy, transfer)
            state = build_state(run)
            save_run_files(run, state)
            return make_loop(run, state, stop).run_to_end()
