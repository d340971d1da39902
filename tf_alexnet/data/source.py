"""What every data source gives: a `Source` (unbatched examples and class names), by spec.

    tfds:NAME         a TFDS image-classification dataset with `image` and `label` features
    folder:PATH       one subfolder per class (class index = sorted folder name); PATH/train,
                      PATH/val|validation|test are splits if present, else PATH is split
                      "all" and train/validation are carved from it by --validation_fraction
    tfrecord:DIR      shards written by `python -m tf_alexnet.prepare`
    synthetic:shapes  coloured shapes made in-graph (no files); synthetic:random: noise

Encoded images stay strings here: decoding belongs to the preprocessing.
"""

import dataclasses

import tensorflow as tf

from tf_alexnet.config import DATA_KINDS
from tf_alexnet.errors import DataError


@dataclasses.dataclass
class Source:
    """One split of a data source, opened."""

    dataset: tf.data.Dataset  # unbatched (uint8 image or encoded string, int32 label)
    class_names: tuple
    num_examples: int = -1  # -1 when unknown
    stats_path: str = ""  # stats.json of the source, if it has one
    bad_files: tuple = ()
    # Turns a dataset element's first item into the image or encoded string. Folder sources
    # hold file names until after shuffling, so that shuffle buffers and resume skips are
    # over names, not image bytes.
    load: object = None
    # Encoded images are JPEGs of exactly square_jpeg x square_jpeg (prepared shards): they
    # need decoding only. 0: not known.
    square_jpeg: int = 0
    # Prepared shards (JPEG or raw): the side of the squares they hold. 0: not known.
    square_size: int = 0
    # Record sources: `dataset` before parsing (serialized records, in the same order) and
    # fn(records [n]) -> (images [n], labels [n]), for a pipeline that parses whole batches.
    records: tf.data.Dataset = None
    parse_batch: object = None
    # Raw fixed-length shards: their records read by index (the training stream reads each
    # batch from a fresh permutation of every record each epoch).
    random_access: "RandomAccess" = None


@dataclasses.dataclass(frozen=True)
class RandomAccess:
    """Records readable by index: read(indices int64 [n], each in 0..count-1) -> (uint8
    squares [n, S, S, 3], int32 labels [n])."""

    count: int
    read: object


def parse_spec(spec):
    """(kind, argument) of a source spec such as "folder:/data/photos"."""
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in DATA_KINDS:
        raise DataError(
            f"Unknown data source {spec!r}: use tfds:NAME, folder:PATH, "
            "tfrecord:DIR, synthetic:shapes or synthetic:random."
        )
    return kind, arg
