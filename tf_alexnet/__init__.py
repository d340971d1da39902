"""tf_alexnet: the AlexNet of Krizhevsky, Sutskever and Hinton (NIPS 2012) in TF 2 / Keras 3.

The documented Python API is importable from here (`from tf_alexnet import build_alexnet`);
each name loads its module on first use (module `__getattr__`), so that importing the
package loads no TensorFlow and can turn on oneDNN first: on the AMD CPUs this project runs
on, oneDNN is off by default and the convolutions run about 2x slower without it
(`python -m tf_alexnet.bench model` with TF_ENABLE_ONEDNN_OPTS=0 and =1 shows it). The
variable only has an effect when set before `import tensorflow`, so every entry point
(`python -m tf_alexnet.<cmd>`) gets it from here. An explicit setting in the environment
wins.
"""

import importlib
import os

from tf_alexnet import console

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
console.install()  # TensorFlow's start-up banners filtered (tf_alexnet/console.py)

__version__ = "0.3.0"

# name -> module that defines it
_API = {
    "AlexNetSpec": "tf_alexnet.model.spec",
    "LRNParams": "tf_alexnet.model.spec",
    "LRN_PRESETS": "tf_alexnet.model.spec",
    "LocalResponseNormalization": "tf_alexnet.model.layers",
    "build_alexnet": "tf_alexnet.model.alexnet",
    "build_from_spec": "tf_alexnet.model.alexnet",
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
    "PaperSGD": "tf_alexnet.train.optim",
    "train_model": "tf_alexnet.train.trainer",
    "evaluate_model": "tf_alexnet.evaluate.scoring",
    "RunInfo": "tf_alexnet.workdir.info",
    "restore_model": "tf_alexnet.workdir.checkpoints",
    "export_saved_model": "tf_alexnet.export.savedmodel",
    "export_tflite": "tf_alexnet.export.tflite",
    "load_export": "tf_alexnet.export.loading",
}
# Names that would be those of subpackages or commands (tf_alexnet.train is the train
# command's package) are exported under another.
_RENAMED = {"load_export": "load", "train_model": "train", "evaluate_model": "evaluate",
            "prepare_shards": "prepare"}


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'tf_alexnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_API))
