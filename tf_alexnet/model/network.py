"""The network's functional graph: its layers, each grouping's layout, the head.

    network_graph(spec, grouping, ...)   (inputs, outputs) of `AlexNet` (model/alexnet.py)
    resolve_tower_devices(value)         None, "auto" or two device names -> devices

Towers: conv1..conv5 each split into an "a" and a "b" half, conv3 by its outputs, each half
seeing both columns' conv2 maps (the paper's Figure 2); placed on two devices when asked.
Fused: conv2/4/5 as Conv2D(groups=2). None: the same widths without groups.
"""

import dataclasses

import keras

# A module reference, not names: Keras may load (and tf_alexnet/registration.py import this
# module) while tf_alexnet.model.layers is still half run.
from tf_alexnet.model import layers
from tf_alexnet.model.spec import GROUPINGS, INITS, MIN_IMAGE_SIZE, pool_window

HE_INPUT_STD = 64.0
_BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")


def resolve_tower_devices(tower_devices):
    """None -> no placement; "auto" -> the first two GPUs if there are two; else a 2-tuple."""
    if tower_devices in (None, "", "none"):
        return None
    if tower_devices == "auto":
        if keras.backend.backend() != "tensorflow":
            return None
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return (gpus[0].name, gpus[1].name) if len(gpus) >= 2 else None
    if isinstance(tower_devices, str):
        tower_devices = tuple(d.strip() for d in tower_devices.split(","))
    tower_devices = tuple(tower_devices)
    if len(tower_devices) != 2:
        raise ValueError(f"tower_devices needs two devices, got {tower_devices!r}.")
    return tower_devices


def _initializers(layer, init, seed):
    if init not in INITS:
        raise ValueError(f"Unknown init {init!r}; choose one of {sorted(INITS)}.")
    conv_std, fc_std, out_std, bias_one = INITS[init]
    std = {"fc6": fc_std, "fc7": fc_std, "fc8": out_std}.get(layer, conv_std)
    # One fixed seed per layer name keeps a seeded model reproducible layer by layer.
    layer_seed = None if seed is None else seed * 1000 + sum(map(ord, layer))
    if std is None:
        scale = 2.0 / HE_INPUT_STD**2 if layer.startswith("conv1") else 2.0
        kernel = keras.initializers.VarianceScaling(
            scale, "fan_in", "truncated_normal", seed=layer_seed
        )
    else:
        kernel = keras.initializers.RandomNormal(0.0, std, seed=layer_seed)
    bias = bias_one if layer.rstrip("ab") in _BIAS_ONE else 0.0
    return dict(kernel_initializer=kernel, bias_initializer=keras.initializers.Constant(bias))


class _LayerFactory:
    """Makes the conv, LRN and pool layers of one model (grouping, init and seed fixed)."""

    def __init__(self, spec, grouping, init, seed):
        self.spec, self.placed, self.init, self.seed = spec, grouping == "towers", init, seed

    def conv(self, layer, filters, size, stride=1, padding="same", groups=1, device=None):
        kwargs = dict(
            strides=stride,
            padding=padding,
            groups=groups,
            activation=self.spec.activation,
            name=layer,
            **_initializers(layer, self.init, self.seed),
        )
        if self.placed:
            return layers.PlacedConv2D(filters, size, device=device, **kwargs)
        return keras.layers.Conv2D(filters, size, **kwargs)

    def lrn(self, layer, groups=1, device=None, keep=None):
        return layers.LocalResponseNormalization(
            **dataclasses.asdict(self.spec.lrn), groups=groups, device=device, keep=keep, name=layer
        )

    def pool(self, layer, device=None):
        window = pool_window(self.spec.pooling)
        if self.placed:
            return layers.PlacedMaxPooling2D(window, 2, device=device, name=layer)
        return keras.layers.MaxPooling2D(window, 2, name=layer)


def _tower_lrn(make, name, towers, devices):
    """LRN of each tower's maps: on its own half (the paper's GPUs), or, for a network that
    normalizes across all channels (Caffe's bvlc_alexnet), on both towers' maps, each tower
    keeping its half of the result. No LRN in the spec: the maps as they are."""
    if make.spec.lrn is None:
        return towers
    if not make.spec.lrn_across_groups:
        return [make.lrn(name + h, device=d)(x) for h, d, x in zip("ab", devices, towers)]
    both = keras.layers.Concatenate(name=name + "_in")(towers)
    half = both.shape[-1] // 2
    return [
        make.lrn(name + h, device=d, keep=keep)(both)
        for h, d, keep in zip("ab", devices, ((0, half), (half, 2 * half)))
    ]


def _tower_features(make, inputs, devices):
    """conv1..pool5 as the paper's two columns; each half on its device (or none)."""
    f1, f2, f3, f4, f5 = (f // 2 for f in make.spec.filters)
    devices = devices or (None, None)

    def each(make_layer, xs):
        return [make_layer(h, d)(x) for h, d, x in zip("ab", devices, xs)]

    x = each(lambda h, d: make.conv("conv1" + h, f1, 11, 4, "valid", device=d), [inputs] * 2)
    x = each(lambda h, d: make.pool("pool1" + h, d), _tower_lrn(make, "lrn1", x, devices))
    x = each(lambda h, d: make.conv("conv2" + h, f2, 5, device=d), x)
    towers = each(lambda h, d: make.pool("pool2" + h, d), _tower_lrn(make, "lrn2", x, devices))
    # conv3 is where the paper's two GPUs exchange maps: each half sees all of conv2.
    both = keras.layers.Concatenate(name="concat2")(towers)
    outs = []
    for half, device in zip("ab", devices):
        x = both
        for layer, filters in (("conv3", f3), ("conv4", f4), ("conv5", f5)):
            if layer not in make.spec.removed:
                x = make.conv(layer + half, filters, 3, device=device)(x)
        outs.append(make.pool("pool5" + half, device)(x))
    return keras.layers.Concatenate(name="concat5")(outs)


def _single_features(make, inputs, groups):
    """conv1..pool5 as single layers; conv2/4/5 in `groups` groups, and the LRNs too unless
    the network normalizes across all channels."""
    f1, f2, f3, f4, f5 = make.spec.filters
    lrn_groups = 1 if make.spec.lrn_across_groups else groups

    def lrn(name, x):
        return x if make.spec.lrn is None else make.lrn(name, lrn_groups)(x)

    x = make.conv("conv1", f1, 11, 4, "valid")(inputs)
    x = make.pool("pool1")(lrn("lrn1", x))
    x = make.conv("conv2", f2, 5, groups=groups)(x)
    x = make.pool("pool2")(lrn("lrn2", x))
    first = True  # the first conv after pool2 sees all maps (conv3, or conv4 without it)
    for layer, filters in (("conv3", f3), ("conv4", f4), ("conv5", f5)):
        if layer not in make.spec.removed:
            x = make.conv(layer, filters, 3, groups=1 if first else groups)(x)
            first = False
    return make.pool("pool5")(x)


def network_graph(
    spec, grouping, devices, init, seed, include_top, features, global_pool, classifier_activation
):
    """(inputs, outputs) of the network's functional graph."""
    if grouping not in GROUPINGS:
        raise ValueError(f"Unknown grouping {grouping!r}; choose one of {GROUPINGS}.")
    if devices and grouping != "towers":
        raise ValueError("tower_devices needs grouping='towers'.")
    if spec.image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size {spec.image_size} is too small: AlexNet needs at least "
            f"{MIN_IMAGE_SIZE} pixels (227 for the paper's 55/27/13/6 maps)."
        )
    make = _LayerFactory(spec, grouping, init, seed)
    inputs = keras.Input((spec.image_size, spec.image_size, 3), name="images")
    if grouping == "towers":
        x = _tower_features(make, inputs, devices)
    else:
        x = _single_features(make, inputs, 2 if grouping == "fused" else 1)
    if not include_top and features == "pool5":
        pool = {
            "avg": keras.layers.GlobalAveragePooling2D,
            "max": keras.layers.GlobalMaxPooling2D,
        }.get(global_pool)
        return inputs, (pool(name="global_pool")(x) if pool else x)
    x = keras.layers.Flatten(name="flatten")(x)
    dropout_seed = None if seed is None else seed + 7
    for layer in ("fc6", "fc7"):
        x = keras.layers.Dense(
            spec.fc_units,
            activation=spec.activation,
            name=layer,
            **_initializers(layer, init, seed),
        )(x)
        if layer == "fc7" and not include_top:
            return inputs, x
        x = keras.layers.Dropout(spec.dropout, seed=dropout_seed, name="drop" + layer[2])(x)
    x = keras.layers.Dense(spec.num_classes, name="fc8", **_initializers("fc8", init, seed))(x)
    if classifier_activation:
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return inputs, x
