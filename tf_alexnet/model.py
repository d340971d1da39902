"""The AlexNet of the paper as a Keras functional model, in three groupings.

    conv1 11x11/4 96 VALID -> ReLU -> LRN -> maxpool 3/2          227 -> 55 -> 27
    conv2 5x5 256 SAME, 2 groups -> ReLU -> LRN -> maxpool 3/2   27 -> 13
    conv3 3x3 384 (sees both groups) -> ReLU                     13
    conv4 3x3 384, 2 groups -> ReLU                              13
    conv5 3x3 256, 2 groups -> ReLU -> maxpool 3/2               13 -> 6; 6*6*256 = 9216
    fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 (logits)

Why 227: the paper says 224, but an 11x11 stride-4 VALID convolution gives the paper's 55x55
maps only from (55 - 1) * 4 + 11 = 227 pixels.

Groupings (all compute the same function for the same weights, see `convert_grouping`):
  "towers": the paper's two columns. conv1..conv5 are each split into an "a" and a "b" half
    (conv3 is split by its outputs, each half seeing both columns' conv2 maps, as in the
    paper's Figure 2). With `tower_devices` the halves are placed on two devices.
  "fused":  conv2/4/5 are `Conv2D(groups=2)`. Keras runs grouped convolutions through XLA
    on the TF backend (keras/src/backend/tensorflow/nn.py: "grouped convolutions are broken
    on CPU without XLA"), which is slow on CPU and leaves XLA-only functions in exports;
    prefer towers unless XLA is what you want.
  "none":   the same widths without groups (62,378,344 parameters instead of 60,965,224).

LRN in the grouped models normalizes each half separately, as each GPU did in the paper.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet.layers import (LocalResponseNormalization, LRNParams, PlacedConv2D,
                               PlacedMaxPooling2D)

GROUPINGS = ("towers", "fused", "none")
PAPER_FILTERS = (96, 256, 384, 384, 256)
CONV_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5")
DENSE_NAMES = ("fc6", "fc7", "fc8")
MIN_IMAGE_SIZE = 67  # the smallest input that leaves a 1x1 map after pool5

# Initializations: (stddev of conv kernels, stddev of fc6/fc7, stddev of fc8, bias of
# conv2/conv4/conv5/fc6/fc7). The others' biases are 0.
#   paper: N(0, 0.01) everywhere, biases 1 (the paper's §5).
#   caffe: bvlc_alexnet's fix for the paper init's long flat loss at ln(classes):
#          fc6/fc7 from N(0, 0.005), those biases 0.1 (BVLC Caffe's
#          models/bvlc_alexnet/train_val.prototxt).
#   he:    He-normal kernels, zero biases, fc8 from N(0, 0.01); conv1's He scale is
#          divided by 64 because the paper's inputs are 0..255 pixels minus the mean
#          (std ~ 60), not unit-variance. Not the paper, but the quickest start for short
#          runs on small data (the quickstart recipe).
INITS = {
    "paper": (0.01, 0.01, 0.01, 1.0),
    "caffe": (0.01, 0.005, 0.01, 0.1),
    "he": (None, None, 0.01, 0.0),
}
HE_INPUT_STD = 64.0
_BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")


@dataclasses.dataclass(frozen=True)
class AlexNetSpec:
    """What fixes the network's function: everything but grouping, placement and init."""
    num_classes: int = 1000
    image_size: int = 227
    filters: tuple = PAPER_FILTERS
    fc_units: int = 4096
    lrn: LRNParams = LRNParams()
    dropout: float = 0.5

    @classmethod
    def create(cls, num_classes=1000, image_size=227, width=1.0, fc_units=4096, lrn="paper",
               dropout=0.5):
        """The spec of `build_alexnet`'s arguments (`width` scales the conv filters)."""
        return cls(int(num_classes), int(image_size), scaled_filters(width), int(fc_units),
                   LRNParams.of(lrn), float(dropout))

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d):
        return cls(int(d["num_classes"]), int(d["image_size"]), tuple(d["filters"]),
                   int(d["fc_units"]), LRNParams.of(d["lrn"]), float(d["dropout"]))


def scaled_filters(width):
    """The five conv widths times `width`, rounded to even counts (two groups)."""
    return tuple(max(2, 2 * round(f * width / 2)) for f in PAPER_FILTERS)


def feature_map_sizes(image_size):
    """Spatial sizes after conv1, pool1, pool2 and pool5 (55, 27, 13, 6 for 227)."""
    conv1 = (image_size - 11) // 4 + 1
    pool1 = (conv1 - 3) // 2 + 1
    pool2 = (pool1 - 3) // 2 + 1
    pool5 = (pool2 - 3) // 2 + 1
    return conv1, pool1, pool2, pool5


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
                  name="alexnet"):
    """Builds AlexNet; the defaults are the paper's network (60,965,224 parameters).

    Args:
      num_classes: outputs of fc8 (logits; no softmax in the model).
      image_size: square input side in pixels, >= 67. 227 gives the paper's 55/27/13/6 maps.
      grouping: "towers", "fused" or "none" (module docstring).
      tower_devices: None, "auto", or two device names such as ("/GPU:0", "/GPU:1");
        only for grouping="towers".
      lrn: an LRN preset name ("paper", "cuda_convnet", "caffe") or a dict of arguments.
      dropout: dropout rate after fc6 and fc7.
      init: "paper", "caffe" or "he" (see INITS).
      width: multiplier on the conv filters (rounded to even counts), for small models.
      fc_units: width of fc6 and fc7.
      seed: makes the initial weights and dropout masks reproducible.
    """
    spec = AlexNetSpec.create(num_classes, image_size, width, fc_units, lrn, dropout)
    return build_from_spec(spec, grouping, resolve_tower_devices(tower_devices), init, seed, name)


class _LayerFactory:
    """Makes the conv, LRN and pool layers of one model (grouping, init and seed fixed)."""

    def __init__(self, spec, grouping, init, seed):
        self.spec, self.placed, self.init, self.seed = spec, grouping == "towers", init, seed

    def conv(self, layer, filters, size, stride=1, padding="same", groups=1, device=None):
        kwargs = dict(strides=stride, padding=padding, groups=groups, activation="relu",
                      name=layer, **_initializers(layer, self.init, self.seed))
        if self.placed:
            return PlacedConv2D(filters, size, device=device, **kwargs)
        return keras.layers.Conv2D(filters, size, **kwargs)

    def lrn(self, layer, groups=1, device=None):
        return LocalResponseNormalization(**dataclasses.asdict(self.spec.lrn), groups=groups,
                                          device=device, name=layer)

    def pool(self, layer, device=None):
        if self.placed:
            return PlacedMaxPooling2D(3, 2, device=device, name=layer)
        return keras.layers.MaxPooling2D(3, 2, name=layer)


def _tower_features(make, inputs, devices):
    """conv1..pool5 as the paper's two columns; each half on its device (or none)."""
    f1, f2, f3, f4, f5 = (f // 2 for f in make.spec.filters)
    towers = []
    for half, device in zip("ab", devices or (None, None)):
        x = make.conv("conv1" + half, f1, 11, 4, "valid", device=device)(inputs)
        x = make.lrn("lrn1" + half, device=device)(x)
        x = make.pool("pool1" + half, device)(x)
        x = make.conv("conv2" + half, f2, 5, device=device)(x)
        x = make.lrn("lrn2" + half, device=device)(x)
        towers.append(make.pool("pool2" + half, device)(x))
    # conv3 is where the paper's two GPUs exchange maps: each half sees all of conv2.
    both = keras.layers.Concatenate(name="concat2")(towers)
    outs = []
    for half, device in zip("ab", devices or (None, None)):
        x = make.conv("conv3" + half, f3, 3, device=device)(both)
        x = make.conv("conv4" + half, f4, 3, device=device)(x)
        x = make.conv("conv5" + half, f5, 3, device=device)(x)
        outs.append(make.pool("pool5" + half, device)(x))
    return keras.layers.Concatenate(name="concat5")(outs)


def _single_features(make, inputs, groups):
    """conv1..pool5 as single layers; conv2/4/5 and the LRNs in `groups` groups."""
    f1, f2, f3, f4, f5 = make.spec.filters
    x = make.conv("conv1", f1, 11, 4, "valid")(inputs)
    x = make.lrn("lrn1", groups)(x)
    x = make.pool("pool1")(x)
    x = make.conv("conv2", f2, 5, groups=groups)(x)
    x = make.lrn("lrn2", groups)(x)
    x = make.pool("pool2")(x)
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
        x = keras.layers.Dense(spec.fc_units, activation="relu", name=layer,
                               **_initializers(layer, init, seed))(x)
        x = keras.layers.Dropout(spec.dropout, seed=dropout_seed, name="drop" + layer[2])(x)
    logits = keras.layers.Dense(spec.num_classes, name="fc8",
                                **_initializers("fc8", init, seed))(x)
    return keras.Model(inputs, logits, name=name)


def canonical_weights(model, grouping):
    """{layer: [kernel, bias]} in the fused layout (conv2 kernel [5, 5, 48, 256], ...).

    A fused kernel [k, k, cin/2, cout] holds tower a's kernel in [..., :cout/2] and tower b's
    in [..., cout/2:], so the towers' halves are concatenated on the last axis.
    """
    out = {}
    for layer in CONV_NAMES + DENSE_NAMES:
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


def convert_grouping(model, spec, source, target, tower_devices=None):
    """A new `target` model ("towers" or "fused") computing what `model` (of `spec`, built
    as `source`) computes.

    Fused and towers hold the same numbers (canonical_weights); an ungrouped model is a
    different network and cannot be converted.
    """
    if "none" in (source, target) and source != target:
        raise ValueError(f"Cannot convert a {source!r} model to {target!r}: only the grouped "
                         "models ('towers' and 'fused') are the same network.")
    new = build_from_spec(spec, target, resolve_tower_devices(tower_devices), name=model.name)
    set_canonical_weights(new, target, canonical_weights(model, source))
    return new
