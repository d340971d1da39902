"""What the report shows, computed: conv1's towers and their colour, nearest neighbours in
fc7, the training curves from the event files, the confusion matrix."""

import dataclasses
import glob
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet.data.pipeline import eval_dataset
from tf_alexnet.evaluate.metrics import label_map
from tf_alexnet.model.groupings import conv1_halves


def conv1_towers(model):
    """{"tower a": conv1 kernel [k, k, 3, F/2], "tower b": ...} (model.groupings)."""
    return dict(zip(("tower a", "tower b"), conv1_halves(model)))


def colourfulness(kernel):
    """Mean over filters of the std across R, G, B (each filter scaled to unit std): 0 for
    a grey filter. The paper found tower a's filters largely colour-agnostic, b's not."""
    f = kernel / (kernel.std(axis=(0, 1, 2), keepdims=True) + 1e-12)
    return float(f.std(axis=2).mean())


def nearest_neighbours(queries, batches, k=6):
    """(distances [Q, k], images [Q, k, ...], indices [Q, k]) of the k examples nearest to
    each query vector (Euclidean). `batches` yields (feature vectors [B, D], images [B, ...]);
    only the running k best per query are kept, never the whole split."""
    queries = np.asarray(queries, np.float64)
    best_d = np.full((len(queries), k), np.inf)
    best_i = np.full((len(queries), k), -1)
    best_x, seen = None, 0
    for feats, images in batches:
        feats, images = np.asarray(feats, np.float64), np.asarray(images)
        d = np.sqrt(np.maximum(((queries[:, None, :] - feats[None]) ** 2).sum(-1), 0))
        if best_x is None:
            best_x = np.zeros((len(queries), k) + images.shape[1:], images.dtype)
        index = seen + np.arange(len(images))
        all_d = np.concatenate([best_d, d], 1)
        all_i = np.concatenate([best_i, np.broadcast_to(index, d.shape)], 1)
        pool = np.concatenate([best_x, np.broadcast_to(images, (len(queries),) + images.shape)], 1)
        order = np.argsort(all_d, 1, kind="stable")[:, :k]
        best_d = np.take_along_axis(all_d, order, 1)
        best_i = np.take_along_axis(all_i, order, 1)
        best_x = pool[np.arange(len(queries))[:, None], order]
        seen += len(images)
    return best_d, best_x, best_i


def events_of(path):
    """The events of a TensorBoard file in order, up to where it is damaged: a file cut
    short (a run killed while writing its log) or with a damaged record gives the events
    before that point and one warning naming it."""
    count = 0
    try:
        for event in tf.compat.v1.train.summary_iterator(path):
            count += 1
            yield event
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as e:
        logging.warning(
            "%s: damaged or cut short after %d events (%s); the rest of it is left out.",
            path,
            count,
            (str(e).splitlines() or ["?"])[0][:120],
        )


def read_curves(workdir):
    """{"train/loss": [(step, value)], "eval/top1_error": ..., ...} from the event files."""
    curves = {}
    for kind in ("train", "eval"):
        for path in sorted(glob.glob(os.path.join(workdir, kind, "events.out.tfevents.*"))):
            for event in events_of(path):
                for value in event.summary.value:
                    if value.HasField("tensor") and not value.tensor.string_val:
                        number = float(tf.make_ndarray(value.tensor))
                        curves.setdefault(f"{kind}/{value.tag}", []).append((event.step, number))
    return {name: sorted(points) for name, points in curves.items()}


def confusion_matrix(labels, predictions, classes):
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def confused_pairs(matrix, names, count=10):
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None)[:count]
    return [
        (names[i], names[j], int(off[i, j]))
        for i, j in zip(*np.unravel_index(flat, off.shape))
        if off[i, j] > 0
    ]


@dataclasses.dataclass
class Scored:
    """The evaluated split: display images, labels, probabilities, fc7 vectors (a few)."""

    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    fc7: np.ndarray


def score_split(model, source, evaluation, split, keep=8):
    """Scores `split` center-cropped; keeps `keep` display images and their fc7 vectors."""
    fc7 = keras.Model(model.inputs, [model.output, model.get_layer("fc7").output])
    run = tf.function(lambda x: fc7(x, training=False))
    shown = dataclasses.replace(model.preprocessing, mean="none")
    # A seeded random order (the same for both): a folder lists one class after another.
    scored, data = eval_dataset(source, evaluation, split, model.preprocessing, sample=True)
    display, _ = eval_dataset(
        source, evaluation, split, shown, sample=True, opened=data.opened
    )  # the split listed once
    mapping = label_map(data.class_names, model.class_names)
    images, labels, probs, feats = [], [], [], []
    for (x, y), (raw, _) in zip(scored, display):
        logits, f = run(x)
        probs.append(tf.nn.softmax(tf.cast(logits, tf.float32)).numpy())
        labels.append(mapping[y.numpy()])
        if sum(len(i) for i in images) < keep:
            images.append(raw.numpy())
            feats.append(f.numpy())
    return Scored(
        np.concatenate(images)[:keep],
        np.concatenate(labels),
        np.concatenate(probs),
        np.concatenate(feats)[:keep],
    )


def training_neighbours(model, source, evaluation, queries, k, limit):
    """Nearest training images (fc7, Euclidean) of the query vectors, streaming over the
    training split in batches (at most `limit` images; 0: all)."""
    fc7 = keras.Model(model.inputs, model.get_layer("fc7").output)
    features = tf.function(lambda x: fc7(x, training=False))
    shown = dataclasses.replace(model.preprocessing, mean="none")
    scored, data = eval_dataset(source, evaluation, "train", model.preprocessing)
    display, _ = eval_dataset(source, evaluation, "train", shown, opened=data.opened)

    def batches():
        seen = 0
        for (x, _), (raw, _) in zip(scored, display):
            if limit and seen >= limit:
                return
            seen += len(raw)
            yield features(x).numpy(), raw.numpy()

    return nearest_neighbours(queries, batches(), k)
