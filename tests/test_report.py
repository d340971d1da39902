"""python -m tf_alexnet.report on a small trained workdir: each figure's content."""

import json

import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY_FLAGS, run_module

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("report") / "run"
    result = run_module("train", f"--workdir={work}", *TINY_FLAGS, "--train_steps=8",
                        "--eval_every_steps=4", "--lr_schedule=step", "--step_epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return work


def test_report_figures_and_their_content(workdir, tmp_path):
    out = tmp_path / "report"
    result = run_module("report", f"--workdir={workdir}", "--data=synthetic:shapes",
                        "--synthetic_examples=64", f"--output={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    # conv1 of --width=0.125: 12 filters, 6 per tower.
    assert report["filters"] == {"tower a": 6, "tower b": 6}
    assert all(0 <= c for c in report["colourfulness"].values())
    # The confusion matrix counts every scored image; its diagonal is the top-1 accuracy,
    # which `evaluate` computes on its own path.
    matrix = np.array(report["confusion"])
    assert matrix.sum() == report["num_images"] == 6  # a tenth of 64
    scored = run_module("evaluate", f"--workdir={workdir}", "--data=synthetic:shapes",
                        "--synthetic_examples=64", "--json")
    assert scored.returncode == 0, scored.stderr[-2000:]
    evaluated = json.loads(scored.stdout.strip().splitlines()[-1])
    assert 1 - np.trace(matrix) / matrix.sum() == pytest.approx(evaluated["top1_error"])
    assert report["top1_error"] == pytest.approx(evaluated["top1_error"])
    # Neighbours: 5 queries x 6, ascending distances; curves from the event files: train
    # logged every 2 steps, evaluated at 4 and 8, the rate dropped once (step schedule).
    distances = np.array(report["neighbour_distances"])
    assert distances.shape == (5, 6) and (np.diff(distances, axis=1) >= 0).all()
    assert report["curves"]["train/loss"] == 4 and report["curves"]["eval/top1_error"] == 2
    html = (out / "index.html").read_text()
    for name in ("filters", "top5", "neighbours", "curves", "confusion"):
        assert f"src='{name}.png'" in html
        image = tf.io.decode_png(tf.io.read_file(str(out / f"{name}.png")))
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_neighbours_of_a_training_image_include_itself_at_distance_zero(workdir):
    import keras

    from tf_alexnet import report, rundir
    from tf_alexnet.config import DataConfig
    from tf_alexnet.data import make_dataset

    model, info, _ = rundir.restore_model(str(workdir))
    config = DataConfig(source="synthetic:shapes", synthetic_examples=64, image_size=67,
                        batch_size=16)
    images, _ = next(iter(make_dataset(config, "train", False,
                                       preprocessing=info.preprocessing)))
    fc7 = keras.Model(model.inputs, model.get_layer("fc7").output)
    queries = fc7(images[:3], training=False).numpy()
    distances, found, indices = report.training_neighbours(model, info, config, queries, 6, 0)
    assert (indices[:, 0] == [0, 1, 2]).all()
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-3)
    assert (distances[:, 1] > 0).all()  # the others are other images
    # The learning rate the curves read dropped at the step boundary.
    curves = report.read_curves(str(workdir))
    rates = [v for _, v in curves["train/learning_rate"]]
    assert rates[0] > rates[-1]
