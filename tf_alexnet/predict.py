"""Top-5 classes of images with an exported model.

    python -m tf_alexnet.predict --model export/models/alexnet IMAGE [IMAGE ...] [--json]
    python -m tf_alexnet.predict --rest_body IMAGE [IMAGE ...] > body.json   # TF Serving REST

--model is a SavedModel directory, a TF Serving base directory (its latest version) or a
.tflite file. An image that cannot be read is reported on one line naming it, and the other
images are still predicted; the exit code is 1 if any failed.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import sys

from absl import app, logging
import numpy as np

from tf_alexnet import flags as flags_lib


def main(argv):
    if not argv[1:]:
        raise app.UsageError("Give one or more image files after the flags.")
    config = flags_lib.predict_config(argv[1:])
    images = config.images
    from tf_alexnet import loading

    if config.rest_body:  # no model needed: the request body for TF Serving's REST API
        from tf_alexnet.serving import rest_body
        try:
            encoded = [open(path, "rb").read() for path in images]
        except OSError as e:
            sys.exit(f"predict: cannot read {e.filename}: {e.strerror}")
        print(json.dumps(rest_body(encoded)))
        return
    from tf_alexnet import cli

    model = cli.run("predict", lambda: loading.load(config.model))
    failed = 0
    for path, probs, error in model.predict_files(images):
        if error:
            failed += 1
            if config.json:
                print(json.dumps({"image": path, "error": error}))
            else:
                print(f"{path}: error: {error}", file=sys.stderr)
            continue
        top = np.argsort(-probs)[:config.top_k]
        predictions = [{"class": model.class_names[i], "name": model.display_names[i],
                        "index": int(i), "probability": float(probs[i])} for i in top]
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
    flags_lib.define_predict_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
