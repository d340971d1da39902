"""Reruns the paper's claims: python -m tf_alexnet.experiment CLAIM [CLAIM ...] | all

    python -m tf_alexnet.experiment figure1          # ReLU vs. tanh (Figure 1)
    python -m tf_alexnet.experiment all              # every claim (docs/paper_claims.md);
                                                     # hours on a CPU

Each claim compares arms (claims.py), each trained with --seeds seeds under --root; runs
with a result are not trained again and a killed run resumes, so a rerun goes on where the
last one stopped and then draws the table: ROOT/claims.md, claims.json and, with figure1,
figure1.png. The last line printed is the table as JSON.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import signal
import time

from absl import app

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.command_configs import ExperimentConfig
from tf_alexnet.errors import WorkdirError
from tf_alexnet.experiment import figure1, runner, table
from tf_alexnet.experiment.claims import CLAIMS


def stopped(signum, frame):
    raise WorkdirError(
        f"stopped by {signal.Signals(signum).name} between runs; the runs "
        "finished so far are kept: rerun the same command to go on."
    )


def define_flags(flag_values):
    flags_lib.define(ExperimentConfig, flag_values)


def main(argv, flag_values):
    names = list(CLAIMS) if argv[1:] == ["all"] else argv[1:]
    unknown = [n for n in names if n not in CLAIMS]
    if not names or unknown:
        raise app.UsageError(
            f"Name claims to rerun ({', '.join(CLAIMS)}) or all"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + "."
        )
    config = cli.config("experiment", ExperimentConfig, flag_values, claims=tuple(names))
    # Between runs (listing data, scoring, drawing) SIGTERM ends with a line too; a run's
    # training has its own handler (save, then stop).
    signal.signal(signal.SIGTERM, stopped)
    started = time.perf_counter()

    def rerun():
        results = runner.run_all(config, names)
        if "figure1" in names:
            results["figure1"] = figure1.figure1_results(config)
        rows = [table.row(name, results) for name in names]
        table.write(config.root, rows, results)
        return rows, results

    rows, results = cli.run("experiment", rerun)
    print(table.markdown(rows, results))
    print(
        f"This command: {time.perf_counter() - started:.0f} s (training minutes of the "
        "runs, however many sessions they took, are in the table)."
    )
    print(json.dumps(rows))


if __name__ == "__main__":
    cli.start(define_flags, main)
