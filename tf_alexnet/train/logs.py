"""What a training run shows: a progress bar or log lines, and TensorBoard summaries."""

import logging
import os
import sys

import keras
import tensorflow as tf


def filter_grid(kernels):
    """conv1's filters as one image [1, H, W, 3], each filter scaled to [0, 1].

    `kernels`: conv1's kernel [k, k, 3, F] (towers: the two halves concatenated)."""
    f = tf.transpose(kernels, [3, 0, 1, 2])
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

    def update(self, step, values):
        epoch = (step - 1) // self.steps_per_epoch
        if not self.tty:
            logging.info(
                "epoch %d step %d: %s",
                epoch + 1,
                step,
                ", ".join(f"{k} {v:.4g}" for k, v in values),
            )
            return
        in_epoch = step - epoch * self.steps_per_epoch
        if self.bar is None or in_epoch <= self.last:
            print(f"Epoch {epoch + 1}")
            self.bar = keras.utils.Progbar(
                self.steps_per_epoch, unit_name="step", stateful_metrics=[k for k, _ in values]
            )
        self.bar.update(in_epoch, values)
        self.last = in_epoch


class Summaries:
    """TensorBoard writers for WORKDIR/train and WORKDIR/eval (no-ops off the chief)."""

    def __init__(self, workdir, chief):
        self.writers = {
            k: tf.summary.create_file_writer(os.path.join(workdir, k))
            if chief
            else tf.summary.create_noop_writer()
            for k in ("train", "eval")
        }

    def write(self, kind, step, scalars, images=None):
        with self.writers[kind].as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)
            for name, value in (images or {}).items():
                tf.summary.image(name, value)

    def flush(self):
        for writer in self.writers.values():
            writer.flush()

    def close(self):
        """Flushes and closes the event files (a library caller's process goes on)."""
        for writer in self.writers.values():
            writer.close()
