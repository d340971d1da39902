"""A rerun continues exactly the recorded run or says why not; flags.txt is a true flagfile
of the run; evaluate and report score the run's own validation data by default."""

import dataclasses
import os
import math

import pytest

from helpers import colour_classes, last_json, run_cli, tiny_config
from tf_alexnet.config import EvalConfig, TrainConfig
from tf_alexnet.errors import WorkdirError
from tf_alexnet.flags import config_flags, flag_text, read_flagfile


def test_a_rerun_with_other_flags_stops_naming_them_or_applies_them(tmp_path):
    from tf_alexnet.report.analysis import read_curves
    from tf_alexnet.train.trainer import train

    # Nothing learns at this rate, so every evaluation after the first divides the rate.
    first = tiny_config(
        tmp_path,
        train_steps=4,
        eval_every_steps=1,
        learning_rate=1e-6,
        plateau_min_steps=0,
        log_every_steps=1,
        eval_examples=0,
    )
    train(first)
    assert "--lr_schedule=plateau" in (tmp_path / "flags.txt").read_text()
    # Longer, or other log and checkpoint cadence: the same run, extended.
    assert train(dataclasses.replace(first, train_steps=5, checkpoint_every_steps=7))["step"] == 5
    cosine = dataclasses.replace(first, train_steps=12, lr_schedule="cosine", learning_rate=0.002)
    with pytest.raises(WorkdirError) as refused:
        train(cosine)
    line = str(refused.value)
    assert "--lr_schedule 'plateau', now 'cosine'" in line
    assert "--learning_rate '1e-06', now '0.002'" in line and "--allow_changed_flags" in line
    assert "\n" not in line and "--train_steps" not in line
    # Allowed: the new schedule from step 5 on, the plateau's cuts forgotten.
    train(dataclasses.replace(cosine, allow_changed_flags=True))
    rates = dict(read_curves(str(tmp_path))["train/learning_rate"])
    assert rates[3] == pytest.approx(1e-7, rel=1e-3)  # divided once by then
    for step in (6, 9, 12):
        assert rates[step] == pytest.approx(
            0.001 * (1 + math.cos(math.pi * step / 12)), rel=1e-4, abs=1e-9
        )
    text = (tmp_path / "flags.txt").read_text()
    assert (
        "# changed at step 5: --learning_rate 1e-06 -> 0.002; --lr_schedule plateau -> "
        "cosine (--allow_changed_flags)" in text
    )
    assert "--lr_schedule=cosine" in text and "allow_changed_flags" not in text.split("\n--", 1)[1]
    # The structure stays refused, --allow_changed_flags or not.
    with pytest.raises(WorkdirError, match="network differs"):
        train(dataclasses.replace(cosine, allow_changed_flags=True, fc_units=48))


def test_a_python_config_with_an_int_where_flags_txt_has_a_float_is_the_same_run(tmp_path):
    """TrainConfig(warmup_epochs=1) run twice: flags.txt, read back, holds 1.0 (the tutorial's
    rerun found it)."""
    from tf_alexnet.train.rerun import changed_flags
    from tf_alexnet.train.trainer import train

    config = tiny_config(tmp_path, train_steps=2, warmup_epochs=1)
    train(config)
    assert train(dataclasses.replace(config, train_steps=3))["step"] == 3
    assert changed_flags(config, dataclasses.replace(config, warmup_epochs=2)) == {
        "warmup_epochs": ("1", "2")
    }


def test_flags_txt_holds_the_values_used_and_rebuilds_the_same_run(tmp_path):
    """A run started from a 67 px, width 0.125, fc 32 source with none of those flags: its
    flags.txt says so, and the run it describes has the same network."""
    from tf_alexnet.train.devices import make_strategy, resolve_auto
    from tf_alexnet.train.task import TrainingTask
    from tf_alexnet.train.trainer import train
    from tf_alexnet.train.transfer import resolve_init_from

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=12)
    source = tiny_config(
        tmp_path / "source", train_steps=2, eval_split="", mean="channel", pooling="non_overlapping"
    )
    train(source)
    defaults = TrainConfig()
    run_config = dataclasses.replace(
        defaults,
        source=dataclasses.replace(defaults.source, source=f"folder:{data}"),
        workdir=str(tmp_path / "ft"),
        init_from=str(tmp_path / "source"),
        train_steps=2,
        eval_split="",
    )
    train(run_config)
    text = (tmp_path / "ft" / "flags.txt").read_text()
    for flag in (
        "--image_size=67",
        "--width=0.125",
        "--fc_units=32",
        "--mean=channel",
        "--pooling=non_overlapping",
        "--resize_size=76",
        "--grouping=towers",
    ):
        assert f"\n{flag}\n" in text, flag
    again = dataclasses.replace(
        read_flagfile(TrainConfig, tmp_path / "ft" / "flags.txt"),
        workdir=str(tmp_path / "new"),
        init_from="",
    )
    assert again.augment.batch_size == 4  # ~32 training images: 8 steps an epoch
    original = TrainingTask(
        resolve_init_from(resolve_auto(run_config))[0], strategy=make_strategy("default")
    ).open()
    rebuilt = TrainingTask(resolve_auto(again), strategy=make_strategy("default")).open()
    assert rebuilt.network == original.network
    # Every flag the same but the workdir, --init_from and where the statistics are read
    # (the source's; a resumed run's own copy of them: the same numbers, compared above).
    ours = ("workdir", "init_from", "stats")
    assert {k: flag_text(v) for k, v in config_flags(rebuilt.config).items() if k not in ours} == {
        k: flag_text(v) for k, v in config_flags(original.config).items() if k not in ours
    }


def test_evaluate_scores_the_runs_own_validation_split_by_default(tmp_path):
    from tf_alexnet.evaluate.scoring import evaluate
    from tf_alexnet.train.trainer import train

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    config = tiny_config(
        tmp_path / "w",
        source=f"folder:{data}",
        validation_fraction=0.3,
        train_steps=4,
        eval_examples=0,
    )
    trained = train(config)
    scored = evaluate(EvalConfig(workdir=str(tmp_path / "w")))
    assert scored["data"] == f"folder:{data}" and scored["split"] == "validation"
    assert scored["num_images"] == trained["num_images"] > 10
    assert scored["top1_error"] == pytest.approx(trained["top1_error"])
    # The command too; a flag given wins (another fraction: another split).
    cli = last_json(run_cli("evaluate", f"--workdir={tmp_path / 'w'}", "--json"))
    assert cli["num_images"] == trained["num_images"]
    other = last_json(
        run_cli("evaluate", f"--workdir={tmp_path / 'w'}", "--json", "--validation_fraction=0.5")
    )
    assert other["num_images"] > trained["num_images"]
    # With --eval_examples, the same seeded sample training scored.
    sampled = dataclasses.replace(config, workdir=str(tmp_path / "s"), eval_examples=7)
    assert (
        train(sampled)["num_images"]
        == 7
        == evaluate(EvalConfig(workdir=sampled.workdir))["num_images"]
    )


def test_evaluate_on_other_photos_scores_all_of_them_and_says_how_many(tmp_path):
    """A folder of new photos (no split subfolders) is scored whole, and the line says how
    many images of which split; --split still chooses; the run's own folder typed with a
    trailing slash is the run's own data (its validation split), not other photos."""
    from tf_alexnet.train.trainer import train

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    new = colour_classes(tmp_path / "new", ["blue", "green", "red"], per_class=11, seed=5)
    trained = train(
        tiny_config(tmp_path / "w", source=f"folder:{data}", train_steps=2, eval_examples=0)
    )
    workdir = f"--workdir={tmp_path / 'w'}"
    scored = last_json(run_cli("evaluate", workdir, f"--data=folder:{new}", "--json"))
    assert scored["num_images"] == 33 and scored["split"] == "all"
    assert scored["top1_accuracy"] == pytest.approx(1 - scored["top1_error"])
    line = run_cli("evaluate", workdir, f"--data=folder:{new}").stdout.strip()
    assert f"33 images of folder:{new} (split 'all')" in line and "top-1 accuracy " in line
    hashed = last_json(
        run_cli("evaluate", workdir, f"--data=folder:{new}", "--split=validation", "--json")
    )
    assert 0 < hashed["num_images"] < 33
    own = last_json(run_cli("evaluate", workdir, f"--data=folder:{data}/", "--json"))
    assert own["split"] == "validation" and own["num_images"] == trained["num_images"]
    assert own["data"] == f"folder:{data}"  # the run's spec: the same source


def test_a_rerun_of_the_same_command_resumes_and_another_typed_value_names_both(tmp_path):
    """The path with a trailing slash is the same path; the small-data batch (chosen, not
    typed) is no difference; another typed batch is refused in one line naming the run's
    value, why the package chose it and what was typed, then the new value."""
    from tf_alexnet.train.trainer import train

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    first = tiny_config(tmp_path / "w", source=f"folder:{data}", batch_size=128, train_steps=2)
    train(first)
    text = (tmp_path / "w" / "flags.txt").read_text()
    capped = int(text.split("\n--batch_size=")[1].split()[0])
    assert capped < 128 and f"# chosen: --batch_size={capped} (typed '128'): the small" in text
    again = dataclasses.replace(
        first,
        train_steps=3,
        source=dataclasses.replace(first.source, source=f"folder:{data}/"),
    )
    assert train(again)["step"] == 3
    other = dataclasses.replace(again, augment=dataclasses.replace(first.augment, batch_size=4))
    with pytest.raises(WorkdirError) as refused:
        train(other)
    line = str(refused.value)
    assert "\n" not in line and line.count("--batch_size") == 1 and "--data" not in line
    assert f"--batch_size '{capped}' (the small-data cap: " in line
    assert "typed '128'), now '4'" in line
    result = run_cli(
        "train",
        f"--workdir={tmp_path / 'w'}",
        *[f"--{k}={v}" for k, v in config_flags(other).items() if k in CLI_KEYS],
        f"--data=folder:{data}",
        "--batch_size=4",
    )
    assert result.returncode == 1 and result.stderr.count("was trained with other flags") == 1


CLI_KEYS = ("image_size", "width", "fc_units", "init", "learning_rate", "train_steps")


def test_experiment_never_reports_a_kept_run_of_other_settings(tmp_path):
    from tf_alexnet.command_configs import ExperimentConfig
    from tf_alexnet.experiment.runner import check_kept, run_config
    from tf_alexnet.train import rerun

    config = ExperimentConfig(root=str(tmp_path), train_steps=2)
    made = run_config(config, "baseline")
    os.makedirs(made.workdir)
    rerun.write_flags(dataclasses.replace(made, grouping="towers", precision="float32"), 2, {})
    check_kept(made)  # the same settings ("auto" as resolved where it trained)
    with pytest.raises(WorkdirError, match="--train_steps '2', now '3'"):
        check_kept(run_config(dataclasses.replace(config, train_steps=3), "baseline"))


def test_a_flags_txt_of_an_earlier_version_is_not_compared(tmp_path, caplog):
    """0.2's flags.txt held the flags as typed ("auto", no inherited values): a resume of
    such a run goes on, says so, and rewrites it."""
    import logging

    from tf_alexnet.train.trainer import train

    config = tiny_config(tmp_path, train_steps=2, eval_split="")
    train(config)
    (tmp_path / "flags.txt").write_text(
        "# Resolved flags of this run: python -m "
        "tf_alexnet.train --flagfile THIS_FILE\n"
        "--grouping=auto\n--learning_rate=0.5\n"
    )
    caplog.set_level(logging.WARNING)
    assert train(dataclasses.replace(config, train_steps=3))["step"] == 3
    assert "written by tf_alexnet 0.2 or before" in caplog.text
    assert "(tf_alexnet flags.txt 2)" in (tmp_path / "flags.txt").read_text()


def test_a_workdir_of_an_earlier_version_evaluates_on_its_own_split(tmp_path):
    """model.json of 0.2 has no validation record: flags.txt's data flags stand in."""
    import json

    from tf_alexnet.evaluate.scoring import evaluate
    from tf_alexnet.train.trainer import train

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    config = tiny_config(
        tmp_path / "w",
        source=f"folder:{data}",
        validation_fraction=0.3,
        train_steps=2,
        eval_examples=0,
    )
    trained = train(config)
    model_json = tmp_path / "w" / "model.json"
    old = json.loads(model_json.read_text())
    del old["validation"]
    model_json.write_text(json.dumps(old))
    scored = evaluate(EvalConfig(workdir=str(tmp_path / "w")))
    assert scored["num_images"] == trained["num_images"]


def test_a_fine_tuned_run_resumes_after_its_source_moved(tmp_path):
    """flags.txt names the source's statistics; moved, the run resumes from its own copy."""
    from tf_alexnet.train.trainer import train

    source = tiny_config(tmp_path / "source", train_steps=2, eval_split="")
    train(source)
    tuned = dataclasses.replace(
        tiny_config(tmp_path / "ft", train_steps=2, eval_split=""),
        init_from=str(tmp_path / "moved"),
    )
    (tmp_path / "source").rename(tmp_path / "moved")
    train(tuned)
    (tmp_path / "moved").rename(tmp_path / "gone")
    assert train(dataclasses.replace(tuned, train_steps=3))["step"] == 3
