"""The input pipeline: configs -> (batched, prefetched tf.data.Dataset, DataInfo).

    train_dataset(source, augment, split)                 the endless augmented stream
    eval_dataset(source, evaluation, split, preprocessing) one pass of evaluation crops

Pure functions of their arguments: the same configs, split and start give the same batches.
Each returns a frozen `DataInfo` beside the dataset (class names, counts, statistics, bad
files, and the opened split, so that a second pipeline over it lists nothing again).
"""

import dataclasses
import logging

import tensorflow as tf

from tf_alexnet.data import augment as augment_lib
from tf_alexnet.data import crops
from tf_alexnet.data.decode import decode_square
from tf_alexnet.data.folder import folder_files, open_folder
from tf_alexnet.data.records import open_records, read_format, shard_files
from tf_alexnet.data.source import parse_spec
from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.data.synthetic import open_synthetic
from tf_alexnet.data.tfds_source import open_tfds
from tf_alexnet.errors import DataError, describe

_PARALLEL = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What a pipeline knows about its split."""

    class_names: tuple
    num_examples: int  # -1 when unknown
    stats: Stats  # the statistics its transform uses
    bad_files: tuple = ()  # (path, reason) left out when listed
    opened: object = dataclasses.field(default=None, compare=False, repr=False)  # Source


def open_split(source, split, size):
    """The `Source` of `split` of `source` (a SourceConfig); synthetic images are `size`
    pixels square."""
    kind, arg = parse_spec(source.source)
    if source.classes and kind != "folder":
        raise DataError(
            f"--classes selects class folders of a folder: source, not of {source.source}."
        )
    if kind == "synthetic":
        return open_synthetic(source, arg, split, size)
    return {"tfds": open_tfds, "folder": open_folder, "tfrecord": open_records}[kind](
        source, arg, split
    )


def resolve_stats(setting, opened):
    """The statistics `setting` asks for: a stats.json path, "imagenet", or "auto" (the
    opened source's own stats.json when it has one, else the ImageNet constants)."""
    if setting == "imagenet" or (setting == "auto" and not opened.stats_path):
        return Stats()
    return Stats.load(opened.stats_path if setting == "auto" else setting)


def _drop_bad(ds, source, training):
    if source.on_bad_image == "skip":
        # Corruption that the file check cannot see (bad data inside a whole JPEG) fails the
        # decode; the example is dropped. Evaluation logs it; the endless training stream
        # does not, because ignore_errors(log_warning=True) there made the process slow to
        # exit after a long run (the quickstart's, tens of seconds).
        ds = ds.ignore_errors(log_warning=not training)
    return ds


def _info(source, opened, stats, split, fresh):
    if opened.bad_files and fresh:
        logging.warning(
            "%s: %d bad image(s) left out of split %r.", source.source, len(opened.bad_files), split
        )
    return DataInfo(opened.class_names, opened.num_examples, stats, opened.bad_files, opened)


def _square_fn(augment, source, opened):
    """The per-example map from a source element to its uint8 resize x resize square, or
    None when the elements are such squares already (synthetic sources, raw shards)."""
    size = augment.resize
    spec = opened.dataset.element_spec[0]
    if spec.dtype == tf.uint8 and spec.shape.as_list() == [size, size, 3]:
        return None
    if opened.square_jpeg == size:  # prepared JPEG shards: squares already, only decode
        return lambda x: tf.ensure_shape(tf.io.decode_jpeg(x, channels=3), [size, size, 3])
    return augment_lib.make_square(augment, source.max_megapixels * 1e6)


def check_square_size(source, opened, augment):
    """Prepared shards hold squares of one side: training needs the run's resize side, or
    its crops would be taken from squares of another scale (of raw shards, from their
    top-left corner). Raises DataError naming both sizes and what to do."""
    side, want = opened.square_size, augment.resize
    if side and side != want:
        raise DataError(
            f"{source.source} holds {side}x{side} squares (its format.json); this run needs "
            f"{want}x{want} (--image_size {augment.image_size}, --resize_size "
            f"{augment.resize_size}). Prepare shards of that size (python -m "
            f"tf_alexnet.prepare --resize_size {want} ...), or train with --resize_size "
            f"{side}."
        )


def train_dataset(source, augment, split="train", start_example=0, opened=None):
    """(dataset, DataInfo) of the endless shuffled training stream.

    Batches are (features, labels int32 [B]) with features = {"image": uint8 [B, R, R, 3]
    squares (R = augment.resize), "offset", "flip", "alpha"}: the host decodes and resizes,
    nothing more, and draws each batch's augmentation at once
    (data.augment.make_batch_draws); the crop, flip, lighting and mean subtraction run on
    the training device (data.augment.make_augment_on_device). `start_example` skips that
    many examples of the stream (resume); the draws are keyed by the index of a batch's
    first example in the stream, so resuming at a batch boundary sees exactly what an
    uninterrupted run sees from there on.
    `opened`: the split's `Source` when already opened (a folder is listed once)."""
    source.validate()
    augment.validate()
    fresh, opened = opened is None, opened or open_split(source, split, augment.resize)
    check_square_size(source, opened, augment)
    stats = resolve_stats(augment.stats, opened)
    batch, draws = augment.batch_size, augment_lib.make_batch_draws(augment, source.seed)
    if opened.random_access is not None:
        ds = _permuted_batches(opened.random_access, batch, source.seed, start_example)
    else:
        ds = _shuffled_batches(source, augment, opened, start_example)
    ds = ds.enumerate()
    ds = ds.map(
        lambda b, xy: ({"image": xy[0], **draws(start_example + b * batch, batch)}, xy[1]),
        **_PARALLEL,
    )
    return ds.prefetch(tf.data.AUTOTUNE), _info(source, opened, stats, split, fresh)


def _permuted_batches(records, batch, seed, start_example):
    """(squares, labels) batches of RandomAccess `records`: stream position p is record
    RandomIndexShuffle(p mod N) of epoch p // N's permutation of all N records, keyed by
    (seed, epoch): every record once an epoch, a whole-split shuffle (no buffer, so
    --shuffle_buffer and --cache_train change nothing), and any start costs nothing to
    reach."""
    n = records.count
    if n <= 0:
        raise DataError("No whole records to train on.")

    def read(first):
        position = first + tf.range(batch, dtype=tf.int64)
        epoch = position // n
        keys = tf.stack(
            [tf.fill([batch], tf.constant(seed, tf.int64)), epoch, tf.zeros([batch], tf.int64)],
            axis=1,
        )
        index = tf.raw_ops.RandomIndexShuffle(
            index=position % n, seed=keys, max_index=tf.constant(n - 1, tf.int64)
        )
        return records.read(index)

    return tf.data.Dataset.range(start_example, 2**62, batch).map(read, **_PARALLEL)


def _shuffled_batches(source, augment, opened, start_example):
    """(squares, labels) batches of a streamed source: a shuffle buffer (folders: all file
    names), repeated, `start_example` skipped, decoded and batched."""
    square = _square_fn(augment, source, opened)
    load = opened.load or (lambda x: x)

    def squares(ds):
        return _drop_bad(ds.map(lambda x, y: (square(load(x)), y), **_PARALLEL), source, True)

    buffer = opened.num_examples if opened.load else augment.shuffle_buffer
    buffer = max(1, min(buffer if buffer > 0 else augment.shuffle_buffer, 1_000_000))
    # Raw shards already hold the squares: their records are parsed a batch at a time.
    batch_parse = square is None and opened.parse_batch is not None and not augment.cache_train
    ds = opened.records if batch_parse else opened.dataset
    if augment.cache_train:
        # Decoded once, in the source's order, before the shuffle: the stream's order is
        # the same as without the cache (the shuffle does not look at the elements).
        ds = (squares(ds) if square else ds).cache()
    ds = ds.shuffle(buffer, seed=source.seed, reshuffle_each_iteration=True)
    ds = ds.repeat().skip(start_example)
    if square and not augment.cache_train:
        ds = squares(ds)
    ds = ds.batch(augment.batch_size, drop_remainder=True)
    if batch_parse:  # a record that does not parse drops its batch (skip mode)
        ds = _drop_bad(ds.map(opened.parse_batch, **_PARALLEL), source, True)
    return ds


def eval_dataset(source, evaluation, split, preprocessing=None, sample=False, opened=None):
    """(dataset, DataInfo) of one pass over `split`: float32 images [B, S, S, 3] (center
    crop) or [B, 10, S, S, 3] (ten crops), fully preprocessed; the last batch may be smaller.

    preprocessing: a trained model's `Preprocessing` (sizes, mean, statistics); default the
      paper's sizes with the source's own statistics (or ImageNet's).
    sample: the examples in a seeded random order instead of the source's (folders list
      class by class), the same on every pass: a sample of the split, e.g. int8 calibration
      images, or the --eval_examples of a training run's evaluations."""
    source.validate()
    evaluation.validate()
    size = preprocessing.resize if preprocessing else Preprocessing().resize
    fresh, opened = opened is None, opened or open_split(source, split, size)
    preprocessing = preprocessing or Preprocessing(stats=resolve_stats("auto", opened))
    transform = crops.make_eval_preprocess(
        preprocessing, evaluation.eval_crops, source.max_megapixels * 1e6
    )
    load = opened.load or (lambda x: x)
    ds = opened.dataset
    if sample:  # file names (folders) are cheap to shuffle all; records, 1,000 at a time
        # The same order on every pass: repeated evaluations score the same sample.
        ds = ds.shuffle(
            max(1, opened.num_examples) if opened.load else 1000,
            seed=source.seed,
            reshuffle_each_iteration=False,
        )
    ds = _drop_bad(ds.map(lambda x, y: (transform(load(x)), y), **_PARALLEL), source, False)
    if evaluation.cache_eval:
        ds = ds.cache()
    ds = ds.batch(evaluation.batch_size).prefetch(tf.data.AUTOTUNE)
    return ds, _info(source, opened, preprocessing.stats, split, fresh)


def explain_failure(source, splits, error, size=None):
    """With --on_bad_image=fail, the line naming the file behind a pipeline error (which
    TensorFlow's message does not name): the first image of `splits` that does not decode
    (at `size`, default the paper's 256), or the first shard whose records do not read.
    None when there is nothing to add."""
    size = size or Preprocessing().resize
    if (
        source.on_bad_image != "fail"
        or not source.source
        or not isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.DataLossError))
    ):
        return None
    kind, arg = parse_spec(source.source)
    for split in filter(None, splits):
        if kind == "folder":
            for path in folder_files(source, arg, split)[0]:
                try:
                    decode_square(tf.io.read_file(path), size, source.max_megapixels * 1e6)
                except tf.errors.OpError as e:
                    return f"Bad image {path}: {describe(e)} (--on_bad_image=fail)."
        elif kind == "tfrecord" and not read_format(arg).fixed:  # raw: checked when opened
            for shard in shard_files(arg, split):
                read = 0
                try:
                    for _ in tf.data.TFRecordDataset(shard):
                        read += 1
                except tf.errors.DataLossError as e:
                    return (
                        f"{shard}: record {read + 1} cannot be read ({describe(e)}) "
                        "(--on_bad_image=fail)."
                    )
    return None
