"""The paper's preprocessing as pure TensorFlow functions (no Python in the per-image path).

Every image first becomes a `resize` x `resize` square (256 in the paper): shorter side
resized to 256, then the central 256 x 256 (§2 of the paper). From there:
  training:   a random image_size crop (227) on the host, delivered as uint8; then on the
              training device, inside the compiled step: minus the mean (the dataset's
              mean image as in the paper, or per channel), horizontal flip, PCA lighting
              (§4.1);
  evaluation: minus the mean, then the center crop, or the paper's 10 crops (4 corners and
              the center, and their mirror images) whose softmax the model averages.

Pixels stay in 0..255 units; the mean is subtracted and nothing is divided, as in the paper.
Decoding is fused where it pays: large JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg
while still at least `resize` pixels on the shorter side, and a training crop of an image
that is already `resize` x `resize` (prepared shards) is decoded as that crop only.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

# ImageNet statistics as fb.resnet.torch publishes them (datasets/imagenet.lua): per-channel
# mean and std of pixels in [0, 1], and the PCA of the RGB covariance used for lighting.
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)  # 0..255 (0.485, 0.456, 0.406) * 255
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)     # 0..255 (0.229, 0.224, 0.225) * 255
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = ((-0.5675, 0.7192, 0.4009),  # rows; the columns are the eigenvectors
                   (-0.5808, -0.0045, -0.8140),
                   (-0.5836, -0.6948, 0.4203))
STATS_JSON, MEAN_IMAGE = "stats.json", "mean_image.npy"


@dataclasses.dataclass(frozen=True)
class Stats:
    """Dataset statistics; `mean_image` is optional (resize x resize x 3, 0..255).

    On disk: `stats.json` (mean_rgb, std_rgb in 0..255; pca_eigenvalues descending and
    pca_eigenvectors as columns, of the RGB covariance of pixels in [0, 1]) and, when there
    is a mean image, `mean_image.npy` beside it. prepare, training workdirs and exports all
    write and read them through `save` and `load`.
    """
    mean_rgb: tuple = IMAGENET_MEAN_RGB
    std_rgb: tuple = IMAGENET_STD_RGB
    pca_eigenvalues: tuple = IMAGENET_EIGVAL
    pca_eigenvectors: tuple = IMAGENET_EIGVEC
    mean_image: object = dataclasses.field(default=None, compare=False, repr=False)
    source: str = dataclasses.field(default="imagenet", compare=False)  # where they came from

    def to_json(self):
        return dict(mean_rgb=list(self.mean_rgb), std_rgb=list(self.std_rgb),
                    pca_eigenvalues=list(self.pca_eigenvalues),
                    pca_eigenvectors=[list(r) for r in self.pca_eigenvectors],
                    source=self.source)

    @classmethod
    def from_json(cls, d, mean_image=None, source=None):
        return cls(tuple(d["mean_rgb"]), tuple(d["std_rgb"]), tuple(d["pca_eigenvalues"]),
                   tuple(map(tuple, d["pca_eigenvectors"])), mean_image,
                   source=source or d.get("source", ""))

    @classmethod
    def load(cls, path):
        """Reads `stats.json` (and `mean_image.npy` beside it, if there)."""
        with open(path) as f:
            d = json.load(f)
        mean_path = os.path.join(os.path.dirname(path), MEAN_IMAGE)
        mean_image = np.load(mean_path).astype(np.float32) if os.path.exists(mean_path) else None
        return cls.from_json(d, mean_image, source=path)

    def save(self, directory, **extra):
        """Writes stats.json (with `extra` keys) and mean_image.npy (removes a stale one)."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, STATS_JSON), "w") as f:
            json.dump({**self.to_json(), **extra}, f, indent=2)
        mean_path = os.path.join(directory, MEAN_IMAGE)
        if self.mean_image is not None:
            np.save(mean_path, np.asarray(self.mean_image, np.float32))
        elif os.path.exists(mean_path):
            os.remove(mean_path)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What the evaluation transform of a trained model needs: the network's input side,
    the square it is cropped from, what is subtracted, and the statistics."""
    image_size: int = 227
    resize: int = 256
    mean: str = "auto"             # auto | image | channel | none
    stats: Stats = Stats()


def _jpeg_ratio(side, size):
    """Index of the largest libjpeg scale 1/1, 1/2, 1/4, 1/8 that keeps side >= size."""
    return (tf.cast(side >= 2 * size, tf.int32) + tf.cast(side >= 4 * size, tf.int32)
            + tf.cast(side >= 8 * size, tf.int32))


def _center_square(image):
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    return image[top:top + side, left:left + side]


def _resize_square(image, size):
    """Center square of `image`, resized to size x size float32 (no-op when already so)."""
    square = _center_square(image)
    return tf.cond(
        tf.shape(square)[0] == size,
        lambda: tf.cast(square, tf.float32),
        lambda: tf.image.resize(tf.cast(square, tf.float32), [size, size], antialias=True))


def decode_image(encoded):
    """Any JPEG/PNG/GIF/BMP string to uint8 RGB [h, w, 3] (grayscale, RGBA, CMYK included)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


DEFAULT_MAX_PIXELS = 100_000_000
_PNG, _GIF, _BMP = b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM"


def image_pixels(encoded):
    """Pixels of an encoded JPEG/PNG/GIF/BMP from its header, without decoding it (0 for
    another kind, which the decoder then refuses)."""
    head = tf.io.decode_raw(tf.strings.substr(encoded, 0, 32), tf.uint8)
    head = tf.cast(tf.pad(head, [[0, 32 - tf.shape(head)[0]]]), tf.int64)

    def number(start, length, big_endian):
        shifts = tf.range(length, dtype=tf.int64) * 8
        shifts = shifts[::-1] if big_endian else shifts
        return tf.reduce_sum(tf.bitwise.left_shift(head[start:start + length], shifts))

    def bmp():
        height = number(22, 4, False)
        return number(18, 4, False) * tf.abs(tf.where(height >= 2 ** 31, height - 2 ** 32,
                                                      height))

    def kind(magic):
        return tf.strings.substr(encoded, 0, len(magic)) == magic

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    return tf.case([(tf.io.is_jpeg(encoded), jpeg),
                    (kind(_PNG), lambda: number(16, 4, True) * number(20, 4, True)),
                    (kind(_GIF), lambda: number(6, 2, False) * number(8, 2, False)),
                    (kind(_BMP), bmp)], default=lambda: tf.constant(0, tf.int64))


def decode_square(encoded, size, max_pixels=DEFAULT_MAX_PIXELS):
    """Encoded image -> float32 [size, size, 3]: shorter side to `size`, central square.
    An image of more than `max_pixels` (from its header) fails like a corrupt one."""
    check = tf.debugging.assert_less_equal(
        image_pixels(encoded), tf.constant(int(max_pixels), tf.int64),
        message=f"image larger than {max_pixels / 1e6:g} megapixels (--max_megapixels)")
    with tf.control_dependencies([check]):
        encoded = tf.identity(encoded)

    def jpeg():
        shape = tf.image.extract_jpeg_shape(encoded)
        ratio = _jpeg_ratio(tf.minimum(shape[0], shape[1]), size)
        branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r)
                    for r in (1, 2, 4, 8)]
        return _resize_square(tf.switch_case(ratio, branches), size)

    return tf.cond(tf.io.is_jpeg(encoded), jpeg,
                   lambda: _resize_square(decode_image(encoded), size))


def to_square(image_or_encoded, size, max_pixels=DEFAULT_MAX_PIXELS):
    """`decode_square` for strings; the same resize for already decoded images."""
    if image_or_encoded.dtype == tf.string:
        return decode_square(image_or_encoded, size, max_pixels)
    return _resize_square(image_or_encoded, size)


def _mean_tensor(stats, mode, size):
    """The mean to subtract as a [size, size, 3] or [3] float32 constant, or None."""
    if mode == "none":
        return None
    if mode in ("image", "auto") and stats.mean_image is not None:
        mean = np.asarray(stats.mean_image, np.float32)
        if mean.shape != (size, size, 3):
            mean = tf.image.resize(mean, [size, size], antialias=True).numpy()
        return tf.constant(mean)
    if mode == "image":
        raise ValueError(f"--mean=image needs a mean image (mean_image.npy beside "
                         f"stats.json); {stats.source} has none. Use --mean=channel.")
    return tf.constant(np.asarray(stats.mean_rgb, np.float32))


def _to_uint8(image):
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def _random_crop(x, top, left, size, crop, max_pixels):
    """uint8 [crop, crop, 3] at (top, left) of the size x size square of `x`."""
    def general():
        return _to_uint8(to_square(x, size, max_pixels)[top:top + crop, left:left + crop])

    if x.dtype != tf.string:  # decoded pixels: already the square (synthetic) is a slice
        square = _center_square(x)
        return tf.cond(tf.shape(square)[0] == size,
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


def make_train_crop(config):
    """The host half of the paper's training transform (§4.1):

        fn(image_or_encoded, seed[2]) -> {"image": uint8 [S, S, 3], "offset": int32 [2],
                                         "flip": bool [], "alpha": float32 [3]}

    Decode, shorter side to `resize`, central square and the random S x S crop happen on the
    host, so only the uint8 crop (155 KB at 227 px, a quarter of float32) crosses to the
    device. The flip and the lighting coefficients alpha_i ~ N(0, pca_sigma) are drawn here
    from the same per-example seed and applied by `make_augment_on_device`'s function.
    """
    size, crop, sigma = config.resize, config.image_size, config.pca_sigma

    def train_crop(x, seed):
        seeds = tf.random.experimental.stateless_split(seed, 4)
        top = tf.random.stateless_uniform([], seeds[0], 0, size - crop + 1, tf.int32)
        left = tf.random.stateless_uniform([], seeds[1], 0, size - crop + 1, tf.int32)
        image = tf.ensure_shape(_random_crop(x, top, left, size, crop,
                                             config.max_megapixels * 1e6), [crop, crop, 3])
        flip = (tf.random.stateless_uniform([], seeds[2]) < 0.5 if config.flip
                else tf.constant(False))
        alpha = tf.random.stateless_normal([3], seeds[3]) * sigma
        return {"image": image, "offset": tf.stack([top, left]), "flip": flip, "alpha": alpha}

    return train_crop


def _mean_windows(mean_image, offsets, crop):
    """The crop x crop windows of mean_image [size, size, 3] at offsets [B, 2]."""
    steps = tf.range(crop)
    rows = tf.gather(mean_image, offsets[:, 0:1] + steps)          # [B, crop, size, 3]
    return tf.gather(rows, offsets[:, 1:2] + steps, axis=2, batch_dims=1)


def make_augment_on_device(config, stats):
    """The device half of the training transform, run inside the compiled train step:

        augment_on_device(features batch) -> float32 [B, S, S, 3]

    cast to float, minus the mean (the mean image's window at each crop's offset, or the
    channel mean), horizontal flip where drawn, plus the paper's PCA lighting
    [p1 p2 p3][alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T in 0..255 units (the
    eigen-decomposition is of pixels in [0, 1]). Same order and numbers as on one image.
    """
    mean = _mean_tensor(stats, config.mean, config.resize)
    eigval = tf.constant(stats.pca_eigenvalues, tf.float32)
    eigvec = tf.constant(stats.pca_eigenvectors, tf.float32)  # columns are eigenvectors

    def augment_on_device(features):
        images = tf.cast(features["image"], tf.float32)
        if mean is not None:
            images -= (_mean_windows(mean, features["offset"], images.shape[1])
                       if mean.shape.rank == 3 else mean)
        if config.flip:
            images = tf.where(features["flip"][:, None, None, None],
                              tf.reverse(images, [2]), images)
        if config.pca_sigma > 0:
            noise = tf.matmul(features["alpha"] * eigval, eigvec, transpose_b=True) * 255.0
            images += noise[:, None, None, :]
        return images

    return augment_on_device


def ten_crops(image, crop):
    """The paper's test crops of a square image: 4 corners, center, then their mirrors."""
    size = tf.shape(image)[0]
    far, mid = size - crop, (size - crop) // 2
    offsets = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]
    crops = tf.stack([image[t:t + crop, l:l + crop] for t, l in offsets])
    return tf.concat([crops, tf.reverse(crops, [2])], 0)


def make_eval_preprocess(preprocessing, crops="center", max_pixels=DEFAULT_MAX_PIXELS):
    """Returns fn(image_or_encoded) -> float32 [S, S, 3] (center) or [10, S, S, 3] (ten)."""
    size, crop = preprocessing.resize, preprocessing.image_size
    mean = _mean_tensor(preprocessing.stats, preprocessing.mean, size)

    def preprocess(x):
        image = to_square(x, size, max_pixels)
        if mean is not None:
            image -= mean
        if crops == "ten":
            return tf.ensure_shape(ten_crops(image, crop), [10, crop, crop, 3])
        off = (size - crop) // 2
        return tf.ensure_shape(image[off:off + crop, off:off + crop], [crop, crop, 3])

    return preprocess
