"""tfrecord: sources: the shards `python -m tf_alexnet.prepare` writes, checked when opened.

Each shard's records are counted by walking their length headers and compared with the
counts prepare wrote (`<split>.count`, `<split>.shards.json`).
"""

import glob
import json
import logging
import os
import struct

import tensorflow as tf

from tf_alexnet.data.source import Source
from tf_alexnet.errors import DataError, read_json

FORMAT_JSON = "format.json"  # {"format": "jpeg" | "raw", "size": 256}; absent: jpeg
SHARD_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


def read_classes(directory):
    path = os.path.join(directory, "classes.txt")
    if not os.path.exists(path):
        raise DataError(f"tfrecord:{directory}: no classes.txt; write shards with "
                        "`python -m tf_alexnet.prepare`.")
    with open(path) as f:
        return tuple(line.strip() for line in f if line.strip())


def read_format(directory):
    """(format, size) of the shards of `directory`: ("jpeg", None) for shards written
    before format.json."""
    path = os.path.join(directory, FORMAT_JSON)
    if not os.path.exists(path):
        return "jpeg", None
    d = read_json(path, DataError)
    if d.get("format") not in ("jpeg", "raw") or not isinstance(d.get("size"), int):
        raise DataError(f"{path}: damaged ({d}).")
    return d["format"], d["size"]


def shard_files(directory, split):
    return sorted(glob.glob(os.path.join(directory, f"{split}-*-of-*.tfrecord")))


def count_records(path):
    """(whole records, True if the file ends inside a record) of a TFRecord file, by
    walking the records' length headers (one seek per record, no payload read)."""
    size, offset, count = os.path.getsize(path), 0, 0
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(8)
            if len(header) < 8:
                return count, True
            end = offset + 12 + struct.unpack("<Q", header)[0] + 4
            if end > size:
                return count, True
            count, offset = count + 1, end
    return count, False


def checked_shards(config, directory, split, files):
    """{shard: records to read}: every shard's whole records, checked against the counts
    prepare wrote. A shard cut short is an error with --on_bad_image=fail, else a warning
    naming it ("read N of M records"); only its whole records are read."""
    path = os.path.join(directory, f"{split}.shards.json")
    expected = {}
    if os.path.exists(path):
        with open(path) as f:
            expected = json.load(f)
    found, problems = {}, []
    for shard in files:
        count, cut = count_records(shard)
        found[shard] = count
        want = expected.get(os.path.basename(shard))
        if cut or (want is not None and count != want):
            of = f" of {want}" if want is not None else ""
            problems.append(f"{shard} ends early: read {count}{of} records")
    announced = os.path.join(directory, f"{split}.count")
    total = int(open(announced).read()) if os.path.exists(announced) else -1
    if not problems and total >= 0 and sum(found.values()) != total:
        problems.append(f"tfrecord:{directory} split {split!r}: read {sum(found.values())} of "
                        f"the {total} records {split}.count announces")
    for problem in problems:
        if config.on_bad_image == "fail":
            raise DataError(f"{problem} (--on_bad_image=fail).")
        logging.warning("%s; using the whole records.", problem)
    return found, total


def open_records(config, directory, split):
    classes = read_classes(directory)
    files = shard_files(directory, split)
    if not files:
        raise DataError(f"tfrecord:{directory}: no {split}-*-of-*.tfrecord shards.")
    records, total = checked_shards(config, directory, split, files)
    ds = tf.data.Dataset.from_tensor_slices(
        (files, tf.constant([records[f] for f in files], tf.int64)))
    if split == "train":
        ds = ds.shuffle(len(files), seed=config.seed)
    ds = ds.interleave(lambda f, n: tf.data.TFRecordDataset(f).take(n),
                       cycle_length=min(len(files), 8),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    image_format, size = read_format(directory)
    parse = record_parser(image_format, size)
    stats = os.path.join(directory, "stats.json")
    return Source(ds.map(lambda r: tf.nest.map_structure(lambda t: t[0], parse(r[None])),
                         num_parallel_calls=tf.data.AUTOTUNE),
                  classes, total, stats_path=stats if os.path.exists(stats) else "",
                  square_jpeg=size if image_format == "jpeg" and size else 0,
                  records=ds, parse_batch=parse)


def record_parser(image_format, size):
    """fn(serialized records [n]) -> (images [n], int32 labels [n]): the encoded JPEGs, or
    for raw shards their uint8 pixels [n, size, size, 3] (no decoding at all). The training
    pipeline parses raw records a batch at a time: 1.3x the images a second of one parse
    per record (bench data, 991 photos in 8 raw shards, 2 cores)."""
    def parse(records):
        ex = tf.io.parse_example(records, SHARD_FEATURES)
        image = ex["image/encoded"]
        if image_format == "raw":
            image = tf.reshape(tf.io.decode_raw(image, tf.uint8), [-1, size, size, 3])
        return image, tf.cast(ex["image/class/label"], tf.int32)
    return parse
