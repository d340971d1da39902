"""Reruns the paper's claims: python -m tf_alexnet.experiment CLAIM [CLAIM ...] | all

    python -m tf_alexnet.experiment figure1          # ReLU vs. tanh (Figure 1), 10 min
    python -m tf_alexnet.experiment all              # every claim (README: "The paper's
                                                     # claims, rerun"), 35 min on 2 cores

Each claim is a set of runs under --root that differ in one switch (claims.py); runs with a
result are not trained again, so a rerun only draws the table: ROOT/claims.md, claims.json
and, for figure1, figure1.png. The last line printed is the table as JSON.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import signal

from absl import app

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.command_configs import ExperimentConfig
from tf_alexnet.errors import WorkdirError
from tf_alexnet.experiment import runner, table
from tf_alexnet.experiment.claims import CLAIMS


def stopped(signum, frame):
    raise WorkdirError(f"stopped by {signal.Signals(signum).name} between runs; the runs "
                       "finished so far are kept: rerun the same command to go on.")


def define_flags(flag_values):
    flags_lib.define(ExperimentConfig, flag_values)


def main(argv, flag_values):
    names = list(CLAIMS) if argv[1:] == ["all"] else argv[1:]
    unknown = [n for n in names if n not in CLAIMS]
    if not names or unknown:
        raise app.UsageError(f"Name claims to rerun ({', '.join(CLAIMS)}) or all"
                             + (f"; unknown: {', '.join(unknown)}" if unknown else "") + ".")
    config = cli.config("experiment", ExperimentConfig, flag_values, claims=tuple(names))
    # Between runs (listing data, scoring, drawing) SIGTERM ends with a line too; a run's
    # training has its own handler (save, then stop).
    signal.signal(signal.SIGTERM, stopped)

    def rerun():
        results = runner.run_all(config, names)
        rows = [table.row(name, results) for name in names]
        table.write(config.root, rows, results)
        return rows

    rows = cli.run("experiment", rerun)
    print(table.markdown(rows))
    print(json.dumps(rows))


if __name__ == "__main__":
    cli.start(define_flags, main)
