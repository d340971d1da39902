"""Small datasets train by default: the batch is capped so an epoch has steps to schedule,
the plateau waits for enough training before it divides the rate, and a run that did not
learn ends with a warning line. The README's fine-tuning command learns on ~200 photos (slow)."""

import dataclasses
import logging
import math
import os
import pathlib

import numpy as np
import pytest

from helpers import colour_classes, last_json, run_cli, tiny_config
from tf_alexnet.config import TrainConfig
from tf_alexnet.flags import read_flagfile
from tf_alexnet.train.loop import not_learning
from tf_alexnet.train.optim import LearningRate
from tf_alexnet.train.step import plateau_patience

CIFAR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10" / "train"


def test_a_small_split_trains_with_a_batch_that_gives_min_epoch_steps(tmp_path, caplog):
    from tf_alexnet.train.devices import make_strategy, resolve_auto
    from tf_alexnet.train.task import TrainingTask

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    config = resolve_auto(
        tiny_config(
            tmp_path / "w",
            source=f"folder:{data}",
            validation_fraction=0.3,
            batch_size=128,
            eval_examples=0,
        )
    )
    caplog.set_level(logging.WARNING)
    run = TrainingTask(config, strategy=make_strategy("default")).open()
    images = run.train_source.num_examples
    assert 30 <= images <= 55  # about 70% of 60
    assert run.config.augment.batch_size == images // 8 and run.steps_per_epoch >= 8
    assert f"--batch_size 128 gives 0 step(s) an epoch of the {images}" in caplog.text
    # --min_epoch_steps=0 keeps the batch (and the one step an epoch, here none: at least 1).
    kept = TrainingTask(
        dataclasses.replace(config, min_epoch_steps=0), strategy=make_strategy("default")
    ).open()
    assert kept.config.augment.batch_size == 128 and kept.steps_per_epoch == 1
    # A large split is left alone: 10,000 images of batch 128 are 78 steps an epoch.
    from tf_alexnet.train.task import cap_batch

    assert cap_batch(config, 10_000) is config


def test_the_plateau_waits_for_plateau_min_steps_of_training():
    config = TrainConfig()  # patience 1 evaluation, at least 200 steps
    assert plateau_patience(config, 10_009) == 1  # an ImageNet epoch: the paper's rule
    assert plateau_patience(config, 8) == 25  # a small split's epoch of 8 steps
    assert plateau_patience(dataclasses.replace(config, plateau_min_steps=0), 8) == 1
    schedule = LearningRate("plateau", 0.01, 1000, patience=plateau_patience(config, 8))
    reports = [schedule.report(0.5) for _ in range(26)]  # no improvement after the first
    assert reports.index(True) == 25 and float(schedule.scale.numpy()) == pytest.approx(0.1)


def test_not_learning_is_no_better_than_chance_or_the_first_evaluation():
    assert "chance (0.6667 for 3 classes)" in not_learning(None, (30, 0.70), 3)
    assert "first evaluation (0.5000 at step 1)" in not_learning((1, 0.5), (30, 0.5), 3)
    assert not_learning((1, 0.5), (30, 0.3), 3) is None
    assert not_learning((30, 0.5), (30, 0.5), 3) is None  # one evaluation: nothing to compare
    assert not_learning((1, 0.0), (30, 0.0), 3) is None  # perfect from the start
    # One class answered for all 55 images of a 4-class split: its share, 0.7273 by luck,
    # is within two standard errors (0.117) of chance; 0.55 is not.
    said = not_learning(None, (30, 1 - 15 / 55), 4, images=55)
    assert "within the noise of 55 images" in said
    assert not_learning(None, (30, 0.55), 4, images=55) is None


def test_a_run_that_did_not_learn_ends_with_one_warning_line(tmp_path, caplog):
    from tf_alexnet.train.trainer import train

    caplog.set_level(logging.WARNING)
    config = tiny_config(
        tmp_path / "w", train_steps=6, eval_every_steps=2, learning_rate=1e-9, eval_examples=0
    )
    train(config)
    lines = [r.getMessage() for r in caplog.records if "did not learn" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert "a longer run (--train_steps, now 6)" in lines[0] and "--init_from" in lines[0]


def test_the_advice_names_what_was_measured_to_help_and_nothing_the_run_uses():
    """docs/training.md, "Small datasets": from scratch, the paper's init, rate or heads
    stay at chance on a few hundred photos and the small-data recipe learns; a run that
    already uses the recipe's choices is told to train longer or fine-tune; a diverged run
    is told a lower rate (with a warm-up when it has none)."""
    from tf_alexnet.train import advice

    recipe = read_flagfile(TrainConfig, "configs/photos.flags")
    paper = TrainConfig(source=recipe.source, workdir="w")
    assert "--flagfile configs/photos.flags" in advice.not_learning(paper)
    said = advice.not_learning(recipe)
    assert "configs/photos.flags" not in said and "--epochs, now" in said
    assert "--init_from" in said and "cosine" not in said
    tuned = dataclasses.replace(paper, init_from="runs/source", learning_rate=0.003)
    assert "--learning_rate=0.001 --head_lr_multiplier=10" in advice.not_learning(tuned)
    tuned = dataclasses.replace(tuned, learning_rate=0.001, head_lr_multiplier=10)
    assert advice.not_learning(tuned) == "Try a longer run (--epochs, now 90)."
    assert advice.diverged(dataclasses.replace(recipe, init="he", learning_rate=0.01)) == (
        "try --learning_rate=0.005, or --flagfile configs/photos.flags"
    )
    assert "--warmup_epochs=1" in advice.diverged(dataclasses.replace(paper, init="he"))


@pytest.mark.slow
@pytest.mark.skipif(
    not CIFAR.is_dir(),
    reason="needs ../shared/data/cifar10 (the CIFAR-10 "
    "training photos beside the project); absent on a fresh clone",
)
def test_the_readmes_fine_tuning_command_learns_on_210_photos(tmp_path):
    """The README's fine-tuning command, its paths changed only, from a source trained on
    five CIFAR-10 classes, on 3 other classes x 70 photos (30% of them validation): it
    scores clearly above chance (33%) on 600 held-out photos of those classes. Before the
    small-data rules it divided the rate three times in its first steps."""
    source, small, held_out = tmp_path / "source", tmp_path / "small", tmp_path / "held_out"
    for name in ("dog", "horse", "ship"):
        files = sorted(os.listdir(CIFAR / name))
        for folder, chosen in ((small, files[:70]), (held_out, files[-200:])):
            (folder / name).mkdir(parents=True)
            for f in chosen:
                (folder / name / f).symlink_to(CIFAR / name / f)
    result = run_cli(
        "train", "--flagfile=configs/finetune_source.flags", f"--workdir={source}", "--epochs=4"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_cli(
        "train",
        f"--init_from={source}",
        f"--data=folder:{small}",
        f"--workdir={tmp_path / 'ft'}",
        "--head_lr_multiplier=10",
        "--learning_rate=0.001",
        "--epochs=30",
        "--validation_fraction=0.3",
    )
    assert result.returncode == 0 and "did not learn" not in result.stderr
    scored = last_json(
        run_cli(
            "evaluate",
            f"--workdir={tmp_path / 'ft'}",
            f"--data=folder:{held_out}",
            "--split=all",
            "--json",
        )
    )
    print("held-out top-1 error", scored["top1_error"])
    assert scored["num_images"] == 600 and scored["top1_error"] < 0.45
    assert not math.isnan(np.float64(scored["loss"]))


@pytest.mark.slow
@pytest.mark.skipif(
    not CIFAR.is_dir(),
    reason="needs ../shared/data/cifar10 (the CIFAR-10 "
    "training photos beside the project); absent on a fresh clone",
)
def test_the_readmes_own_photos_command_learns_from_scratch_on_600_photos(tmp_path):
    """The README's own-photos command, its paths changed only, on 4 CIFAR-10 classes x 150
    photos (10% of them its validation), from scratch: clearly above chance (25%) on 400
    held-out photos of those classes, which `evaluate` scores whole. The paper's defaults
    (the command without the recipe) stay at chance and say what to try."""
    photos, held_out = tmp_path / "photos", tmp_path / "held_out"
    for name in ("airplane", "automobile", "bird", "cat"):
        files = sorted(os.listdir(CIFAR / name))[1000:1250]
        for folder, chosen in ((photos, files[:150]), (held_out, files[150:])):
            (folder / name).mkdir(parents=True)
            for f in chosen:
                (folder / name / f).symlink_to(CIFAR / name / f)
    result = run_cli(
        "train",
        "--flagfile=configs/photos.flags",
        f"--data=folder:{photos}",
        f"--workdir={tmp_path / 'mine'}",
    )
    assert result.returncode == 0 and "did not learn" not in result.stderr
    scored = last_json(
        run_cli("evaluate", f"--workdir={tmp_path / 'mine'}", f"--data=folder:{held_out}", "--json")
    )
    print("held-out top-1 accuracy", scored["top1_accuracy"])
    assert scored["num_images"] == 400 and scored["split"] == "all"
    assert scored["top1_accuracy"] > 0.40
    paper = run_cli(
        "train",
        f"--data=folder:{photos}",
        f"--workdir={tmp_path / 'paper'}",
        "--image_size=67",
        "--width=0.5",
        "--epochs=10",
    )
    assert paper.returncode == 0 and "The run did not learn" in paper.stderr
    assert "--flagfile configs/photos.flags" in paper.stderr
