"""python -m tf_alexnet.experiment: the paper's claims as sets of runs, a table and Figure 1.

The real sets train on ../shared/data/cifar10 for minutes each (README, "The paper's claims,
rerun"); here a cut-down Figure 1 set (60 steps a run on embedded data) goes through the
command, and the comparisons are checked on hand-made results."""

import dataclasses
import json

import pytest

from helpers import run_cli
from tf_alexnet.command_configs import ExperimentConfig
from tf_alexnet.experiment import table
from tf_alexnet.experiment.claims import CLAIMS, RUNS, runs_of

CUT = ["--data=synthetic:shapes", "--synthetic_examples=320", "--train_steps=60"]


def test_cut_down_figure1_through_the_command(tmp_path):
    root = tmp_path / "claims"
    result = run_cli("experiment", "figure1", *CUT, f"--root={root}")
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["claim"] == "figure1" and row["runs"] == ["relu_plain", "tanh_plain"]
    saved = json.loads((root / "claims.json").read_text())
    for run, activation in (("relu_plain", "relu"), ("tanh_plain", "tanh")):
        got = saved["results"][run]
        assert got["steps"] == 60 and len(got["curve"]) >= 2, got
        spec = json.loads((root / run / "model.json").read_text())["spec"]
        assert spec["activation"] == activation and spec["dropout"] == 0.0
    assert "| §3.1, Figure 1 |" in (root / "claims.md").read_text()
    assert (root / "figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A rerun trains nothing: it reads the results and draws the same table.
    again = run_cli("experiment", "figure1", *CUT, f"--root={root}")
    assert again.returncode == 0 and "First call of the train step" not in again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1]) == [row]


def test_each_run_differs_from_the_baseline_in_its_switch_only():
    from tf_alexnet.experiment.runner import run_config

    config = ExperimentConfig(root="/tmp/r")
    base = run_config(config, "baseline")
    assert (base.lrn, base.pooling, base.activation, base.dropout) == (
        "paper", "overlapping", "relu", 0.5)

    def flat(c):
        return {**dataclasses.asdict(c.augment), **dataclasses.asdict(c.source),
                **{k: v for k, v in dataclasses.asdict(c).items()
                   if k not in ("augment", "source", "evaluation", "workdir")}}

    for name, changes in RUNS.items():
        differ = {k for k, v in flat(run_config(config, name)).items() if v != flat(base)[k]}
        assert differ == {k for k, v in changes.items() if v != flat(base).get(k)}, name
    assert set(runs_of(CLAIMS)) == set(RUNS)


def test_the_comparisons_on_hand_made_results():
    curve = [(0.5, 0.6), (1.0, 0.3), (1.5, 0.24), (2.0, 0.2)]
    assert table.epochs_to(curve) == 1.5 and table.epochs_to(curve, 0.1) is None
    results = {"relu_plain": dict(curve=curve),
               "tanh_plain": dict(curve=[(e * 4, err) for e, err in curve])}
    text, held = table.MEASURES["epochs_to_25"](CLAIMS["figure1"], results)
    assert held and "4.0x faster" in text
    # 25% never reached: compared at the next 5% above the ReLU run's lowest error.
    high = {"relu_plain": dict(curve=[(1.0, 0.5), (2.0, 0.33)]),
            "tanh_plain": dict(curve=[(1.0, 0.6), (3.0, 0.34), (4.0, 0.3)])}
    text, held = table.MEASURES["epochs_to_25"](CLAIMS["figure1"], high)
    assert held and text.startswith("35.0% training error at epoch 2.00 (ReLU) vs. 3.00")
    assert "25% not reached" in text
    members = {f"m{i}": dict(top1_error=0.3 + 0.01 * i, top5_error=0.05) for i in range(3)}
    members["ensemble"] = dict(top1_error=0.28, top5_error=0.04)
    claim = dataclasses.replace(CLAIMS["ensemble"], runs=("m0", "m1", "m2"))
    text, held = table.MEASURES["ensemble"](claim, members)
    assert held and "31.0% (one CNN, mean of 3) vs. 28.0%" in text
    gap = {"baseline": dict(top1_error=0.30, train_scored_top1_error=0.25),
           "no_dropout": dict(top1_error=0.32, train_scored_top1_error=0.10)}
    text, held = table.MEASURES["gap"](CLAIMS["dropout"], gap)
    assert held and "5.0 vs. 22.0 points" in text  # less overfitting with dropout
    text, held = table.MEASURES["top1_and_gap"](CLAIMS["dropout"], gap)
    assert held  # and a lower held-out error


def test_unknown_claim_is_one_line(tmp_path):
    result = run_cli("experiment", "relu", f"--root={tmp_path}")
    assert result.returncode == 1 and "unknown: relu" in result.stderr
    assert run_cli("experiment", f"--root={tmp_path}").returncode == 1


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_every_claim_has_its_runs_and_measure(name):
    claim = CLAIMS[name]
    assert claim.measure in table.MEASURES and all(r in RUNS for r in claim.runs)
