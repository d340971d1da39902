"""What enters the package, checked where it enters: JSON records against a schema, numbers
for finite values and shape.

Every file the package reads back (model.json, an export's tf_alexnet.json, a .tflite's
sidecar, stats.json, format.json, checksums, experiment results) goes through `read_record`
with the schema of that file: damage is one `Error` line naming the file and the field
(`model.json: damaged: spec.filters[2] is "x", expected an integer.`). Arrays (weights, mean
images, arrays handed to the Python API) go through `finite`: one line naming the file or
argument and the tensor. Plain Python and numpy: it loads before TensorFlow.
"""

import json
import math

import numpy as np

from tf_alexnet.errors import Error


class Spec:
    """What a field must be: `check(value)` returns None or what was expected."""

    expected = "a value"

    def check(self, value):
        raise NotImplementedError


class Type(Spec):
    """An instance of `types` (a bool is not a number here; a number is finite)."""

    def __init__(self, types, expected):
        self.types, self.expected = types, expected

    def check(self, value):
        if isinstance(value, bool) and bool not in self.types:
            return self.expected
        if not isinstance(value, self.types):
            return self.expected
        if isinstance(value, float) and not math.isfinite(value):
            return self.expected + " (finite)"
        return None


class Range(Spec):
    """A number (int or float; int only with `integer`) in [low, high]."""

    def __init__(self, low=None, high=None, integer=False):
        self.low, self.high, self.integer = low, high, integer
        kind = "an integer" if integer else "a number"
        if low is not None and high is not None:
            self.expected = f"{kind} in [{low}, {high}]"
        elif low is not None or high is not None:
            self.expected = (
                f"{kind} {'>=' if low is not None else '<='} {low if high is None else high}"
            )
        else:
            self.expected = kind
        self._type = Type((int,) if integer else (int, float), kind)

    def check(self, value):
        if self._type.check(value):
            return self.expected
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return self.expected
        return None


class OneOf(Spec):
    def __init__(self, *values):
        self.values = values
        self.expected = "one of " + ", ".join(json.dumps(v) for v in values)

    def check(self, value):
        if any(value == v and type(value) is type(v) for v in self.values):
            return None
        return self.expected


class Nullable(Spec):
    def __init__(self, spec):
        self.spec = spec
        self.expected = f"{spec.expected} or null"

    def check(self, value):
        return None if value is None else self.spec.check(value)

    def children(self, value):
        return [] if value is None else _children(self.spec, value)


class Either(Spec):
    def __init__(self, *specs):
        self.specs = specs
        self.expected = " or ".join(s.expected for s in specs)

    def check(self, value):
        return None if any(s.check(value) is None for s in self.specs) else self.expected

    def children(self, value):
        return _children(next(s for s in self.specs if s.check(value) is None), value)


class ListOf(Spec):
    """A list of `item`s; `length`: exactly that many; `min_length`: at least."""

    def __init__(self, item, length=None, min_length=0):
        self.item, self.length, self.min_length = item, length, min_length
        count = f"{length} " if length is not None else ""
        self.expected = f"a list of {count}{_plural(item.expected)}"

    def check(self, value):
        if not isinstance(value, list):
            return self.expected
        if (self.length is not None and len(value) != self.length) or len(value) < self.min_length:
            return self.expected
        return None

    def children(self, value):
        return [(f"[{i}]", v, self.item) for i, v in enumerate(value)]


class DictOf(Spec):
    """A JSON object whose every value is a `value`."""

    def __init__(self, value):
        self.value = value
        self.expected = f"an object of {_plural(value.expected)}"

    def check(self, value):
        return None if isinstance(value, dict) else self.expected

    def children(self, value):
        return [(f"[{json.dumps(k)}]", v, self.value) for k, v in value.items()]


class Record(Spec):
    """A JSON object with `required` and `optional` fields ({name: Spec}); other fields are
    allowed (a newer version's). `rule(d)`: a problem across fields, or None."""

    expected = "an object"

    def __init__(self, required=None, optional=None, rule=None):
        self.required, self.optional, self.rule = required or {}, optional or {}, rule

    def check(self, value):
        return None if isinstance(value, dict) else self.expected

    def children(self, value):
        out = []
        for name, spec in self.required.items():
            if name not in value:
                raise _Missing(name)
            out.append((f".{name}", value[name], spec))
        out += [(f".{n}", value[n], s) for n, s in self.optional.items() if n in value]
        return out


def _children(spec, value):
    """[(field suffix, value, spec)] inside `value`, which `spec.check` accepted."""
    children = getattr(spec, "children", None)
    return children(value) if children else []


def _plural(expected):
    for article in ("an ", "a "):
        if expected.startswith(article):
            return expected[len(article) :] + "s"
    return expected


class _Missing(Exception):
    pass


STRING = Type((str,), "a string")
INTEGER = Range(integer=True)
NUMBER = Range()
BOOLEAN = Type((bool,), "true or false")
ANY = Type((object,), "a value")
STRINGS = ListOf(STRING)


def _shown(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check(value, spec, what, error=Error):
    """`value` if it matches `spec`; else raises `error`: "WHAT: damaged: FIELD is VALUE,
    expected ..." (or "has no FIELD entry")."""

    def visit(where, v, s):
        expected = s.check(v)
        if expected:
            field = where.lstrip(".") or "its content"
            raise error(f"{what}: damaged: {field} is {_shown(v)}, expected {expected}.")
        try:
            children = _children(s, v)
        except _Missing as e:
            field = f"{where.lstrip('.')}.{e}" if where else str(e)
            raise error(f"{what}: damaged: it has no {field!r} entry.") from None
        for key, child, child_spec in children:
            visit(where + key, child, child_spec)
        problem = s.rule(v) if getattr(s, "rule", None) else None  # once its fields hold
        if problem:
            raise error(f"{what}: damaged: {problem}.")

    visit("", value, spec)
    return value


def parse_json(text, what, error=Error):
    """The JSON value of `text` (bytes or str); damage raises `error` naming `what`."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise error(f"{what}: damaged: not text (not UTF-8).") from None
    except ValueError as e:
        raise error(f"{what}: damaged, not valid JSON ({e}).") from None


def read_record(path, spec, error=Error):
    """The JSON content of the file `path`, checked against `spec` (a Record, ListOf, ...):
    one `error` line naming the file and the field when it does not match. A file that
    cannot be read raises OSError (its path and cause: errors.describe)."""
    with open(path, "rb") as f:
        data = f.read()
    return check(parse_json(data, path, error), spec, path, error)


def finite(values, what, error=Error, shape=None, dtype=np.float32):
    """`values` as a numpy array of `dtype`, checked: numbers only, `shape` (a tuple whose
    int entries must match and whose names, such as "N", match any size) and every value
    finite; else raises `error`: "WHAT: ..."."""
    try:
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise TypeError(array.dtype)
        array = array.astype(dtype, copy=False)
    except (TypeError, ValueError):
        kind = getattr(getattr(values, "dtype", None), "name", type(values).__name__)
        raise error(f"{what}: not an array of numbers ({kind}).") from None
    if shape is not None and (
        array.ndim != len(shape)
        or any(isinstance(s, int) and s != a for s, a in zip(shape, array.shape))
    ):
        want = ", ".join(str(s) for s in shape)
        raise error(f"{what}: shape {list(array.shape)}, expected [{want}].")
    if array.dtype.kind == "f":
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise error(f"{what}: {bad} of {array.size} values are NaN or infinite; refused.")
    return array


def finite_weights(variables, source, error=Error):
    """Checks that every variable of `variables` (Keras or tf.Variables, or (name, array)
    pairs) holds finite values; raises `error`: "SOURCE: weight NAME: k of n values are NaN
    or infinite"."""
    for variable in variables:
        if isinstance(variable, tuple):
            name, value = variable
        else:
            name = getattr(variable, "path", None) or getattr(variable, "name", "?")
            value = variable
        finite(np.asarray(value, np.float32), f"{source}: weight {name}", error)
