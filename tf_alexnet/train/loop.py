"""The third part of training: calling the compiled step, and what happens between calls.

`LoopSchedule` says at which steps the loop acts; `TrainLoop` runs the compiled steps up to
each such boundary in one call, then reads the metric sums at log intervals (the only host
sync), checks that the loss is finite, writes summaries, evaluates and saves checkpoints; a
SIGINT or SIGTERM saves and returns. It takes no config: everything comes as arguments.
"""

import dataclasses
import glob
import logging
import math
import os
import re
import shutil
import time

import tensorflow as tf

from tf_alexnet.errors import NonFiniteLoss, WorkdirError, describe
from tf_alexnet.evaluate.metrics import describe_errors, score
from tf_alexnet.model.groupings import conv1_halves
from tf_alexnet.train.logs import filter_grid
from tf_alexnet.workdir.checkpoints import set_aside


@dataclasses.dataclass(frozen=True)
class LoopSchedule:
    """The steps at which the loop acts: log, evaluate, save, end (all multiples of their
    interval, and the last step); at most `steps_per_call` steps run in one call."""

    total_steps: int
    steps_per_call: int = 1
    log_every: int = 50
    checkpoint_every: int = 500
    eval_every: int = 0  # 0: no evaluation
    profile: tuple = ()  # (start, end): trace the steps after start up to end

    def next_boundary(self, step):
        """The next step at which the loop must act after `step`."""
        every = [k for k in (self.log_every, self.checkpoint_every, self.eval_every) if k]
        return min(
            [self.total_steps, step + self.steps_per_call]
            + [(step // k + 1) * k for k in every]
            + [k for k in self.profile if k > step]
        )

    def _due(self, step, every):
        return bool(every) and (step % every == 0 or step == self.total_steps)

    def logs(self, step):
        return self._due(step, self.log_every)

    def evaluates(self, step):
        return self._due(step, self.eval_every)

    def saves(self, step):
        return self._due(step, self.checkpoint_every)


@dataclasses.dataclass
class Validation:
    """The validation split and how to score it."""

    predict: object  # images -> probabilities
    dataset: object
    label_map: object  # dataset label -> model label
    max_examples: int = 0  # 0: the whole split

    def score(self):
        return score(self.predict, self.dataset, self.label_map, self.max_examples)


def remove_worker_checkpoints(state):
    """Off the chief, the collective save's copy is a temporary directory: delete it."""
    if not state.chief:
        shutil.rmtree(state.manager.directory, ignore_errors=True)


class TrainLoop:
    """Runs `state` (model, optimizer, checkpoints) to `schedule.total_steps`.

    train_steps(count): runs `count` compiled steps of `batch_size` images, adding [loss sum,
    correct, images] to `sums`. summaries / progress: train.logs writers (progress None off
    the chief). stop: the run's train.process.StopSignal (true once a signal came).
    Keyword arguments only (orbit's Controller is the model)."""

    def __init__(
        self,
        *,
        state,
        schedule,
        train_steps,
        sums,
        batch_size,
        validation=None,
        summaries,
        progress=None,
        stop,
        profile_dir="",
        advice=None,
    ):
        # advice: {"not_learning": line, "diverged": line} (train/advice.py), said by the
        # warning of a run that did not learn and by the error of a diverged one.
        self.advice = advice or {}
        self.state, self.schedule, self.batch_size = state, schedule, batch_size
        self.profile_dir, self.profiling = profile_dir, False
        self.train_steps, self.sums, self.validation = train_steps, sums, validation
        self.summaries, self.progress, self.stop = summaries, progress, stop
        self.start = int(state.step.numpy())
        self.started = time.perf_counter()
        self.last_log_step, self.last_log_time = self.start, self.started
        self.last_good = state.restored_from
        self.timed = None  # (step, time) after the first call, which compiles
        self.first_eval = None  # (step, top-1 error) of this process's first evaluation

    def run_to_end(self):
        """Trains to the end (or to a stop signal); returns the metrics dict. The event
        files and a running profile are closed however it ends."""
        try:
            return self._run()
        finally:
            self.stop_profile(None)
            self.summaries.close()

    def start_profile(self, step):
        """Starts the profiler before the call that runs the step after the schedule's
        profile start."""
        if self.profile_dir and self.schedule.profile and step == self.schedule.profile[0]:
            tf.profiler.experimental.start(self.profile_dir)
            self.profiling = True

    def stop_profile(self, step):
        """Stops a running profile at the schedule's profile end (step None: the loop
        ended first)."""
        if self.profiling and (step is None or step >= self.schedule.profile[1]):
            tf.profiler.experimental.stop()
            self.profiling = False
            logging.info(
                "Profile of steps %d-%s written to %s (TensorBoard: Profile).",
                self.schedule.profile[0] + 1,
                "the end" if step is None else step,
                self.profile_dir,
            )

    def _run(self):
        metrics, step, total = {}, self.start, self.schedule.total_steps
        while step < total:
            self.start_profile(step)
            boundary = self.schedule.next_boundary(step)
            self.train_steps(tf.constant(boundary - step, tf.int32))
            if self.timed is None:  # the first call traces and compiles: timed apart
                self.timed = (boundary, time.perf_counter())
                logging.info(
                    "First call of the train step (tracing, compilation and %d step(s)): %.1f s.",
                    boundary - step,
                    self.timed[1] - self.started,
                )
            step = boundary
            self.stop_profile(step)
            self.state.step.assign(step)
            if self.schedule.logs(step) or self.stop:
                self.log(step)
            if self.stop:
                path = self.save(step)
                logging.warning(
                    "Stopped by %s at step %d; saved %s. Rerun the same command to resume.",
                    self.stop.name,
                    step,
                    path,
                )
                return dict(stopped_at=step, checkpoint=path, signal=self.stop.name)
            if self.validation and self.schedule.evaluates(step):
                metrics = self.evaluate(step)
                self.save(step)
            elif self.schedule.saves(step):
                self.save(step)
        if self.validation and not metrics:  # resumed at the end
            metrics = self.validation.score()
        else:
            self.warn_if_not_learning(metrics, step)
        return dict(metrics, step=step, **self.speed(step))

    def speed(self, step):
        """Training images/s after the first call (which compiles), and that call's time."""
        if self.timed is None:
            return {}
        out = dict(first_call_seconds=self.timed[1] - self.started)
        if step > self.timed[0] and self.last_log_step == step:
            images = (step - self.timed[0]) * self.batch_size
            out["images_per_sec"] = images / (self.last_log_time - self.timed[1])
        return out

    def check_finite(self, loss_sum, step, action):
        if not math.isfinite(loss_sum):
            hint = self.advice.get("diverged")
            raise NonFiniteLoss(
                f"Loss became non-finite between steps {self.last_log_step + 1} and {step}; "
                f"{action}. Last good checkpoint: {self.last_good or 'none'}."
                + (f" To train from the start: {hint}." if hint else "")
            )

    def log(self, step):
        """Reads and resets the sums: a log line or progress bar and train summaries."""
        loss_sum, correct, count = self.sums.numpy()
        self.sums.assign(tf.zeros([3]))
        now = time.perf_counter()
        self.check_finite(loss_sum, step, "stopped")
        ips = count / max(now - self.last_log_time, 1e-9)
        lr = float(self.state.schedule(self.state.optimizer.iterations))
        self.summaries.write(
            "train",
            step,
            {
                "loss": loss_sum / count,
                "top1_error": 1 - correct / count,
                "learning_rate": lr,
                "images_per_sec": ips,
            },
        )
        if self.progress:
            self.progress.update(
                step,
                [
                    ("loss", loss_sum / count),
                    ("top-1 error", 1 - correct / count),
                    ("lr", lr),
                    ("img/s", ips),
                ],
            )
        self.last_log_step, self.last_log_time = step, now

    def save(self, step):
        """A checkpoint at `step`, unless the loss went non-finite since the last log.

        A save that fails (a full disk, a directory turned read-only) raises WorkdirError
        naming the checkpoint and the cause; the checkpoints already on disk stay."""
        self.check_finite(float(self.sums.numpy()[0]), step, "stopped without saving")
        existing = os.path.join(self.state.manager.directory, f"ckpt-{step}")
        if self.state.chief and glob.glob(existing + ".*"):  # never overwrite saved work
            logging.warning("%s exists on disk; moved to checkpoints/unreadable/.", existing)
            set_aside(existing)
        try:
            path = self.state.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as e:
            raise WorkdirError(
                f"{existing}: the checkpoint could not be saved "
                f"({save_failure(e)}); the last good checkpoint is "
                f"{self.last_good or 'none'}."
            ) from None
        if self.state.chief:
            self.last_good = path
        remove_worker_checkpoints(self.state)
        return path

    def evaluate(self, step):
        """Scores the validation split, reports it to the schedule, writes eval summaries."""
        result = self.validation.score()
        self.first_eval = self.first_eval or (step, result["top1_error"])
        reduced = self.state.schedule.report(result["top1_error"])
        kernel = tf.concat(conv1_halves(self.state.model), -1)
        self.summaries.write(
            "eval",
            step,
            {k: result[k] for k in ("top1_error", "top5_error", "loss") if k in result},
            {"conv1_filters": filter_grid(kernel)},
        )
        if self.state.chief:
            logging.info(
                "step %d eval on %d images: %s%s",
                step,
                result["num_images"],
                describe_errors(result),
                "; learning rate divided" if reduced else "",
            )
        return result

    def warn_if_not_learning(self, metrics, step):
        """One warning line when the final validation error is no better than chance or
        than this process's first evaluation, with what to change."""
        if not metrics or not self.state.chief:
            return
        classes = int(self.state.model.output_shape[-1])
        why = not_learning(
            self.first_eval, (step, metrics["top1_error"]), classes, metrics.get("num_images", 0)
        )
        if why:
            logging.warning(
                "The run did not learn: %s. %s",
                why,
                self.advice.get("not_learning", "Try more --epochs or another --learning_rate."),
            )


def not_learning(first, final, classes, images=0):
    """Why the final (step, top-1 error) shows no learning, or None: no better than chance
    (1 - 1/classes) or than the `first` evaluation of several (None: not known).

    `images`: how many images the error was measured on; an error within two standard
    errors of chance (a binomial of `images` draws) is no better than chance either: a
    network that answers one class for every image scores that class's share of a small
    validation split, which may fall a little below chance by luck."""
    step, error = final
    chance = 1.0 - 1.0 / classes
    noise = 2 * math.sqrt(chance * (1 - chance) / images) if images else 0.0
    if error >= chance - noise:
        within = f", within the noise of {images} images" if images and error < chance else ""
        return (
            f"validation top-1 error {error:.4f} at step {step} is no better than chance "
            f"({chance:.4f} for {classes} classes{within})"
        )
    if first and first[0] < step and error >= first[1] > 0:
        return (
            f"validation top-1 error {error:.4f} at step {step} is no better than at the "
            f"first evaluation ({first[1]:.4f} at step {first[0]})"
        )
    return None


def save_failure(error):
    """The cause of a failed checkpoint write, from TensorFlow's message: the file and the
    OS error ("...ckpt-N_temp/part-...; No space left on device"), without the op's
    boilerplate ({{function_node ...}}, [Op:SaveV2])."""
    text = re.sub(r"\{\{[^}]*\}\}|\[Op:\w+\]", "", getattr(error, "message", None) or str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in lines if ";" in line), None) or describe(error)
