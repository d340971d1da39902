"""`evaluate(config)`: a trained workdir or an export scored on a data split.

The data's labels are matched to the model's classes by name, so a folder with the same
class names in another order scores correctly; a class unknown to the model is an error.
Image size, resize, mean and statistics are the model's own (model.preprocessing).
"""

import dataclasses
import logging

from tf_alexnet.data.pipeline import eval_dataset
from tf_alexnet.errors import ExportError, WorkdirError
from tf_alexnet.evaluate.metrics import label_map, score
from tf_alexnet.export.loading import load
from tf_alexnet.flags import given_flags
from tf_alexnet.model.predict import make_predict_fn
from tf_alexnet.workdir.restore import restore_model
from tf_alexnet.workdir.ensemble import restore_ensemble, workdir_list
from tf_alexnet.workdir.info import RunInfo, load_run_info, run_data


@dataclasses.dataclass(frozen=True)
class Predictor:
    """What evaluate, predict and report score: `predict(images) -> probabilities` on
    inputs made by `preprocessing`, the model's `class_names`, the run's record (`run`: its
    data, for the default split) and what was loaded (`loaded`)."""

    predict: object
    class_names: tuple
    preprocessing: object
    run: RunInfo
    loaded: str


def load_predictor(config):
    """The Predictor of a workdir, several (their mean probabilities) or an export."""
    workdirs = workdir_list(config.workdir)
    if len(workdirs) > 1:
        if config.checkpoint:
            raise WorkdirError(
                "--checkpoint names one checkpoint; an ensemble (--workdir "
                "a,b,...) takes each run's newest."
            )
        return model_predictor(restore_ensemble(workdirs), load_run_info(workdirs[0]))
    if config.workdir:
        return model_predictor(
            restore_model(config.workdir, config.checkpoint or None), load_run_info(config.workdir)
        )
    model = load(config.model, config.tflite_threads)
    if model.is_tflite and config.evaluation.eval_crops != "center":
        raise ExportError(
            f"{config.model}: a .tflite scores the center crop (its input is "
            "the whole square, cropped inside); --eval_crops=ten needs the "
            "SavedModel."
        )
    # What the export takes as its input (a .tflite: uint8 squares).
    return Predictor(
        model.predict_preprocessed,
        model.class_names,
        model.input_preprocessing,
        model.run,
        model.path,
    )


def model_predictor(model, run=RunInfo()):
    """The Predictor of a Keras model (an AlexNet or an ensemble: its own class names and
    preprocessing); `run`: the record of the data it trained on."""
    return Predictor(
        make_predict_fn(model),
        tuple(model.class_names),
        model.preprocessing,
        run,
        getattr(model, "checkpoint_path", "") or model.name,
    )


def evaluate(config, given=None):
    """The metrics dict of `config` (an EvalConfig), with what was scored on what.

    Without --data: the model's own validation data (workdir/info.py: run_data); `given`:
    the flags given on the command line (None: those that differ from their defaults)."""
    predictor = load_predictor(config)
    source, split, max_examples = run_data(
        predictor.run,
        config.source,
        config.split,
        config.max_examples,
        given_flags(config) if given is None else given,
    )
    # --max_examples: a seeded sample of the split, not the first classes of a folder.
    ds, data = eval_dataset(
        source, config.evaluation, split, predictor.preprocessing, sample=max_examples > 0
    )
    result = score(
        predictor.predict, ds, label_map(data.class_names, predictor.class_names), max_examples
    )
    if data.num_examples > result["num_images"] and not max_examples:
        logging.warning(
            "Scored %d of the %d images %s announces for split %r: the others "
            "could not be read (see the lines above).",
            result["num_images"],
            data.num_examples,
            source.source,
            split,
        )
        result["expected_images"] = data.num_examples
    return dict(
        result,
        crops=config.evaluation.eval_crops,
        split=split,
        data=source.source,
        model=predictor.loaded,
    )
