"""Loads an exported model (SavedModel dir, TF Serving base dir, or .tflite) for scoring.

`load(path)` returns an `Exported` with:
  predict_preprocessed(images [N, S, S, 3] or [N, 10, S, S, 3]) -> probabilities [N, C]
  predict_files(paths) -> [(path, probabilities or None, error or None)]
  network and run (the NetworkRecord and RunInfo the export carries), class_names,
  display_names, path
For a .tflite the resize rule runs in Python with the same functions as evaluation, and the
file itself subtracts the mean and crops (export/tflite.py): it needs only its .json sidecar,
wherever the two are. It scores the center crop only. The SavedModel does everything in its
graph.
"""

import os
import re

import numpy as np
import tensorflow as tf

from tf_alexnet.data.crops import make_eval_preprocess
from tf_alexnet.data.decode import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    check_image_file,
    image_pixels,
)
from tf_alexnet.data.stats import STATS_JSON, Stats
from tf_alexnet.errors import ExportError
from tf_alexnet import validation
from tf_alexnet.export.savedmodel import META, serving_versions
from tf_alexnet.export.tflite import TFLITE_FORMAT, TFLiteRunner, square_preprocessing
from tf_alexnet.model.predict import average_crops
from tf_alexnet.workdir.info import RECORD_SCHEMA, NetworkRecord, RunInfo, read_network_record

# A .tflite's sidecar: the network record and what to feed the file.
SIDECAR_SCHEMA = validation.Record(
    dict(
        **RECORD_SCHEMA.required,
        format=validation.STRING,
        input=validation.Record(
            dict(shape=validation.ListOf(validation.Range(-1, 8192, integer=True), length=4))
        ),
    ),
    RECORD_SCHEMA.optional,
    rule=RECORD_SCHEMA.rule,
)


def resolve_export(path):
    """A SavedModel version dir, or .tflite file, from any of the accepted paths."""
    if not os.path.exists(path):
        raise ExportError(f"{path}: no such file or directory.")
    if os.path.isfile(path):
        if not path.endswith(".tflite"):
            raise ExportError(f"{path}: not a .tflite file or a SavedModel directory.")
        return path
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = [
        v
        for v in serving_versions(path)
        if os.path.exists(os.path.join(path, str(v), "saved_model.pb"))
    ]
    if not versions:
        raise ExportError(
            f"{path}: neither a SavedModel (no saved_model.pb) nor a TF Serving "
            "base directory (no integer version with one)."
        )
    return os.path.join(path, str(versions[-1]))


def _loaded_or_error(path, load):
    """load(), or an ExportError naming `path` when its files are damaged (a truncated or
    random .tflite, a SavedModel whose variables were cut short)."""
    try:
        return load()
    except (ValueError, IndexError, RuntimeError, tf.errors.OpError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ExportError(
            f"{path}: cannot be loaded, the file is damaged or not a model "
            f"({type(e).__name__}: {first})."
        ) from None


def _read_info(meta_path, extra_dir, what):
    if not os.path.exists(meta_path):
        raise ExportError(f"{what}: {meta_path} is missing; not a tf_alexnet export.")
    raw = read_network_record(meta_path, ExportError)
    extra = os.path.join(extra_dir or os.path.dirname(meta_path), raw.get("extra_dir", ""))
    network = NetworkRecord.from_json(raw, Stats.load(os.path.join(extra, STATS_JSON)))
    return network, RunInfo.from_json(raw), raw


def _read_tflite_info(path):
    """(NetworkRecord, RunInfo, sidecar) of a .tflite: no statistics needed (the mean is in
    the file)."""
    meta_path = path + ".json"
    if not os.path.exists(meta_path):
        raise ExportError(
            f"{path}: its sidecar {meta_path} (class names, input size) is "
            "missing; copy the two together."
        )
    raw = validation.read_record(meta_path, validation.Record(), ExportError)
    if raw.get("format") != TFLITE_FORMAT:
        raise ExportError(
            f"{path}: made by an earlier tf_alexnet (float input, statistics "
            "beside it); convert it again: python -m tf_alexnet.export "
            "--tflite_only --export_dir BASE --tflite QUANTIZATION."
        )
    validation.check(raw, SIDECAR_SCHEMA, meta_path, ExportError)
    return NetworkRecord.from_json(raw, Stats()), RunInfo.from_json(raw), raw


def _check_sidecar(path, network, runner):
    """The sidecar against the .tflite it describes: the input side it says to feed and its
    number of class names must be the file's own tensors' (a sidecar beside another
    model's .tflite would feed it wrong squares or label its outputs with wrong names)."""
    side, classes = runner.shapes()
    p = network.preprocessing
    if (p.resize, len(network.class_names)) != (side, classes):
        raise ExportError(
            f"{path}.json does not describe {path}: it says {p.resize}x{p.resize} squares "
            f"and {len(network.class_names)} classes, the .tflite takes {side}x{side} and "
            f"gives {classes}. Copy the .tflite and its own .json together."
        )


class Exported:
    """An export loaded for scoring (the module docstring lists what it offers)."""

    def __init__(self, path, num_threads=0):
        self.path = resolve_export(path)
        self.is_tflite = self.path.endswith(".tflite")
        if self.is_tflite:
            self.network, self.run, raw = _read_tflite_info(self.path)
            self._tflite = _loaded_or_error(self.path, lambda: TFLiteRunner(self.path, num_threads))
            _check_sidecar(self.path, self.network, self._tflite)
            self.input_preprocessing = square_preprocessing(self.network.preprocessing)
            self._preprocess = make_eval_preprocess(self.input_preprocessing)
        else:
            self.network, self.run, raw = _read_info(
                os.path.join(self.path, "assets.extra", META), None, self.path
            )
            self._loaded = _loaded_or_error(self.path, lambda: tf.saved_model.load(self.path))
            self.signatures = self._loaded.signatures
            self.input_preprocessing = self.network.preprocessing
        self.class_names = list(self.network.class_names)
        self.display_names = raw.get("display_names", self.class_names)
        self.size = self.network.preprocessing.image_size

    def _probabilities(self, images):
        images = np.asarray(images, np.float32)
        if self.is_tflite:  # squares, one at a time (as on a device)
            return np.concatenate([self._tflite(images[i : i + 1]) for i in range(len(images))])
        return self.signatures["predict_preprocessed"](images=tf.constant(images, tf.float32))[
            "probabilities"
        ].numpy()

    def predict_preprocessed(self, images):
        """Probabilities [N, C] of images [N, S, S, 3], or of [N, K, S, S, 3] crops averaged,
        made by `input_preprocessing` (a .tflite's: the squares before mean and crop)."""
        return np.asarray(average_crops(self._probabilities, np.asarray(images, np.float32)))

    def predict_bytes(self, encoded):
        """Probabilities for one encoded image (raises tf.errors.InvalidArgumentError)."""
        if self.is_tflite:
            image = self._preprocess(tf.constant(encoded)).numpy()
            return self._probabilities(image[None])[0]
        out = self.signatures["serving_default"](image_bytes=tf.constant([encoded]))
        return out["probabilities"].numpy()[0]

    def predict_files(self, paths, max_megapixels=DEFAULT_MAX_PIXELS / 1e6):
        """[(path, probabilities, None) or (path, None, why it failed)] per file; a
        directory stands for the images in it (and its subdirectories), as image tools do.
        An image whose header says more than `max_megapixels` million pixels is not
        decoded (a decompression bomb: a small file of a huge image)."""
        results = []
        for path in image_paths(paths):
            if os.path.isdir(path):
                results.append((path, None, "a directory holding no images"))
                continue
            try:
                problem = check_image_file(path)
                if problem:
                    results.append((path, None, problem))
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                pixels = int(image_pixels(tf.constant(data)).numpy())
                if pixels > max_megapixels * 1e6:
                    results.append(
                        (
                            path,
                            None,
                            f"{pixels / 1e6:.1f} megapixels (its header), over "
                            f"--max_megapixels={max_megapixels:g}: not decoded",
                        )
                    )
                    continue
                results.append((path, self.predict_bytes(data), None))
            except OSError as e:
                results.append((path, None, f"cannot read: {e.strerror or e}"))
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
                limit = re.search(r"image larger than [\d.]+ megapixels", str(e))
                results.append(
                    (
                        path,
                        None,
                        f"{limit.group(0)} (the model's own limit)"
                        if limit
                        else "the image data cannot be decoded",
                    )
                )
        return results


def image_paths(paths):
    """`paths` with each directory replaced by its image files (sorted, hidden ones left
    out), or kept as it is when it holds none."""
    out = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        found = []
        for root, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # .thumbs/ and the like
            found += [
                os.path.join(root, name)
                for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
            ]
        found.sort()
        out += found or [path]
    return out


def load(path, num_threads=0):
    """The `Exported` model at `path` (SavedModel, TF Serving base directory, .tflite);
    `num_threads`: a .tflite interpreter's threads (0: every core)."""
    return Exported(path, num_threads)
