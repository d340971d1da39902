"""The optimizer and the one compiled training step.

The step reads the next global batch, runs the model under the strategy, applies the
paper's update and adds the batch's loss sum, correct top-1 count and size to a metrics
variable. Nothing in it waits on the host: the loop reads the sums at log intervals only.
"""

import math

import keras
import tensorflow as tf

from tf_alexnet.train.optim import LearningRate, PaperSGD


def plateau_patience(config, eval_every):
    """Evaluations without improvement before a plateau reduction: --plateau_patience, and
    at least --plateau_min_steps of training (`eval_every` steps apart). On a small dataset
    an epoch is a few steps and a few dozen validation images decide: without the floor the
    paper's patience of one evaluation divides the rate three times in the first steps."""
    return max(config.plateau_patience, math.ceil(config.plateau_min_steps / max(1, eval_every)))


def make_optimizer(config, steps_per_epoch, total_steps, eval_every=0):
    """(optimizer, schedule) of a TrainConfig: PaperSGD over the configured schedule;
    `eval_every`: steps between evaluations (0: each epoch), for the plateau's patience."""
    schedule = LearningRate(
        config.lr_schedule,
        config.learning_rate,
        total_steps,
        boundaries=[round(e * steps_per_epoch) for e in config.step_epochs],
        factor=config.lr_factor,
        patience=plateau_patience(config, eval_every or steps_per_epoch),
        max_reductions=config.plateau_max_reductions,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
    )
    optimizer = PaperSGD(
        schedule,
        momentum=config.momentum,
        decay=config.weight_decay,
        decay_biases=config.decay_biases,
        lr_multipliers={"fc8": config.head_lr_multiplier},
    )
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer, schedule


def make_train_step(model, optimizer, strategy, global_batch, sums, augment, jit_compile=False):
    """tf.function(iterator, count): `count` training steps on the next global batches.

    Each step takes a batch of uint8 squares with their augmentation draws, runs `augment`
    (the crop, flip, lighting and mean subtraction; data.augment.make_augment_on_device) and the
    model on the replica's device, and applies the update. Loss is softmax cross-entropy
    averaged over the global batch (each replica divides its sum by the global batch; the
    optimizer sums the replicas' gradients). Each step adds [loss sum, correct top-1,
    images] to `sums`. Pass `count` as a tensor: a Python int would retrace per value.
    With `jit_compile`, XLA compiles the augmentation and the model step of a replica;
    reading the iterator stays outside it."""

    def replica_step(features, labels):
        images = augment(features)
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        )
        return tf.stack([tf.reduce_sum(per_example), correct, tf.cast(tf.size(labels), tf.float32)])

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def steps(iterator, count):
        for _ in tf.range(count):
            features, labels = next(iterator)
            per_replica = strategy.run(replica_step, args=(features, labels))
            sums.assign_add(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))

    return steps
