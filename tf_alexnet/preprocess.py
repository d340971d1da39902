"""The paper's preprocessing as pure TensorFlow functions (no Python in the per-image path).

Every image first becomes a `resize` x `resize` square (256 in the paper): shorter side
resized to 256, then the central 256 x 256 (§2 of the paper). From there:
  training:   a random image_size crop (227), horizontal flip, PCA lighting (§4.1),
              minus the mean (the dataset's mean image as in the paper, or per channel);
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


def decode_square(encoded, size):
    """Encoded image -> float32 [size, size, 3]: shorter side to `size`, central square."""
    def jpeg():
        shape = tf.image.extract_jpeg_shape(encoded)
        ratio = _jpeg_ratio(tf.minimum(shape[0], shape[1]), size)
        branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r)
                    for r in (1, 2, 4, 8)]
        return _resize_square(tf.switch_case(ratio, branches), size)

    return tf.cond(tf.io.is_jpeg(encoded), jpeg,
                   lambda: _resize_square(decode_image(encoded), size))


def to_square(image_or_encoded, size):
    """`decode_square` for strings; the same resize for already decoded images."""
    if image_or_encoded.dtype == tf.string:
        return decode_square(image_or_encoded, size)
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


def lighting_noise(seed, sigma, eigval, eigvec):
    """The paper's PCA lighting: [p1 p2 p3] [a1 l1, a2 l2, a3 l3]^T with a_i ~ N(0, sigma),
    returned in 0..255 units (the eigen-decomposition is of pixels in [0, 1])."""
    alpha = tf.random.stateless_normal([3], seed) * sigma
    eigvec = tf.constant(eigvec, tf.float32)
    return tf.linalg.matvec(eigvec, alpha * tf.constant(eigval, tf.float32)) * 255.0


def make_train_preprocess(config, stats):
    """Returns fn(image_or_encoded, seed[2]) -> float32 [S, S, 3]: the training transform."""
    size, crop = config.resize, config.image_size
    mean = _mean_tensor(stats, config.mean, size)

    def preprocess(x, seed):
        seeds = tf.random.experimental.stateless_split(seed, 4)
        top = tf.random.stateless_uniform([], seeds[0], 0, size - crop + 1, tf.int32)
        left = tf.random.stateless_uniform([], seeds[1], 0, size - crop + 1, tf.int32)

        def general():
            return to_square(x, size)[top:top + crop, left:left + crop]

        if x.dtype == tf.string:
            # A JPEG already size x size (prepared shards): decode only the crop.
            def fused_or_general():
                shape = tf.image.extract_jpeg_shape(x)
                return tf.cond(
                    tf.logical_and(shape[0] == size, shape[1] == size),
                    lambda: tf.cast(tf.io.decode_and_crop_jpeg(
                        x, tf.stack([top, left, crop, crop]), channels=3), tf.float32),
                    general)
            image = tf.cond(tf.io.is_jpeg(x), fused_or_general, general)
        else:
            image = general()
        image = tf.ensure_shape(image, [crop, crop, 3])
        if mean is not None:
            image -= mean[top:top + crop, left:left + crop] if mean.shape.rank == 3 else mean
        if config.flip:
            flip = tf.random.stateless_uniform([], seeds[2]) < 0.5
            image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        if config.pca_sigma > 0:
            image += lighting_noise(seeds[3], config.pca_sigma, stats.pca_eigenvalues,
                                    stats.pca_eigenvectors)
        return image

    return preprocess


def ten_crops(image, crop):
    """The paper's test crops of a square image: 4 corners, center, then their mirrors."""
    size = tf.shape(image)[0]
    far, mid = size - crop, (size - crop) // 2
    offsets = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]
    crops = tf.stack([image[t:t + crop, l:l + crop] for t, l in offsets])
    return tf.concat([crops, tf.reverse(crops, [2])], 0)


def make_eval_preprocess(preprocessing, crops="center"):
    """Returns fn(image_or_encoded) -> float32 [S, S, 3] (center) or [10, S, S, 3] (ten)."""
    size, crop = preprocessing.resize, preprocessing.image_size
    mean = _mean_tensor(preprocessing.stats, preprocessing.mean, size)

    def preprocess(x):
        image = to_square(x, size)
        if mean is not None:
            image -= mean
        if crops == "ten":
            return tf.ensure_shape(ten_crops(image, crop), [10, crop, crop, 3])
        off = (size - crop) // 2
        return tf.ensure_shape(image[off:off + crop, off:off + crop], [crop, crop, 3])

    return preprocess
