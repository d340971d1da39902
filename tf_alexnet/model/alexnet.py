"""The AlexNet of the paper as a Keras functional model, in three groupings.

    conv1 11x11/4 96 VALID -> ReLU -> LRN -> maxpool 3/2          227 -> 55 -> 27
    conv2 5x5 256 SAME, 2 groups -> ReLU -> LRN -> maxpool 3/2   27 -> 13
    conv3 3x3 384 (sees both groups) -> ReLU                     13
    conv4 3x3 384, 2 groups -> ReLU                              13
    conv5 3x3 256, 2 groups -> ReLU -> maxpool 3/2               13 -> 6; 6*6*256 = 9216
    fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 (logits)

The spec's switches for the paper's own comparisons: `activation` tanh instead of ReLU
(§3.1), `lrn` None without the LRN layers (§3.3), `pooling` non_overlapping: 2x2 / 2 pools
instead of 3x3 / 2 (§3.4; the same 55/27/13/6 maps at 227 px, larger where a side is even).

Groupings (all compute the same function for the same weights, see `convert_grouping`):
  "towers": the paper's two columns. conv1..conv5 are each split into an "a" and a "b" half
    (conv3 is split by its outputs, each half seeing both columns' conv2 maps, as in the
    paper's Figure 2). With `tower_devices` the halves are placed on two devices.
  "fused":  conv2/4/5 are `Conv2D(groups=2)`. Keras runs grouped convolutions through XLA
    on the TF backend (keras/src/backend/tensorflow/nn.py: "grouped convolutions are broken
    on CPU without XLA"), which is slow on CPU and leaves XLA-only functions in exports;
    prefer towers unless XLA is what you want.
  "none":   the same widths without groups (62,378,344 parameters instead of 60,965,224).

LRN in the grouped models normalizes each half separately, as each GPU did in the paper;
a spec with `lrn_across_groups` (Caffe's bvlc_alexnet) normalizes across all channels.
"""

import dataclasses

import keras
import tensorflow as tf

from tf_alexnet.model.layers import LocalResponseNormalization, PlacedConv2D, PlacedMaxPooling2D
from tf_alexnet.model.spec import GROUPINGS, INITS, MIN_IMAGE_SIZE, AlexNetSpec, pool_window

HE_INPUT_STD = 64.0
_BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")


def resolve_tower_devices(tower_devices):
    """None -> no placement; "auto" -> the first two GPUs if there are two; else a 2-tuple."""
    if tower_devices in (None, "", "none"):
        return None
    if tower_devices == "auto":
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
        scale = 2.0 / HE_INPUT_STD ** 2 if layer.startswith("conv1") else 2.0
        kernel = keras.initializers.VarianceScaling(scale, "fan_in", "truncated_normal",
                                                    seed=layer_seed)
    else:
        kernel = keras.initializers.RandomNormal(0.0, std, seed=layer_seed)
    bias = bias_one if layer.rstrip("ab") in _BIAS_ONE else 0.0
    return dict(kernel_initializer=kernel, bias_initializer=keras.initializers.Constant(bias))


def build_alexnet(num_classes=1000, image_size=227, grouping="towers", tower_devices=None,
                  lrn="paper", dropout=0.5, init="paper", width=1.0, fc_units=4096, seed=None,
                  name="alexnet", activation="relu", pooling="overlapping"):
    """Builds AlexNet; the defaults are the paper's network (60,965,224 parameters).

    Args:
      num_classes: outputs of fc8 (logits; no softmax in the model).
      image_size: square input side in pixels, >= 67. 227 gives the paper's 55/27/13/6 maps.
      grouping: "towers", "fused" or "none" (module docstring).
      tower_devices: None, "auto", or two device names such as ("/GPU:0", "/GPU:1");
        only for grouping="towers".
      lrn: an LRN preset name ("paper", "cuda_convnet", "caffe"), a dict of arguments, or
        "none" (no LRN layers).
      dropout: dropout rate after fc6 and fc7.
      init: "paper", "caffe" or "he" (see INITS).
      width: multiplier on the conv filters (rounded to even counts), for small models.
      fc_units: width of fc6 and fc7.
      seed: makes the initial weights and dropout masks reproducible.
      activation: "relu" (the paper) or "tanh", after conv1..conv5, fc6 and fc7.
      pooling: "overlapping" (3x3 / 2, the paper) or "non_overlapping" (2x2 / 2).
    """
    spec = AlexNetSpec.create(num_classes, image_size, width, fc_units, lrn, dropout,
                              activation=activation, pooling=pooling)
    return build_from_spec(spec, grouping, resolve_tower_devices(tower_devices), init, seed, name)


class _LayerFactory:
    """Makes the conv, LRN and pool layers of one model (grouping, init and seed fixed)."""

    def __init__(self, spec, grouping, init, seed):
        self.spec, self.placed, self.init, self.seed = spec, grouping == "towers", init, seed

    def conv(self, layer, filters, size, stride=1, padding="same", groups=1, device=None):
        kwargs = dict(strides=stride, padding=padding, groups=groups,
                      activation=self.spec.activation,
                      name=layer, **_initializers(layer, self.init, self.seed))
        if self.placed:
            return PlacedConv2D(filters, size, device=device, **kwargs)
        return keras.layers.Conv2D(filters, size, **kwargs)

    def lrn(self, layer, groups=1, device=None, keep=None):
        return LocalResponseNormalization(**dataclasses.asdict(self.spec.lrn), groups=groups,
                                          device=device, keep=keep, name=layer)

    def pool(self, layer, device=None):
        window = pool_window(self.spec.pooling)
        if self.placed:
            return PlacedMaxPooling2D(window, 2, device=device, name=layer)
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
    return [make.lrn(name + h, device=d, keep=keep)(both) for h, d, keep in
            zip("ab", devices, ((0, half), (half, 2 * half)))]


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
        x = make.conv("conv3" + half, f3, 3, device=device)(both)
        x = make.conv("conv4" + half, f4, 3, device=device)(x)
        x = make.conv("conv5" + half, f5, 3, device=device)(x)
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
    x = make.conv("conv3", f3, 3)(x)
    x = make.conv("conv4", f4, 3, groups=groups)(x)
    x = make.conv("conv5", f5, 3, groups=groups)(x)
    return make.pool("pool5")(x)


def build_from_spec(spec, grouping, devices, init="paper", seed=None, name="alexnet"):
    """Builds the network of an `AlexNetSpec` (what build_alexnet and resumed runs use)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"Unknown grouping {grouping!r}; choose one of {GROUPINGS}.")
    if devices and grouping != "towers":
        raise ValueError("tower_devices needs grouping='towers'.")
    if spec.image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size {spec.image_size} is too small: AlexNet needs at least "
                         f"{MIN_IMAGE_SIZE} pixels (227 for the paper's 55/27/13/6 maps).")
    make = _LayerFactory(spec, grouping, init, seed)
    inputs = keras.Input((spec.image_size, spec.image_size, 3), name="images")
    if grouping == "towers":
        x = _tower_features(make, inputs, devices)
    else:
        x = _single_features(make, inputs, 2 if grouping == "fused" else 1)
    x = keras.layers.Flatten(name="flatten")(x)
    dropout_seed = None if seed is None else seed + 7
    for layer in ("fc6", "fc7"):
        x = keras.layers.Dense(spec.fc_units, activation=spec.activation, name=layer,
                               **_initializers(layer, init, seed))(x)
        x = keras.layers.Dropout(spec.dropout, seed=dropout_seed, name="drop" + layer[2])(x)
    logits = keras.layers.Dense(spec.num_classes, name="fc8",
                                **_initializers("fc8", init, seed))(x)
    return keras.Model(inputs, logits, name=name)
