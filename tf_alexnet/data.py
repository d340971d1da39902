"""`make_dataset`: config -> batched, prefetched tf.data.Dataset of (images, labels).

A pure function of its arguments: the same config, split and start gives the same batches.
Sources are in tf_alexnet/sources.py, the per-image transforms in tf_alexnet/preprocess.py.
"""

import logging

import tensorflow as tf

from tf_alexnet import preprocess
from tf_alexnet.sources import DataError, open_source  # noqa: F401  (DataError re-exported)


def resolve_stats(config, source):
    """The statistics the config asks for: a stats.json path, "imagenet", or "auto" (the
    source's own stats.json when it has one, else the ImageNet constants)."""
    if config.stats == "imagenet" or (config.stats == "auto" and not source.stats_path):
        return preprocess.Stats()
    path = source.stats_path if config.stats == "auto" else config.stats
    try:
        return preprocess.Stats.load(path)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"--stats {path}: cannot read dataset statistics ({e}).") from None


def make_dataset(config, split, training, start_example=0, preprocessing=None):
    """Batched, prefetched (features, labels int32 [B]).

    Training: features = {"image": uint8 [B, S, S, 3] random crops, "offset", "flip",
    "alpha"} over an endless shuffled stream; the flip, lighting and mean subtraction run on
    the training device (preprocess.make_augment_on_device). Evaluation: float32 images
    [B, S, S, 3] or [B, 10, S, S, 3], fully preprocessed, one pass in order (the last batch
    may be smaller).

    Args:
      config: a `DataConfig`.
      split: "train", "validation", "test" or "all" (as the source has them).
      training: the training stream, or the evaluation crops (above).
      start_example: training only: skip this many examples of the stream (resume).
        Augmentation is seeded by (seed, index in the stream), so resuming at example k
        sees exactly what an uninterrupted run sees from k on.

    The returned dataset carries `class_names`, `num_examples` and `stats` attributes.
    """
    config.validate()
    source = open_source(config, split)
    stats = resolve_stats(config, source)
    ds = source.dataset
    load = source.load or (lambda x: x)
    parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training:
        train_crop = preprocess.make_train_crop(config)
        buffer = source.num_examples if source.load else config.shuffle_buffer
        buffer = max(1, min(buffer if buffer > 0 else config.shuffle_buffer, 1_000_000))
        ds = ds.shuffle(buffer, seed=config.seed, reshuffle_each_iteration=True).repeat()
        ds = ds.enumerate().skip(start_example)
        ds = ds.map(lambda i, ex: (train_crop(load(ex[0]), tf.stack([config.seed, i])), ex[1]),
                    **parallel)
        drop = True
    else:
        eval_fn = preprocess.make_eval_preprocess(
            preprocessing or config.preprocessing(stats), config.eval_crops)
        ds = ds.map(lambda x, y: (eval_fn(load(x)), y), **parallel)
        drop = False
    if config.on_bad_image == "skip":
        # Corruption that the file check cannot see (bad data inside a whole JPEG) fails the
        # decode; the example is dropped. Evaluation logs it; the endless training stream
        # does not, because ignore_errors(log_warning=True) there made the process take up
        # to 45 s to exit after a 13-epoch run (measured on the quickstart).
        ds = ds.ignore_errors(log_warning=not training)
    if not training and config.cache_eval:
        ds = ds.cache()
    ds = ds.batch(config.batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)
    ds.class_names = source.class_names
    ds.num_examples = source.num_examples
    ds.stats = stats
    if source.bad_files:
        logging.warning("%s: %d bad image(s) left out of split %r.", config.source,
                        len(source.bad_files), split)
    ds.bad_files = source.bad_files
    return ds
