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

import dataclasses
import json
import os

import numpy as np

from tf_alexnet.report import analysis, figures
from tf_alexnet.flags import given_flags
from tf_alexnet.workdir.restore import restore_model
from tf_alexnet.workdir.info import load_run_info, run_data


def make_report(config, given=None):
    """Writes the figures, report.json and index.html into config.output; returns the
    report.json content. Without --data, the run's own data (workdir/info.py: run_data;
    `given` as evaluate's)."""
    model = restore_model(config.workdir)
    source, split, _ = run_data(
        load_run_info(config.workdir),
        config.source,
        config.split,
        0,
        given_flags(config) if given is None else given,
    )
    config = dataclasses.replace(config, source=source, split=split)
    os.makedirs(config.output, exist_ok=True)
    out = lambda name: os.path.join(config.output, name)  # noqa: E731
    names = list(model.class_names)
    towers = analysis.conv1_towers(model)
    figures.plot_filters(towers, out("filters.png"))
    scored = analysis.score_split(model, config.source, config.evaluation, config.split, keep=8)
    figures.plot_top5(scored, names, out("top5.png"))
    queries = min(5, len(scored.fc7))
    distances, images, _ = analysis.training_neighbours(
        model,
        config.source,
        config.evaluation,
        scored.fc7[:queries].astype(np.float64),
        6,
        config.max_train_images,
    )
    figures.plot_neighbours(scored.images[:queries], images, distances, out("neighbours.png"))
    curves = analysis.read_curves(config.workdir)
    figures.plot_curves(curves, out("curves.png"))
    predicted = scored.probabilities.argmax(1)
    matrix = analysis.confusion_matrix(scored.labels, predicted, len(names))
    figures.plot_confusion(matrix, names, out("confusion.png"))
    report = dict(
        workdir=config.workdir,
        checkpoint=model.checkpoint_path,
        split=config.split,
        filters={name: int(k.shape[-1]) for name, k in towers.items()},
        colourfulness={name: analysis.colourfulness(k) for name, k in towers.items()},
        top1_error=float(np.mean(predicted != scored.labels)),
        num_images=len(predicted),
        neighbour_distances=distances.tolist(),
        confusion=matrix.tolist(),
        most_confused=analysis.confused_pairs(matrix, names),
        curves={name: len(points) for name, points in curves.items()},
    )
    with open(out("report.json"), "w") as f:
        json.dump(report, f, indent=1)
    figures.write_html(config.output, report)
    return report
