"""`make_dataset`: config -> batched, prefetched tf.data.Dataset of (images, labels).

A pure function of its arguments: the same config, split and start gives the same batches.
Sources are in tf_alexnet/sources.py, the per-image transforms in tf_alexnet/preprocess.py.
"""

import logging

import tensorflow as tf

from tf_alexnet import preprocess
from tf_alexnet.cli import describe
from tf_alexnet.sources import (DataError, folder_files, open_source,  # noqa: F401
                                parse_spec, shard_files)


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


_PARALLEL = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _training_examples(config, source, start_example):
    """The endless shuffled stream of (train_crop features, label) from `start_example`."""
    train_crop = preprocess.make_train_crop(config)
    load = source.load or (lambda x: x)
    buffer = source.num_examples if source.load else config.shuffle_buffer
    buffer = max(1, min(buffer if buffer > 0 else config.shuffle_buffer, 1_000_000))
    ds = source.dataset.shuffle(buffer, seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.repeat().enumerate().skip(start_example)
    return ds.map(lambda i, ex: (train_crop(load(ex[0]), tf.stack([config.seed, i])), ex[1]),
                  **_PARALLEL)


def _evaluation_examples(config, source, preprocessing, sample):
    """One pass of (evaluation crops, label), in order or (`sample`) seeded random order."""
    eval_fn = preprocess.make_eval_preprocess(preprocessing, config.eval_crops,
                                              config.max_megapixels * 1e6)
    load = source.load or (lambda x: x)
    ds = source.dataset
    if sample:  # file names (folders) are cheap to shuffle all; records, 1,000 at a time
        ds = ds.shuffle(max(1, source.num_examples) if source.load else 1000, seed=config.seed)
    return ds.map(lambda x, y: (eval_fn(load(x)), y), **_PARALLEL)


def make_dataset(config, split, training, start_example=0, preprocessing=None,
                 sample=False, source=None):
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
      preprocessing: evaluation only: a trained model's `Preprocessing` (sizes, mean,
        statistics), used instead of the config's.
      sample: evaluation only: the examples in a seeded random order instead of the
        source's (folders list class by class): a sample of the split, e.g. int8
        calibration images.
      source: the split's `Source` when already opened (a folder is listed once).

    The returned dataset carries `class_names`, `num_examples` and `stats` attributes.
    """
    config.validate()
    opened, source = source is None, source or open_source(config, split)
    stats = preprocessing.stats if preprocessing else resolve_stats(config, source)
    if training:
        ds = _training_examples(config, source, start_example)
    else:
        ds = _evaluation_examples(config, source, preprocessing or config.preprocessing(stats),
                                  sample)
    if config.on_bad_image == "skip":
        # Corruption that the file check cannot see (bad data inside a whole JPEG) fails the
        # decode; the example is dropped. Evaluation logs it; the endless training stream
        # does not, because ignore_errors(log_warning=True) there made the process take up
        # to 45 s to exit after a 13-epoch run (measured on the quickstart).
        ds = ds.ignore_errors(log_warning=not training)
    if not training and config.cache_eval:
        ds = ds.cache()
    ds = ds.batch(config.batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
    ds.class_names = source.class_names
    ds.num_examples = source.num_examples
    ds.stats = stats
    ds.source = source
    if source.bad_files and opened:
        logging.warning("%s: %d bad image(s) left out of split %r.", config.source,
                        len(source.bad_files), split)
    ds.bad_files = source.bad_files
    return ds


def explain_failure(config, splits, error):
    """With --on_bad_image=fail, the line naming the file behind a pipeline error (which
    TensorFlow's message does not name): the first image of `splits` that does not decode,
    or the first shard whose records do not read. None when there is nothing to add."""
    if (config.on_bad_image != "fail" or not isinstance(
            error, (tf.errors.InvalidArgumentError, tf.errors.DataLossError))):
        return None
    kind, arg = parse_spec(config.source)
    for split in filter(None, splits):
        if kind == "folder":
            for path in folder_files(config, arg, split)[0]:
                try:
                    preprocess.decode_square(tf.io.read_file(path), config.resize,
                                             config.max_megapixels * 1e6)
                except tf.errors.OpError as e:
                    return f"Bad image {path}: {describe(e)} (--on_bad_image=fail)."
        elif kind == "tfrecord":
            for shard in shard_files(arg, split):
                read = 0
                try:
                    for _ in tf.data.TFRecordDataset(shard):
                        read += 1
                except tf.errors.DataLossError as e:
                    return (f"{shard}: record {read + 1} cannot be read ({describe(e)}) "
                            "(--on_bad_image=fail).")
    return None
