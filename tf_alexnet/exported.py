"""Loads an exported model (SavedModel dir, TF Serving base dir, or .tflite) for scoring.

`load(path)` returns an `Exported` with:
  predict_preprocessed(images [N, S, S, 3] or [N, 10, S, S, 3]) -> probabilities [N, C]
  predict_files(paths) -> [(path, probabilities or None, error or None)]
  class_names, display_names, meta (sizes, mean), stats_path, path
For a .tflite the preprocessing runs in Python with the same functions as evaluation (the
SavedModel does it in its graph).
"""

import json
import os

import numpy as np
import tensorflow as tf

from tf_alexnet import preprocess
from tf_alexnet.config import DataConfig


class ExportError(ValueError):
    pass


def resolve(path):
    """A SavedModel version dir, or .tflite file, from any of the accepted paths."""
    if not os.path.exists(path):
        raise ExportError(f"{path}: no such file or directory.")
    if os.path.isfile(path):
        if not path.endswith(".tflite"):
            raise ExportError(f"{path}: not a .tflite file or a SavedModel directory.")
        return path
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(d) for d in os.listdir(path)
                      if d.isdigit() and os.path.exists(os.path.join(path, d, "saved_model.pb")))
    if not versions:
        raise ExportError(f"{path}: neither a SavedModel (no saved_model.pb) nor a TF Serving "
                          "base directory (no integer version with one).")
    return os.path.join(path, str(versions[-1]))


class Exported:
    def __init__(self, path):
        self.path = resolve(path)
        self.is_tflite = self.path.endswith(".tflite")
        if self.is_tflite:
            meta_path = self.path + ".json"
            if not os.path.exists(meta_path):
                raise ExportError(f"{self.path}: its sidecar {meta_path} is missing.")
            self.meta = json.load(open(meta_path))
            extra = os.path.join(os.path.dirname(self.path), self.meta["extra_dir"])
        else:
            extra = os.path.join(self.path, "assets.extra")
            meta_path = os.path.join(extra, "tf_alexnet.json")
            if not os.path.exists(meta_path):
                raise ExportError(f"{self.path}: no assets.extra/tf_alexnet.json; not a "
                                  "tf_alexnet export.")
            self.meta = json.load(open(meta_path))
        self.stats_path = os.path.join(extra, "stats.json")
        self.class_names = self.meta["class_names"]
        self.display_names = self.meta.get("display_names", self.class_names)
        self.size = self.meta["image_size"]
        if self.is_tflite:
            from tf_alexnet.tflite import TFLiteRunner
            self._tflite = TFLiteRunner(self.path)
            config = DataConfig(image_size=self.size, resize_size=self.meta["resize"],
                                mean=self.meta["mean"])
            self._preprocess = preprocess.make_eval_preprocess(
                config, preprocess.load_stats(self.stats_path), crops="center")
        else:
            self._loaded = tf.saved_model.load(self.path)
            self.signatures = self._loaded.signatures

    def _probabilities(self, images):
        if self.is_tflite:
            return np.concatenate([self._tflite(images[i:i + 1]) for i in range(len(images))])
        return self.signatures["predict_preprocessed"](
            images=tf.constant(images, tf.float32))["probabilities"].numpy()

    def predict_preprocessed(self, images):
        images = np.asarray(images, np.float32)
        if images.ndim == 5:  # [N, 10, S, S, 3]: average the crops' softmax
            n, crops = images.shape[:2]
            flat = self._probabilities(images.reshape((-1,) + images.shape[2:]))
            return flat.reshape(n, crops, -1).mean(1)
        return self._probabilities(images)

    def predict_bytes(self, encoded):
        """Probabilities for one encoded image (raises tf.errors.InvalidArgumentError)."""
        if self.is_tflite:
            image = self._preprocess(tf.constant(encoded)).numpy()
            return self._probabilities(image[None])[0]
        out = self.signatures["serving_default"](image_bytes=tf.constant([encoded]))
        return out["probabilities"].numpy()[0]

    def predict_files(self, paths):
        """[(path, probabilities, None) or (path, None, why it failed)] per file."""
        from tf_alexnet.sources import check_image_file

        results = []
        for path in paths:
            try:
                problem = check_image_file(path)
                if problem:
                    results.append((path, None, problem))
                    continue
                with open(path, "rb") as f:
                    results.append((path, self.predict_bytes(f.read()), None))
            except OSError as e:
                results.append((path, None, f"cannot read: {e.strerror or e}"))
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
                results.append((path, None, "the image data cannot be decoded"))
        return results


def load(path):
    return Exported(path)
