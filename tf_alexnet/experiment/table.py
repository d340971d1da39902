"""The claims' table: the paper's number beside ours over seeds, the verdict, and Figure 1.

    summary(values)                 (mean, sample sd, n)
    verdict(difference, se)         "held" / "not shown" / "reversed" (VERDICT_RULE)
    row(claim, results)             {claim, where, paper, ours, verdict, runs, minutes}
    markdown(rows, results), write(...)   claims.md and claims.json under the root
    figure1(results, path)          training error against epochs, ReLU solid, tanh dashed

Each comparison has the paper's arm (the one it says is better or faster) and the other;
the difference is taken in the paper's direction (positive: as the paper says), with the
standard error of a difference of two means, sqrt(sd_a^2 / n_a + sd_b^2 / n_b) (of a mean
of paired differences for the ten crops, of a mean for the ensemble).
"""

import json
import math
import os

from tf_alexnet.experiment.claims import CLAIMS, CONVERGED_WITHIN
from tf_alexnet.experiment.figure1 import THRESHOLD

VERDICT_RULE = (
    "held: the difference is in the paper's direction by more than twice its "
    "standard error; reversed: beyond that in the other direction; not shown: "
    "within"
)


def summary(values):
    """(mean, sample standard deviation (0 for one value), n)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd, n


def difference(paper_arm, other):
    """(mean(other) - mean(paper_arm), its standard error)."""
    (ma, sa, na), (mb, sb, nb) = summary(paper_arm), summary(other)
    return mb - ma, math.sqrt(sa**2 / na + sb**2 / nb)


def verdict(diff, se):
    if diff > 2 * se:
        return "held"
    if diff < -2 * se:
        return "reversed"
    return "not shown"


def _pct(values):
    mean, sd, n = summary(values)
    return f"{100 * mean:.1f} ± {100 * sd:.1f}%"


def _points(diff, se):
    return f"{100 * diff:+.1f} ± {100 * se:.1f} points"


def _top1(claim, results, key="top1_error", label="top-1 error"):
    good, other = ([r[key] for r in results[arm] if r.get(key) is not None] for arm in claim.arms)
    if not good or not other:
        return f"{label}: no run of an arm trained", "not shown"
    diff, se = difference(good, other)
    return (
        f"{label} {_pct(good)} ({claim.arms[0]}) vs. {_pct(other)} ({claim.arms[1]}): "
        f"{_points(diff, se)}"
    ), verdict(diff, se)


def gaps(runs):
    """Held-out minus training error (both scored the same way) of each run."""
    return [r["top1_error"] - r["train_scored_top1_error"] for r in runs]


def _gap(claim, results):
    good, other = (gaps(results[arm]) for arm in claim.arms)
    diff, se = difference(good, other)
    return (
        f"held-out minus training error {_pct(good)} ({claim.arms[0]}) vs. {_pct(other)} "
        f"({claim.arms[1]}): {_points(diff, se)}"
    ), verdict(diff, se)


def _top1_and_gap(claim, results):
    text, held = _top1(claim, results)
    gap_text, gap_held = _gap(claim, results)
    return f"{text}; {gap_text} (less overfitting: {gap_held})", held


def _towers(claim, results):
    text, held = _top1(claim, results)
    top5, _ = _top1(claim, results, "top5_error", "top-5")
    minutes = [[r["seconds"] / 60 for r in results[arm]] for arm in claim.arms]
    return (
        f"{text}; {top5}; training minutes {summary(minutes[0])[0]:.1f} vs. "
        f"{summary(minutes[1])[0]:.1f} (one process on 2 CPU cores: the paper's "
        "time is of two GPUs)"
    ), held


def converged_epoch(curve, within=CONVERGED_WITHIN):
    """The first epoch whose held-out error is within `within` of the run's lowest."""
    lowest = min(err for _, err in curve)
    return next(epoch for epoch, err in curve if err <= lowest + within)


def _convergence(claim, results):
    good, other = (
        [converged_epoch(r["curves"]["heldout"]) for r in results[arm] if r["curves"]["heldout"]]
        for arm in claim.arms
    )
    if not good or not other:
        return "no held-out curve of an arm", "not shown"
    # The paper's arm (with dropout) is the slower one: its claim is a larger number.
    diff, se = difference(other, good)
    ratio = summary(good)[0] / max(summary(other)[0], 1e-9)
    return (
        f"epochs until the held-out error is within {100 * CONVERGED_WITHIN:.0f} point "
        f"of its lowest: {summary(good)[0]:.1f} ± {summary(good)[1]:.1f} (with dropout) "
        f"vs. {summary(other)[0]:.1f} ± {summary(other)[1]:.1f} (without), "
        f"{diff:+.1f} ± {se:.1f} epochs, {ratio:.1f}x (paper: about 2x)"
    ), verdict(diff, se)


def _ten_crops(claim, results):
    runs = results[claim.arms[0]]
    diffs = [r["top1_error"] - r["ten_top1_error"] for r in runs]
    mean, sd, n = summary(diffs)
    se = sd / math.sqrt(n)
    return (
        f"top-1 error {_pct([r['top1_error'] for r in runs])} center crop vs. "
        f"{_pct([r['ten_top1_error'] for r in runs])} 10 crops: {_points(mean, se)}"
    ), verdict(mean, se)


def _ensemble(claim, results):
    singles = results[claim.arms[0]]
    ens = results["ensemble"]
    mean, sd, n = summary([r["top1_error"] for r in singles])
    se = sd / math.sqrt(n)
    diff = mean - ens["top1_error"]
    return (
        f"top-1 error {_pct([r['top1_error'] for r in singles])} (one CNN, {n} seeds) vs. "
        f"{100 * ens['top1_error']:.1f}% ({n} averaged): {_points(diff, se)}; top-5 "
        f"{_pct([r['top5_error'] for r in singles])} vs. "
        f"{100 * ens['top5_error']:.1f}%"
    ), verdict(diff, se)


def epochs_to(curve, threshold=THRESHOLD):
    """The first epoch whose training error is at or below `threshold`, or None."""
    return next((epoch for epoch, error in curve if error <= threshold), None)


def _epochs_to_25(claim, results):
    """Epochs to 25% training error per seed; a run that never got there counts as its last
    epoch (a lower bound, said so)."""
    figure = results["figure1"]
    counts, missing = {}, {}
    for act in claim.arms:
        runs = figure[act]
        counts[act] = [epochs_to(r["curve"]) or r["curve"][-1][0] for r in runs]
        missing[act] = sum(epochs_to(r["curve"]) is None for r in runs)
    relu, tanh = counts["relu"], counts["tanh"]
    diff, se = difference(relu, tanh)
    ratio = summary(tanh)[0] / max(summary(relu)[0], 1e-9)
    rates = {a: figure["sweep"][a]["rate"] for a in claim.arms}
    note = "".join(
        f"; {missing[a]} {a} run(s) never reached 25% (counted at their last epoch: a lower bound)"
        for a in claim.arms
        if missing[a]
    )
    return (
        f"epochs to 25% training error {summary(relu)[0]:.1f} ± {summary(relu)[1]:.1f} "
        f"(ReLU, rate {rates['relu']:g}) vs. {summary(tanh)[0]:.1f} ± "
        f"{summary(tanh)[1]:.1f} (tanh, rate {rates['tanh']:g}): {ratio:.1f}x faster "
        f"(paper: 6x), {diff:+.1f} ± {se:.1f} epochs{note}"
    ), verdict(diff, se)


MEASURES = {
    "epochs_to_25": _epochs_to_25,
    "top1": _top1,
    "top1_and_gap": _top1_and_gap,
    "gap": _gap,
    "convergence": _convergence,
    "ten_crops": _ten_crops,
    "ensemble": _ensemble,
    "towers": _towers,
}


def _minutes(claim, results):
    if claim.measure == "epochs_to_25":
        figure = results["figure1"]
        seconds = sum(r["seconds"] for a in claim.arms for r in figure[a]) + sum(
            figure["sweep"][a]["seconds"] for a in claim.arms
        )
        return seconds / 60, ", ".join(f"{a} x{len(figure[a])}" for a in claim.arms) + (
            " + rate sweep"
        )
    seconds = sum(r.get("seconds", 0) for a in claim.arms for r in results[a])
    return seconds / 60, ", ".join(f"{a} x{len(results[a])}" for a in claim.arms)


def row(name, results):
    claim = CLAIMS[name]
    ours, said = MEASURES[claim.measure](claim, results)
    minutes, runs = _minutes(claim, results)
    diverged = [
        f"{a} seed {r['seed']}"
        for a in claim.arms
        for r in results.get(a, [])
        if isinstance(r, dict) and r.get("diverged")
    ]
    if diverged:
        ours += f"; diverged (loss not finite, counted at chance error): {', '.join(diverged)}"
    return dict(
        claim=name,
        where=claim.where,
        paper=claim.paper,
        ours=ours,
        verdict=said,
        runs=runs,
        train_minutes=round(minutes, 1),
        command=f"python -m tf_alexnet.experiment {name}",
    )


def regime_line(results):
    """How much the baseline overfits in the regime (its held-out minus training error)."""
    if "baseline" not in results:
        return ""
    runs = results["baseline"]
    return (
        f"Regime: {runs[0].get('train_images', '?')} training photos, "
        f"{runs[0]['steps'] / max(runs[0]['steps_per_epoch'], 1):.0f} epochs; the "
        f"baseline's held-out error {_pct([r['top1_error'] for r in runs])}, its training "
        f"photos' {_pct([r['train_scored_top1_error'] for r in runs])}: it overfits by "
        f"{_pct(gaps(runs))[:-1]} points.\n"
    )


def markdown(rows, results):
    lines = [
        regime_line(results),
        "| claim | the paper | ours (mean ± sd over seeds; difference ± standard error) "
        "| verdict | runs (train minutes) | command |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['where']} | {r['paper']} | {r['ours']} | {r['verdict']} | "
            f"{r['runs']} ({r['train_minutes']}) | `{r['command']}` |"
        )
    return "\n".join(lines) + f"\n\nVerdict: {VERDICT_RULE}.\n" + sweep_table(results)


def sweep_table(results):
    """Figure 1's learning-rate sweep: each activation's training error at each rate, the
    rate it chose in bold (§3.1: each rate "chosen independently to make training as fast
    as possible")."""
    if "figure1" not in results:
        return ""
    sweeps = results["figure1"]["sweep"]
    rates = sorted({float(r) for s in sweeps.values() for r in s["errors"]})
    lines = [
        "",
        f"Figure 1's rate sweep: training error after "
        f"{sweeps['relu'].get('epochs', '?')} epochs (seed 0); the rate chosen in bold.",
        "",
        "| activation | " + " | ".join(f"{r:g}" for r in rates) + " |",
        "|---|" + "---|" * len(rates),
    ]
    for act, s in sweeps.items():
        cells = []
        for r in rates:
            err = s["errors"].get(f"{r:g}")
            cell = "" if err is None else f"{100 * err:.1f}%"
            cells.append(f"**{cell}**" if err is not None and r == float(s["rate"]) else cell)
        lines.append(f"| {act} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure1(results, path):
    """The paper's Figure 1, ours: training error against epochs, ReLU solid and tanh
    dashed (each seed), the 25% line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    for act, style in (("relu", "-"), ("tanh", "--")):
        for i, run in enumerate(results["figure1"][act]):
            ax.plot(
                [e for e, _ in run["curve"]],
                [err for _, err in run["curve"]],
                style,
                color="black",
                linewidth=1.0,
                label=f"{'ReLU' if act == 'relu' else 'tanh'}" if i == 0 else None,
            )
    ax.axhline(THRESHOLD, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xlabel("Epochs")
    ax.set_ylabel("Training error rate")
    ax.set_ylim(0, 0.8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write(root, rows, results):
    """claims.md, claims.json (and figure1.png when its runs are there) under `root`."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "claims.md"), "w") as f:
        f.write(markdown(rows, results))
    with open(os.path.join(root, "claims.json"), "w") as f:
        json.dump(dict(rows=rows, results=results, verdict_rule=VERDICT_RULE), f, indent=1)
    if "figure1" in results:
        figure1(results, os.path.join(root, "figure1.png"))
