"""Data sources: a spec string -> unbatched (image-or-encoded, label) examples + class names.

    tfds:NAME         a TFDS image-classification dataset with `image` and `label` features
    folder:PATH       one subfolder per class (class index = sorted folder name); PATH/train,
                      PATH/val|validation|test are splits if present, else PATH is split
                      "all" and train/validation are carved from it by --validation_fraction
    tfrecord:DIR      shards written by `python -m tf_alexnet.prepare`
    synthetic:shapes  coloured shapes made in-graph (no files); synthetic:random: noise

Encoded images stay strings here: decoding belongs to the preprocessing (tf_alexnet/
preprocess.py), where it can be fused with the crop.
"""

import dataclasses
import glob
import json
import logging
import os
import struct
import zlib

import tensorflow as tf

from tf_alexnet import synthetic

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
_SPLIT_DIRS = {"train": ("train",), "validation": ("val", "validation"), "test": ("test",)}
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
SHARD_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


class DataError(ValueError):
    """A data problem the user must fix; the message says what to do."""


@dataclasses.dataclass
class Source:
    dataset: tf.data.Dataset          # unbatched (uint8 image or encoded string, int32 label)
    class_names: tuple
    num_examples: int = -1            # -1 when unknown
    stats_path: str = ""              # stats.json of the source, if it has one
    bad_files: tuple = ()
    # Turns a dataset element's first item into the image or encoded string. Folder sources
    # hold file names until after shuffling, so that shuffle buffers and resume skips are
    # over names, not image bytes.
    load: object = None


def parse_spec(spec):
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in ("tfds", "folder", "tfrecord", "synthetic"):
        raise DataError(f"Unknown data source {spec!r}: use tfds:NAME, folder:PATH, "
                        "tfrecord:DIR, synthetic:shapes or synthetic:random.")
    return kind, arg


def open_source(config, split):
    """Returns the `Source` for `split` of `config.data`."""
    kind, arg = parse_spec(config.source)
    return {"tfds": _tfds, "folder": _folder, "tfrecord": _tfrecord,
            "synthetic": _synthetic}[kind](config, arg, split)


def _synthetic(config, name, split):
    size, n = config.resize, config.synthetic_examples
    n = n if split == "train" else max(1, n // 10)
    if name == "shapes":
        classes = config.num_classes or 6
        ds = synthetic.shapes_dataset(split, n, size, config.seed, classes)
        return Source(ds, synthetic.SHAPE_NAMES[:classes], n)
    if name == "random":
        classes = config.num_classes or 1000
        ds = synthetic.random_dataset(n, size, config.seed + (split != "train"), classes)
        return Source(ds, tuple(f"class_{i}" for i in range(classes)), n)
    raise DataError(f"Unknown synthetic source {name!r}: use synthetic:shapes or "
                    "synthetic:random.")


def check_image_file(path):
    """'' if the file looks like a whole image, else why not (empty, not an image, cut off).

    Reads 16 bytes at each end, no decoding: a zero-byte file, a file of another kind, and a
    JPEG or PNG missing its end marker (a truncated download) are caught here, before they
    reach the pipeline.
    """
    size = os.path.getsize(path)
    if size == 0:
        return "empty file"
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, size - 16))
        tail = f.read(16)
    if not head.startswith(_MAGIC):
        return "not a JPEG/PNG/GIF/BMP image"
    if head.startswith(b"\xff\xd8") and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if head.startswith(b"\x89PNG") and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    return ""


def list_folder(root, on_bad_image="skip"):
    """(files, labels, class_names, bad) of an ImageFolder tree; bad = [(path, reason)]."""
    if not os.path.isdir(root):
        raise DataError(f"folder:{root}: no such directory.")
    classes, files, labels, bad = [], [], [], []
    for name in sorted(os.listdir(root)):
        class_dir = os.path.join(root, name)
        if not os.path.isdir(class_dir) or name.startswith("."):
            continue  # files, and hidden folders (.thumbs, .git ...) as hidden files
        paths = sorted(p for p in glob.glob(os.path.join(class_dir, "**", "*"), recursive=True)
                       if os.path.isfile(p))
        if not paths:
            logging.warning("folder:%s: class folder %r is empty; skipped.", root, name)
            continue
        good = []
        for path in paths:
            if not path.lower().endswith(IMAGE_EXTENSIONS):
                continue  # .txt, .DS_Store, Thumbs.db ...: not images by name, not counted
            reason = check_image_file(path)
            if not reason:
                good.append(path)
                continue
            if on_bad_image == "fail":
                raise DataError(f"Bad image {path}: {reason} (--on_bad_image=fail).")
            logging.warning("Skipping bad image %s: %s", path, reason)
            bad.append((path, reason))
        if not good:
            logging.warning("folder:%s: class folder %r has no images; skipped.", root, name)
            continue
        files += good
        labels += [len(classes)] * len(good)
        classes.append(name)
    if not files:
        raise DataError(f"folder:{root}: no images found (expected one subfolder per class "
                        f"holding {'/'.join(IMAGE_EXTENSIONS)} files).")
    return files, labels, tuple(classes), bad


def folder_splits(root):
    """{split: path} of the split subfolders of `root`, {} when it has none."""
    found = {}
    for split, names in _SPLIT_DIRS.items():
        for name in names:
            if os.path.isdir(os.path.join(root, name)):
                found[split] = os.path.join(root, name)
                break
    return found


def in_validation(path, root, fraction):
    """Deterministic carve: a file is in validation by a hash of its path under root."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return zlib.crc32(rel.encode()) % 10000 < fraction * 10000


def folder_files(config, root, split):
    """(files, labels, class_names, bad) of one split of a folder source."""
    splits = folder_splits(root)
    if splits:
        if split not in splits:
            raise DataError(f"folder:{root} has no {split!r} split; it has "
                            f"{sorted(splits)}.")
        return list_folder(splits[split], config.on_bad_image)
    files, labels, classes, bad = list_folder(root, config.on_bad_image)
    if split in ("train", "validation"):
        def mine(path):
            return in_validation(path, root, config.validation_fraction) == (
                split == "validation")
        keep = [mine(f) for f in files]
        files = [f for f, k in zip(files, keep) if k]
        labels = [l for l, k in zip(labels, keep) if k]
        bad = [(path, reason) for path, reason in bad if mine(path)]  # this split's own
    elif split != "all":
        raise DataError(f"folder:{root} has no split folders; use split train, validation "
                        "(carved by --validation_fraction) or all.")
    return files, labels, classes, bad


def _folder(config, root, split):
    files, labels, classes, bad = folder_files(config, root, split)
    if not files:
        raise DataError(f"folder:{root}: split {split!r} is empty.")
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.int32)))
    stats = os.path.join(root, "stats.json")
    return Source(ds, classes, len(files), stats if os.path.exists(stats) else "",
                  tuple(bad), load=tf.io.read_file)


def read_classes(directory):
    path = os.path.join(directory, "classes.txt")
    if not os.path.exists(path):
        raise DataError(f"tfrecord:{directory}: no classes.txt; write shards with "
                        "`python -m tf_alexnet.prepare`.")
    with open(path) as f:
        return tuple(line.strip() for line in f if line.strip())


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


def _tfrecord(config, directory, split):
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

    def parse(record):
        ex = tf.io.parse_single_example(record, SHARD_FEATURES)
        return ex["image/encoded"], tf.cast(ex["image/class/label"], tf.int32)

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    stats = os.path.join(directory, "stats.json")
    return Source(ds, classes, total, stats_path=stats if os.path.exists(stats) else "")


TFDS_SPLITS = {"validation": ("validation", "test"), "test": ("test", "validation")}


def _tfds(config, name, split):
    import tensorflow_datasets as tfds  # heavy import, only for this source

    try:
        builder = tfds.builder(name, data_dir=config.tfds_data_dir or None)
    except Exception as e:  # tfds raises DatasetNotFoundError and others
        raise DataError(f"tfds:{name}: not a TFDS dataset ({type(e).__name__}: "
                        f"{str(e).splitlines()[0]}).") from None
    if not builder.is_prepared():
        manual = config.tfds_manual_dir or os.path.join(
            config.tfds_data_dir or os.path.expanduser("~/tensorflow_datasets"),
            "downloads", "manual")
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=manual))
        except AssertionError as e:  # tfds: "Manual directory ... does not exist or is empty"
            raise DataError(
                f"tfds:{name} needs a manual download: put the ImageNet tars "
                f"(ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar) in {manual} "
                f"(or pass --tfds_manual_dir), then rerun. ({str(e).splitlines()[0]})"
            ) from None
    splits = builder.info.splits
    for candidate in TFDS_SPLITS.get(split, (split,)):
        if candidate in splits or not splits:  # no split info (e.g. tfds.testing.mock_data)
            split_name = candidate
            break
    else:
        raise DataError(f"tfds:{name} has no {split!r} split; it has {sorted(splits)}.")
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise DataError(f"tfds:{name} has no 'image' and 'label' features.")
    ds = builder.as_dataset(split=split_name, shuffle_files=split == "train",
                            decoders={"image": tfds.decode.SkipDecoding()},
                            read_config=tfds.ReadConfig(shuffle_seed=config.seed))
    ds = ds.map(lambda ex: (ex["image"], tf.cast(ex["label"], tf.int32)),
                num_parallel_calls=tf.data.AUTOTUNE)
    size = splits[split_name].num_examples if split_name in splits else -1
    return Source(ds, tuple(features["label"].names), size)
