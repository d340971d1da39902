"""Scores a trained model: top-1 and top-5 error, center or 10 crops.

    python -m tf_alexnet.evaluate --workdir W --data SPEC --split NAME --eval_crops ten
    python -m tf_alexnet.evaluate --workdir W --json   (the run's own validation split)
    python -m tf_alexnet.evaluate --model PATH --data SPEC ...   (SavedModel or .tflite)

Sizes, mean and statistics come from the model (model.preprocessing): this command has no
flags for them (tf_alexnet/evaluate/scoring.py).
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.config import EvalConfig
from tf_alexnet.data.pipeline import explain_failure
from tf_alexnet.evaluate.metrics import describe_errors
from tf_alexnet.evaluate.scoring import evaluate

EXCLUDE = ("num_classes",)


def define_flags(flag_values):
    flags_lib.define(EvalConfig, flag_values, EXCLUDE)


def main(argv, flag_values):
    config = cli.config("evaluate", EvalConfig, flag_values, argv, quiet=True)
    given = flags_lib.given_flags(config, flag_values)
    result = cli.run(
        "evaluate",
        lambda: evaluate(config, given),
        lambda e: explain_failure(config.source, (config.split,), e),
    )
    if config.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['model']}: {result['num_images']} images of {result['data']} "
            f"(split {result['split']!r}), "
            f"{'10 crops' if result['crops'] == 'ten' else 'center crop'}: "
            f"{describe_errors(result)}"
        )


if __name__ == "__main__":
    cli.start(define_flags, main)
