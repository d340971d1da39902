"""The third part of training: calling the compiled step, and what happens between calls.

Between steps the loop reads the metric sums at log intervals (the only host sync), checks
that the loss is finite, writes summaries, evaluates, and saves checkpoints; a SIGINT or
SIGTERM saves and returns.
"""

import glob
import logging
import math
import os
import signal
import time

import tensorflow as tf

from tf_alexnet import metrics, rundir
from tf_alexnet.data import make_dataset
from tf_alexnet.logs import Progress, Summaries, filter_grid
from tf_alexnet.preprocess import make_augment_on_device
from tf_alexnet.train_lib import NonFiniteLoss, remove_worker_checkpoints
from tf_alexnet.train_step import make_train_step


def training_iterator(run, start_step):
    """The distributed iterator of the training stream from `start_step` on; batches are
    fetched to the replicas' devices ahead of the step (a GPU's memory, when there is one)."""
    config = run.config
    ds = make_dataset(config.data, config.split, True,
                      start_example=start_step * config.data.batch_size,
                      source=run.train_source)
    if config.strategy == "multi_worker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        ds = ds.with_options(options)
    fetch = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return iter(run.strategy.experimental_distribute_dataset(ds, fetch))


class TrainLoop:
    """Runs `state` (model, optimizer, checkpoints) over `run` (data, lengths) to the end."""

    def __init__(self, run, state, stop):
        self.run, self.state, self.stop = run, state, stop
        config = run.config
        self.start = int(state.step.numpy())
        self.iterator = training_iterator(run, self.start)
        self.sums = tf.Variable(tf.zeros([3]), trainable=False)
        augment = make_augment_on_device(config.data, run.info.preprocessing.stats)
        self.train_step = make_train_step(state.model, state.optimizer, run.strategy,
                                          config.data.batch_size, self.sums, augment,
                                          config.xla)
        self.predict = metrics.make_predict_fn(state.model)
        self.summaries = Summaries(config.workdir, run.chief)
        self.progress = Progress(run.steps_per_epoch) if run.chief else None
        self.eval_every = config.eval_every_steps or run.steps_per_epoch
        self.started = time.perf_counter()
        self.last_log_step, self.last_log_time = self.start, self.started
        self.last_good = state.restored_from

    def next_boundary(self, step):
        """The next step at which the loop must act (log, evaluate, save or end), at most
        steps_per_loop ahead: the compiled step runs up to it in one call."""
        config = self.run.config
        every = [config.log_every_steps, config.checkpoint_every_steps]
        if self.run.eval_ds is not None:
            every.append(self.eval_every)
        return min([self.run.total_steps, step + config.steps_per_loop]
                   + [(step // k + 1) * k for k in every])

    def run_to_end(self):
        """Trains to the end (or to a stop signal); returns the metrics dict."""
        config, total = self.run.config, self.run.total_steps
        metrics_, step, timed = {}, self.start, None
        while step < total:
            boundary = self.next_boundary(step)
            self.train_step(self.iterator, tf.constant(boundary - step, tf.int32))
            if timed is None:  # the first call traces and compiles: timed apart
                timed = (boundary, time.perf_counter())
                logging.info("First call of the train step (tracing, compilation and %d "
                             "step(s)): %.1f s.", boundary - step, timed[1] - self.started)
            step = boundary
            self.state.step.assign(step)
            if step % config.log_every_steps == 0 or step == total or self.stop["signal"]:
                self.log(step)
            if self.stop["signal"]:
                path = self.save(step)
                logging.warning("Stopped by %s at step %d; saved %s. Rerun the same command "
                                "to resume.", signal.Signals(self.stop["signal"]).name, step,
                                path)
                return dict(stopped_at=step, checkpoint=path)
            if self.run.eval_ds is not None and (step % self.eval_every == 0
                                                  or step == total):
                metrics_ = self.evaluate(step)
                self.save(step)
            elif step % config.checkpoint_every_steps == 0 or step == total:
                self.save(step)
        self.summaries.flush()
        if self.run.eval_ds is not None and not metrics_:  # resumed at the end
            metrics_ = self.score()
        return dict(metrics_, step=step, **self.speed(timed, step))

    def speed(self, timed, step):
        """Training images/s after the first call (which compiles), and that call's time."""
        if timed is None:
            return {}
        out = dict(first_call_seconds=timed[1] - self.started)
        if step > timed[0] and self.last_log_step == step:
            images = (step - timed[0]) * self.run.config.data.batch_size
            out["images_per_sec"] = images / (self.last_log_time - timed[1])
        return out

    def check_finite(self, loss_sum, step, action):
        if not math.isfinite(loss_sum):
            raise NonFiniteLoss(
                f"Loss became non-finite between steps {self.last_log_step + 1} and {step}; "
                f"{action}. Last good checkpoint: {self.last_good or 'none'}.")

    def log(self, step):
        """Reads and resets the sums: a log line or progress bar and train summaries."""
        loss_sum, correct, count = self.sums.numpy()
        self.sums.assign(tf.zeros([3]))
        now = time.perf_counter()
        self.check_finite(loss_sum, step, "stopped")
        ips = count / max(now - self.last_log_time, 1e-9)
        lr = float(self.state.schedule(self.state.optimizer.iterations))
        self.summaries.write("train", step, {
            "loss": loss_sum / count, "top1_error": 1 - correct / count,
            "learning_rate": lr, "images_per_sec": ips})
        if self.progress:
            self.progress.update(step, [("loss", loss_sum / count), ("top1", correct / count),
                                        ("lr", lr), ("img/s", ips)])
        self.last_log_step, self.last_log_time = step, now

    def save(self, step):
        """A checkpoint at `step`, unless the loss went non-finite since the last log."""
        self.check_finite(float(self.sums.numpy()[0]), step, "stopped without saving")
        existing = os.path.join(self.state.manager.directory, f"ckpt-{step}")
        if self.run.chief and glob.glob(existing + ".*"):  # never overwrite saved work
            logging.warning("%s exists on disk; moved to checkpoints/unreadable/.", existing)
            rundir.set_aside(existing)
        path = self.state.manager.save(checkpoint_number=step)
        if self.run.chief:
            self.last_good = path
        remove_worker_checkpoints(self.run, self.state)
        return path

    def score(self):
        return metrics.evaluate(self.predict, self.run.eval_ds, self.run.label_map,
                                self.run.config.eval_examples)

    def evaluate(self, step):
        """Scores the validation split, reports it to the schedule, writes eval summaries."""
        result = self.score()
        reduced = self.state.schedule.report(result["top1_error"])
        self.summaries.write("eval", step,
                             {k: result[k] for k in ("top1_error", "top5_error", "loss")},
                             {"conv1_filters": filter_grid(conv1_kernel(self.state.model))})
        if self.run.chief:
            logging.info("step %d eval on %d images: top-1 error %.4f, top-5 error %.4f%s",
                         step, result["num_images"], result["top1_error"],
                         result["top5_error"], "; learning rate divided" if reduced else "")
        return result


def conv1_kernel(model):
    """conv1's kernel [k, k, 3, F]; the towers' halves side by side."""
    names = {layer.name for layer in model.layers}
    layers = ["conv1a", "conv1b"] if "conv1a" in names else ["conv1"]
    return tf.concat([model.get_layer(n).kernel for n in layers], -1)
