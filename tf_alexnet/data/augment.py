"""The paper's training augmentation (§4.1), in a host half and a device half.

The host half decodes, makes the `resize` square and takes the random crop, delivered as
uint8 with the example's draws; the device half, inside the compiled train step, subtracts
the mean (the dataset's mean image as in the paper, or per channel), flips where drawn and
adds the PCA lighting. A training crop of an image that is already `resize` x `resize`
(prepared shards) is decoded as that crop only.
"""

import tensorflow as tf

from tf_alexnet.data.crops import mean_tensor
from tf_alexnet.data.decode import DEFAULT_MAX_PIXELS, center_square, to_square


def _to_uint8(image):
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def _random_crop(x, top, left, size, crop, max_pixels, squash=False):
    """uint8 [crop, crop, 3] at (top, left) of the size x size square of `x` (`squash`: the
    whole image resized to it)."""
    def general():
        return _to_uint8(to_square(x, size, max_pixels, squash)[top:top + crop,
                                                                left:left + crop])

    if x.dtype != tf.string:  # decoded pixels: already the square (synthetic) is a slice
        square = x if squash else center_square(x)
        return tf.cond(tf.reduce_all(tf.shape(square)[:2] == size),
                       lambda: tf.cast(square[top:top + crop, left:left + crop], tf.uint8),
                       general)

    # A JPEG already size x size (prepared shards): decode only the crop.
    def fused_or_general():
        shape = tf.image.extract_jpeg_shape(x)
        return tf.cond(tf.logical_and(shape[0] == size, shape[1] == size),
                       lambda: tf.io.decode_and_crop_jpeg(
                           x, tf.stack([top, left, crop, crop]), channels=3),
                       general)
    return tf.cond(tf.io.is_jpeg(x), fused_or_general, general)


def make_square(augment, max_pixels=DEFAULT_MAX_PIXELS):
    """fn(image_or_encoded) -> uint8 [resize, resize, 3]: the square a training crop is cut
    from (what --cache_train keeps)."""
    def square(x):
        return tf.ensure_shape(_to_uint8(to_square(x, augment.resize, max_pixels,
                                                   augment.squash)),
                               [augment.resize, augment.resize, 3])
    return square


def make_train_crop(augment, max_pixels=DEFAULT_MAX_PIXELS):
    """The host half of the paper's training transform (§4.1):

        fn(image_or_encoded, seed[2]) -> {"image": uint8 [S, S, 3], "offset": int32 [2],
                                         "flip": bool [], "alpha": float32 [3]}

    Decode, shorter side to `resize` and central square (or the whole image squashed, with
    `augment.resize_mode` squash) and the random S x S crop happen on the host, so only the
    uint8 crop (155 KB at 227 px, a quarter of float32) crosses to the device. The flip and
    the lighting coefficients alpha_i ~ N(0, pca_sigma) are drawn here from the same
    per-example seed and applied by `make_augment_on_device`'s function.
    """
    size, crop, sigma = augment.resize, augment.image_size, augment.pca_sigma

    def train_crop(x, seed):
        seeds = tf.random.experimental.stateless_split(seed, 4)
        top = tf.random.stateless_uniform([], seeds[0], 0, size - crop + 1, tf.int32)
        left = tf.random.stateless_uniform([], seeds[1], 0, size - crop + 1, tf.int32)
        image = tf.ensure_shape(_random_crop(x, top, left, size, crop, max_pixels,
                                             augment.squash), [crop, crop, 3])
        flip = (tf.random.stateless_uniform([], seeds[2]) < 0.5 if augment.flip
                else tf.constant(False))
        alpha = tf.random.stateless_normal([3], seeds[3]) * sigma
        return {"image": image, "offset": tf.stack([top, left]), "flip": flip, "alpha": alpha}

    return train_crop


def _mean_windows(mean_image, offsets, crop):
    """The crop x crop windows of mean_image [size, size, 3] at offsets [B, 2]."""
    steps = tf.range(crop)
    rows = tf.gather(mean_image, offsets[:, 0:1] + steps)          # [B, crop, size, 3]
    return tf.gather(rows, offsets[:, 1:2] + steps, axis=2, batch_dims=1)


def make_augment_on_device(augment, stats):
    """The device half of the training transform, run inside the compiled train step:

        augment_on_device(features batch) -> float32 [B, S, S, 3]

    cast to float, minus the mean (the mean image's window at each crop's offset, or the
    channel mean), horizontal flip where drawn, plus the paper's PCA lighting
    [p1 p2 p3][alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T in 0..255 units (the
    eigen-decomposition is of pixels in [0, 1]). Same order and numbers as on one image.
    """
    mean = mean_tensor(stats, augment.mean, augment.resize)
    eigval = tf.constant(stats.pca_eigenvalues, tf.float32)
    eigvec = tf.constant(stats.pca_eigenvectors, tf.float32)  # columns are eigenvectors

    def augment_on_device(features):
        images = tf.cast(features["image"], tf.float32)
        if mean is not None:
            images -= (_mean_windows(mean, features["offset"], images.shape[1])
                       if mean.shape.rank == 3 else mean)
        if augment.flip:
            images = tf.where(features["flip"][:, None, None, None],
                              tf.reverse(images, [2]), images)
        if augment.pca_sigma > 0:
            noise = tf.matmul(features["alpha"] * eigval, eigvec, transpose_b=True) * 255.0
            images += noise[:, None, None, :]
        return images

    return augment_on_device
