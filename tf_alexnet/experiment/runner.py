"""Running the claims' arms: each (arm, seed) trained once into ROOT/ARM/seedN, scored on the
held-out split, its result kept in ROOT/ARM/seedN/result.json; a run with a result is not
trained again, one without resumes from its checkpoints (the train command's own resume),
and a kept run made with other settings is refused, never reused.

    run_config(config, arm, seed)   the TrainConfig of that run under `config`
    run_all(config, claims)         {arm: [result of each seed]} of the arms the claims need
    ensemble_result(...)            the mean-probability model of the seeds, scored
"""

import dataclasses
import glob
import json
import logging
import os
import time

import tensorflow as tf

from tf_alexnet.config import AugmentConfig, EvalConfig, EvalDataConfig, SourceConfig
from tf_alexnet.config import TrainConfig
from tf_alexnet.data.pipeline import open_split
from tf_alexnet.errors import Error, NonFiniteLoss, WorkdirError, describe
from tf_alexnet import validation as v
from tf_alexnet.evaluate.scoring import evaluate
from tf_alexnet.experiment.claims import ARMS, CLAIMS, REGIME, arms_of
from tf_alexnet.report.analysis import events_of, read_curves
from tf_alexnet.train import rerun
from tf_alexnet.train.task import cap_batch
from tf_alexnet.train.trainer import train

RESULT_JSON = "result.json"

_ERROR = v.Range(0, 1)
_CURVE = v.ListOf(v.ListOf(v.NUMBER, length=2))  # [(epoch, top-1 error)]
RESULT_SCHEMA = v.Record(
    dict(
        arm=v.STRING,
        seed=v.INTEGER,
        workdir=v.STRING,
        top1_error=_ERROR,
        train_scored_top1_error=_ERROR,
        seconds=v.Range(0),
        curves=v.Record(dict(train=_CURVE, heldout=_CURVE)),
    ),
    dict(
        top5_error=v.Nullable(_ERROR),
        ten_top1_error=_ERROR,
        steps=v.Range(0, integer=True),
        diverged=v.STRING,
    ),
)
ENSEMBLE_SCHEMA = v.Record(
    dict(workdirs=v.STRINGS, top1_error=_ERROR, num_images=v.Range(1, integer=True)),
    dict(top5_error=v.Nullable(_ERROR)),
)
SPENT_SCHEMA = v.Record(dict(seconds=v.Range(0)))


def seeds_of(config):
    return tuple(range(config.seeds))


def run_dir(config, arm, seed):
    return os.path.join(config.root, arm, f"seed{seed}")


def run_config(config, arm, seed=0):
    """The TrainConfig of `arm` with `seed`: REGIME, then the arm's changes, then the
    command's --epochs / --train_steps / --train_per_class (cut-downs)."""
    fields = dict(REGIME, **ARMS[arm])
    if config.epochs:
        fields["epochs"] = config.epochs
    if config.train_per_class:
        fields["train_per_class"] = config.train_per_class
    nested = {}
    for part in (AugmentConfig, SourceConfig):
        nested[part] = {k: fields.pop(k) for k in list(fields) if k in part.__dataclass_fields__}
    source = dataclasses.replace(
        config.source, seed=config.source.seed + seed, **nested[SourceConfig]
    )
    augment = AugmentConfig(**nested[AugmentConfig])
    return TrainConfig(
        source=source,
        augment=augment,
        evaluation=EvalDataConfig(batch_size=augment.batch_size),
        workdir=run_dir(config, arm, seed),
        train_steps=config.train_steps,
        **fields,
    ).validate()


def _score(config, workdir, crops="center", split="validation", max_examples=0):
    evaluation = EvalDataConfig(batch_size=64, eval_crops=crops)
    source = dataclasses.replace(
        config.source, train_per_class=(config.train_per_class or REGIME["train_per_class"])
    )
    return evaluate(
        EvalConfig(
            source=source,
            evaluation=evaluation,
            workdir=workdir,
            split=split,
            max_examples=max_examples,
        )
    )


def _curves(workdir, steps_per_epoch):
    """{"train": [(epoch, training top-1 error of the interval ending there)], "heldout":
    [(epoch, top-1 error of the validation sample)]} from the event files."""
    curves = read_curves(workdir)
    return {
        name: [(step / steps_per_epoch, value) for step, value in curves.get(key, [])]
        for name, key in (("train", "train/top1_error"), ("heldout", "eval/top1_error"))
    }


# A kept run is this command's only when everything but the log and checkpoint cadence is
# the same: its length too (train/rerun.py lets a plain rerun extend a run).
KEPT_FREE = tuple(name for name in rerun.FREE if name not in ("epochs", "train_steps"))
AUTO = ("grouping", "precision")


def check_kept(train_config):
    """Raises WorkdirError when the run's directory was made with other settings than
    `train_config` (its flags.txt): its result, or its checkpoints, are not this command's."""
    old = rerun.recorded_config(train_config.workdir)
    changes = rerun.changed_flags(old, train_config, KEPT_FREE) if old else {}
    # flags.txt holds what "auto" resolved to on the machine that trained.
    changes = {k: v for k, v in changes.items() if not (k in AUTO and v[1] == "auto")}
    if changes:
        raise WorkdirError(
            f"{train_config.workdir} was made with other settings ({rerun.listed(changes)}): "
            "not this command's run. Use another --root, or move it away to run it again."
        )


SPENT_JSON = "train_seconds.json"  # training seconds of the processes that did not finish


def timed(workdir, work):
    """(work(), seconds summed over every process that did it): the time of a process that
    stopped (SIGTERM, SIGINT) or failed is kept in WORKDIR/train_seconds.json (one killed
    outright, SIGKILL, loses its own)."""
    path = os.path.join(workdir, SPENT_JSON)
    spent = (
        v.read_record(path, SPENT_SCHEMA, WorkdirError)["seconds"] if os.path.exists(path) else 0.0
    )
    started = time.perf_counter()
    try:
        return work(), spent + time.perf_counter() - started
    finally:
        os.makedirs(workdir, exist_ok=True)
        with open(path, "w") as f:
            json.dump(dict(seconds=spent + time.perf_counter() - started), f)


def logged_seconds(workdir):
    """Seconds from each training process's first to its last logged step, summed over the
    processes (one TensorBoard file each in WORKDIR/train): what `timed` loses for a
    process killed outright, whose training still left its log lines."""
    total = 0.0
    for path in sorted(glob.glob(os.path.join(workdir, "train", "events.out.tfevents.*"))):
        times = [e.wall_time for e in events_of(path) if e.step]
        total += max(times) - min(times) if times else 0.0
    return total


def run_one(config, arm, seed, ten_crops=False):
    """Trains (or resumes) one run, scores it, writes and returns its result."""
    train_config = run_config(config, arm, seed)
    opened = open_split(train_config.source, train_config.split, train_config.augment.resize)
    train_config = cap_batch(train_config, opened.num_examples)  # as train will
    check_kept(train_config)
    path = os.path.join(train_config.workdir, RESULT_JSON)
    if os.path.exists(path):
        result = v.read_record(path, RESULT_SCHEMA, WorkdirError)
        if not ten_crops or "ten_top1_error" in result:
            return result
    else:
        try:
            metrics, seconds = timed(train_config.workdir, lambda: train(train_config))
            seconds = max(seconds, logged_seconds(train_config.workdir))
        except NonFiniteLoss as e:
            return _diverged(path, arm, seed, train_config, opened, str(e))
        if "stopped_at" in metrics:
            raise WorkdirError(f"stopped at step {metrics['stopped_at']}; rerun to resume.")
        steps_per_epoch = max(1, opened.num_examples // train_config.augment.batch_size)
        scored = _score(config, train_config.workdir)
        result = dict(
            arm=arm,
            seed=seed,
            changes=ARMS[arm],
            workdir=train_config.workdir,
            top1_error=scored["top1_error"],
            top5_error=scored.get("top5_error"),
            num_images=scored["num_images"],
            steps=metrics["step"],
            train_images=opened.num_examples,
            steps_per_epoch=steps_per_epoch,
            seconds=round(seconds, 1),
            curves=_curves(train_config.workdir, steps_per_epoch),
        )
        # Overfitting: the error on the training photos, scored as the held-out ones
        # (center crop, no dropout), against the held-out error.
        result["train_scored_top1_error"] = _score(config, train_config.workdir, "center", "train")[
            "top1_error"
        ]
    if ten_crops:
        result["ten_top1_error"] = _score(config, train_config.workdir, "ten")["top1_error"]
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    logging.info("Run %s seed %d: held-out top-1 error %.4f.", arm, seed, result["top1_error"])
    return result


def _diverged(path, arm, seed, train_config, opened, why):
    """The result of a run whose loss became non-finite: chance error, said so (the table
    counts it; the arm's rate is the regime's, the same for every arm)."""
    chance = 1.0 - 1.0 / max(2, len(opened.class_names))
    spent = v.read_record(
        os.path.join(train_config.workdir, SPENT_JSON), SPENT_SCHEMA, WorkdirError
    )
    result = dict(
        arm=arm,
        seed=seed,
        changes=ARMS[arm],
        workdir=train_config.workdir,
        diverged=why,
        top1_error=chance,
        top5_error=None,
        train_scored_top1_error=chance,
        seconds=round(spent["seconds"], 1),
        steps=0,
        steps_per_epoch=1,
        curves=dict(train=[], heldout=[]),
    )
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    logging.warning("Run %s seed %d diverged: %s", arm, seed, why)
    return result


def ensemble_result(config, arm, results):
    """The ensemble of `arm`'s seeds scored (cached in ROOT/ARM/ensemble.json)."""
    path = os.path.join(config.root, arm, "ensemble.json")
    workdirs = [r["workdir"] for r in results[arm]]
    if os.path.exists(path):
        kept = v.read_record(path, ENSEMBLE_SCHEMA, WorkdirError)
        if kept.get("workdirs") == workdirs:
            return kept
    scored = _score(config, ",".join(workdirs))
    result = dict(
        workdirs=workdirs,
        top1_error=scored["top1_error"],
        top5_error=scored.get("top5_error"),
        num_images=scored["num_images"],
    )
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return result


def run_all(config, claims):
    """{arm: [result per seed]} of the arms the claims need ("ensemble": the baseline
    seeds' ensemble)."""
    ten = any(CLAIMS[c].measure == "ten_crops" for c in claims)
    results = {}
    for arm in arms_of(claims):
        results[arm] = []
        for seed in seeds_of(config):
            try:
                results[arm].append(run_one(config, arm, seed, ten_crops=ten and arm == "baseline"))
            except (Error, NonFiniteLoss, OSError, tf.errors.OpError) as e:
                raise WorkdirError(
                    f"run {arm} seed {seed} ({run_dir(config, arm, seed)}): {describe(e)}"
                ) from None
    if any(CLAIMS[c].measure == "ensemble" for c in claims):
        results["ensemble"] = ensemble_result(config, "baseline", results)
    return results
