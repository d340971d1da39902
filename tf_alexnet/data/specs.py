"""Data source specs as text ("folder:/data/photos"): what two specs name the same data.

Plain Python (no TensorFlow): flags, reruns and evaluate compare specs before anything
loads. A user types the same folder as `photos`, `photos/` or `./photos`; these are one
source. The kinds themselves are tf_alexnet/data/source.py's.
"""

import os

PATH_KINDS = ("folder", "tfrecord")  # kinds whose argument is a path


def same_path(a, b):
    """Two path strings naming the same file or directory: equal once normalized
    (`photos/` is `photos`), or the same existing file (a symlink, an absolute path)."""
    if a == b:
        return True
    if not a or not b:
        return False
    if os.path.normpath(a) == os.path.normpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either one missing
        return False


def same_spec(a, b):
    """Two data specs naming the same source: the same kind, and for path kinds the same
    path (`same_path`); other kinds by their text."""
    kind_a, sep_a, arg_a = a.partition(":")
    kind_b, sep_b, arg_b = b.partition(":")
    if not (sep_a and sep_b) or kind_a != kind_b:
        return a == b
    return same_path(arg_a, arg_b) if kind_a in PATH_KINDS else arg_a == arg_b


# folder: sources: the subfolders that are splits (the first that exists of each).
SPLIT_DIRS = {"train": ("train",), "validation": ("val", "validation"), "test": ("test",)}


def folder_has_splits(root):
    """Whether a folder: source has split subfolders (train/, val/, ...)."""
    return any(os.path.isdir(os.path.join(root, n)) for names in SPLIT_DIRS.values() for n in names)


def whole_data_split(spec):
    """The split that scores "the data" of a spec given to evaluate or report: "all" of a
    folder without split subfolders (a folder of new photos means every photo in it),
    else the source's "validation"."""
    kind, _, arg = spec.partition(":")
    return "all" if kind == "folder" and not folder_has_splits(arg) else "validation"
