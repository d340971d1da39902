"""train --init_from: a run that starts from another run's weights (fine-tuning).

The source is a tiny run on three colour classes (blue, green, red of a four-colour folder,
chosen with --classes); fine-tuned runs take other class lists of the same folder. The
reference for "loaded" is the source checkpoint's own weights, read back by restore_model.
"""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY_FLAGS, colour_classes, run_cli, tiny_config
from tf_alexnet.config import SourceConfig
from tf_alexnet.model.groupings import canonical_weights
from tf_alexnet.workdir.restore import restore_model

SOURCE = ("blue", "green", "red")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """(folder, workdir) of the source run: 6 steps, channel mean, 76 -> 67 px."""
    from tf_alexnet.train.trainer import train

    root = tmp_path_factory.mktemp("finetune")
    data = colour_classes(root / "colours", ["blue", "green", "red", "purple"])
    config = tiny_config(
        root / "source", train_steps=6, eval_split="", mean="channel", resize_size=76, dropout=0.0
    )
    train(dataclasses.replace(config, source=SourceConfig(source=f"folder:{data}", classes=SOURCE)))
    return data, root / "source"


def fine_tune_config(data, source, workdir, classes, **overrides):
    """A run left at the default sizes, mean, width and fc units (so that it inherits them)
    starting from `source`, on `classes` of the folder."""
    config = tiny_config(
        workdir,
        **{
            **dict(init_from=str(source), image_size=227, width=1.0, fc_units=4096, eval_split=""),
            **overrides,
        },
    )
    return dataclasses.replace(
        config, source=SourceConfig(source=f"folder:{data}", classes=tuple(classes))
    )


def step0_state(config):
    """(Run, State) as train() builds them before its first step."""
    from tf_alexnet.train.task import TrainingTask
    from tf_alexnet.train.transfer import resolve_init_from

    config, transfer = resolve_init_from(config.validate())
    task = TrainingTask(config, strategy=tf.distribute.get_strategy(), transfer=transfer)
    run = task.open()
    return run, task.build_state()


def source_weights(workdir):
    model = restore_model(str(workdir))
    return canonical_weights(model), model


@pytest.mark.parametrize(
    "classes, grouping, new",
    [
        (SOURCE, "towers", []),  # same classes: fc8 too
        (("blue", "green", "purple", "red"), "towers", ["fc8"]),  # 4 outputs vs 3
        (("blue", "green", "purple"), "towers", ["fc8"]),  # 3 outputs, other classes
        (SOURCE, "none", ["conv2", "conv4", "conv5"]),  # ungrouped: other shapes
    ],
)
def test_loaded_layers_equal_the_source_at_step_0(source, tmp_path, caplog, classes, grouping, new):
    data, workdir = source
    want, info = source_weights(workdir)
    config = fine_tune_config(data, workdir, tmp_path / "ft", classes, grouping=grouping)
    with caplog.at_level("INFO"):
        run, state = step0_state(config)
    # The network and preprocessing are the source's, though the flags said 227, width 1.
    assert run.network.spec == dataclasses.replace(
        info.spec, num_classes=len(classes), dropout=0.5
    )  # a training setting: its own
    assert run.network.preprocessing == info.preprocessing
    got = canonical_weights(state.model, grouping)
    for name in want:
        if name in new:
            assert [a.shape for a in got[name]] != [a.shape for a in want[name]] or not any(
                np.array_equal(g, w) for g, w in zip(got[name], want[name])
            ), name
        else:
            for g, w in zip(got[name], want[name]):
                np.testing.assert_array_equal(g, w, err_msg=name)
    line = next(r.getMessage() for r in caplog.records if "Initialized from" in r.getMessage())
    named_new = line.split("; new ")[1] if new else ""
    assert all(f"{name} (" in named_new for name in new), line
    assert "loaded conv1" in line and str(workdir) in line
    record = json.loads((tmp_path / "ft" / "init.json").read_text())
    assert record["init_from"] == str(workdir) and record["checkpoint"].endswith("ckpt-6")
    assert sorted(record["new"]) == sorted(new)


def test_flags_given_override_what_the_source_passes_on(source, tmp_path):
    data, workdir = source
    config = fine_tune_config(
        data, workdir, tmp_path / "ft", SOURCE, mean="none", image_size=99, resize_mode="squash"
    )
    run, state = step0_state(config)
    p = run.network.preprocessing
    assert (p.image_size, p.resize, p.mean, p.resize_mode) == (99, 112, "none", "squash")
    loaded = canonical_weights(state.model, "towers")
    want, _ = source_weights(workdir)
    np.testing.assert_array_equal(loaded["conv5"][0], want["conv5"][0])  # maps of any size
    assert loaded["fc6"][0].shape != want["fc6"][0].shape  # pool5 2x2 at 99 px, 1x1 at 67


def test_frozen_layers_stay_as_loaded_through_training_and_resume(source, tmp_path):
    from tf_alexnet.train.trainer import train

    data, workdir = source
    want, _ = source_weights(workdir)
    classes = ("blue", "green", "purple", "red")
    config = fine_tune_config(
        data,
        workdir,
        tmp_path / "ft",
        classes,
        train_steps=4,
        train_from="conv5",
        freeze=("conv2",),
        weight_decay=0.05,
        learning_rate=0.01,
        head_lr_multiplier=10.0,
    )
    assert config.frozen_layers == ("conv1", "conv2", "conv3", "conv4")
    assert train(config)["step"] == 4
    got = canonical_weights(*_model(tmp_path / "ft"))
    for name in ("conv1", "conv2", "conv3", "conv4"):  # decayed, they would have shrunk
        for g, w in zip(got[name], want[name]):
            np.testing.assert_array_equal(g, w, err_msg=name)
    for name in ("conv5", "fc6", "fc7"):
        assert not np.array_equal(got[name][0], want[name][0]), name
    record = (tmp_path / "ft" / "init.json").read_text()

    # Rerunning the command resumes (nothing loaded again) and the frozen stay frozen.
    again = train(dataclasses.replace(config, train_steps=8))
    assert again["step"] == 8 and (tmp_path / "ft" / "init.json").read_text() == record
    resumed = canonical_weights(*_model(tmp_path / "ft"))
    np.testing.assert_array_equal(resumed["conv4"][0], want["conv4"][0])
    assert not np.array_equal(resumed["fc8"][0], got["fc8"][0])

    # Resuming with other frozen layers would misplace the optimizer's velocities.
    result = run_cli(
        "train",
        *TINY_FLAGS,
        f"--data=folder:{data}",
        f"--init_from={workdir}",
        "--classes=blue,green,purple,red",
        "--image_size=227",
        "--width=1",
        "--fc_units=4096",
        "--eval_split=",
        "--train_steps=12",
        f"--workdir={tmp_path / 'ft'}",
        "--train_from=fc6",
    )
    assert_one_line(result, "Cannot resume", "conv4", "conv5")


def _model(workdir):
    model = restore_model(str(workdir))
    return model, model.grouping


def assert_one_line(result, *words):
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in line, (word, line)


def test_bad_init_from_is_one_line(source, tmp_path):
    data, workdir = source
    flags = [*TINY_FLAGS, f"--data=folder:{data}", "--eval_split=", "--train_steps=2"]

    def train_from(path, name):
        return run_cli("train", *flags, f"--init_from={path}", f"--workdir={tmp_path / name}")

    assert_one_line(
        train_from(tmp_path / "nowhere", "a"),
        "--init_from",
        str(tmp_path / "nowhere"),
        "no such workdir or checkpoint",
    )
    (tmp_path / "empty").mkdir()
    assert_one_line(train_from(tmp_path / "empty", "b"), "has no model.json")
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(workdir / "model.json", bare)
    shutil.copy(workdir / "stats.json", bare)
    assert_one_line(train_from(bare, "c"), "--init_from", "no checkpoint")
    broken = tmp_path / "broken"
    shutil.copytree(workdir, broken)
    data_file = next((broken / "checkpoints").glob("ckpt-6.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:1000])
    assert_one_line(
        train_from(broken / "checkpoints" / "ckpt-6", "d"),
        "--init_from",
        "ckpt-6",
        "cannot be restored",
    )
    assert_one_line(
        run_cli("train", *flags, "--train_from=fc9", f"--workdir={tmp_path}/e"),
        "--train_from 'fc9'",
    )
    assert_one_line(
        run_cli("train", *flags, "--train_from=fc8", "--freeze=fc8", f"--workdir={tmp_path}/f"),
        "no layer to train",
    )
    assert_one_line(
        run_cli("train", *TINY_FLAGS, "--classes=dog", f"--workdir={tmp_path}/g"),
        "--classes",
        "folder:",
    )
    assert_one_line(
        run_cli("train", *flags, "--classes=dog,red", f"--workdir={tmp_path}/h"),
        "no class folder dog",
    )


@pytest.mark.slow
def test_finetune_recipe_beats_training_from_scratch(tmp_path):
    """configs/finetune.flags as users run it (fresh processes), from a source cut to 6 of
    its 15 epochs: the fine-tuned run beats the same steps from scratch (the flagfile's
    from-scratch command) by 3 points on all ~24,500 held-out photos of the five classes.

    Scored on the whole validation split, not the runs' own 2,000-photo evaluations, whose
    error has a standard deviation of ~1 point. From a 3-epoch source the held-out margin
    measured 2.77 points (32.64% vs. 35.40%, 2026-12-01): too weak a source for the claim;
    the full recipe (15 epochs) gives 5.9 (configs/finetune.flags)."""
    from conftest import shared_data
    from test_train import recipe
    from tf_alexnet.config import EvalConfig
    from tf_alexnet.evaluate.scoring import evaluate

    photos = shared_data("cifar10", "train")
    recipe(tmp_path / "source", "--flagfile=configs/finetune_source.flags", "--epochs=6")
    tuned = recipe(
        tmp_path / "tuned",
        "--flagfile=configs/finetune.flags",
        f"--init_from={tmp_path / 'source'}",
    )
    scratch = recipe(
        tmp_path / "scratch",
        "--flagfile=configs/finetune.flags",
        "--init_from=",
        "--image_size=67",
        "--width=0.5",
        "--fc_units=512",
        "--init=he",
        "--warmup_epochs=1",
        "--head_lr_multiplier=1",
        "--learning_rate=0.001",
    )
    assert tuned["step"] == scratch["step"] == 320

    def held_out(run):
        held = SourceConfig(
            source=f"folder:{photos}",
            validation_fraction=0.98,
            classes=("dog", "frog", "horse", "ship", "truck"),
        )
        return evaluate(EvalConfig(source=held, workdir=str(tmp_path / run)))

    tuned, scratch = held_out("tuned"), held_out("scratch")
    assert tuned["num_images"] == scratch["num_images"] > 24_000
    print(
        f"held-out top-1 error: fine-tuned {tuned['top1_error']:.4f}, "
        f"from scratch {scratch['top1_error']:.4f}"
    )
    assert tuned["top1_error"] <= scratch["top1_error"] - 0.03, (
        f"held-out top-1 error fine-tuned {tuned['top1_error']:.4f}, "
        f"from scratch {scratch['top1_error']:.4f}"
    )
