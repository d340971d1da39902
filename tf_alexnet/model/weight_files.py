"""Reading caffe-tensorflow's `bvlc_alexnet.npy` (and the pickle-free `.npz`) without running
anything from the file.

caffe-tensorflow saves {"conv1": [W, b], ...} (or {"conv1": {"weights": W, "biases": b}})
with `np.save` of an object array: a pickle inside an .npy header. `np.load(...,
allow_pickle=True)` would call whatever the pickle names (a `__reduce__` calling os.system
runs at load). Here the pickle is read by `RestrictedUnpickler`, which resolves only the
globals such a file needs to rebuild numpy arrays (`ALLOWED`); any other is refused before
it is called, in an error naming it. Containers (dicts, lists, tuples), strings and numbers
are pickle opcodes, not globals, so they need no permission. A `.npz` (a zip of .npy arrays,
`np.savez(path, conv1_weights=W, conv1_biases=b, ...)`) is read with pickles refused.
"""

import io
import pickle

import numpy as np

NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"
# (module, name) -> why a weights file may name it.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): "rebuilds an ndarray",
    ("numpy._core.multiarray", "_reconstruct"): "rebuilds an ndarray",
    ("numpy.core.multiarray", "scalar"): "rebuilds a numpy scalar",
    ("numpy._core.multiarray", "scalar"): "rebuilds a numpy scalar",
    ("numpy", "ndarray"): "the array type",
    ("numpy", "dtype"): "an array's dtype",
    ("_codecs", "encode"): "Python 3's pickles of bytes (protocol 2)",
    ("copy_reg", "_reconstructor"): "Python 2's pickles of objects (numpy's dtypes)",
    ("copyreg", "_reconstructor"): "the same, as Python 3 names it",
}
SAFE_TYPES = {("builtins", "object")}  # copyreg._reconstructor's base argument


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global that a weights file never needs."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `ALLOWED` globals; raises ForbiddenGlobal for any other."""

    def find_class(self, module, name):
        if (module, name) in ALLOWED or (module, name) in SAFE_TYPES:
            return super().find_class(module, name)
        raise ForbiddenGlobal(f"{module}.{name}")


def _restricted_load(stream):
    return RestrictedUnpickler(stream, encoding="latin1").load()


def _from_npy(data):
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read_header is None:
        raise ValueError(f".npy format version {version} (1.0 and 2.0 are read)")
    _, _, dtype = read_header(stream)
    if dtype != object:  # noqa: E721 (a numpy dtype equals `object`)  a plain array: no pickle
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    array = _restricted_load(stream)
    if isinstance(array, np.ndarray) and array.dtype == object and array.shape == ():
        return array.item()
    return array


def _from_npz(data):
    """{"conv1": {"weights": W, "biases": b}, ...} of an .npz of LAYER_weights/LAYER_biases."""
    layers = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        for key in arrays.files:
            layer, _, part = key.rpartition("_")
            if not layer or part not in ("weights", "biases"):
                raise ValueError(f"array {key!r} is not LAYER_weights or LAYER_biases")
            layers.setdefault(layer, {})[part] = arrays[key]
    return layers


def load_layers(data):
    """The object a caffe-tensorflow file holds: an .npy (pickle inside, restricted), a bare
    pickle (restricted) or an .npz (no pickle). Raises ForbiddenGlobal, or ValueError /
    pickle.UnpicklingError for a file that is none of these."""
    if data.startswith(ZIP_MAGIC):
        return _from_npz(data)
    if data.startswith(NPY_MAGIC):
        return _from_npy(data)
    if data[:1] == b"\x80":  # a pickle's PROTO opcode
        return _restricted_load(io.BytesIO(data))
    raise ValueError("neither an .npy, an .npz nor a pickle")
