"""The paper's offline step: every image to 256 x 256, as sharded TFRecords, with statistics.

Each image's shorter side is resized to 256 and the central 256 x 256 kept (§2 of the
paper), re-encoded as JPEG into `DIR/<split>-<k>-of-<n>.tfrecord` (features image/encoded,
image/class/label, image/filename) or, with --format=raw, as its uint8 pixels and label in
fixed-length records of `DIR/<split>-<k>-of-<n>.raw` (data/records.py; `format.json` says
which). Shards are written in parallel; a shard is written to a
temporary name and renamed when complete, so rerunning after an interruption keeps the
finished shards and redoes only the others. Alongside: `classes.txt`, `<split>.count`,
`bad_files.txt`, `<split>.checksums.json` (data/checksums.py: `prepare --verify DIR`), and,
from the training split (or the only split), `stats.json` and
`mean_image.npy`:

    num_images, mean_rgb, std_rgb (0..255), pca_eigenvalues (descending) and
    pca_eigenvectors (3x3, columns are eigenvectors) of the RGB covariance of pixels in
    [0, 1] -- the units of the published ImageNet constants.

Statistics are summed per shard (float64) and combined; no dataset is held in memory.
"""

import concurrent.futures
import json
import logging
import math
import os
import struct
import sys
import threading

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet.data.checksums import write_checksums
from tf_alexnet.data.decode import decode_square
from tf_alexnet.data.folder import folder_splits
from tf_alexnet.data.pipeline import open_split
from tf_alexnet.data.records import FORMAT_JSON, ShardFormat, read_format
from tf_alexnet.data.source import parse_spec
from tf_alexnet.data.stats import Stats
from tf_alexnet.errors import DataError, describe
from tf_alexnet.lock import exclusive


def shard_format(image_format, size):
    """The ShardFormat prepare writes: JPEG TFRecords, or raw fixed-length records (the
    cheapest to read: no checksum, no proto, one copy to parse; docs/data.md)."""
    return ShardFormat(image_format, int(size), fixed=image_format == "raw")


def write_format(output, form):
    """FORMAT_JSON, refusing a directory whose shards are of another format or size (a
    rerun keeps finished shards: they must be what this run would write)."""
    path = os.path.join(output, FORMAT_JSON)
    want = form.to_json()
    if os.path.exists(path):
        have = read_format(output).to_json()
        if have != want:
            raise DataError(
                f"{output} holds shards of {have}; this run writes {want}. Use another --output."
            )
    with open(path, "w") as f:
        json.dump(want, f)


def default_splits(source):
    """The splits prepare writes when --splits is empty."""
    kind, arg = parse_spec(source.source)
    if kind == "folder" and folder_splits(arg):
        return tuple(folder_splits(arg))
    return ("train", "validation")


def make_processor(size, quality, max_pixels, squash=False):
    """tf.function: encoded image -> (JPEG of the 256 square at `quality`, or "" when
    quality is 0 (raw shards), pixel sums, outer products, the square itself as float64 for
    the mean image). `squash`: the whole image resized to the square (Caffe's
    convert_imageset), not its central square."""

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def process(encoded):
        square = decode_square(encoded, size, max_pixels, squash)
        pixels = tf.round(tf.clip_by_value(square, 0.0, 255.0))
        jpeg = (
            tf.io.encode_jpeg(tf.cast(pixels, tf.uint8), quality=quality)
            if quality
            else tf.constant("")
        )
        # Statistics of what is stored (the re-encoded pixels would add JPEG noise only).
        flat = tf.reshape(tf.cast(pixels, tf.float64) / 255.0, [-1, 3])
        return jpeg, tf.reduce_sum(flat, 0), tf.matmul(flat, flat, transpose_a=True), pixels

    return process


def _example(jpeg, label, name):
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image/filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class _FixedRecordWriter:
    """Appends fixed-length raw records (pixels, then the int32 label) to a file."""

    def __init__(self, path):
        self._file = open(path, "wb")

    def write(self, pixels, label):
        self._file.write(pixels)
        self._file.write(struct.pack("<i", label))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


class _ExampleWriter(tf.io.TFRecordWriter):
    """TFRecords of tf.train.Example (image/encoded, image/class/label, image/filename)."""

    def write(self, payload, label, name):
        super().write(_example(payload, label, name))


def write_shard(source, split, index, num_shards, cfg, process, progress):
    """Writes one shard (if not already complete); returns its statistics' file."""
    form = shard_format(cfg.image_format, cfg.augment.resize)
    name = os.path.join(cfg.output, f"{split}-{index:05d}-of-{num_shards:05d}{form.extension}")
    stats_path = name + ".stats.npz"
    if os.path.exists(name) and os.path.exists(stats_path):
        progress(int(np.load(stats_path)["examples"]))
        return stats_path
    size = cfg.augment.resize
    count, pixels, s, outer = 0, 0, np.zeros(3), np.zeros((3, 3))
    image_sum = np.zeros((size, size, 3))
    bad = []
    load = source.load or (lambda x: x)
    writer = _FixedRecordWriter(name + ".tmp") if form.fixed else _ExampleWriter(name + ".tmp")
    with writer:
        for position, (x, label) in enumerate(source.dataset.shard(num_shards, index)):
            file_name = (
                x.numpy().decode() if source.load else f"{split}[{position * num_shards + index}]"
            )
            try:
                jpeg, psum, pouter, square = process(load(x))
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
                reason = describe(e)[:300]
                if cfg.source.on_bad_image == "fail":
                    raise DataError(
                        f"Bad image {file_name}: {reason} (--on_bad_image=fail)."
                    ) from None
                logging.warning("Skipping bad image %s: %s", file_name, reason)
                bad.append(f"{file_name}\t{reason}")
                progress(1)
                continue
            if form.fixed:
                writer.write(square.numpy().astype(np.uint8).tobytes(), int(label))
            else:
                writer.write(jpeg.numpy(), int(label), os.path.basename(file_name).encode())
            count += 1
            pixels += size * size
            s += psum.numpy()
            outer += pouter.numpy()
            image_sum += square.numpy()
            progress(1)
    np.savez(
        stats_path,
        examples=count + len(bad),
        images=count,
        pixels=pixels,
        sum=s,
        outer=outer,
        image_sum=image_sum,
        bad=np.array(bad, dtype=str),
    )
    os.replace(name + ".tmp", name)
    return stats_path


def combine_stats(paths):
    """(Stats with the mean image, extra stats.json keys) from per-shard sums."""
    parts = [np.load(p) for p in paths]
    images = sum(int(p["images"]) for p in parts)
    if images == 0:
        raise DataError("No readable images: nothing to compute statistics from.")
    pixels = sum(int(p["pixels"]) for p in parts)
    mean = sum(p["sum"] for p in parts) / pixels
    cov = sum(p["outer"] for p in parts) / pixels - np.outer(mean, mean)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = eigval[order], eigvec[:, order]
    mean_image = (sum(p["image_sum"] for p in parts) / images).astype(np.float32)
    stats = Stats(
        tuple(mean * 255),
        tuple(np.sqrt(np.diag(cov)) * 255),
        tuple(eigval),
        tuple(map(tuple, eigvec)),
        mean_image,
        source="prepare",
    )
    return stats, dict(num_images=images, covariance=cov.tolist())


def prepare(cfg):
    """Writes the shards and statistics (one prepare run per output directory at a time);
    returns the stats dict of the statistics split."""
    with exclusive(cfg.output, "prepare run"):
        return _prepare(cfg)


def _prepare(cfg):
    splits = cfg.splits or default_splits(cfg.source)
    workers = cfg.workers or os.cpu_count() or 1
    process = make_processor(
        cfg.augment.resize,
        cfg.jpeg_quality if cfg.image_format == "jpeg" else 0,
        cfg.source.max_megapixels * 1e6,
        cfg.augment.squash,
    )
    sources = {split: open_split(cfg.source, split, cfg.augment.resize) for split in splits}
    classes = next(iter(sources.values())).class_names
    for split, source in sources.items():
        if source.class_names != classes:
            raise DataError(f"Split {split!r} has other classes than {splits[0]!r}.")
    with open(os.path.join(cfg.output, "classes.txt"), "w") as f:
        f.write("".join(c + "\n" for c in classes))
    write_format(cfg.output, shard_format(cfg.image_format, cfg.augment.resize))
    total = sum(max(s.num_examples, 0) for s in sources.values())
    bar = keras.utils.Progbar(
        total or None, unit_name="image", verbose=1 if sys.stdout.isatty() else 2
    )
    lock, done = threading.Lock(), [0]

    def progress(n):
        with lock:
            done[0] += n
            if sys.stdout.isatty() or done[0] == total:
                bar.update(done[0])

    stats_files = {}
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for split, source in sources.items():
            n = cfg.num_shards or max(1, math.ceil(max(source.num_examples, 1) / 1000))
            futures = [
                pool.submit(write_shard, source, split, k, n, cfg, process, progress)
                for k in range(n)
            ]
            stats_files[split] = [f.result() for f in futures]
    # A file bad in the listing is listed once, whichever split it fell in.
    bad = sorted({f"{path}\t{reason}" for s in sources.values() for path, reason in s.bad_files})
    counts = {}
    for split, paths in stats_files.items():
        parts = [np.load(p) for p in paths]  # each shard's sums, read once
        counts[split] = sum(int(part["images"]) for part in parts)
        bad += [b for part in parts for b in part["bad"].tolist()]
        with open(os.path.join(cfg.output, f"{split}.count"), "w") as f:
            f.write(f"{counts[split]}\n")
        shards = {
            os.path.basename(p[: -len(".stats.npz")]): int(part["images"])
            for p, part in zip(paths, parts)
        }
        with open(os.path.join(cfg.output, f"{split}.shards.json"), "w") as f:
            json.dump(shards, f, indent=1)
        write_checksums(cfg.output, split, [p[: -len(".stats.npz")] for p in paths])
    with open(os.path.join(cfg.output, "bad_files.txt"), "w") as f:
        f.write("".join(b + "\n" for b in bad))
    stats_split = "train" if "train" in stats_files else next(iter(stats_files))
    stats, extra = combine_stats(stats_files[stats_split])
    extra.update(split=stats_split, bad_files=len(bad))
    stats.save(cfg.output, **extra)
    logging.info(
        "Wrote %s: %d images in %s, %d bad file(s).",
        cfg.output,
        sum(counts.values()),
        "/".join(stats_files),
        len(bad),
    )
    return {**stats.to_json(), **extra}
