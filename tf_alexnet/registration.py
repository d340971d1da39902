"""The package's Keras classes registered as soon as Keras loads, whoever imports it.

`keras.models.load_model` finds a custom class only once the module defining it has run
(it imports modules itself only for Keras' own packages). `import tf_alexnet` must not load
Keras (that loads TensorFlow, and the train command sets XLA's environment after parsing its
flags, before TensorFlow starts: tf_alexnet/train/environment.py), so `install()` puts a
finder on `sys.meta_path` that, right after `keras` is imported, imports `KERAS_MODULES`:
`import tf_alexnet; import keras; keras.models.load_model(...)` then loads every model the
package saves. When Keras is already loaded, `install()` imports them at once.
"""

import importlib
import sys

from tf_alexnet.import_hook import ImportHook

# The modules whose import registers a class (@keras.saving.register_keras_serializable).
KERAS_MODULES = (
    "tf_alexnet.model.layers",
    "tf_alexnet.model.preprocessor",
    "tf_alexnet.model.alexnet",
    "tf_alexnet.model.ensemble",
    "tf_alexnet.model.augmentation",
    "tf_alexnet.train.optim",
    "tf_alexnet.experiment.four_layer",
)


def register():
    """Imports KERAS_MODULES (registering their classes); loads Keras and its backend.

    When the first import of Keras is one of these modules' own, the others are imported
    while it is half run: they import the package's modules as modules (`from
    tf_alexnet.model import layers`), never names from them, so that they can
    (tests/test_keras_api.py imports each first in a fresh process)."""
    for name in KERAS_MODULES:
        importlib.import_module(name)


class _AfterKeras(ImportHook):
    """Imports `keras`, then `register()`s."""

    name = "keras"

    def load(self, module):
        self.run(module)
        register()


def install():
    """Registers the classes when Keras is imported (now, if it already is)."""
    if "keras" in sys.modules:
        register()
    else:
        _AfterKeras.install()
