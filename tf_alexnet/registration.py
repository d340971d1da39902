"""The package's Keras classes registered as soon as Keras loads, whoever imports it.

`keras.models.load_model` finds a custom class only once the module defining it has run
(it imports modules itself only for Keras' own packages). `import tf_alexnet` must not load
Keras (that loads TensorFlow, and the train command sets XLA's environment after parsing its
flags, before TensorFlow starts: tf_alexnet/train/environment.py), so `install()` puts a
finder on `sys.meta_path` that, right after `keras` is imported, imports `KERAS_MODULES`:
`import tf_alexnet; import keras; keras.models.load_model(...)` then loads every model the
package saves. When Keras is already loaded, `install()` imports them at once.

When the first import of Keras is one of the package's own modules' (`from
tf_alexnet.model.layers import ...` before anything else), that module is half run when
Keras finishes loading, and a module importing names from it cannot be imported yet: those
are imported at the next import that the finder sees after the half-run modules finished.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose import registers a class (@keras.saving.register_keras_serializable).
KERAS_MODULES = ("tf_alexnet.model.layers", "tf_alexnet.model.preprocessor",
                 "tf_alexnet.model.alexnet", "tf_alexnet.model.ensemble",
                 "tf_alexnet.model.augmentation", "tf_alexnet.train.optim")


def _initializing():
    """The package's modules that are half run (being imported)."""
    return [name for name, module in list(sys.modules.items())
            if name.startswith("tf_alexnet.") and getattr(
                getattr(module, "__spec__", None), "_initializing", False)]


def register():
    """Imports KERAS_MODULES (registering their classes); loads Keras and its backend.
    Returns False when some could not be imported yet (a module they import from is half
    run)."""
    done = True
    for name in KERAS_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            if not _initializing():
                raise
            done = False
    return done


class _AfterKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `keras` as the real finders would, then `register()`s (again at later
    imports until it succeeds)."""

    pending = finding = False

    def find_spec(self, name, path=None, target=None):
        if self.pending and not _initializing():
            self.pending = False
            if register():
                self._remove()
            else:
                self.pending = True
        if name != "keras" or self.finding or "keras" in sys.modules:
            return None
        self.finding = True  # the real finders locate the package
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.finding = False
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self._loader  # as if imported plainly
        self._loader.exec_module(module)
        sys.modules["keras"] = module
        if register():
            self._remove()
        else:
            self.pending = True

    def _remove(self):
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def install():
    """Registers the classes when Keras is imported (now, if it already is)."""
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
