"""Ensembles (the paper's Table 2): evaluate and export --workdir a,b,c average the members'
probabilities. Reference: each member's own softmax, averaged in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import (
    TINY,
    clean_process_probabilities,
    last_json,
    random_images,
    run_cli,
    write_image,
)
from tf_alexnet.data.stats import Preprocessing
from tf_alexnet.model.alexnet import build_from_spec
from tf_alexnet.model.spec import AlexNetSpec
from tf_alexnet.workdir.checkpoints import checkpoint_layers
from tf_alexnet.workdir.info import NetworkRecord, RunInfo, save_record

pytestmark = pytest.mark.usefixtures("exact_float32")
CLASSES = tuple(f"c{i}" for i in range(TINY["num_classes"]))


def workdir_of(path, seed, grouping="towers", classes=CLASSES, mean="none"):
    """A workdir holding a tiny model of random weights; (path, the model)."""
    spec = AlexNetSpec.create(**TINY)
    model = build_from_spec(spec, grouping, None, seed=seed)
    tf.train.Checkpoint(model=model, layers=checkpoint_layers(model)).save(
        str(path / "checkpoints" / "ckpt")
    )
    save_record(
        str(path),
        NetworkRecord(spec, grouping, classes, Preprocessing(spec.image_size, 76, mean)),
        RunInfo("synthetic:shapes"),
    )
    return str(path), model


def numpy_mean_softmax(models, x):
    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    return np.mean(
        [softmax(m(x, training=False).numpy().astype(np.float64)) for m in models], axis=0
    )


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    made = [
        workdir_of(root / f"m{i}", seed=i, grouping=g)
        for i, g in enumerate(("towers", "fused", "towers"))
    ]
    return [w for w, _ in made], [m for _, m in made]


def test_evaluate_averages_the_members_probabilities(members, tmp_path):
    from tf_alexnet.config import EvalConfig
    from tf_alexnet.evaluate.scoring import load_predictor

    workdirs, models = members
    x = random_images(4, TINY["image_size"])
    predictor = load_predictor(EvalConfig(workdir=",".join(workdirs)))
    predict, loaded = predictor.predict, predictor.loaded
    want = numpy_mean_softmax(models, x)
    np.testing.assert_allclose(predict(x).numpy(), want, atol=1e-6)
    assert loaded.count(",") == 2 and predictor.class_names == CLASSES
    # Ten crops: each member's crops averaged, then the members (the mean of means).
    crops = np.stack([x, x[:, :, ::-1]], 1)
    np.testing.assert_allclose(
        predict(crops).numpy(),
        (numpy_mean_softmax(models, x) + numpy_mean_softmax(models, x[:, :, ::-1])) / 2,
        atol=1e-6,
    )
    # Through the command: scores of the ensemble on real data.
    data = tmp_path / "photos"
    for i in range(2):
        for j in range(3):
            write_image(data / f"c{i}" / f"{j}.png", np.full((40, 50, 3), 60 * i + j, np.uint8))
    result = last_json(
        run_cli(
            "evaluate",
            f"--workdir={','.join(workdirs)}",
            f"--data=folder:{data}",
            "--split=all",
            "--json",
        )
    )
    assert result["num_images"] == 6 and result["model"].count(",") == 2


def test_export_serves_the_average(members, tmp_path):
    from tf_alexnet.export.savedmodel import export_saved_model

    workdirs, models = members
    version = export_saved_model(",".join(workdirs), str(tmp_path / "models"))
    x = random_images(3, TINY["image_size"])
    np.save(tmp_path / "x.npy", x)
    (got,) = clean_process_probabilities([(version, tmp_path / "x.npy")])
    np.testing.assert_allclose(got, numpy_mean_softmax(models, x), atol=1e-5)


def test_members_must_agree_in_one_line(members, tmp_path):
    workdirs, _ = members
    other, _ = workdir_of(tmp_path / "other", 9, classes=tuple(f"d{i}" for i in range(10)))
    channel, _ = workdir_of(tmp_path / "channel", 9, mean="channel")
    for odd, words in ((other, "other classes"), (channel, "preprocessing differs")):
        for command, extra in (
            ("evaluate", ["--data=synthetic:shapes"]),
            ("export", [f"--export_dir={tmp_path / 'm'}"]),
        ):
            result = run_cli(command, f"--workdir={workdirs[0]},{odd}", *extra)
            line = result.stderr.strip().splitlines()[-1]
            assert result.returncode == 1 and words in line and odd in line, line
    result = run_cli(
        "evaluate",
        f"--workdir={workdirs[0]},{workdirs[1]}",
        f"--checkpoint={workdirs[0]}/checkpoints/ckpt-1",
        "--data=synthetic:shapes",
    )
    assert result.returncode == 1 and "ensemble" in result.stderr.strip().splitlines()[-1]


def test_one_member_is_the_model_itself(members):
    """softmax(log(p)) == p: the ensemble of one run is that run."""
    from tf_alexnet.workdir.ensemble import ensemble_model

    _, models = members
    x = random_images(2, TINY["image_size"])
    single = ensemble_model(models[:1] * 2)
    np.testing.assert_allclose(
        tf.nn.softmax(single(x)).numpy(), numpy_mean_softmax(models[:1], x), atol=1e-6
    )
