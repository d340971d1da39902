"""`ImportHook`: run code around the first import of one module, whoever imports it.

A finder put first on `sys.meta_path` that, for its module's name only, asks the real
finders for the spec (removing itself first: it acts once) and wraps the loader, so that
`load(module)` runs the real `exec_module` inside what the subclass needs (console.py: with
TensorFlow's start-up lines filtered; registration.py: then registering the Keras classes).
The module ends up as if imported plainly. Plain Python.
"""

import importlib.abc
import importlib.util
import sys


class ImportHook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Subclasses set `name` and define `load(module)`, which must call `self.run(module)`."""

    name = ""

    @classmethod
    def install(cls):
        """Puts one instance first on sys.meta_path (once)."""
        if not any(isinstance(f, cls) for f in sys.meta_path):
            sys.meta_path.insert(0, cls())

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)  # once; the real finders locate the module
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self._loader  # as if imported plainly
        self.load(module)

    def run(self, module):
        """Executes the module with its real loader."""
        self._loader.exec_module(module)

    def load(self, module):
        self.run(module)
