"""tfrecord: sources: the shards `python -m tf_alexnet.prepare` writes, checked when opened.

Two containers (`format.json` says which):
    <split>-<k>-of-<n>.tfrecord  TFRecords of tf.train.Example (image/encoded: a JPEG, or
                                 for raw shards written before "layout" the uint8 pixels;
                                 image/class/label; image/filename)
    <split>-<k>-of-<n>.raw       raw shards ("layout": "fixed"): fixed-length records of the
                                 square's uint8 pixels (size x size x 3, row-major) followed
                                 by the label as a little-endian int32; no header, no
                                 checksum. numpy reads one as
                                 np.memmap(path, raw_record_dtype(size), "r").
Each shard's records are counted (TFRecords: by walking their length headers; raw: from the
file size) and compared with the counts prepare wrote (`<split>.count`,
`<split>.shards.json`).
"""

import dataclasses
import glob
import logging
import math
import os
import struct

import numpy as np
import tensorflow as tf

from tf_alexnet.data import labels
from tf_alexnet.data.source import RandomAccess, Source
from tf_alexnet.errors import DataError
from tf_alexnet import validation

FORMAT_JSON = "format.json"  # {"format": "jpeg" | "raw", "size": 256[, "layout": "fixed"]}
SHARD_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


def read_classes(directory):
    path = os.path.join(directory, "classes.txt")
    if not os.path.exists(path):
        raise DataError(
            f"tfrecord:{directory}: no classes.txt; write shards with "
            "`python -m tf_alexnet.prepare`."
        )
    with open(path) as f:
        return tuple(line.strip() for line in f if line.strip())


@dataclasses.dataclass(frozen=True)
class ShardFormat:
    """What format.json says of a directory's shards."""

    image_format: str = "jpeg"  # jpeg | raw
    size: int = None  # the squares' side; None: JPEG shards from before format.json
    fixed: bool = False  # raw pixels in fixed-length records (.raw), not TFRecords

    @property
    def extension(self):
        return ".raw" if self.fixed else ".tfrecord"

    @property
    def record_bytes(self):
        """Bytes of one fixed-length record: the pixels, then the int32 label."""
        return self.size * self.size * 3 + 4

    def to_json(self):
        return dict(
            format=self.image_format, size=self.size, **({"layout": "fixed"} if self.fixed else {})
        )


def raw_record_dtype(size):
    """numpy's view of one fixed-length raw record."""
    return np.dtype([("image", np.uint8, (size, size, 3)), ("label", "<i4")])


def _layout_rule(d):
    if d.get("layout") == "fixed" and d["format"] != "raw":
        return f"layout \"fixed\" with format {d['format']!r} (only raw shards are fixed-length)"
    return None


# FORMAT_JSON: what the shards hold (layout absent: TFRecords).
FORMAT_SCHEMA = validation.Record(
    dict(format=validation.OneOf("jpeg", "raw"), size=validation.Range(1, 4096, integer=True)),
    dict(layout=validation.Nullable(validation.OneOf("fixed"))),
    rule=_layout_rule,
)
# SPLIT.shards.json: {shard file name: the records prepare wrote into it}.
COUNTS_SCHEMA = validation.DictOf(validation.Range(0, integer=True))


def read_format(directory):
    """The ShardFormat of `directory`'s shards (JPEG TFRecords when it has no format.json:
    shards written before it)."""
    path = os.path.join(directory, FORMAT_JSON)
    if not os.path.exists(path):
        return ShardFormat()
    d = validation.read_record(path, FORMAT_SCHEMA, DataError)
    return ShardFormat(d["format"], d["size"], d.get("layout") == "fixed")


def shard_files(directory, split):
    ext = read_format(directory).extension
    return sorted(glob.glob(os.path.join(directory, f"{split}-*-of-*{ext}")))


def count_records(path, record_bytes=0):
    """(whole records, True if the file ends inside a record) of a TFRecord file, by
    walking the records' length headers (one seek per record, no payload read), or of a
    file of fixed-length records of `record_bytes` (from its size)."""
    size, offset, count = os.path.getsize(path), 0, 0
    if record_bytes:
        return size // record_bytes, size % record_bytes != 0
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


def check_jpeg_size(directory, shard, form, parse):
    """Raises DataError when the first JPEG of `shard` is not the size format.json says
    (every record would fail its decode and a skipping pipeline would wait forever)."""
    for record in tf.data.TFRecordDataset(shard).take(1):
        try:
            shape = tf.io.extract_jpeg_shape(parse(record[None])[0][0]).numpy().tolist()
        except tf.errors.OpError:
            return  # a damaged record: the reader names it
        if shape[:2] != [form.size, form.size]:
            raise DataError(
                f"{os.path.join(directory, FORMAT_JSON)} says {form.size}x"
                f"{form.size} squares, but {shard} holds {shape[0]}x{shape[1]} "
                f"JPEGs: mend its \"size\" ({shape[0]}) or prepare the shards "
                "again."
            )


def check_record_size(directory, shard, records, record_bytes):
    """Raises DataError when a raw shard of `records` whole records of another square size
    than format.json's would give exactly its file size (an edited or foreign format.json:
    every record would be read from the wrong offset)."""
    size = os.path.getsize(shard)
    side = math.isqrt(max(0, (size // records - 4) // 3))
    if size % records == 0 and side * side * 3 + 4 == size // records != record_bytes:
        said = math.isqrt((record_bytes - 4) // 3)
        raise DataError(
            f"{os.path.join(directory, FORMAT_JSON)} says {said}x{said} squares, "
            f"but {shard} holds {records} records of {side}x{side} ({size} "
            f"bytes): mend its \"size\" ({side}) or prepare the shards again."
        )


def checked_shards(config, directory, split, files, record_bytes=0):
    """{shard: records to read}: every shard's whole records, checked against the counts
    prepare wrote. A shard cut short is an error with --on_bad_image=fail, else a warning
    naming it ("read N of M records"); only its whole records are read."""
    path = os.path.join(directory, f"{split}.shards.json")
    expected = {}
    if os.path.exists(path):
        expected = validation.read_record(path, COUNTS_SCHEMA, DataError)
    found, problems = {}, []
    for shard in files:
        count, cut = count_records(shard, record_bytes)
        found[shard] = count
        want = expected.get(os.path.basename(shard))
        if record_bytes and want:
            check_record_size(directory, shard, want, record_bytes)
        if want is not None and count > want:
            problems.append(
                f"{shard} holds {count} records, {count - want} more than the {want} prepare wrote"
            )
        elif cut or (want is not None and count != want):
            of = f" of {want}" if want is not None else ""
            problems.append(f"{shard} ends early: read {count}{of} records")
    announced = os.path.join(directory, f"{split}.count")
    total = int(open(announced).read()) if os.path.exists(announced) else -1
    if not problems and total >= 0 and sum(found.values()) != total:
        problems.append(
            f"tfrecord:{directory} split {split!r}: read {sum(found.values())} of "
            f"the {total} records {split}.count announces"
        )
    for problem in problems:
        if config.on_bad_image == "fail":
            raise DataError(f"{problem} (--on_bad_image=fail).")
        logging.warning("%s; using the whole records.", problem)
    return found, total


def open_records(config, directory, split):
    classes = read_classes(directory)
    form = read_format(directory)
    files = shard_files(directory, split)
    if not files:
        raise DataError(f"tfrecord:{directory}: no {split}-*-of-*{form.extension} shards.")
    record_bytes = form.record_bytes if form.fixed else 0
    records, total = checked_shards(config, directory, split, files, record_bytes)
    # Bytes after a shard's whole records: a raw shard cut inside a record (the reader
    # refuses a body that is not a multiple of the record, so that part is its "footer").
    tails = [os.path.getsize(f) - records[f] * record_bytes if record_bytes else 0 for f in files]
    ds = tf.data.Dataset.from_tensor_slices(
        (files, tf.constant([records[f] for f in files], tf.int64), tf.constant(tails, tf.int64))
    )
    if split == "train":
        ds = ds.shuffle(len(files), seed=config.seed)
    if form.fixed:

        def records_of(f, n, tail):
            return tf.data.FixedLengthRecordDataset(f, record_bytes, footer_bytes=tail)
    else:

        def records_of(f, n, tail):
            return tf.data.TFRecordDataset(f).take(n)

    def read(f, n, tail):  # (record, shard, index in the shard): labels are checked by name
        return tf.data.Dataset.zip(
            (
                records_of(f, n, tail),
                tf.data.Dataset.from_tensors(f).repeat(),
                tf.data.Dataset.range(n),
            )
        )

    ds = ds.interleave(
        read,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )

    parse, check = record_parser(form), (len(classes), config.on_bad_image)
    if form.image_format == "jpeg" and form.size:
        check_jpeg_size(directory, files[0], form, parse)

    def parse_one(record, shard, index):
        image, label = tf.nest.map_structure(lambda t: t[0], parse(record[None]))
        return image, label, shard, index

    def parse_batch(records, shards, indices):
        return labels.checked_batch(*parse(records), shards, indices, *check)

    stats = os.path.join(directory, "stats.json")
    return Source(
        labels.checked_records(ds.map(parse_one, num_parallel_calls=tf.data.AUTOTUNE), *check),
        classes,
        total,
        stats_path=stats if os.path.exists(stats) else "",
        square_jpeg=form.size if form.image_format == "jpeg" and form.size else 0,
        square_size=form.size or 0,
        # Training reads fixed-length raw shards by index, others a batch at a time.
        records=None if form.fixed else ds,
        parse_batch=None if form.fixed else parse_batch,
        random_access=raw_reader(files, records, form.size, check) if form.fixed else None,
    )


def _aligned_empty(shape):
    """An uninitialized uint8 array at a 64-byte boundary: TensorFlow takes such a
    numpy_function result as the tensor's memory (no copy); an unaligned one it copies,
    into memory the kernel must first zero (the batch is 50 MB: fresh pages each time)."""
    n = int(np.prod(shape))
    raw = np.empty(n + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + n].reshape(shape)


def raw_reader(files, counts, size, check=(0, "skip")):
    """RandomAccess to the records of the fixed-length raw `files` (their whole records,
    `counts[file]` each; index 0 is the first file's first record), read through read-only
    memory maps.

    Why not a tf.data reader: one copy per image (page cache -> the batch TensorFlow
    takes as it is) where FixedLengthRecordDataset + shuffle + batch + decode_raw make
    four, the last two from a shuffle buffer no longer in cache (docs/performance.md).
    numpy copies without the GIL, so parallel map calls overlap. Being a numpy_function,
    it runs in the process that built the pipeline (every strategy here does; a tf.data
    service could not serialize it). `check`: (classes, --on_bad_image) for the labels
    (data/labels.py; 0 classes: not checked)."""
    kept = [f for f in files if counts[f]]
    maps = [np.memmap(f, raw_record_dtype(size), "r", shape=(counts[f],)) for f in kept]
    starts = np.cumsum([0] + [len(m) for m in maps])
    names = tf.constant(kept or [""])

    def gather(indices):
        shard = np.searchsorted(starts, indices, side="right") - 1
        local = indices - starts[shard]
        images = _aligned_empty((len(indices), size, size, 3))
        found = np.empty(len(indices), np.int32)
        for j, (s, i) in enumerate(zip(shard, local)):
            record = maps[s][i]
            images[j], found[j] = record["image"], record["label"]
        return images, found, shard.astype(np.int32), local.astype(np.int64)

    def read(indices):
        images, found, shard, local = tf.numpy_function(
            gather, [indices], (tf.uint8, tf.int32, tf.int32, tf.int64), stateful=False
        )
        n = indices.shape[0]
        images, found = tf.ensure_shape(images, [n, size, size, 3]), tf.ensure_shape(found, [n])
        if check[0]:
            images, found = labels.checked_batch(
                images, found, tf.gather(names, shard), local, *check
            )
        return images, found

    return RandomAccess(int(starts[-1]), read)


def record_parser(form):
    """fn(serialized records [n]) -> (images [n], int32 labels [n]) for shards of ShardFormat
    `form`: the encoded JPEGs, or for raw shards their uint8 pixels [n, size, size, 3] (no
    decoding at all). The training pipeline parses raw TFRecords a batch at a time (faster
    than one parse per record: `bench data`); fixed-length raw shards it reads by index
    instead (raw_reader)."""
    if form.fixed:
        pixels = form.record_bytes - 4

        def parse_fixed(records):
            # decode_raw's fixed_length keeps the first `pixels` bytes: one copy, no slice.
            image = tf.io.decode_raw(records, tf.uint8, fixed_length=pixels)
            label = tf.io.decode_raw(
                tf.strings.substr(records, pixels, 4), tf.int32, little_endian=True
            )
            return tf.reshape(image, [-1, form.size, form.size, 3]), tf.reshape(label, [-1])

        return parse_fixed

    def parse(records):
        ex = tf.io.parse_example(records, SHARD_FEATURES)
        image = ex["image/encoded"]
        if form.image_format == "raw":
            image = tf.reshape(tf.io.decode_raw(image, tf.uint8), [-1, form.size, form.size, 3])
        return image, tf.cast(ex["image/class/label"], tf.int32)

    return parse
