"""Running the claims' runs: each trained once into ROOT/RUN, scored on the held-out split,
its result kept in ROOT/RUN/result.json; a run with a result is not trained again, one
without resumes from its checkpoints (the train command's own resume).

    run_config(config, name)   the TrainConfig of run `name` (claims.RUNS) under `config`
    run_all(config, claims)    {run: result} of every run the claims need
    ensemble_result(...)       the mean-probability model of several runs, scored
"""

import dataclasses
import json
import logging
import os
import time

import tensorflow as tf

from tf_alexnet.config import AugmentConfig, EvalConfig, EvalDataConfig, TrainConfig
from tf_alexnet.data.pipeline import open_split
from tf_alexnet.errors import Error, NonFiniteLoss, WorkdirError, describe, read_json
from tf_alexnet.evaluate.scoring import evaluate
from tf_alexnet.experiment.claims import BASE, CLAIMS, RUNS, runs_of
from tf_alexnet.report.analysis import read_curves
from tf_alexnet.train import rerun
from tf_alexnet.train.task import cap_batch
from tf_alexnet.train.trainer import train

RESULT_JSON = "result.json"
ONLY_AT_THE_END = 10 ** 9  # --eval_every_steps: the loop also evaluates at the last step


def run_config(config, name):
    """The TrainConfig of run `name`: BASE, then the run's changes, then --epochs or
    --train_steps; evaluated on the held-out split once, at the end."""
    fields = dict(BASE, **RUNS[name])
    if config.epochs:
        fields["epochs"] = config.epochs
    seed = fields.pop("seed", 0)
    augment = {k: fields.pop(k) for k in list(fields) if k in AugmentConfig.__dataclass_fields__}
    source = dataclasses.replace(config.source, seed=config.source.seed + seed)
    return TrainConfig(source=source, augment=AugmentConfig(**augment),
                       evaluation=EvalDataConfig(batch_size=augment.get("batch_size", 128)),
                       workdir=os.path.join(config.root, name), train_steps=config.train_steps,
                       eval_every_steps=ONLY_AT_THE_END, **fields).validate()


def _score(config, workdir, crops, split="validation", max_examples=0):
    evaluation = EvalDataConfig(batch_size=64, eval_crops=crops)
    return evaluate(EvalConfig(source=config.source, evaluation=evaluation, workdir=workdir,
                               split=split, max_examples=max_examples))


TRAIN_SAMPLE = 5000  # training photos scored (as the held-out ones) to measure overfitting


def _curve(workdir, steps_per_epoch):
    """[(epoch, training top-1 error of the interval ending there)] from the event files."""
    points = read_curves(workdir).get("train/top1_error", [])
    return [(step / steps_per_epoch, value) for step, value in points]


# A kept run is this command's only when everything but the log and checkpoint cadence is
# the same: its length too (train/rerun.py lets a plain rerun extend a run).
KEPT_FREE = tuple(name for name in rerun.FREE if name not in ("epochs", "train_steps"))
AUTO = ("grouping", "precision")


def check_kept(train_config):
    """Raises WorkdirError when ROOT/RUN was made with other settings than `train_config`
    (its flags.txt): its result, or its checkpoints, are not this command's."""
    old = rerun.recorded_config(train_config.workdir)
    changes = rerun.changed_flags(old, train_config, KEPT_FREE) if old else {}
    # flags.txt holds what "auto" resolved to on the machine that trained.
    changes = {k: v for k, v in changes.items() if not (k in AUTO and v[1] == "auto")}
    if changes:
        raise WorkdirError(
            f"{train_config.workdir} was made with other settings ({rerun.listed(changes)}): "
            "not this command's run. Use another --root, or move it away to run it again.")


SPENT_JSON = "train_seconds.json"  # training seconds of the processes that did not finish


def _timed_train(train_config):
    """(train's metrics, training seconds summed over every process that trained the run):
    the time of a process that stopped (SIGTERM, SIGINT) or failed is kept in
    ROOT/RUN/train_seconds.json (one killed outright, SIGKILL, loses its own)."""
    path = os.path.join(train_config.workdir, SPENT_JSON)
    spent = read_json(path, WorkdirError).get("seconds", 0.0) if os.path.exists(path) else 0.0
    started = time.perf_counter()
    try:
        return train(train_config), spent + time.perf_counter() - started
    finally:
        os.makedirs(train_config.workdir, exist_ok=True)
        with open(path, "w") as f:
            json.dump(dict(seconds=spent + time.perf_counter() - started), f)


def run_one(config, name, ten_crops=False):
    """Trains (or resumes) run `name`, scores it, writes and returns its result."""
    train_config = run_config(config, name)
    opened = open_split(train_config.source, train_config.split, train_config.augment.resize)
    train_config = cap_batch(train_config, opened.num_examples)  # as train will
    check_kept(train_config)
    path = os.path.join(train_config.workdir, RESULT_JSON)
    if os.path.exists(path):
        result = read_json(path, WorkdirError)
        if not ten_crops or "ten_top1_error" in result:
            return result
    else:
        metrics, seconds = _timed_train(train_config)
        if "stopped_at" in metrics:
            raise WorkdirError(f"stopped at step {metrics['stopped_at']}; rerun to resume.")
        steps_per_epoch = max(1, opened.num_examples // train_config.augment.batch_size)
        curve = _curve(train_config.workdir, steps_per_epoch)
        result = dict(run=name, changes=RUNS[name], workdir=train_config.workdir,
                      top1_error=metrics["top1_error"], top5_error=metrics.get("top5_error"),
                      num_images=metrics["num_images"], steps=metrics["step"],
                      steps_per_epoch=steps_per_epoch, seconds=round(seconds, 1),
                      train_top1_error=curve[-1][1] if curve else None, curve=curve)
        # Overfitting: the error on training photos, scored as the held-out ones (center
        # crop, no dropout), against the held-out error.
        result["train_scored_top1_error"] = _score(config, train_config.workdir, "center",
                                                   "train", TRAIN_SAMPLE)["top1_error"]
    if ten_crops:
        result["ten_top1_error"] = _score(config, train_config.workdir, "ten")["top1_error"]
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    logging.info("Run %s: top-1 error %.4f.", name, result["top1_error"])
    return result


def ensemble_result(config, names, results):
    """The ensemble of runs `names` scored (cached in ROOT/ensemble-<names>.json)."""
    path = os.path.join(config.root, f"ensemble-{'-'.join(names)}.json")
    if os.path.exists(path):
        return read_json(path, WorkdirError)
    scored = _score(config, ",".join(results[n]["workdir"] for n in names), "center")
    result = dict(runs=list(names), top1_error=scored["top1_error"],
                  top5_error=scored.get("top5_error"), num_images=scored["num_images"])
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return result


def run_all(config, claims):
    """{run name: result} of the runs the claims need ("ensemble": the ensemble's)."""
    ten = any(CLAIMS[c].measure == "ten_crops" for c in claims)
    results = {}
    for name in runs_of(claims):
        try:
            results[name] = run_one(config, name, ten_crops=ten and name == "baseline")
        except (Error, NonFiniteLoss, OSError, tf.errors.OpError) as e:
            raise WorkdirError(f"run {name} ({os.path.join(config.root, name)}): "
                               f"{describe(e)}") from None
    for claim in claims:
        if CLAIMS[claim].measure == "ensemble":
            results["ensemble"] = ensemble_result(config, CLAIMS[claim].runs, results)
    return results
