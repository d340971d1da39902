"""Scores a trained model: top-1 and top-5 error, center or 10 crops.

    python -m tf_alexnet.evaluate --workdir W --data SPEC --split NAME --crops center|ten [--json]
    python -m tf_alexnet.evaluate --model PATH --data SPEC ...   (SavedModel or .tflite)

The data's labels are matched to the model's classes by name, so a folder with the same
class names in another order scores correctly; a class unknown to the model is an error.
Image size, resize and mean subtraction are those the model was trained with.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import os
import sys

from absl import app, flags, logging

from tf_alexnet import flags as flags_lib

FLAGS = flags.FLAGS


def _workdir_predictor():
    from tf_alexnet import evaluation, workdir as workdir_lib

    model, meta, path = workdir_lib.restore_model(FLAGS.workdir, FLAGS.checkpoint or None)
    stats = os.path.join(FLAGS.workdir, "stats.json")
    return (evaluation.make_predict_fn(model), meta["class_names"], meta, stats, path)


def _exported_predictor():
    from tf_alexnet import exported

    model = exported.load(FLAGS.model)
    return (model.predict_preprocessed, model.class_names, model.meta, model.stats_path,
            model.path)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet import evaluation
    from tf_alexnet.data import DataError, make_dataset
    from tf_alexnet.workdir import WorkdirError

    try:
        if bool(FLAGS.workdir) == bool(FLAGS.model):
            raise ValueError("Give one of --workdir (a training run) or --model (an export).")
        predict, classes, meta, stats, source = (
            _workdir_predictor() if FLAGS.workdir else _exported_predictor())
        config = flags_lib.evaluate_config(meta["image_size"], meta["resize"], meta["mean"],
                                           stats)
        ds = make_dataset(config.data, config.split, training=False)
        mapping = evaluation.label_map(ds.class_names, classes)
        result = evaluation.evaluate(predict, ds, mapping, config.max_examples)
    except (DataError, WorkdirError, ValueError, OSError) as e:
        sys.exit(f"evaluate: {e}")
    result.update(crops=config.data.eval_crops, split=config.split, data=config.data.data,
                  model=source)
    if config.json:
        print(json.dumps(result))
    else:
        print(f"{source} on {config.data.data} [{config.split}], {result['num_images']} images, "
              f"{config.data.eval_crops} crop(s): top-1 error {result['top1_error']:.4f}, "
              f"top-5 error {result['top5_error']:.4f}")


if __name__ == "__main__":
    flags_lib.define_evaluate_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
