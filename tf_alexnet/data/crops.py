"""The evaluation transform: minus the mean, then the center crop or the paper's 10 crops
(4 corners and the center, and their mirror images) whose softmax the model averages (§4.1).
"""

import numpy as np
import tensorflow as tf

from tf_alexnet.data.decode import DEFAULT_MAX_PIXELS, to_square


def mean_tensor(stats, mode, size):
    """The mean to subtract as a [size, size, 3] or [3] float32 constant, or None."""
    if mode == "none":
        return None
    if mode in ("image", "auto") and stats.mean_image is not None:
        mean = np.asarray(stats.mean_image, np.float32)
        if mean.shape != (size, size, 3):
            mean = tf.image.resize(mean, [size, size], antialias=True).numpy()
        return tf.constant(mean)
    if mode == "image":
        raise ValueError(
            f"--mean=image needs a mean image (mean_image.npy beside "
            f"stats.json); {stats.source} has none. Use --mean=channel."
        )
    return tf.constant(np.asarray(stats.mean_rgb, np.float32))


def ten_crops(image, crop):
    """The paper's test crops of a square image: 4 corners, center, then their mirrors."""
    size = tf.shape(image)[0]
    far, mid = size - crop, (size - crop) // 2
    offsets = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]
    crops = tf.stack([image[t : t + crop, l : l + crop] for t, l in offsets])
    return tf.concat([crops, tf.reverse(crops, [2])], 0)


def make_eval_preprocess(preprocessing, crops="center", max_pixels=DEFAULT_MAX_PIXELS):
    """Returns fn(image_or_encoded) -> float32 [S, S, 3] (center) or [10, S, S, 3] (ten)."""
    size, crop = preprocessing.resize, preprocessing.image_size
    mean = mean_tensor(preprocessing.stats, preprocessing.mean, size)

    def preprocess(x):
        image = to_square(x, size, max_pixels, preprocessing.resize_mode == "squash")
        if mean is not None:
            image -= mean
        if crops == "ten":
            return tf.ensure_shape(ten_crops(image, crop), [10, crop, crop, 3])
        off = (size - crop) // 2
        return tf.ensure_shape(image[off : off + crop, off : off + crop], [crop, crop, 3])

    return preprocess
