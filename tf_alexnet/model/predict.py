"""A model's probabilities for a batch of images or of the paper's 10 crops (§4.1)."""

import tensorflow as tf


def average_crops(probabilities, images):
    """probabilities(images [N, S, S, 3]) for a batch [B, S, S, 3], or for [B, K, S, S, 3]
    the mean over the K crops' probabilities, as the paper tests with 10 crops (§4.1).

    Works in a traced graph (the serving signatures) and eagerly on numpy (TFLite)."""
    if len(images.shape) != 5:
        return probabilities(images)
    shape = tf.shape(images)
    flat = tf.reshape(images, tf.concat([[-1], shape[2:]], 0))
    probs = probabilities(flat)
    return tf.reduce_mean(tf.reshape(probs, [shape[0], shape[1], -1]), 1)


def make_predict_fn(model):
    """tf.function: images [B, S, S, 3] or [B, 10, S, S, 3] -> probabilities [B, C]."""

    def probabilities(images):
        return tf.nn.softmax(tf.cast(model(images, training=False), tf.float32))

    return tf.function(lambda images: average_crops(probabilities, images))
