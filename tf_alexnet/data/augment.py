"""The paper's training augmentation (§4.1), in a host half and a device half.

The host half makes each example's `resize` x `resize` uint8 square (decoding and resizing
where needed; nothing at all for squares already: synthetic, raw shards, --cache_train) and
draws the random crop offsets, flips and lighting coefficients once per batch. The device
half, inside the compiled train step, subtracts the mean, cuts and mirrors the crops and
adds the PCA lighting: on a GPU the host's per-image work is only what decoding needs.
"""

import tensorflow as tf

from tf_alexnet.data.crops import mean_tensor
from tf_alexnet.data.decode import DEFAULT_MAX_PIXELS, to_square


def _to_uint8(image):
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def make_square(augment, max_pixels=DEFAULT_MAX_PIXELS):
    """fn(image_or_encoded) -> uint8 [resize, resize, 3]: the square a training crop is cut
    from, the host half's one per-example transform (what --cache_train keeps). An image
    that is already resize x resize passes as it is (squash mode too)."""
    size = augment.resize

    def general(x):
        return _to_uint8(to_square(x, size, max_pixels, augment.squash))

    def square(x):
        if x.dtype != tf.string:
            x = tf.cond(
                tf.reduce_all(tf.shape(x)[:2] == size),
                lambda: tf.cast(x, tf.uint8),
                lambda: general(x),
            )
        else:
            x = general(x)
        return tf.ensure_shape(x, [size, size, 3])

    return square


def make_batch_draws(augment, seed):
    """The paper's random draws for a batch, on the host:

        fn(first, n) -> {"offset": int32 [n, 2], "flip": bool [n], "alpha": float32 [n, 3]}

    for the n examples of the training stream from index `first` on: each crop's (top,
    left) in the resize x resize square, uniform over the resize - image_size + 1 positions
    each way; a horizontal flip with probability 1/2 (if augment.flip); the lighting
    coefficients alpha_i ~ N(0, pca_sigma). One stateless draw per batch, keyed by
    (seed, first): a resumed stream that starts at a batch boundary draws what the
    uninterrupted one drew there.
    """
    positions = augment.resize - augment.image_size + 1

    def draws(first, n):
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(first, tf.int64)])
        keys = tf.random.experimental.stateless_split(key, 3)
        offset = tf.random.stateless_uniform([n, 2], keys[0], 0, positions, tf.int32)
        flip = (
            tf.random.stateless_uniform([n], keys[1]) < 0.5
            if augment.flip
            else tf.zeros([n], tf.bool)
        )
        alpha = tf.random.stateless_normal([n, 3], keys[2]) * augment.pca_sigma
        return {"offset": offset, "flip": flip, "alpha": alpha}

    return draws


def make_augment_on_device(augment, stats):
    """The device half of the training transform, run inside the compiled train step:

        augment_on_device(features batch) -> float32 [B, S, S, 3]

    features: {"image": uint8 [B, resize, resize, 3] squares, and make_batch_draws' offset,
    flip, alpha}. Cast to float, minus the mean (the dataset's mean image, as in the paper,
    or the channel mean), the S x S crop at each offset, mirrored where drawn (one gather of
    rows, one of columns, the flip folded into the column indices), plus the paper's PCA
    lighting [p1 p2 p3][alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T in 0..255
    units (the eigen-decomposition is of pixels in [0, 1]). Subtracting the whole mean image
    before cropping gives each crop the mean image's window at its own offset.
    """
    crop = augment.image_size
    mean = mean_tensor(stats, augment.mean, augment.resize)
    eigval = tf.constant(stats.pca_eigenvalues, tf.float32)
    eigvec = tf.constant(stats.pca_eigenvectors, tf.float32)  # columns are eigenvectors

    def augment_on_device(features):
        images = tf.cast(features["image"], tf.float32)
        if mean is not None:
            images -= mean
        images = crop_and_flip(images, features["offset"], features["flip"], crop)
        if augment.pca_sigma > 0:
            images = add_lighting(images, features["alpha"], eigval, eigvec)
        return images

    return augment_on_device


def crop_and_flip(images, offset, flip, crop):
    """The crop x crop window of each image at its (top, left) `offset`, mirrored where
    `flip`: one gather of rows, one of columns, the flip folded into the column indices."""
    steps = tf.range(crop)
    cols = tf.where(flip[:, None], crop - 1 - steps, steps)
    images = tf.gather(images, offset[:, 0:1] + steps, axis=1, batch_dims=1)
    return tf.gather(images, offset[:, 1:2] + cols, axis=2, batch_dims=1)


def add_lighting(images, alpha, eigval, eigvec):
    """The paper's PCA lighting (§4.1): each image plus [p1 p2 p3][alpha_i lambda_i]^T, in
    0..255 units (the eigen-decomposition is of pixels in [0, 1])."""
    noise = tf.matmul(alpha * eigval, eigvec, transpose_b=True) * 255.0
    return images + noise[:, None, None, :]
