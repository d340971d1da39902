"""Top-5 classes of images with an exported model.

    python -m tf_alexnet.predict --model export/models/alexnet IMAGE [IMAGE ...] [--json]
    python -m tf_alexnet.predict --rest_body IMAGE [IMAGE ...] > body.json   # TF Serving REST

--model is a SavedModel directory, a TF Serving base directory (its latest version) or a
.tflite file. A directory among the images stands for the images in it. An image that cannot
be read is reported on one line naming it, and the other images are still predicted; the exit
code is 1 if any failed.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import sys

from absl import app
import numpy as np

from tf_alexnet import cli, flags as flags_lib
from tf_alexnet.command_configs import PredictConfig
from tf_alexnet.export.loading import image_paths, load
from tf_alexnet.export.warmup import rest_body


def define_flags(flag_values):
    flags_lib.define(PredictConfig, flag_values)


def main(argv, flag_values):
    if not argv[1:]:
        raise app.UsageError("Give one or more image files (or folders) after the flags.")
    config = cli.config("predict", PredictConfig, flag_values, quiet=True, images=tuple(argv[1:]))
    if config.rest_body:  # no model needed: the request body for TF Serving's REST API
        try:
            encoded = [open(path, "rb").read() for path in image_paths(config.images)]
        except OSError as e:
            sys.exit(f"predict: cannot read {e.filename}: {e.strerror}")
        print(json.dumps(rest_body(encoded)))
        return
    model = cli.run("predict", lambda: load(config.model, config.tflite_threads))
    failed = 0
    for path, probs, error in model.predict_files(config.images, config.max_megapixels):
        if error:
            failed += 1
            if config.json:
                print(json.dumps({"image": path, "error": error}))
            else:
                print(f"{path}: error: {error}", file=sys.stderr)
            continue
        top = np.argsort(-probs)[: config.top_k]
        predictions = [
            {
                "class": model.class_names[i],
                "name": model.display_names[i],
                "index": int(i),
                "probability": float(probs[i]),
            }
            for i in top
        ]
        if config.json:
            print(json.dumps({"image": path, "predictions": predictions}))
        else:
            print(path)
            for p in predictions:
                name = p["name"] if p["name"] == p["class"] else f"{p['name']} ({p['class']})"
                print(f"  {p['probability']:7.2%}  {name}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    cli.start(define_flags, main)
