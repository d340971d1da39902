"""Labels checked where prepared records are read: a label outside 0..classes-1 (a damaged or
foreign shard) is a bad record, never scored or trained as another class.

--on_bad_image=skip: the record is left out, with a warning line naming its shard and record
index (each time it is read). --on_bad_image=fail: the pipeline stops with that line. The
checks are graph ops (no Python in the pipeline's hot path unless a label is bad, when a
py_function logs the warning); tf.debugging.Assert stops the pipeline, and errors.describe
turns its message into the line.
"""

import logging

import tensorflow as tf


def _line(shard, index, label, classes):
    """ "SHARD: record I has label L, outside 0..C-1" as a string tensor."""
    return tf.strings.join(
        [
            shard,
            ": record ",
            tf.strings.as_string(index),
            " has label ",
            tf.strings.as_string(label),
            f", outside 0..{classes - 1}",
        ]
    )


def _warn(line, what):
    """A warning line through Python's logging (only when a bad label is met)."""

    def log(text):
        logging.warning("%s; %s.", text.numpy().decode(errors="replace"), what)
        return 0

    tf.py_function(log, [line], tf.int32)


def checked_records(ds, classes, on_bad):
    """(image, label) of a dataset of (image, label, shard, record index) whose labels are
    in 0..classes-1 (the others skipped with a warning, or an error under fail)."""

    def keep(image, label, shard, index):
        ok = (label >= 0) & (label < classes)
        if on_bad == "fail":
            with tf.control_dependencies(
                [tf.debugging.Assert(ok, [_line(shard, index, label, classes)], summarize=1)]
            ):
                return tf.identity(ok)

        def warn():
            _warn(_line(shard, index, label, classes), "skipped")
            return False

        return tf.cond(ok, lambda: True, warn)

    return ds.filter(keep).map(lambda image, label, shard, index: (image, label))


def checked_batch(images, labels, shards, indices, classes, on_bad):
    """(images, labels) of a batch read by index, each record of a bad label replaced by the
    batch's first good one (skip: with a warning line each) or an error naming the first
    (fail). `shards`: each record's shard path; `indices`: its index in that shard."""
    ok = (labels >= 0) & (labels < classes)
    first_bad = tf.argmin(tf.cast(ok, tf.int32))
    line = _line(
        tf.gather(shards, first_bad),
        tf.gather(indices, first_bad),
        tf.gather(labels, first_bad),
        classes,
    )
    if on_bad == "fail":
        with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(ok), [line], summarize=1)]):
            return tf.identity(images), tf.identity(labels)

    def replace():
        _warn(line, "skipped (and any other bad label of the batch)")
        good = tf.argmax(tf.cast(ok, tf.int32))
        with tf.control_dependencies(
            [
                tf.debugging.Assert(
                    tf.reduce_any(ok), ["every record of a batch has a bad label:", line]
                )
            ]
        ):
            return (
                tf.where(ok[:, None, None, None], images, images[good]),
                tf.where(ok, labels, labels[good]),
            )

    return tf.cond(tf.reduce_all(ok), lambda: (images, labels), replace)
