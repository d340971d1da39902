"""tf_alexnet: the AlexNet of Krizhevsky, Sutskever and Hinton (NIPS 2012) in TF 2 / Keras 3.

The documented Python API is importable from here (`from tf_alexnet import AlexNet`); each
name loads its module on first use (module `__getattr__`), so that importing the package
loads no TensorFlow and sets first what TensorFlow reads once, when it loads: oneDNN on (on
the AMD CPUs this project runs on it is off by default and the convolutions run about 2x
slower without it; `python -m tf_alexnet.bench model` with TF_ENABLE_ONEDNN_OPTS=0 and =1
shows it), its C++ INFO lines off, its start-up banners filtered (tf_alexnet/console.py).
An explicit setting in the environment wins. Every entry point (`python -m
tf_alexnet.<cmd>`) gets them from here; the train command then sets XLA's cache and
autotune level from its flags before TensorFlow starts (tf_alexnet/train/environment.py).

The package's Keras classes (`AlexNet`, its layers, the augmentation layers, `PaperSGD`
and its schedules, the ensemble) are registered as soon as Keras is imported, by anyone
(tf_alexnet/registration.py): `import tf_alexnet, keras; keras.models.load_model(path)`
loads every model the package saves.
"""

import importlib
import os

from tf_alexnet import console, registration

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
console.install()  # TensorFlow's start-up banners filtered (tf_alexnet/console.py)
registration.install()  # the Keras classes registered when Keras loads

__version__ = "0.6.0"

# name -> module that defines it
_API = {
    "AlexNet": "tf_alexnet.model.alexnet",
    "build_alexnet": "tf_alexnet.model.alexnet",
    "build_from_spec": "tf_alexnet.model.alexnet",
    "preprocess_input": "tf_alexnet.model.applications",
    "decode_predictions": "tf_alexnet.model.applications",
    "InputPreprocessor": "tf_alexnet.model.preprocessor",
    "LocalResponseNormalization": "tf_alexnet.model.layers",
    "MeanSubtraction": "tf_alexnet.model.augmentation",
    "RandomCropFlip": "tf_alexnet.model.augmentation",
    "PCALighting": "tf_alexnet.model.augmentation",
    "paper_augmentation": "tf_alexnet.model.augmentation",
    "AlexNetEnsemble": "tf_alexnet.model.ensemble",
    "EnsembleAverage": "tf_alexnet.model.ensemble",
    "ensemble_model": "tf_alexnet.model.ensemble",
    "PaperSGD": "tf_alexnet.train.optim",
    "LearningRate": "tf_alexnet.train.optim",
    "NetworkRecord": "tf_alexnet.workdir.info",
    "export_model": "tf_alexnet.export.savedmodel",
    "AlexNetSpec": "tf_alexnet.model.spec",
    "LRNParams": "tf_alexnet.model.spec",
    "LRN_PRESETS": "tf_alexnet.model.spec",
    "convert_grouping": "tf_alexnet.model.groupings",
    "canonical_weights": "tf_alexnet.model.groupings",
    "SourceConfig": "tf_alexnet.config",
    "AugmentConfig": "tf_alexnet.config",
    "EvalDataConfig": "tf_alexnet.config",
    "TrainConfig": "tf_alexnet.config",
    "EvalConfig": "tf_alexnet.config",
    "ExportConfig": "tf_alexnet.config",
    "PrepareConfig": "tf_alexnet.config",
    "Stats": "tf_alexnet.data.stats",
    "Preprocessing": "tf_alexnet.data.stats",
    "train_dataset": "tf_alexnet.data.pipeline",
    "eval_dataset": "tf_alexnet.data.pipeline",
    "DataInfo": "tf_alexnet.data.pipeline",
    "prepare_shards": "tf_alexnet.data.shards",
    "train_model": "tf_alexnet.train.trainer",
    "evaluate_model": "tf_alexnet.evaluate.scoring",
    "RunInfo": "tf_alexnet.workdir.info",
    "restore_model": "tf_alexnet.workdir.restore",
    "restore": "tf_alexnet.workdir.restore",
    "export_saved_model": "tf_alexnet.export.savedmodel",
    "export_tflite": "tf_alexnet.export.tflite",
    "load_export": "tf_alexnet.export.loading",
}
# Names that would be those of subpackages or commands (tf_alexnet.train is the train
# command's package) are exported under another.
_RENAMED = {
    "load_export": "load",
    "restore": "restore_model",
    "train_model": "train",
    "evaluate_model": "evaluate",
    "prepare_shards": "prepare",
}


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'tf_alexnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_API))


__all__ = list(_API)
