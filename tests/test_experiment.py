"""python -m tf_alexnet.experiment: the paper's claims as arms over seeds, a table with the
spread and a verdict, and Figure 1 on the four-layer net of the authors' 2012 code.

The real sets train on ../shared/data/cifar10 for hours (README, "The paper's claims,
rerun"); here a cut-down set (a few steps a run on embedded data) goes through the command,
each new claim's network is checked against counts written here, and the verdict rule and
the measures are checked on hand-made results."""

import dataclasses
import json

import numpy as np
import pytest

import tf_alexnet
from helpers import colour_classes, random_images, run_cli
from tf_alexnet.command_configs import ExperimentConfig
from tf_alexnet.experiment import table
from tf_alexnet.experiment.claims import ARMS, CLAIMS, ONE_TOWER, REGIME, arms_of

# towers vs. fused is compared to float32 rounding: no TF32 on GPUs (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("exact_float32")
CUT = [
    "--data=synthetic:shapes",
    "--synthetic_examples=320",
    "--train_steps=6",
    "--seeds=2",
    "--figure1_epochs=2",
    "--figure1_rates=0.01,0.02",
    "--figure1_images=256",
]


def test_cut_down_claims_through_the_command(tmp_path):
    root = tmp_path / "claims"
    result = run_cli("experiment", "figure1", "lrn", "ensemble", *CUT, f"--root={root}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert [r["claim"] for r in rows] == ["figure1", "lrn", "ensemble"]
    assert all(r["verdict"] in ("held", "not shown", "reversed") for r in rows)
    saved = json.loads((root / "claims.json").read_text())
    for arm in ("baseline", "lrn_none"):
        runs = saved["results"][arm]
        assert [r["seed"] for r in runs] == [0, 1] and all(r["steps"] == 6 for r in runs)
        spec = json.loads((root / arm / "seed1" / "model.json").read_text())["spec"]
        assert spec["lrn"] is None if arm == "lrn_none" else spec["lrn"]["alpha"] == 1e-4
        flags = (root / arm / "seed1" / "flags.txt").read_text()
        assert "--seed=1" in flags and "--train_per_class=100" in flags
    figure = saved["results"]["figure1"]
    assert set(figure["sweep"]["relu"]["errors"]) == {"0.01", "0.02"}
    assert [len(r["curve"]) for r in figure["tanh"]] == [2, 2]
    claims_md = (root / "claims.md").read_text()
    assert "| §3.3 |" in claims_md and "| relu | " in claims_md  # the sweep, shown
    assert (root / "figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A rerun trains nothing: it reads the results and draws the same table.
    again = run_cli("experiment", "figure1", "lrn", "ensemble", *CUT, f"--root={root}")
    assert again.returncode == 0 and "First call of the train step" not in again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1]) == rows
    # Other settings never reuse these runs.
    other = run_cli(
        "experiment", "lrn", *CUT[:-4], "--seeds=2", "--train_per_class=7", f"--root={root}"
    )
    assert other.returncode == 1 and "other settings" in other.stderr


def test_each_arm_differs_from_the_baseline_in_its_switch_only():
    from tf_alexnet.experiment.runner import run_config

    config = ExperimentConfig(root="/tmp/r")
    base = run_config(config, "baseline")
    assert (base.lrn, base.pooling, base.activation, base.dropout) == (
        "paper",
        "overlapping",
        "relu",
        0.5,
    )
    assert base.source.train_per_class == 100 and base.lr_schedule == "step"

    def flat(c):
        return {
            **dataclasses.asdict(c.augment),
            **dataclasses.asdict(c.source),
            **{
                k: v
                for k, v in dataclasses.asdict(c).items()
                if k not in ("augment", "source", "evaluation", "workdir")
            },
        }

    for name, changes in ARMS.items():
        differ = {k for k, v in flat(run_config(config, name)).items() if v != flat(base)[k]}
        assert differ == {k for k, v in changes.items() if v != flat(base).get(k)}, name
    assert run_config(config, "baseline", 2).source.seed == 2
    assert set(arms_of(CLAIMS)) == set(ARMS)


def test_the_four_layer_net_of_figure1():
    """Shapes and parameters against a count written here from layers-18pct.cfg: three 5x5
    convolutions (32, 32, 64 filters) and fc10 on 4x4x64."""
    from tf_alexnet.experiment.four_layer import four_layer_net

    count = (
        (5 * 5 * 3 * 32 + 32)
        + (5 * 5 * 32 * 32 + 32)
        + (5 * 5 * 32 * 64 + 64)
        + (4 * 4 * 64 * 10 + 10)
    )
    for activation in ("relu", "tanh"):
        model = four_layer_net(activation, seed=0)
        assert model.count_params() == count == 89_578
        shapes = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
        assert shapes["pool1"] == (16, 16, 32) and shapes["pool2"] == (8, 8, 32)
        assert shapes["pool3"] == (4, 4, 64) and shapes["fc10"] == (10,)
        acts = {l.get_config()["activation"] for l in model.layers if l.name.startswith("act")}
        assert acts == {activation}
        assert model.get_layer("fc10").get_config()["activation"] == "linear"


def test_same_map_normalization_is_the_rnorm_formula():
    from tf_alexnet.experiment.four_layer import SameMapNormalization, same_map_norm_reference

    x = np.random.default_rng(0).normal(size=(2, 7, 6, 3)).astype("float32") * 200
    got = SameMapNormalization(size=3, scale=5e-5, power=0.75)(x).numpy()
    want = same_map_norm_reference(x)
    np.testing.assert_allclose(got, want, rtol=2e-5)
    assert np.abs(got - x).max() > 1.0  # the normalization does something at this scale


def test_the_one_tower_net_of_section_3_2():
    """Half the kernels of conv1..conv4 in one column, conv5 and the fc layers whole."""
    config_filters = tuple(2 * round(f * 0.5 / 2) for f in (96, 256, 384, 384, 256))
    assert ONE_TOWER == tuple(f // 2 for f in config_filters[:4]) + (config_filters[4],)
    one = tf_alexnet.AlexNet(10, 67, grouping="none", filters=ONE_TOWER, fc_units=512)
    two = tf_alexnet.AlexNet(10, 67, width=0.5, fc_units=512)
    kernels = {l.name: l.kernel.shape for l in one.layers if hasattr(l, "kernel")}
    assert kernels["conv1"] == (11, 11, 3, 24) and kernels["conv2"] == (5, 5, 24, 64)
    assert kernels["conv4"] == (3, 3, 96, 96) and kernels["conv5"] == (3, 3, 96, 128)
    assert kernels["fc6"] == two.get_layer("fc6").kernel.shape
    assert one.count_params() < two.count_params()


@pytest.mark.parametrize("removed", [("conv3",), ("conv4",)])
def test_the_depth_ablations_build_and_convert(removed):
    """§7: the net without conv3 (conv4 then sees both towers) or conv4; towers and fused
    compute the same function."""
    towers = tf_alexnet.AlexNet(10, 67, width=0.25, fc_units=32, removed=removed, seed=1)
    names = {l.name for l in towers.layers}
    assert not any(n.startswith(removed[0]) for n in names)
    first = "conv4a" if removed == ("conv3",) else "conv3a"
    assert towers.get_layer(first).kernel.shape[2] == towers.spec.filters[1]  # both towers
    fused = tf_alexnet.convert_grouping(towers, "fused")
    x = random_images(2, 67)
    np.testing.assert_allclose(fused(x).numpy(), towers(x).numpy(), rtol=1e-4, atol=1e-5)
    full = tf_alexnet.AlexNet(10, 67, width=0.25, fc_units=32)
    assert towers.count_params() < full.count_params()
    with pytest.raises(ValueError, match="only"):
        tf_alexnet.AlexNet(10, 67, width=0.25, fc_units=32, removed=("conv2",))


def test_train_per_class_is_a_fixed_subset(tmp_path):
    from tf_alexnet.config import SourceConfig
    from tf_alexnet.data.pipeline import open_split

    data = colour_classes(tmp_path / "photos", ["red", "green", "blue"], per_class=20)
    source = SourceConfig(source=f"folder:{data}", validation_fraction=0.25, train_per_class=5)
    first = open_split(source, "train", 76)
    assert first.num_examples == 15
    again = open_split(source, "train", 76)
    listed = [list(s.dataset.as_numpy_iterator()) for s in (first, again)]
    assert listed[0] == listed[1]
    whole = open_split(dataclasses.replace(source, train_per_class=0), "validation", 76)
    assert open_split(source, "validation", 76).num_examples == whole.num_examples


def test_the_verdict_rule_and_the_measures_on_hand_made_results():
    assert table.summary([1.0, 2.0, 3.0]) == (2.0, 1.0, 3)
    assert table.verdict(0.03, 0.01) == "held" and table.verdict(0.01, 0.01) == "not shown"
    assert table.verdict(-0.03, 0.01) == "reversed" and table.verdict(0.0, 0.0) == "not shown"
    diff, se = table.difference([0.40, 0.42, 0.44], [0.46, 0.47, 0.48])
    assert diff == pytest.approx(0.05) and se == pytest.approx((0.0004 / 3 + 0.0001 / 3) ** 0.5)

    def runs(errors, train=None):
        return [
            dict(
                top1_error=e,
                train_scored_top1_error=t,
                top5_error=e / 4,
                ten_top1_error=e - 0.02,
                seconds=60,
            )
            for e, t in zip(errors, train or [0.1] * len(errors))
        ]

    results = {
        "baseline": runs([0.40, 0.41, 0.42]),
        "lrn_none": runs([0.45, 0.46, 0.47]),
        "no_dropout": runs([0.44, 0.45, 0.46], [0.0, 0.0, 0.0]),
    }
    text, said = table.MEASURES["top1"](CLAIMS["lrn"], results)
    assert said == "held" and "+5.0 ± 0.8 points" in text
    text, said = table.MEASURES["gap"](CLAIMS["dropout"], results)
    assert said == "held"  # overfits more without dropout: gaps 0.31 vs. 0.45
    text, said = table.MEASURES["ten_crops"](CLAIMS["ten_crops"], results)
    assert said == "held" and "+2.0 ± 0.0 points" in text  # the same 2 points each seed
    results["ensemble"] = dict(top1_error=0.37, top5_error=0.09)
    text, said = table.MEASURES["ensemble"](CLAIMS["ensemble"], results)
    assert said == "held" and "41.0 ± 1.0% (one CNN, 3 seeds) vs. 37.0%" in text
    curve = [(1, 0.6), (2, 0.45), (3, 0.40), (4, 0.405), (5, 0.43)]
    assert table.converged_epoch(curve) == 3 and table.converged_epoch(curve, 0.06) == 2
    slow = [dict(curves=dict(heldout=[(e, 0.6 - 0.02 * e) for e in range(1, 11)]))] * 3
    fast = [dict(curves=dict(heldout=[(e, max(0.5, 0.6 - 0.05 * e)) for e in range(1, 11)]))] * 3
    text, said = table.MEASURES["convergence"](
        CLAIMS["dropout_convergence"], {"baseline": slow, "no_dropout": fast}
    )
    assert "10.0 ± 0.0 (with dropout) vs. 2.0" in text and "5.0x" in text


def test_figure1_epochs_to_25_over_seeds():
    relu = [dict(curve=[(1, 0.6), (2, 0.3), (3, 0.24), (4, 0.2)], seconds=10)] * 3
    tanh = [
        dict(curve=[(e, 0.7 - 0.04 * e) for e in range(1, 14)], seconds=10),
        dict(curve=[(e, 0.7 - 0.04 * e) for e in range(1, 13)], seconds=10),
        dict(curve=[(e, 0.7 - 0.03 * e) for e in range(1, 9)], seconds=10),
    ]
    sweep = {a: dict(rate=0.01, errors={"0.01": 0.5}, seconds=5) for a in ("relu", "tanh")}
    results = {"figure1": dict(relu=relu, tanh=tanh, sweep=sweep)}
    text, said = table.MEASURES["epochs_to_25"](CLAIMS["figure1"], results)
    assert text.startswith("epochs to 25% training error 3.0 ± 0.0 (ReLU")
    assert "1 tanh run(s) never reached 25%" in text and said == "held"
    row = table.row("figure1", results)
    assert row["train_minutes"] == pytest.approx(70 / 60, abs=0.05)


def test_figure1_sweep_is_shown_with_the_chosen_rate():
    sweep = dict(
        relu=dict(rate=0.005, epochs=3, errors={"0.005": 0.359, "0.02": 0.901}),
        tanh=dict(rate=0.02, epochs=3, errors={"0.005": 0.526, "0.02": 0.493}),
    )
    text = table.sweep_table({"figure1": dict(sweep=sweep)})
    assert "training error after 3 epochs" in text
    assert "| activation | 0.005 | 0.02 |" in text
    assert "| relu | **35.9%** | 90.1% |" in text and "| tanh | 52.6% | **49.3%** |" in text
    assert table.sweep_table({}) == ""


def test_unknown_claim_is_one_line(tmp_path):
    result = run_cli("experiment", "relu", f"--root={tmp_path}")
    assert result.returncode == 1 and "unknown: relu" in result.stderr
    assert run_cli("experiment", f"--root={tmp_path}").returncode == 1


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_every_claim_has_its_arms_and_measure(name):
    claim = CLAIMS[name]
    assert claim.measure in table.MEASURES
    assert claim.measure == "epochs_to_25" or all(a in ARMS for a in claim.arms)
    assert REGIME["train_per_class"] == 100 and REGIME["learning_rate"] == 0.005


def test_training_time_survives_a_process_killed_outright(tmp_path):
    """A run trained by two processes (the first killed, its time lost to `timed`) counts the
    seconds both logged; one process's logged time is within what `timed` measured."""
    from helpers import tiny_config
    from tf_alexnet.experiment.runner import logged_seconds, timed
    from tf_alexnet.train.trainer import train

    config = tiny_config(tmp_path, train_steps=4, log_every_steps=1)
    _, measured = timed(str(tmp_path), lambda: train(config))
    first = logged_seconds(str(tmp_path))
    assert 0 < first <= measured
    train(dataclasses.replace(config, train_steps=8))  # a second process's file
    assert len(list((tmp_path / "train").glob("events.out.tfevents.*"))) == 2
    assert logged_seconds(str(tmp_path)) > first
