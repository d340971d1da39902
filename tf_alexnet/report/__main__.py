"""The paper's figures from a trained workdir: python -m tf_alexnet.report --workdir W
--data SPEC [--split validation] --output DIR (tf_alexnet/report/report.py lists them)."""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import os

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.command_configs import ReportConfig
from tf_alexnet.report.report import make_report

EXCLUDE = ("num_classes", "eval_crops", "cache_eval")


def define_flags(flag_values):
    flags_lib.define(ReportConfig, flag_values, EXCLUDE)


def main(argv, flag_values):
    config = cli.config("report", ReportConfig, flag_values, argv, quiet=True)
    given = flags_lib.given_flags(config, flag_values)
    report = cli.run("report", lambda: make_report(config, given))
    print(
        json.dumps({k: report[k] for k in ("filters", "colourfulness", "top1_error", "num_images")})
    )
    print(f"Wrote {os.path.join(config.output, 'index.html')}")


if __name__ == "__main__":
    cli.start(define_flags, main)
