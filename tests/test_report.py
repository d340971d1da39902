"""python -m tf_alexnet.report on the shared colour run: each figure's content."""

import json

import numpy as np
import pytest
import tensorflow as tf

from helpers import last_json, run_cli

pytest.importorskip("matplotlib")
# One worker holds the shared colour run (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("colour_run")


def test_report_figures_and_their_content(colour_run, tmp_path):
    out, run, data = tmp_path / "report", colour_run["run"], colour_run["data"]
    result = run_cli(
        "report",
        f"--workdir={run}",
        f"--data=folder:{data}",
        "--validation_fraction=0.2",
        f"--output={out}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    # conv1 of --width=0.25: 24 filters, 12 per tower.
    assert report["filters"] == {"tower a": 12, "tower b": 12}
    assert all(0 <= c for c in report["colourfulness"].values())
    # The confusion matrix counts every scored image; its diagonal is the top-1 accuracy,
    # which `evaluate` computes on its own path.
    matrix = np.array(report["confusion"])
    evaluated = last_json(
        run_cli(
            "evaluate",
            f"--workdir={run}",
            f"--data=folder:{data}",
            "--validation_fraction=0.2",
            "--json",
        )
    )
    assert matrix.sum() == report["num_images"] == evaluated["num_images"] > 10
    assert 1 - np.trace(matrix) / matrix.sum() == pytest.approx(evaluated["top1_error"])
    assert report["top1_error"] == pytest.approx(evaluated["top1_error"])
    # Neighbours: 5 queries x 6, ascending distances; curves from the event files: train
    # logged every 10 of 150 steps, evaluated at 50, 100 and 150.
    distances = np.array(report["neighbour_distances"])
    assert distances.shape == (5, 6) and (np.diff(distances, axis=1) >= 0).all()
    assert report["curves"]["train/loss"] == 15 and report["curves"]["eval/top1_error"] == 3
    html = (out / "index.html").read_text()
    for name in ("filters", "top5", "neighbours", "curves", "confusion"):
        assert f"src='{name}.png'" in html
        image = tf.io.decode_png(tf.io.read_file(str(out / f"{name}.png")))
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_neighbours_of_a_training_image_include_itself_at_distance_zero(colour_run):
    import keras

    from tf_alexnet.config import EvalDataConfig, SourceConfig
    from tf_alexnet.data.pipeline import eval_dataset
    from tf_alexnet.report import analysis
    from tf_alexnet.workdir.restore import restore_model

    model = restore_model(str(colour_run["run"]))
    source = SourceConfig(source=f"folder:{colour_run['data']}", validation_fraction=0.2)
    evaluation = EvalDataConfig(batch_size=16)
    ds, _ = eval_dataset(source, evaluation, "train", model.preprocessing)
    images, _ = next(iter(ds))
    fc7 = keras.Model(model.inputs, model.get_layer("fc7").output)
    queries = fc7(images[:3], training=False).numpy()
    distances, found, indices = analysis.training_neighbours(
        model, source, evaluation, queries, 6, 0
    )
    assert (indices[:, 0] == [0, 1, 2]).all()
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-3)
    assert (distances[:, 1] > 0).all()  # the others are other images
    # The learning rate the curves read dropped at the step boundary (step 90).
    curves = analysis.read_curves(str(colour_run["run"]))
    rates = dict(curves["train/learning_rate"])
    assert rates[80] == pytest.approx(0.01) and rates[90] == pytest.approx(0.001)
