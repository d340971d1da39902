"""The report's figures (matplotlib, pip install ".[report]") and its index.html."""

import html
import os

import numpy as np

from tf_alexnet.report.analysis import colourfulness
from tf_alexnet.train.logs import filter_grid


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_filters(towers, path):
    """One grid per tower, each filter scaled to [0, 1] on its own (train.logs.filter_grid)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(towers), 1, figsize=(8, 2.2 * len(towers)), squeeze=False)
    for ax, (name, kernel) in zip(axes[:, 0], towers.items()):
        ax.imshow(filter_grid(kernel)[0].numpy(), interpolation="nearest")
        ax.set_title(
            f"{name}: {kernel.shape[-1]} filters, colourfulness {colourfulness(kernel):.3f}"
        )
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
        top = np.argsort(-scored.probabilities[i])[:5]  # fewer with fewer classes
        colours = ["tab:red" if t == scored.labels[i] else "tab:blue" for t in top]
        rows = range(len(top))[::-1]
        axes[1, i].barh(rows, scored.probabilities[i][top], color=colours)
        axes[1, i].set_yticks(rows, [names[t] for t in top], fontsize=7)
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
            axes[r, c].set_title("query" if c == 0 else f"{distances[r, c - 1]:.1f}", fontsize=7)
            axes[r, c].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(curves, path):
    """Loss, top-1/top-5 error (train and validation) and learning rate against step."""
    plt = _pyplot()
    panels = [
        ("loss", ["train/loss", "eval/loss"]),
        ("error", ["train/top1_error", "eval/top1_error", "eval/top5_error"]),
        ("learning rate", ["train/learning_rate"]),
    ]
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


FIGURES = (
    ("filters.png", "conv1 filters by tower (the paper's Figure 3)"),
    ("top5.png", "Top-5 classes of validation images, true class in red (Figure 4, left)"),
    ("neighbours.png", "Nearest training images by fc7 distance (Figure 4, right)"),
    ("curves.png", "Training curves"),
    ("confusion.png", "Confusion matrix"),
)


def write_html(directory, report):
    colour = ", ".join(f"{k}: {v:.3f}" for k, v in report["colourfulness"].items())
    pairs = "".join(
        f"<li>{html.escape(a)} taken for {html.escape(b)}: {n}</li>"
        for a, b, n in report["most_confused"]
    )
    body = "".join(
        f"<h2>{html.escape(title)}</h2><img src='{name}' alt='{name}'>" for name, title in FIGURES
    )
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(
            f"<!doctype html><html><head><meta charset='utf-8'><title>tf_alexnet report"
            f"</title></head><body><h1>{html.escape(report['workdir'])}</h1>"
            f"<p>{html.escape(report['checkpoint'])}; {report['split']}: "
            f"{report['num_images']} images, top-1 error {report['top1_error']:.4f}; "
            f"conv1 colourfulness {colour}</p>{body}"
            f"<h2>Most confused pairs</h2><ul>{pairs}</ul></body></html>"
        )
