"""Figure 1 (§3.1) as the paper ran it: the four-layer CIFAR-10 net (experiment/four_layer.py)
with ReLU or tanh, "no regularization of any kind" (no weight decay, dropout or augmentation:
the 32x32 photos minus the mean image), the whole CIFAR-10 training set, each activation's
learning rate "chosen independently to make training as fast as possible".

    sweep(config, activation)      the rate of each activation: SWEEP_EPOCHS epochs at each of
                                   --figure1_rates, the lowest training error wins
    run(config, activation, seed)  training error per epoch (the error on the training
                                   batches during the epoch, as cuda-convnet reported it) up
                                   to 25% and a little beyond, or --figure1_epochs
    figure1_results(config)        {"relu": [run per seed], "tanh": [...], "sweep": {...}}

Training is Keras `fit` with the paper's momentum SGD (PaperSGD, momentum 0.9, no decay),
batch 128 as the 2012 code. Each epoch is one `fit` call on the epoch's own seeded order, the
model saved after it (ROOT/figure1/ACT-seedN/model.keras + history.json): a killed run goes on
from its last epoch with the same numbers as one that was not killed.
"""

import dataclasses
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet.config import EvalDataConfig
from tf_alexnet.data.pipeline import eval_dataset
from tf_alexnet.data.stats import Preprocessing
from tf_alexnet.errors import WorkdirError
from tf_alexnet import validation
from tf_alexnet.experiment.four_layer import four_layer_net
from tf_alexnet.train.optim import PaperSGD

THRESHOLD = 0.25  # Figure 1's training error
BATCH = 128
SWEEP_EPOCHS = 3
BEYOND = 2  # epochs trained after reaching THRESHOLD (the curve's end)


def _folder(config):
    return os.path.join(config.root, "figure1")


def training_photos(config):
    """(uint8 [N, 32, 32, 3], int labels [N]) of the whole training split, cached under
    ROOT/figure1/ (listing and decoding 50,000 photos takes a minute)."""
    path = os.path.join(_folder(config), "train_photos.npz")
    if os.path.exists(path):
        data = np.load(path)
        if str(data["source"]) == config.source.source:
            return data["images"], data["labels"]
    # A folder without split folders: all its photos (the paper's whole training set).
    source = dataclasses.replace(config.source, train_per_class=0)
    split = "all" if source.source.startswith("folder:") else "train"
    ds, _ = eval_dataset(
        source, EvalDataConfig(batch_size=500), split, Preprocessing(32, 32, "none")
    )
    images, labels = [], []
    for x, y in ds:
        images.append(np.clip(np.round(x.numpy()), 0, 255).astype(np.uint8))
        labels.append(y.numpy())
    images, labels = np.concatenate(images), np.concatenate(labels)
    os.makedirs(_folder(config), exist_ok=True)
    np.savez(path, images=images, labels=labels, source=config.source.source)
    return images, labels


def _epoch_data(images, labels, mean, seed, epoch, limit):
    """The epoch's batches: the photos minus the mean image, in the seeded order of
    (seed, epoch); `limit` photos (0: all)."""
    order = np.random.default_rng([seed, epoch]).permutation(len(images))
    if limit:
        order = order[:limit]
    x = images[order].astype(np.float32) - mean
    return tf.data.Dataset.from_tensor_slices((x, labels[order])).batch(BATCH)


def _compiled(activation, seed, rate):
    model = four_layer_net(activation, seed)
    model.compile(
        optimizer=PaperSGD(rate, momentum=0.9, decay=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# DIR/history.json of a Figure 1 run: its settings, curve so far and training seconds.
HISTORY_SCHEMA = validation.Record(
    dict(
        rate=validation.NUMBER,
        seed=validation.INTEGER,
        activation=validation.STRING,
        curve=validation.ListOf(validation.ListOf(validation.NUMBER, length=2)),
        seconds=validation.Range(0),
    )
)


def train_curve(config, directory, activation, seed, rate, epochs, until=None):
    """([(epoch, training error during that epoch)], training seconds) of a run in
    `directory`, resumed from its last saved epoch; it stops `BEYOND` epochs after reaching
    `until` (if given), or at the first epoch whose loss is not finite (error 1.0)."""
    images, labels = training_photos(config)
    mean = images.astype(np.float32).mean(0)
    history_path = os.path.join(directory, "history.json")
    model_path = os.path.join(directory, "model.keras")
    history = (
        validation.read_record(history_path, HISTORY_SCHEMA, WorkdirError)
        if os.path.exists(history_path)
        else {}
    )
    if history and (history.get("rate"), history.get("seed"), history.get("activation")) != (
        rate,
        seed,
        activation,
    ):
        raise WorkdirError(
            f"{directory} was made with other settings ({history.get('rate')}, "
            f"{history.get('seed')}); move it away to run it again."
        )
    curve, seconds = history.get("curve", []), history.get("seconds", 0.0)
    model = (
        keras.models.load_model(model_path)
        if curve and os.path.exists(model_path)
        else _compiled(activation, seed, rate)
    )
    limit = config.figure1_images
    while len(curve) < epochs:
        reached = [e for e, err in curve if until is not None and err <= until]
        if reached and curve[-1][0] >= reached[0] + BEYOND:
            break
        epoch, started = len(curve), time.perf_counter()
        fitted = model.fit(
            _epoch_data(images, labels, mean, seed, epoch, limit),
            epochs=epoch + 1,
            initial_epoch=epoch,
            verbose=0,
        )
        seconds += time.perf_counter() - started
        error = 1.0 - float(fitted.history["accuracy"][-1])
        if not np.isfinite(fitted.history["loss"][-1]):
            error = 1.0  # diverged: the rate is too high
        curve.append((epoch + 1, error))
        os.makedirs(directory, exist_ok=True)
        model.save(model_path)
        with open(history_path, "w") as f:
            json.dump(
                dict(
                    activation=activation,
                    seed=seed,
                    rate=rate,
                    curve=curve,
                    seconds=round(seconds, 1),
                ),
                f,
            )
        if error >= 1.0 - 1e-9:
            break
    return curve, seconds


def sweep(config, activation):
    """({rate: (training error after SWEEP_EPOCHS epochs (seed 0), seconds)}, the best
    rate)."""
    errors = {}
    for rate in config.figure1_rates:
        directory = os.path.join(_folder(config), "sweep", f"{activation}-lr{rate:g}")
        curve, seconds = train_curve(
            config, directory, activation, 0, rate, min(SWEEP_EPOCHS, config.figure1_epochs)
        )
        errors[rate] = (curve[-1][1], seconds)
    best = min(errors, key=lambda r: (errors[r][0], r))
    return errors, best


def figure1_results(config):
    """The sweep of each activation and its runs over --seeds at the rate it chose."""
    out = {"sweep": {}}
    for activation in ("relu", "tanh"):
        errors, best = sweep(config, activation)
        out["sweep"][activation] = dict(
            errors={f"{r:g}": e for r, (e, _) in errors.items()},
            rate=best,
            epochs=min(SWEEP_EPOCHS, config.figure1_epochs),
            seconds=round(sum(t for _, t in errors.values()), 1),
        )
        out[activation] = []
        for seed in range(config.seeds):
            directory = os.path.join(_folder(config), f"{activation}-seed{seed}")
            curve, seconds = train_curve(
                config, directory, activation, seed, best, config.figure1_epochs, until=THRESHOLD
            )
            out[activation].append(
                dict(seed=seed, rate=best, curve=curve, seconds=round(seconds, 1))
            )
    return out
