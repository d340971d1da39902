"""Scores a trained model: top-1 and top-5 error, center or 10 crops.

    python -m tf_alexnet.evaluate --workdir W --data SPEC --split NAME --eval_crops center|ten [--json]
    python -m tf_alexnet.evaluate --model PATH --data SPEC ...   (SavedModel or .tflite)

The data's labels are matched to the model's classes by name, so a folder with the same
class names in another order scores correctly; a class unknown to the model is an error.
Image size, resize, mean and statistics are the model's own (its RunInfo), which is why
this command has no flags for them.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json

from absl import app, logging

from tf_alexnet import flags as flags_lib


def load_predictor(config):
    """(predict(images) -> probabilities, RunInfo, what was loaded) of a workdir or export."""
    if config.workdir:
        from tf_alexnet import metrics, rundir

        model, info, path = rundir.restore_model(config.workdir, config.checkpoint or None)
        return metrics.make_predict_fn(model), info, path
    from tf_alexnet import loading

    model = loading.load(config.model)
    return model.predict_preprocessed, model.info, model.path


def evaluate(config):
    """The metrics dict of `config` (an EvalConfig), with what was scored on what."""
    from tf_alexnet import metrics
    from tf_alexnet.data import make_dataset

    predict, info, source = load_predictor(config)
    ds = make_dataset(config.data, config.split, training=False,
                      preprocessing=info.preprocessing)
    mapping = metrics.label_map(ds.class_names, info.class_names)
    result = metrics.evaluate(predict, ds, mapping, config.max_examples)
    if ds.num_examples > result["num_images"] and not config.max_examples:
        logging.warning("Scored %d of the %d images %s announces for split %r: the others "
                        "could not be read (see the lines above).", result["num_images"],
                        ds.num_examples, config.data.source, config.split)
        result["expected_images"] = ds.num_examples
    return dict(result, crops=config.data.eval_crops, split=config.split,
                data=config.data.source, model=source)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tf_alexnet import cli, data

    config = cli.run("evaluate", flags_lib.evaluate_config)
    result = cli.run("evaluate", lambda: evaluate(config),
                     lambda e: data.explain_failure(config.data, (config.split,), e))
    if config.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']} on {result['data']} [{config.split}], "
              f"{result['num_images']} images, {result['crops']} crop(s): top-1 error "
              f"{result['top1_error']:.4f}, top-5 error {result['top5_error']:.4f}")


if __name__ == "__main__":
    flags_lib.define_evaluate_flags()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
