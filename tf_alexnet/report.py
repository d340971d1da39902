"""The paper's figures from a trained workdir, as PNGs and an index.html.

    python -m tf_alexnet.report --workdir W --data SPEC [--split validation] --output DIR

  filters.png      conv1's filters, one grid per tower, each filter scaled on its own (the
                   paper's Figure 3); report.json gives each tower's mean colourfulness
  top5.png         eight validation images with their top-5 classes, the true one marked
                   (Figure 4, left)
  neighbours.png   five validation images and the six training images whose fc7 vectors are
                   nearest (Figure 4, right), found streaming over the training split
  curves.png       train loss, train/validation top-1 and top-5 error and the learning rate
                   against step, from the workdir's TensorBoard event files
  confusion.png    the confusion matrix of the evaluated split (names on the axes for at
                   most 20 classes; report.json lists the most confused pairs)
Needs matplotlib: pip install ".[report]".
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import dataclasses
import glob
import json
import os

from absl import app, logging
import numpy as np

from tf_alexnet import flags as flags_lib


def conv1_towers(model, grouping):
    """{tower name: conv1 kernel [k, k, 3, F]}: tower a and b, or a single model's halves
    (the two halves a fused or ungrouped model would have on two GPUs)."""
    if grouping == "towers":
        return {f"tower {h}": model.get_layer("conv1" + h).kernel.numpy() for h in "ab"}
    kernel = model.get_layer("conv1").kernel.numpy()
    half = kernel.shape[-1] // 2
    return {"tower a": kernel[..., :half], "tower b": kernel[..., half:]}


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
        pool = np.concatenate([best_x, np.broadcast_to(images, (len(queries),) + images.shape)],
                              1)
        order = np.argsort(all_d, 1, kind="stable")[:, :k]
        best_d = np.take_along_axis(all_d, order, 1)
        best_i = np.take_along_axis(all_i, order, 1)
        best_x = pool[np.arange(len(queries))[:, None], order]
        seen += len(images)
    return best_d, best_x, best_i


def read_curves(workdir):
    """{"train/loss": [(step, value)], "eval/top1_error": ..., ...} from the event files."""
    import tensorflow as tf

    curves = {}
    for kind in ("train", "eval"):
        for path in sorted(glob.glob(os.path.join(workdir, kind, "events.out.tfevents.*"))):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.HasField("tensor") and not value.tensor.string_val:
                        number = float(tf.make_ndarray(value.tensor))
                        curves.setdefault(f"{kind}/{value.tag}", []).append((event.step,
                                                                             number))
    return {name: sorted(points) for name, points in curves.items()}


def confusion_matrix(labels, predictions, classes):
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def confused_pairs(matrix, names, count=10):
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None)[:count]
    return [(names[i], names[j], int(off[i, j])) for i, j in zip(*np.unravel_index(
        flat, off.shape)) if off[i, j] > 0]


@dataclasses.dataclass
class Scored:
    """The evaluated split: display images, labels, probabilities, fc7 vectors (a few)."""
    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    fc7: np.ndarray


def score_split(model, info, config, split, keep=8):
    """Scores `split` center-cropped; keeps `keep` display images and their fc7 vectors."""
    import keras
    import tensorflow as tf

    from tf_alexnet.data import make_dataset
    from tf_alexnet.metrics import label_map

    fc7 = keras.Model(model.inputs, [model.output, model.get_layer("fc7").output])
    run = tf.function(lambda x: fc7(x, training=False))
    shown = dataclasses.replace(info.preprocessing, mean="none")
    # A seeded random order (the same for both): a folder lists one class after another.
    scored = make_dataset(config, split, False, preprocessing=info.preprocessing, sample=True)
    display = make_dataset(config, split, False, preprocessing=shown, sample=True,
                           source=scored.source)  # the split listed once
    mapping = label_map(scored.class_names, info.class_names)
    images, labels, probs, feats = [], [], [], []
    for (x, y), (raw, _) in zip(scored, display):
        logits, f = run(x)
        probs.append(tf.nn.softmax(tf.cast(logits, tf.float32)).numpy())
        labels.append(mapping[y.numpy()])
        if sum(len(i) for i in images) < keep:
            images.append(raw.numpy())
            feats.append(f.numpy())
    return Scored(np.concatenate(images)[:keep], np.concatenate(labels),
                  np.concatenate(probs), np.concatenate(feats)[:keep])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_filters(towers, path):
    """One grid per tower, each filter scaled to [0, 1] on its own (logs.filter_grid)."""
    from tf_alexnet.logs import filter_grid

    plt = _pyplot()
    fig, axes = plt.subplots(len(towers), 1, figsize=(8, 2.2 * len(towers)), squeeze=False)
    for ax, (name, kernel) in zip(axes[:, 0], towers.items()):
        ax.imshow(filter_grid(kernel)[0].numpy(), interpolation="nearest")
        ax.set_title(f"{name}: {kernel.shape[-1]} filters, colourfulness "
                     f"{colourfulness(kernel):.3f}")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_top5(scored, names, path, count=8):
    """Figure 4, left: each image over its five most probable classes; the true one red."""
    plt = _pyplot()
    count = min(count, len(scored.images))
    fig, axes = plt.subplots(2, count, figsize=(2.2 * count, 4.4), squeeze=False)
    for i in range(count):
        axes[0, i].imshow(np.clip(scored.images[i] / 255.0, 0, 1))
        axes[0, i].set_title(names[scored.labels[i]], fontsize=8)
        axes[0, i].axis("off")
        top = np.argsort(-scored.probabilities[i])[:5]
        colours = ["tab:red" if t == scored.labels[i] else "tab:blue" for t in top]
        axes[1, i].barh(range(5)[::-1], scored.probabilities[i][top], color=colours)
        axes[1, i].set_yticks(range(5)[::-1], [names[t] for t in top], fontsize=7)
        axes[1, i].set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_neighbours(queries, neighbours, distances, path):
    """Figure 4, right: a query per row, then its nearest training images by fc7."""
    plt = _pyplot()
    rows, k = neighbours.shape[:2]
    fig, axes = plt.subplots(rows, k + 1, figsize=(1.6 * (k + 1), 1.7 * rows), squeeze=False)
    for r in range(rows):
        for c in range(k + 1):
            image = queries[r] if c == 0 else neighbours[r, c - 1]
            axes[r, c].imshow(np.clip(image / 255.0, 0, 1))
            axes[r, c].set_title("query" if c == 0 else f"{distances[r, c - 1]:.1f}",
                                 fontsize=7)
            axes[r, c].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(curves, path):
    """Loss, top-1/top-5 error (train and validation) and learning rate against step."""
    plt = _pyplot()
    panels = [("loss", ["train/loss", "eval/loss"]),
              ("error", ["train/top1_error", "eval/top1_error", "eval/top5_error"]),
              ("learning rate", ["train/learning_rate"])]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (title, names) in zip(axes, panels):
        for name in names:
            if curves.get(name):
                steps, values = zip(*curves[name])
                ax.plot(steps, values, label=name, marker="." if len(steps) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    axes[2].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(matrix, names, path):
    plt = _pyplot()
    n = len(names)
    fig, ax = plt.subplots(figsize=(min(12, 2 + 0.45 * n),) * 2)
    ax.imshow(matrix, cmap="Blues")
    if n <= 20:
        ax.set_xticks(range(n), names, rotation=90, fontsize=7)
        ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def training_neighbours(model, info, config, queries, k, limit):
    """Nearest training images (fc7, Euclidean) of the query vectors, streaming over the
    training split in batches (at most `limit` images; 0: all)."""
    import keras
    import tensorflow as tf

    from tf_alexnet.data import make_dataset

    fc7 = keras.Model(model.inputs, model.get_layer("fc7").output)
    features = tf.function(lambda x: fc7(x, training=False))
    shown = dataclasses.replace(info.preprocessing, mean="none")
    scored = make_dataset(config, "train", False, preprocessing=info.preprocessing)
    display = make_dataset(config, "train", False, preprocessing=shown,
                           source=scored.source)

    def batches():
        seen = 0
        for (x, _), (raw, _) in zip(scored, display):
            if limit and seen >= limit:
                return
            seen += len(raw)
            yield features(x).numpy(), raw.numpy()

    return nearest_neighbours(queries, batches(), k)


def make_report(config):
    """Writes the figures, report.json and index.html into config.output; returns the
    report.json content."""
    from tf_alexnet import rundir

    model, info, checkpoint = rundir.restore_model(config.workdir)
    os.makedirs(config.output, exist_ok=True)
    out = lambda name: os.path.join(config.output, name)  # noqa: E731
    names = list(info.class_names)
    towers = conv1_towers(model, info.grouping)
    plot_filters(towers, out("filters.png"))
    scored = score_split(model, info, config.data, config.split, keep=8)
    plot_top5(scored, names, out("top5.png"))
    queries = min(5, len(scored.fc7))
    distances, images, _ = training_neighbours(model, info, config.data,
                                               scored.fc7[:queries].astype(np.float64), 6,
                                               config.max_train_images)
    plot_neighbours(scored.images[:queries], images, distances, out("neighbours.png"))
    curves = read_curves(config.workdir)
    plot_curves(curves, out("curves.png"))
    predicted = scored.probabilities.argmax(1)
    matrix = confusion_matrix(scored.labels, predicted, len(names))
    plot_confusion(matrix, names, out("confusion.png"))
    report = dict(
        workdir=config.workdir, checkpoint=checkpoint, split=config.split,
        filters={name: int(k.shape[-1]) for name, k in towers.items()},
        colourfulness={name: colourfulness(k) for name, k in towers.items()},
        top1_error=float(np.mean(predicted != scored.labels)), num_images=len(predicted),
        neighbour_distances=distances.tolist(), confusion=matrix.tolist(),
        most_confused=confused_pairs(matrix, names),
        curves={name: len(points) for name, points in curves.items()})
    with open(out("report.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_html(config.output, report)
    return report


FIGURES = (("filters.png", "conv1 filters by tower (the paper's Figure 3)"),
           ("top5.png", "Top-5 classes of validation images, true class in red (Figure 4, left)"),
           ("neighbours.png", "Nearest training images by fc7 distance (Figure 4, right)"),
           ("curves.png", "Training curves"),
           ("confusion.png", "Confusion matrix"))


def write_html(directory, report):
    import html

    colour = ", ".join(f"{k}: {v:.3f}" for k, v in report["colourfulness"].items())
    pairs = "".join(f"<li>{html.escape(a)} taken for {html.escape(b)}: {n}</li>"
                    for a, b, n in report["most_confused"])
    body = "".join(f"<h2>{html.escape(title)}</h2><img src='{name}' alt='{name}'>"
                   for name, title in FIGURES)
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(f"<!doctype html><html><head><meta charset='utf-8'><title>tf_alexnet report"
                f"</title></head><body><h1>{html.escape(report['workdir'])}</h1>"
                f"<p>{html.escape(report['checkpoint'])}; {report['split']}: "
                f"{report['num_images']} images, top-1 error {report['top1_error']:.4f}; "
                f"conv1 colourfulness {colour}</p>{body}"
                f"<h2>Most confused pairs</h2><ul>{pairs}</ul></body></html>")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet import cli

    config = cli.run("report", flags_lib.report_config)
    report = cli.run("report", lambda: make_report(config))
    print(json.dumps({k: report[k] for k in ("filters", "colourfulness", "top1_error",
                                             "num_images")}))
    print(f"Wrote {os.path.join(config.output, 'index.html')}")


if __name__ == "__main__":
    flags_lib.define_report_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
