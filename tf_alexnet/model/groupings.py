"""The grouped models hold the same numbers: canonical weights and grouping conversion.

A fused kernel [k, k, cin/2, cout] holds tower a's kernel in [..., :cout/2] and tower b's in
[..., cout/2:], so the towers' halves concatenate on the last axis.
"""

import numpy as np

from tf_alexnet.model.spec import CONV_NAMES, DENSE_NAMES


def _present(model):
    return {layer.name for layer in model.layers}


def canonical_weights(model, grouping=None):
    """{layer: [kernel, bias]} in the fused layout (conv2 kernel [5, 5, 48, 256], ...), for
    the layers `model` has (no fc layers with include_top=False); `grouping`: the model's
    own by default.

    A fused kernel [k, k, cin/2, cout] holds tower a's kernel in [..., :cout/2] and tower b's
    in [..., cout/2:], so the towers' halves are concatenated on the last axis.
    """
    grouping = grouping or model.grouping
    present, out = _present(model), {}
    for layer in CONV_NAMES + DENSE_NAMES:
        if layer not in present and layer + "a" not in present:
            continue
        if grouping == "towers" and layer in CONV_NAMES:
            a, b = (model.get_layer(layer + h).get_weights() for h in "ab")
            out[layer] = [np.concatenate([a[0], b[0]], -1), np.concatenate([a[1], b[1]], 0)]
        else:
            out[layer] = model.get_layer(layer).get_weights()
    return out


def set_canonical_weights(model, grouping, weights):
    """Loads `canonical_weights` output into a model of `grouping` with the same spec."""
    for layer, (kernel, bias) in weights.items():
        if grouping == "towers" and layer in CONV_NAMES:
            half = kernel.shape[-1] // 2
            model.get_layer(layer + "a").set_weights([kernel[..., :half], bias[:half]])
            model.get_layer(layer + "b").set_weights([kernel[..., half:], bias[half:]])
        else:
            model.get_layer(layer).set_weights([kernel, bias])


def convert_grouping(model, target, tower_devices=None):
    """A new AlexNet of grouping `target` ("towers" or "fused") computing what the AlexNet
    `model` computes: the same config (classes, preprocessing, head), other layers.

    Fused and towers hold the same numbers (canonical_weights); an ungrouped model is a
    different network and cannot be converted.
    """
    source = model.grouping
    if "none" in (source, target) and source != target:
        raise ValueError(
            f"Cannot convert a {source!r} model to {target!r}: only the grouped "
            "models ('towers' and 'fused') are the same network."
        )
    config = {
        **model.get_config(),
        "grouping": target,
        "tower_devices": tower_devices,
        "preprocessing": model.preprocessing,
    }
    new = type(model).from_config(config)
    set_canonical_weights(new, target, canonical_weights(model, source))
    return new


def conv1_halves(model):
    """conv1's kernels [k, k, 3, F/2] of tower a and tower b; for a fused or ungrouped model
    the two halves its filters would have on two GPUs (numpy)."""
    names = {layer.name for layer in model.layers}
    if "conv1a" in names:
        return tuple(model.get_layer("conv1" + h).kernel.numpy() for h in "ab")
    kernel = model.get_layer("conv1").kernel.numpy()
    half = kernel.shape[-1] // 2
    return kernel[..., :half], kernel[..., half:]
