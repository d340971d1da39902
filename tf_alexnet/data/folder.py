"""folder: sources: one subfolder per class, images checked by their headers when listed."""

import glob
import logging
import os
import zlib

import tensorflow as tf

from tf_alexnet.data.decode import IMAGE_EXTENSIONS, check_image_file
from tf_alexnet.data.source import Source
from tf_alexnet.data.specs import SPLIT_DIRS
from tf_alexnet.errors import DataError


def class_folders(root, only=()):
    """The class folder names of `root`, sorted; `only`: just these (each must exist)."""
    if not os.path.isdir(root):
        raise DataError(f"folder:{root}: no such directory.")
    names = sorted(
        name
        for name in os.listdir(root)
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name))
    )  # hidden ones: .git, .thumbs
    missing = [name for name in only if name not in names]
    if missing:
        raise DataError(
            f"folder:{root}: no class folder {', '.join(missing)} (--classes); "
            f"it has {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}."
        )
    return [name for name in names if not only or name in only]


def list_folder(root, on_bad_image="skip", only=()):
    """(files, labels, class_names, bad) of an ImageFolder tree; bad = [(path, reason)].
    `only`: the class folders to list (default all)."""
    classes, files, labels, bad = [], [], [], []
    for name in class_folders(root, only):
        class_dir = os.path.join(root, name)
        paths = sorted(
            p
            for p in glob.glob(os.path.join(class_dir, "**", "*"), recursive=True)
            if os.path.isfile(p)
        )
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
        raise DataError(
            f"folder:{root}: no images found (expected one subfolder per class "
            f"holding {'/'.join(IMAGE_EXTENSIONS)} files)."
        )
    return files, labels, tuple(classes), bad


def folder_splits(root):
    """{split: path} of the split subfolders of `root`, {} when it has none."""
    found = {}
    for split, names in SPLIT_DIRS.items():
        for name in names:
            if os.path.isdir(os.path.join(root, name)):
                found[split] = os.path.join(root, name)
                break
    return found


def in_validation(path, root, fraction):
    """Deterministic carve: a file is in validation by a hash of its path under root."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return zlib.crc32(rel.encode()) % 10000 < fraction * 10000


def per_class_subset(files, labels, root, count):
    """`count` files of each label (all of a smaller class): those first in the order of a
    hash of their paths under root, a subset fixed by the files alone; listing order kept."""

    def rank(path):
        return zlib.crc32(("subset/" + os.path.relpath(path, root).replace(os.sep, "/")).encode())

    chosen = set()
    for label in set(labels):
        mine = [f for f, l in zip(files, labels) if l == label]
        chosen.update(sorted(mine, key=rank)[:count])
    kept = [(f, l) for f, l in zip(files, labels) if f in chosen]
    return [f for f, _ in kept], [l for _, l in kept]


def folder_files(config, root, split):
    """(files, labels, class_names, bad) of one split of a folder source."""
    splits = folder_splits(root)
    if splits:
        if split not in splits:
            raise DataError(f"folder:{root} has no {split!r} split; it has {sorted(splits)}.")
        files, labels, classes, bad = list_folder(
            splits[split], config.on_bad_image, config.classes
        )
        if split == "train" and config.train_per_class:
            files, labels = per_class_subset(files, labels, splits[split], config.train_per_class)
        return files, labels, classes, bad
    files, labels, classes, bad = list_folder(root, config.on_bad_image, config.classes)
    if split in ("train", "validation"):

        def mine(path):
            return in_validation(path, root, config.validation_fraction) == (split == "validation")

        keep = [mine(f) for f in files]
        files = [f for f, k in zip(files, keep) if k]
        labels = [l for l, k in zip(labels, keep) if k]
        bad = [(path, reason) for path, reason in bad if mine(path)]  # this split's own
        if split == "train" and config.train_per_class:
            files, labels = per_class_subset(files, labels, root, config.train_per_class)
    elif split != "all":
        raise DataError(
            f"folder:{root} has no split folders; use split train, validation "
            "(carved by --validation_fraction) or all."
        )
    return files, labels, classes, bad


def open_folder(config, root, split):
    files, labels, classes, bad = folder_files(config, root, split)
    if not files:
        raise DataError(f"folder:{root}: split {split!r} is empty.")
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.int32)))
    stats = os.path.join(root, "stats.json")
    return Source(
        ds,
        classes,
        len(files),
        stats if os.path.exists(stats) else "",
        tuple(bad),
        load=tf.io.read_file,
    )
