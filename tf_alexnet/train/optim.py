"""The paper's optimizer and learning-rate schedules.

The paper's update (§5), for every weight w, with learning rate eps:

    v <- momentum * v - weight_decay * eps * w - eps * dL/dw
    w <- w + v

Keras' SGD has no weight decay in the momentum, and its `weight_decay` argument is
decoupled (applied outside the velocity), so the paper's rule is its own optimizer here.
"""

import math
import numbers

import keras
import tensorflow as tf

from tf_alexnet.config import LR_SCHEDULES, TrainConfig
from tf_alexnet.config_fields import check_argument


@keras.saving.register_keras_serializable(package="tf_alexnet")
class PaperSGD(keras.optimizers.Optimizer):
    """Momentum SGD with L2 weight decay inside the velocity, exactly the paper's rule.

    Args:
      learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`
        (called with the optimizer's iteration count).
      momentum: mu (paper: 0.9).
      decay: lambda (paper: 0.0005), applied to kernels (variables with rank > 1).
      decay_biases: also decay biases (rank-1 variables). The paper's text decays all
        weights; cuda-convnet's configs decay kernels only.
      lr_multipliers: {layer name: factor} on the learning rate of that layer's variables
        (named by the first part of their path, "fc8/kernel"): eps becomes factor * eps in
        both terms of the update, as Caffe's lr_mult does (its fine-tuning gives fc8 10).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        decay=5e-4,
        decay_biases=False,
        lr_multipliers=None,
        name="paper_sgd",
        **kwargs,
    ):
        if not callable(learning_rate):  # a schedule, or a number checked as --learning_rate
            check_argument("PaperSGD", "learning_rate", learning_rate, TrainConfig, "learning_rate")
        check_argument("PaperSGD", "momentum", momentum, TrainConfig, "momentum")
        check_argument("PaperSGD", "decay", decay, TrainConfig, "weight_decay")
        for layer, factor in (lr_multipliers or {}).items():
            check_argument(
                "PaperSGD", f"lr_multipliers[{layer!r}]", factor, TrainConfig, "head_lr_multiplier"
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = float(momentum)
        self.decay = float(decay)
        self.decay_biases = bool(decay_biases)
        self.lr_multipliers = {str(k): float(v) for k, v in (lr_multipliers or {}).items()}

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        # Keras variables have a path ("fc8/kernel"); a bare tf.Variable only a name.
        self._factors = [
            self.lr_multipliers.get(getattr(v, "path", v.name).split("/")[0], 1.0)
            for v in variables
        ]

    def decays(self, variable):
        return self.decay > 0 and (len(variable.shape) > 1 or self.decay_biases)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = tf.cast(learning_rate, variable.dtype)
        if self._factors[index] != 1.0:
            lr *= self._factors[index]
        gradient = tf.cast(gradient, variable.dtype)
        v = self.velocities[index]
        step = self.momentum * v - lr * gradient
        if self.decays(variable):
            step -= (self.decay * lr) * variable
        self.assign(v, step)
        self.assign_add(variable, v)

    def get_config(self):
        config = super().get_config()
        config.update(
            momentum=self.momentum,
            decay=self.decay,
            decay_biases=self.decay_biases,
            lr_multipliers=dict(self.lr_multipliers),
        )
        return config


@keras.saving.register_keras_serializable(package="tf_alexnet")
class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = base_lr * scale * shape(step), with its state in tf.Variables.

    kind:
      "plateau": the paper: shape 1; `report(top1_error)` after each evaluation divides the
                 scale by 1/factor (10) when the error has not improved for `patience`
                 evaluations, at most `max_reductions` (3) times.
      "step":    shape = factor ** (number of `boundaries` (in steps) passed).
      "cosine":  shape = half a cosine from 1 to 0 over `total_steps`.
    Optional linear warm-up over `warmup_steps`. The state (scale, best error, evaluations
    without improvement, reductions) is checkpointed through `trackables()`, so a plateau
    decision survives a restart. Under `model.fit` nothing calls `report()`, so "plateau"
    keeps its rate there (the train command reports each evaluation).
    """

    def __init__(
        self,
        kind,
        base_lr,
        total_steps,
        boundaries=(),
        factor=0.1,
        patience=1,
        max_reductions=3,
        warmup_steps=0,
    ):
        if kind not in LR_SCHEDULES:
            raise ValueError(f"Unknown schedule {kind!r}: use {', '.join(LR_SCHEDULES)}.")
        check_argument("LearningRate", "base_lr", base_lr, TrainConfig, "learning_rate")
        check_argument("LearningRate", "factor", factor, TrainConfig, "lr_factor")
        for argument, value in (("total_steps", total_steps), ("warmup_steps", warmup_steps)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"LearningRate: {argument}={value!r} must be an integer >= 0.")
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
            raise ValueError(f"LearningRate: patience={patience!r} must be an integer >= 1.")
        self.kind, self.base_lr, self.total_steps = kind, float(base_lr), max(1, total_steps)
        self.boundaries = tuple(int(b) for b in boundaries)
        self.factor, self.patience = float(factor), int(patience)
        self.max_reductions = int(max_reductions)
        self.warmup_steps = int(warmup_steps)
        with tf.init_scope():
            self.scale = tf.Variable(1.0, trainable=False, name="lr_scale")
            self.best = tf.Variable(math.inf, trainable=False, name="best_top1_error")
            self.bad_evals = tf.Variable(0, trainable=False, name="evals_without_improvement")
            self.reductions = tf.Variable(0, trainable=False, name="lr_reductions")

    def get_config(self):
        """The constructor's arguments (the plateau's state lives in checkpoints, not in a
        saved model's config: a reloaded schedule starts afresh)."""
        return dict(
            kind=self.kind,
            base_lr=self.base_lr,
            total_steps=self.total_steps,
            boundaries=list(self.boundaries),
            factor=self.factor,
            patience=self.patience,
            max_reductions=self.max_reductions,
            warmup_steps=self.warmup_steps,
        )

    def trackables(self):
        return dict(
            lr_scale=self.scale,
            best_top1_error=self.best,
            evals_without_improvement=self.bad_evals,
            lr_reductions=self.reductions,
        )

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = self.base_lr * self.scale
        if self.kind == "step" and self.boundaries:
            passed = tf.reduce_sum(
                tf.cast(step >= tf.constant(self.boundaries, tf.float32), tf.float32)
            )
            lr *= tf.pow(self.factor, passed)
        elif self.kind == "cosine":
            frac = tf.minimum(step / self.total_steps, 1.0)
            lr *= 0.5 * (1.0 + tf.cos(math.pi * frac))
        if self.warmup_steps:
            lr *= tf.minimum(1.0, (step + 1.0) / self.warmup_steps)
        return lr

    def restart(self):
        """Forgets the plateau's history (scale 1, no best, no reductions): the schedule's
        flags changed on a resume."""
        self.scale.assign(1.0)
        self.best.assign(math.inf)
        self.bad_evals.assign(0)
        self.reductions.assign(0)

    def report(self, top1_error):
        """Host side, after an evaluation. Returns True when the rate was just divided."""
        improved = top1_error < float(self.best.numpy())
        if improved:
            self.best.assign(top1_error)
            self.bad_evals.assign(0)
            return False
        self.bad_evals.assign_add(1)
        if (
            self.kind == "plateau"
            and int(self.bad_evals.numpy()) >= self.patience
            and int(self.reductions.numpy()) < self.max_reductions
        ):
            self.scale.assign(self.scale * self.factor)
            self.reductions.assign_add(1)
            self.bad_evals.assign(0)
            return True
        return False
