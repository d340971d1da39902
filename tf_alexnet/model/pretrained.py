"""`AlexNet(weights=...)`: a network and its weights from a file or workdir.

    read_pretrained(weights, args, cls)   a `Pretrained`: the source as an AlexNet (`cls`)
    configured_by(pretrained, args, cls)  AlexNet's arguments with the source's network

What `weights` may be:
  a training or import_weights workdir   its newest checkpoint that restores, its
                                          statistics and class names (model.json)
  a .keras file                           an AlexNet, or a model holding one (augmentation
                                          layers in front of it)
  a .weights.h5 file                      the shapes it holds fix the classes, widths and
                                          grouping; LRN, activation and pooling are the
                                          arguments' (a weights file records no config)
  a .caffemodel or .npy file              Caffe's bvlc_alexnet (tf_alexnet/workdir/
                                          importer.py: its LRN, preprocessing and synsets)

The source decides the network: an argument given with another value than both its default
and the source's raises ValueError. A grouped source (towers or fused) loads into either
grouping (they hold the same numbers, tf_alexnet/model/groupings.py); `include_top=False`
takes the layers it has. `preprocessing`, `class_names` (as many), `dropout` and `grouping`
given win over the source's.
"""

import inspect
import math
import os
import re
import types

import keras

from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.validation import finite
from tf_alexnet.model.caffe_files import caffe_preprocessing, read_weights
from tf_alexnet.model.class_names import ilsvrc_synsets
from tf_alexnet.model.groupings import canonical_weights, set_canonical_weights
from tf_alexnet.model.spec import (
    MIN_IMAGE_SIZE,
    LRNParams,
    feature_map_sizes,
    pooling_of,
    scaled_filters,
)
from tf_alexnet.workdir.checkpoints import restore_into
from tf_alexnet.workdir.info import load_network

# AlexNet's arguments that the source fixes.
STRUCTURE = (
    "num_classes",
    "image_size",
    "lrn",
    "lrn_across_groups",
    "activation",
    "pool_window",
    "fc_units",
    "filters",
    "removed",
)


class Pretrained:
    """A source network (`model`: an AlexNet with the source's weights) and where it came
    from (`path`)."""

    def __init__(self, model, path):
        self.model, self.path = model, path

    def load_into(self, model):
        """Copies the source's weights into `model` (the layers `model` has)."""
        weights = canonical_weights(self.model, self.model.grouping)
        names = {layer.name.rstrip("ab") for layer in model.layers}
        set_canonical_weights(
            model, model.grouping, {k: v for k, v in weights.items() if k in names}
        )


def configured_by(pretrained, args, cls):
    """`args` (those of AlexNet `cls`) with the source's network where they left it at the
    default."""
    source = pretrained.model
    own = {
        **source.spec.alexnet_arguments(),
        "class_names": source.class_names,
        "preprocessing": source.preprocessing,
        "grouping": source.grouping,
    }
    defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
    given = {k: v for k, v in args.items() if k in defaults and _differs(v, defaults[k])}
    if "width" in given and "filters" not in given:
        given["filters"] = scaled_filters(given.pop("width"))
    given.pop("width", None)
    clashes = [
        f"{k}={given[k]!r} (the source's: {own[k]!r})"
        for k in STRUCTURE
        if k in given and _differs(_canonical(k, given[k]), _canonical(k, own[k]))
    ]
    if clashes:
        hint = (
            " For other classes, take the features (include_top=False) and add your own "
            "classifier, or fine-tune with `train --init_from`."
            if any(c.startswith("num_classes") for c in clashes)
            else ""
        )
        raise ValueError(
            f"weights={pretrained.path}: "
            + "; ".join(clashes)
            + ": the weights are of another network."
            + hint
        )
    merged = {**args, **own, "width": 1.0}
    grouping = given.get("grouping", defaults["grouping"])
    if (grouping == "none") != (source.grouping == "none"):
        if "grouping" in given or source.grouping != "none":
            raise ValueError(
                f"weights={pretrained.path}: a {source.grouping!r} network cannot "
                f"be loaded as {grouping!r} (only towers and fused are the same "
                "network)."
            )
        grouping = "none"
    merged["grouping"] = grouping
    for key in ("dropout", "preprocessing"):
        if key in given:
            merged[key] = given[key]
    if "class_names" in given:
        if len(given["class_names"]) != source.spec.num_classes:
            raise ValueError(
                f"weights={pretrained.path}: {len(given['class_names'])} class "
                f"names for its {source.spec.num_classes} classes."
            )
        merged["class_names"] = given["class_names"]
    return merged


def _canonical(key, value):
    if key == "lrn":
        return LRNParams.of(value)
    if key == "filters":
        return tuple(int(v) for v in value)
    if key == "removed":
        return tuple(sorted(value or ()))
    if key == "pool_window":
        return {"overlapping": 3, "non_overlapping": 2}.get(value, value)
    return value


def _differs(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return tuple(a) != tuple(b)
    return a is not b and a != b


def read_pretrained(weights, args, cls):
    """The `Pretrained` of `weights` (module docstring) as an AlexNet `cls`; ValueError
    naming the path when it is none of them."""
    path = os.fspath(weights)
    if os.path.isdir(path):
        record = load_network(path)
        model = cls(
            **record.spec.alexnet_arguments(),
            grouping=record.grouping,
            class_names=record.class_names,
            preprocessing=record.preprocessing,
        )
        restore_into(model, path)
        return Pretrained(model, path)
    if not os.path.exists(path):
        raise ValueError(
            f"weights={path}: no such file or workdir. AlexNet takes its weights "
            "from a training workdir, a .keras, .weights.h5, .caffemodel or .npy "
            "file (nothing is downloaded)."
        )
    if path.endswith(".keras"):
        loaded = _load_keras_file(path)
        found = [m for m in [loaded, *getattr(loaded, "layers", ())] if isinstance(m, cls)]
        if not found:
            raise ValueError(f"weights={path}: holds no AlexNet ({type(loaded).__name__}).")
        return Pretrained(found[0], path)
    if path.endswith(".weights.h5"):
        return Pretrained(_from_weights_h5(path, args, cls), path)
    if path.endswith((".caffemodel", ".npy")):
        return Pretrained(_from_caffe(path, cls), path)
    raise ValueError(
        f"weights={path}: not a workdir, .keras, .weights.h5, .caffemodel or .npy file."
    )


def _load_keras_file(path):
    """keras.models.load_model(path), with a file that is no Keras zip, or is damaged, said
    as one ValueError naming it (Keras says "File not found" for a file that is there)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"weights={path}: not a .keras file (a .keras file is a zip archive; this one is "
            f"{os.path.getsize(path)} bytes of something else, or cut short)."
        )
    try:
        return keras.models.load_model(path)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as e:
        lines = [line for line in str(e).splitlines() if line.strip()]
        cause = next((line for line in lines if "NaN" in line or "weights=" in line), "")
        cause = cause or (lines[0] if lines else type(e).__name__)
        raise ValueError(f"weights={path}: cannot be loaded: {cause[:300]}") from None


def _from_caffe(path, cls):
    config = types.SimpleNamespace(
        caffemodel=path if path.endswith(".caffemodel") else "",
        npy=path if path.endswith(".npy") else "",
        prototxt="",
    )
    weights, spec = read_weights(config)
    model = cls(
        **spec.alexnet_arguments(),
        grouping="towers",
        class_names=ilsvrc_synsets(spec.num_classes),
        preprocessing=caffe_preprocessing(spec, None),
    )
    set_canonical_weights(model, "towers", weights)
    return model


def _h5_groups(cls, grouping):
    """{.weights.h5 group: layer name} of an AlexNet of `grouping`: Keras names a saved
    layer by its class and its place among the layers of that class (layers/conv2d_3;
    keras/src/saving/saving_lib.py: _save_container_state), so a small model of the same
    layout tells which group is which layer."""
    probe = cls(2, 67, width=0.05, fc_units=2, grouping=grouping, lrn="none")
    used, groups = {}, {}
    for layer in probe.layers:
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
        name = re.sub(r"_+", "_", name.replace("2_d", "2d"))
        used[name] = used.get(name, -1) + 1
        groups[name if used[name] == 0 else f"{name}_{used[name]}"] = layer.name
    return groups


def _image_size_of(path, fc6_inputs, conv5_filters, args):
    """The input side of a `.weights.h5` network, which the file does not record: the
    arguments' `image_size` when it gives the pool5 map that fc6's kernel was made for,
    else the smallest side that gives it (67 px for a 1x1 map, 227 for the paper's 6x6:
    the package's own sizes; every side with that map holds the same weights). ValueError
    naming `image_size` when no side gives it (another pooling: `pool_window`)."""
    side = math.isqrt(fc6_inputs // conv5_filters)
    pooling = pooling_of(args["pool_window"])
    if side * side * conv5_filters != fc6_inputs or pooling is None:
        side = 0
    elif feature_map_sizes(int(args["image_size"]), pooling)[3] == side:
        return int(args["image_size"])
    for size in range(MIN_IMAGE_SIZE, 4096) if side else ():
        if feature_map_sizes(size, pooling)[3] == side:
            return size
    raise ValueError(
        f"weights={path}: fc6 takes {fc6_inputs} inputs, which no input side gives with "
        f"pool_window={args['pool_window']!r} and {conv5_filters} conv5 filters: pass the "
        "image_size and pool_window the network was built with."
    )


def _read_weights_h5(path):
    """({layer group: [variable shapes]}, the preprocessor's mean image or None) of a Keras
    `.weights.h5`, every array checked finite; ValueError naming the file otherwise."""
    import h5py  # a dependency of Keras

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(
            f"weights={path}: not a readable HDF5 file, empty, cut short or of another "
            f"format ({str(e).split('(')[0].strip() or type(e).__name__})."
        ) from None
    with f:
        if "layers" not in f:
            raise ValueError(f"weights={path}: not a Keras .weights.h5 file (no 'layers').")
        found = {}  # the mean image only: the weights are checked one by one, not kept

        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                array = finite(obj[()], f"weights={path}: {name}")
                if name == "preprocessor/vars/0":
                    found["mean"] = array

        try:
            f.visititems(check)
        except (OSError, RuntimeError, KeyError) as e:
            raise ValueError(f"weights={path}: damaged, cut short ({e}).") from None
        shapes = {
            name: [group["vars"][k].shape for k in sorted(group["vars"])]
            for name, group in f["layers"].items()
            if isinstance(group, h5py.Group) and "vars" in group
        }
    mean = found.get("mean")
    if mean is not None:
        mean = finite(mean, f"weights={path}: the mean image", shape=("H", "W", 3))
    return shapes, mean


def _from_weights_h5(path, args, cls):
    """An AlexNet of the shapes a `.weights.h5` holds (its classes, widths and grouping);
    the rest of the network from `args`."""
    shapes, mean_image = _read_weights_h5(path)
    grouping = "towers" if any(n.startswith("placed_conv2d") for n in shapes) else "fused"
    layers = {}
    for group, layer in _h5_groups(cls, grouping).items():
        if group in shapes and len(shapes[group]) == 2:
            layers[layer] = shapes[group]
    try:
        if grouping == "towers":
            filters = [2 * layers[f"conv{i}a"][1][0] for i in range(1, 6)]
        else:
            filters = [layers[f"conv{i}"][1][0] for i in range(1, 6)]
            grouping = "fused" if layers["conv2"][0][2] * 2 == filters[0] else "none"
        found = dict(filters=filters, fc_units=layers["fc6"][1][0], num_classes=layers["fc8"][1][0])
        fc6_inputs = layers["fc6"][0][0]
    except KeyError as e:
        raise ValueError(
            f"weights={path}: not the weights of an AlexNet with its classifier (no {e} layer)."
        ) from None
    found["image_size"] = _image_size_of(path, fc6_inputs, filters[4], args)
    if mean_image is not None and args["preprocessing"] is None:
        # model.save_weights of a model with a mean image saves it (the preprocessor's
        # one weight): the transform is the mean image's square, then the center crop.
        found["preprocessing"] = Preprocessing(
            found["image_size"], mean_image.shape[0], "image", Stats(mean_image=mean_image)
        )
    model = cls(**{**args, "width": 1.0, **found, "grouping": grouping})
    try:
        model.load_weights(path)
    except ValueError as e:
        raise ValueError(
            f"weights={path}: does not load into the network of its shapes and "
            f"the arguments given (image_size {model.spec.image_size}?): "
            f"{str(e)[:300]}"
        ) from None
    return model
