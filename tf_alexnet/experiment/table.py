"""The claims' table: the paper's number beside ours, whether it held, and Figure 1.

    row(claim, results)            {claim, where, paper, ours, held, runs, minutes}
    markdown(rows), write(...)     claims.md and claims.json under the root
    figure1(results, path)         training error against epochs, ReLU and tanh, 25% marked
"""

import json
import math
import os

from tf_alexnet.experiment.claims import CLAIMS

THRESHOLD = 0.25  # Figure 1's training error


def epochs_to(curve, threshold=THRESHOLD):
    """The first epoch whose training error is at or below `threshold`, or None."""
    return next((epoch for epoch, error in curve if error <= threshold), None)


def _pct(x):
    return f"{100 * x:.1f}%"


def _level(relu_curve):
    """The training error the comparison is made at: 25% (Figure 1's) when the ReLU run
    reaches it, else the next 5% step above the lowest error it reached."""
    lowest = min((error for _, error in relu_curve), default=1.0)
    return THRESHOLD if lowest <= THRESHOLD else math.ceil(lowest * 20) / 20


def _epochs_to_25(claim, results):
    relu, tanh = (results[r]["curve"] for r in claim.runs)
    level = _level(relu)
    a, b = epochs_to(relu, level), epochs_to(tanh, level)
    last = max((e for e, _ in tanh), default=0.0)
    note = "" if level == THRESHOLD else (f" (25% not reached in {last:.0f} epochs; compared "
                                          f"at {_pct(level)})")
    if a is None:
        return "no curve", False
    if b is None:
        # tanh never got there: how soon ReLU reached what tanh ended with instead.
        final = tanh[-1][1]
        c = epochs_to(relu, final)
        return (f"{_pct(level)} training error at epoch {a:.2f} (ReLU), tanh not in "
                f"{last:.0f} epochs; tanh's final {_pct(final)} ReLU reached at epoch "
                f"{c:.2f}: {last / c:.1f}x faster{note}"), True
    return (f"{_pct(level)} training error at epoch {a:.2f} (ReLU) vs. {b:.2f} (tanh): "
            f"{b / a:.1f}x faster{note}"), b > a


def _top1(claim, results, gap=False):
    with_, without = (results[r] for r in claim.runs)
    delta = without["top1_error"] - with_["top1_error"]
    text = (f"top-1 error {_pct(with_['top1_error'])} with vs. "
            f"{_pct(without['top1_error'])} without ({100 * delta:+.1f} points)")
    if gap:
        gaps = [r["top1_error"] - r["train_scored_top1_error"] for r in (with_, without)]
        text += (f"; held-out minus training error {100 * gaps[0]:.1f} vs. "
                 f"{100 * gaps[1]:.1f} points")
        return text, delta > 0 and gaps[0] <= gaps[1]
    return text, delta > 0


def _ten_crops(claim, results):
    base = results[claim.runs[0]]
    center, ten = base["top1_error"], base["ten_top1_error"]
    return (f"top-1 error {_pct(center)} center crop vs. {_pct(ten)} 10 crops "
            f"({100 * (center - ten):+.1f} points)"), ten < center


def _ensemble(claim, results):
    members = [results[r] for r in claim.runs]
    mean1 = sum(r["top1_error"] for r in members) / len(members)
    mean5 = sum(r["top5_error"] for r in members) / len(members)
    ens = results["ensemble"]
    return (f"top-1 error {_pct(mean1)} (one CNN, mean of {len(members)}) vs. "
            f"{_pct(ens['top1_error'])} ({len(members)} averaged); top-5 {_pct(mean5)} vs. "
            f"{_pct(ens['top5_error'])}"), ens["top1_error"] < mean1


def _gap(claim, results):
    """Overfitting: how much the held-out error exceeds the training photos' (both scored
    the same way), with the switch and without."""
    text, _ = _top1(claim, results, gap=True)
    with_, without = (results[r] for r in claim.runs)
    gaps = [r["top1_error"] - r["train_scored_top1_error"] for r in (with_, without)]
    return text, gaps[1] > gaps[0]


MEASURES = {"epochs_to_25": _epochs_to_25, "top1": _top1,
            "top1_and_gap": lambda c, r: _top1(c, r, gap=True), "gap": _gap,
            "ten_crops": _ten_crops, "ensemble": _ensemble}


def row(name, results):
    claim = CLAIMS[name]
    ours, held = MEASURES[claim.measure](claim, results)
    minutes = sum(results[r].get("seconds", 0) for r in claim.runs) / 60
    return dict(claim=name, where=claim.where, paper=claim.paper, ours=ours, held=bool(held),
                runs=list(claim.runs), train_minutes=round(minutes, 1),
                command=f"python -m tf_alexnet.experiment {name}")


def markdown(rows):
    lines = ["| claim | the paper | ours | held | runs (train minutes, 2 cores) | command |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['where']} | {r['paper']} | {r['ours']} | "
                     f"{'yes' if r['held'] else 'no'} | {', '.join(r['runs'])} "
                     f"({r['train_minutes']}) | `{r['command']}` |")
    return "\n".join(lines) + "\n"


def figure1(results, path, runs=("relu_plain", "tanh_plain")):
    """Figure 1 of the paper, ours: training error against epochs, the 25% line marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
    for run, style, label in zip(runs, ("-", "--"), ("ReLU", "tanh")):
        curve = results[run]["curve"]
        ax.plot([e for e, _ in curve], [err for _, err in curve], style, color="black",
                label=label)
    ax.axhline(THRESHOLD, color="gray", linewidth=0.8)
    level = _level(results[runs[0]]["curve"])
    if level != THRESHOLD:
        ax.axhline(level, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xlabel("Epochs")
    ax.set_ylabel("Training error rate")
    ax.set_ylim(0, 0.9)
    ax.legend()
    text, _ = _epochs_to_25(CLAIMS["figure1"], results)
    ax.set_title(text.split(" (25%")[0].replace(", tanh", ",\ntanh").replace(": ", ":\n"),
                 fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write(root, rows, results):
    """claims.md, claims.json (and figure1.png when its runs are there) under `root`."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "claims.md"), "w") as f:
        f.write(markdown(rows))
    with open(os.path.join(root, "claims.json"), "w") as f:
        json.dump(dict(rows=rows, results=results), f, indent=1)
    if any(r["claim"] == "figure1" for r in rows):
        figure1(results, os.path.join(root, "figure1.png"))
