"""Caffe's bvlc_alexnet weights (the paper's network) in this package's canonical layout.

Two files carry them: `bvlc_alexnet.caffemodel` (Caffe's NetParameter; kernels O x I x H x W,
fc weights out x in, fc6's inputs flattened channels first, C x H x W) and
`bvlc_alexnet.npy` (a pickled {"conv1": [W, b], ...} made by caffe-tensorflow: kernels
H x W x I x O, fc weights in x out, fc6's inputs already reordered to H x W x C, the
channels-last flatten this package uses). Both networks take BGR input, so conv1's input
channels are reversed here: the imported model takes RGB like every other model of the
package. The canonical layout is `model.groupings.canonical_weights`' (the fused model's).
"""

import dataclasses
import math

import numpy as np

from tf_alexnet.validation import finite

from tf_alexnet.errors import Error
from tf_alexnet.model.spec import (
    CONV_NAMES,
    DENSE_NAMES,
    AlexNetSpec,
    LRN_PRESETS,
    LRNParams,
    feature_map_sizes,
)

LAYERS = CONV_NAMES + DENSE_NAMES
# The mean pixel of bvlc_alexnet's readme (B, G, R), here as R, G, B; 0..255 units.
CAFFE_MEAN_RGB = (122.679, 116.669, 104.007)


class WeightsError(Error):
    """Weights that do not fit the network; the message names the layer and the shapes."""


def image_size_for(pool5):
    """The input side whose VALID conv1 and 3/2 pools end at `pool5` (6 -> 227, 1 -> 67)."""
    side = pool5
    for _ in range(3):
        side = (side - 1) * 2 + 3
    return (side - 1) * 4 + 11


def expected_shapes(spec):
    """{layer: (kernel shape, bias shape)} of `spec` in the canonical layout."""
    f1, f2, f3, f4, f5 = spec.filters
    side = feature_map_sizes(spec.image_size, spec.pooling)[3]
    units = spec.fc_units
    kernels = {
        "conv1": (11, 11, 3, f1),
        "conv2": (5, 5, f1 // 2, f2),
        "conv3": (3, 3, f2, f3),
        "conv4": (3, 3, f3 // 2, f4),
        "conv5": (3, 3, f4 // 2, f5),
        "fc6": (side * side * f5, units),
        "fc7": (units, units),
        "fc8": (units, spec.num_classes),
    }
    return {name: (shape, (shape[-1],)) for name, shape in kernels.items()}


def spec_of(weights, dropout=0.5):
    """The AlexNetSpec of canonical weights: bvlc_alexnet's LRN (k=1, alpha/n, across all
    channels); filters, fc width, classes and input side read from the shapes."""
    try:
        filters = tuple(int(weights[name][0].shape[-1]) for name in CONV_NAMES)
        fc6_in, units = weights["fc6"][0].shape
        side = int(round((fc6_in / filters[-1]) ** 0.5))
        classes = int(weights["fc8"][0].shape[-1])
    except (KeyError, IndexError, ValueError, ZeroDivisionError) as e:
        raise WeightsError(f"not AlexNet's layers conv1..conv5, fc6..fc8 ({e})") from None
    odd = [f"{name} {f}" for name, f in zip(CONV_NAMES, filters) if f < 2 or f % 2]
    if odd or units < 1 or classes < 1:
        raise WeightsError(
            f"filter counts {', '.join(odd) or 'ok'}, fc units {units}, "
            f"classes {classes}: this network needs even filter counts >= 2 "
            "(two towers) and at least one unit and class"
        )
    return AlexNetSpec(
        classes,
        image_size_for(max(side, 1)),
        filters,
        int(units),
        LRN_PRESETS["caffe"],
        dropout,
        lrn_across_groups=True,
    )


def check_shapes(weights, spec, layout):
    """Raises WeightsError naming the first layer whose shapes are not the network's.
    `layout(name, canonical shape)` gives a shape as the file writes it."""
    for name, shapes in expected_shapes(spec).items():
        found = tuple(tuple(a.shape) for a in weights[name][:2])
        if found != shapes:
            raise WeightsError(
                f"{name}: the file holds {layout(name, found)}, the network "
                f"needs {layout(name, shapes)}"
            )


def _caffe_layout(name, shapes):
    """Canonical (kernel, bias) shapes as Caffe writes them."""
    kernel, bias = shapes
    if len(kernel) == 4:
        return (kernel[3], kernel[2], kernel[0], kernel[1]), bias
    return (kernel[1], kernel[0]), bias


def from_caffe(blobs):
    """(canonical weights, spec) of {layer: [W, b]} read from a .caffemodel."""
    missing = [name for name in LAYERS if name not in blobs]
    if missing:
        raise WeightsError(f"no layer(s) {missing}; the file has {sorted(blobs)}")
    out = {}
    for name in LAYERS:
        if len(blobs[name]) != 2:
            raise WeightsError(f"{name}: {len(blobs[name])} blobs, not a weight and a bias")
        kernel, bias = blobs[name]
        if kernel.ndim == 4:
            kernel = kernel.transpose(2, 3, 1, 0)  # O I H W -> H W I O
        elif kernel.ndim == 2 and name == "fc6" and "conv5" in out:
            channels = out["conv5"][0].shape[-1]
            side = int(round((kernel.shape[1] / channels) ** 0.5))
            # C x H x W inputs (Caffe's flatten) -> H x W x C (channels last).
            kernel = (
                kernel.reshape(kernel.shape[0], channels, side, side)
                .transpose(0, 2, 3, 1)
                .reshape(kernel.shape[0], -1)
                .T
            )
        elif kernel.ndim == 2:
            kernel = kernel.T  # out x in -> in x out
        out[name] = [np.ascontiguousarray(kernel, np.float32), np.asarray(bias, np.float32)]
    return _finish(out, _caffe_layout)


def from_npy(layers):
    """(canonical weights, spec) of caffe-tensorflow's {layer: [W, b]} (or {"weights",
    "biases"} dicts)."""
    if not isinstance(layers, dict) or any(name not in layers for name in LAYERS):
        found = sorted(layers) if isinstance(layers, dict) else type(layers).__name__
        raise WeightsError(
            f"not a caffe-tensorflow AlexNet: expected layers {list(LAYERS)}, found {found}"
        )
    out = {}
    for name in LAYERS:
        entry = layers[name]
        if isinstance(entry, dict):
            entry = [entry.get("weights"), entry.get("biases")]
        out[name] = [np.asarray(a, np.float32) for a in entry]
    return _finish(out, lambda name, shapes: shapes)


def _finish(weights, layout):
    for name, arrays in weights.items():  # refused: a network of NaN computes nonsense
        for kind, array in zip(("weights", "biases"), arrays):
            finite(array, f"{name} {kind}", WeightsError)
    spec = spec_of(weights)
    check_shapes(weights, spec, layout)
    conv1 = weights["conv1"][0]
    weights["conv1"][0] = np.ascontiguousarray(conv1[:, :, ::-1, :])  # BGR -> RGB input
    return weights, spec


# What bvlc_alexnet's deploy.prototxt says of each layer: (kernel, stride, pad, group).
_CONV = {
    "conv1": (11, 4, 0, 1),
    "conv2": (5, 1, 2, 2),
    "conv3": (3, 1, 1, 1),
    "conv4": (3, 1, 1, 2),
    "conv5": (3, 1, 1, 2),
}


def _first(values, default):
    return int(values[0]) if len(values) else default


def _decimal(message, field, default):
    """A float field as the decimal the prototxt wrote (0.75, not float32's 0.7500000x)."""
    return float(str(np.float32(getattr(message, field)))) if message.HasField(field) else (default)


def _layer(layers, name):
    if name not in layers:
        raise WeightsError(f"no layer {name!r} (it has {', '.join(list(layers)[:16])})")
    return layers[name]


def spec_with_prototxt(spec, side, layers):
    """`spec` (read from the weights) checked against a deploy.prototxt's layers: the
    convolutions' kernels, strides, pads and groups and the 3/2 pools are AlexNet's, the
    filter and unit counts the weights', norm1 and norm2 one ACROSS_CHANNELS LRN (its
    local_size, alpha, beta and k become the spec's LRN: Caffe divides alpha by
    local_size), and the input side (when given) the one the weights' fc6 needs."""
    for i, (name, want) in enumerate(_CONV.items()):
        p = _layer(layers, name).convolution_param
        got = (
            _first(p.kernel_size, 0),
            _first(p.stride, 1),
            _first(p.pad, 0),
            p.group if p.HasField("group") else 1,
        )
        if got != want or p.num_output != spec.filters[i]:
            raise WeightsError(
                f"{name}: kernel, stride, pad, group {got} and {p.num_output} "
                f"outputs; this network needs {want} and {spec.filters[i]}"
            )
    for name in ("pool1", "pool2", "pool5"):
        p = _layer(layers, name).pooling_param
        if (p.kernel_size, p.stride if p.HasField("stride") else 1) != (3, 2):
            raise WeightsError(f"{name}: pooling {p.kernel_size}/{p.stride}, not 3/2")
    for name, units in (("fc6", spec.fc_units), ("fc7", spec.fc_units), ("fc8", spec.num_classes)):
        if _layer(layers, name).inner_product_param.num_output != units:
            raise WeightsError(
                f"{name}: {layers[name].inner_product_param.num_output} "
                f"outputs, the weights have {units}"
            )
    lrn = set()
    for name in ("norm1", "norm2"):
        p = _layer(layers, name).lrn_param
        if p.norm_region != 0:
            raise WeightsError(
                f"{name}: WITHIN_CHANNEL LRN; this network normalizes across channels"
            )
        n = p.local_size if p.HasField("local_size") else 5
        k, alpha, beta = (
            _decimal(p, field, default)
            for field, default in (("k", 1.0), ("alpha", 1.0), ("beta", 0.75))
        )
        if n < 1 or n % 2 == 0 or not all(map(math.isfinite, (k, alpha, beta))) or k <= 0:
            raise WeightsError(
                f"{name}: LRN local_size {n}, k {k}, alpha {alpha}, beta "
                f"{beta}; an LRN needs an odd local_size >= 1, k > 0 and "
                "finite numbers"
            )
        lrn.add(LRNParams(n // 2, k, alpha / n, beta))
    if len(lrn) != 1:
        raise WeightsError(
            f"norm1 and norm2 differ ({sorted(map(str, lrn))}); this network has one LRN"
        )
    pool5 = feature_map_sizes(spec.image_size)[3]
    if side and feature_map_sizes(side)[3] != pool5:
        raise WeightsError(
            f"input {side} x {side} gives pool5 "
            f"{feature_map_sizes(side)[3]} x {feature_map_sizes(side)[3]}, "
            f"the weights' fc6 needs {pool5} x {pool5}"
        )
    return dataclasses.replace(spec, image_size=side or spec.image_size, lrn=lrn.pop())
