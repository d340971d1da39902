"""A run's process-wide settings, set for the run and restored after it (so that `train`
can be called as a library): signal handlers, the precision policy, op determinism."""

import contextlib
import logging
import random
import signal

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context
from tensorflow.python.framework import config as tf_config


class StopSignal:
    """Whether the run was asked to stop: `signal` is None, or the SIGINT / SIGTERM number
    received; the loop saves a checkpoint after the current step and returns."""

    def __init__(self):
        self.signal = None

    def __bool__(self):
        return self.signal is not None

    @property
    def name(self):
        return signal.Signals(self.signal).name if self.signal else ""

    def receive(self, signum, frame=None):
        """A signal handler: records `signum` and says what happens."""
        self.signal = signum
        logging.warning("Received %s: saving a checkpoint after this step.", self.name)


@contextlib.contextmanager
def process_settings(config):
    """Sets the run's process-wide settings; yields the run's StopSignal.

    SIGINT/SIGTERM handlers (save a checkpoint after this step), the precision policy, op
    determinism and the global random seeds (--deterministic sets them) are restored on
    exit, so that `train` can be called as a library."""
    stop = StopSignal()
    handlers = {sig: signal.signal(sig, stop.receive) for sig in (signal.SIGINT, signal.SIGTERM)}
    policy = keras.mixed_precision.global_policy()
    determinism = tf_config.is_op_determinism_enabled()
    seeds = random.getstate(), np.random.get_state(), context.global_seed()
    if config.deterministic:
        keras.utils.set_random_seed(config.source.seed)
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        yield stop
    finally:
        keras.mixed_precision.set_global_policy(policy)
        if not determinism:
            tf_config.disable_op_determinism()
        random.setstate(seeds[0])
        np.random.set_state(seeds[1])
        tf.random.set_seed(seeds[2])
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
