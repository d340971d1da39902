"""Synthetic sources made in-graph, with no files: the embedded default for the quickstart.

`shapes`: one coloured shape per image on a noisy background of another colour, at a random
position and size; the class is the shape. Example i of a split is a pure function of
(seed, split, i), so every run and every machine sees the same images.
`random`: uniform noise and random labels, for throughput upper bounds only.
"""

import tensorflow as tf

from tf_alexnet.data.source import Source
from tf_alexnet.errors import DataError

SHAPE_NAMES = ("disk", "square", "triangle", "ring", "plus", "diamond", "bar", "hourglass")
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}


def _mask(kind, dx, dy, r):
    """Boolean mask of shape `kind` (int tensor) for offsets dx, dy from its center."""
    adx, ady = tf.abs(dx), tf.abs(dy)
    dist = tf.sqrt(dx * dx + dy * dy)
    masks = [
        dist < r,  # disk
        tf.maximum(adx, ady) < 0.8 * r,  # square
        (dy < 0.7 * r) & (adx < 0.55 * (dy + r)) & (dy > -r),  # triangle, apex up
        (dist < r) & (dist > 0.55 * r),  # ring
        ((adx < 0.3 * r) & (ady < r)) | ((ady < 0.3 * r) & (adx < r)),  # plus
        adx + ady < r,  # diamond
        (adx < r) & (ady < 0.3 * r),  # bar
        (ady < r) & (adx < ady * 0.9),  # hourglass
    ]
    return tf.stack(masks)[kind]


def shapes_example(index, seed, split, size, num_classes):
    """The index-th (uint8 image [size, size, 3], label) of the shapes set."""
    key = tf.stack(
        [tf.cast(seed, tf.int64) * 3 + _SPLIT_IDS.get(split, 3), tf.cast(index, tf.int64)]
    )
    seeds = tf.random.experimental.stateless_split(key, 6)
    label = tf.random.stateless_uniform([], seeds[0], 0, num_classes, tf.int32)
    size_f = float(size)
    r = tf.random.stateless_uniform([], seeds[1], 0.18, 0.32) * size_f
    # Keep the shape inside the central crop region so random crops rarely cut it.
    center = tf.random.stateless_uniform([2], seeds[2], 0.35, 0.65) * size_f
    grid = tf.range(size, dtype=tf.float32) + 0.5
    dy, dx = grid[:, None] - center[0], grid[None, :] - center[1]
    mask = _mask(label, dx, dy, r)[..., None]
    colours = tf.random.stateless_uniform([2, 3], seeds[3], 0.0, 1.0)
    # Foreground and background differ by at least 0.35 in some channel.
    fg = colours[0]
    bg = tf.where(tf.reduce_max(tf.abs(colours[1] - fg)) < 0.35, 1.0 - fg, colours[1])
    noise = tf.random.stateless_normal([size, size, 3], seeds[4], stddev=0.06)
    image = tf.where(mask, fg, bg) + noise
    return tf.cast(tf.clip_by_value(image, 0.0, 1.0) * 255.0 + 0.5, tf.uint8), label


def shapes_dataset(split, num_examples, size, seed, num_classes=6):
    """tf.data.Dataset of (uint8 image, int32 label) for a split of the shapes set."""
    if not 2 <= num_classes <= len(SHAPE_NAMES):
        raise DataError(f"synthetic:shapes has 2 to {len(SHAPE_NAMES)} classes, not {num_classes}.")
    return tf.data.Dataset.range(num_examples).map(
        lambda i: shapes_example(i, seed, split, size, num_classes),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


RANDOM_POOL = 256  # distinct noise images that synthetic:random cycles through


def random_dataset(num_examples, size, seed, num_classes):
    """Uniform uint8 noise with uniform labels: no signal, only a throughput bound.

    The first RANDOM_POOL examples are drawn once and cached, then repeated: drawing 200k
    random numbers per image would take a share of a CPU step's time,
    and a throughput bound should measure the model and the loop, not the noise."""

    def example(i):
        key = tf.stack([tf.cast(seed, tf.int64), i])
        image = tf.random.stateless_uniform([size, size, 3], key, 0, 256, tf.int32)
        label = tf.random.stateless_uniform([], key + 1, 0, num_classes, tf.int32)
        return tf.cast(image, tf.uint8), label

    pool = tf.data.Dataset.range(min(num_examples, RANDOM_POOL)).map(example).cache()
    return pool.repeat().take(num_examples)


def open_synthetic(config, name, split, size):
    """The `Source` of synthetic:shapes or synthetic:random, images `size` pixels square."""
    n = config.synthetic_examples
    n = n if split == "train" else max(1, n // 10)
    if name == "shapes":
        classes = config.num_classes or 6
        ds = shapes_dataset(split, n, size, config.seed, classes)
        return Source(ds, SHAPE_NAMES[:classes], n)
    if name == "random":
        classes = config.num_classes or 1000
        ds = random_dataset(n, size, config.seed + (split != "train"), classes)
        return Source(ds, tuple(f"class_{i}" for i in range(classes)), n)
    raise DataError(f"Unknown synthetic source {name!r}: use synthetic:shapes or synthetic:random.")
