"""What fixes the network's function, in plain Python (no TensorFlow: flags import it).

    AlexNetSpec   classes, input side, filters, fc width, LRN parameters, dropout
    LRNParams     the arguments of tf.nn.local_response_normalization, and its presets
    GROUPINGS     how conv2/4/5 are laid out (tf_alexnet/model/alexnet.py)
    INITS         the initializations

Why 227: the paper says 224, but an 11x11 stride-4 VALID convolution gives the paper's 55x55
maps only from (55 - 1) * 4 + 11 = 227 pixels.
"""

import dataclasses

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


@dataclasses.dataclass(frozen=True)
class LRNParams:
    """The arguments of `tf.nn.local_response_normalization`: n = 2 * depth_radius + 1
    channels in the window, k = bias; alpha multiplies each squared term (not divided by n)."""

    depth_radius: int = 2
    bias: float = 2.0
    alpha: float = 1e-4
    beta: float = 0.75

    @classmethod
    def of(cls, value):
        """An LRNParams from a preset name, a dict or (key, value) pairs, or as it is; None
        for "none" (or None): no LRN layers."""
        if value is None or value == "none":
            return None
        if isinstance(value, LRNParams):
            return value
        if isinstance(value, str):
            if value not in LRN_PRESETS:
                raise ValueError(
                    f"Unknown LRN preset {value!r}; choose one of {sorted(LRN_PRESETS)}."
                )
            return LRN_PRESETS[value]
        args = dict(value)  # a dict, or the sorted pairs older model.json files hold
        return cls(
            int(args["depth_radius"]),
            float(args["bias"]),
            float(args["alpha"]),
            float(args["beta"]),
        )


# Presets. The paper's §3.3 prints the formula with alpha = 1e-4 multiplying the sum of
# squares, which is what TF's op computes; cuda-convnet's layer definitions (the 2012 code)
# and Caffe's bvlc_alexnet divide their alpha (1e-4) by n = 5, i.e. 2e-5 per squared term,
# and Caffe uses k = 1. tests/test_layers.py checks each against the numpy formula.
LRN_PRESETS = {
    "paper": LRNParams(2, 2.0, 1e-4, 0.75),
    "cuda_convnet": LRNParams(2, 2.0, 2e-5, 0.75),
    "caffe": LRNParams(2, 1.0, 2e-5, 0.75),
}


def scaled_filters(width):
    """The five conv widths times `width`, rounded to even counts (two groups)."""
    return tuple(max(2, 2 * round(f * width / 2)) for f in PAPER_FILTERS)


LRN_CHOICES = tuple(LRN_PRESETS) + ("none",)  # none: no LRN layers (§3.3's ablation)
REMOVABLE = ("conv3", "conv4")  # §7: "removing any of the middle layers"
ACTIVATIONS = ("relu", "tanh")  # tanh: §3.1's saturating comparison
POOLINGS = ("overlapping", "non_overlapping")  # 3x3 / 2 (the paper) or 2x2 / 2 (§3.4)


def pool_window(pooling):
    """The max-pooling window of a POOLINGS name (stride 2 either way)."""
    return {"overlapping": 3, "non_overlapping": 2}[pooling]


def pooling_of(window):
    """The POOLINGS name of a pool window (3, 2) or of a name; None for anything else."""
    if window in POOLINGS:
        return window
    return next((p for p in POOLINGS if pool_window(p) == window), None)


def feature_map_sizes(image_size, pooling="overlapping"):
    """Spatial sizes after conv1, pool1, pool2 and pool5 (55, 27, 13, 6 for 227, with either
    pooling; they differ where a map side is even, e.g. 71 px: 16, 7, 3, 1 vs. 16, 8, 4, 2)."""
    window = pool_window(pooling)
    conv1 = (image_size - 11) // 4 + 1
    pool1 = (conv1 - window) // 2 + 1
    pool2 = (pool1 - window) // 2 + 1
    pool5 = (pool2 - window) // 2 + 1
    return conv1, pool1, pool2, pool5


@dataclasses.dataclass(frozen=True)
class AlexNetSpec:
    """What fixes the network's function: everything but grouping, placement and init."""

    num_classes: int = 1000
    image_size: int = 227
    filters: tuple = PAPER_FILTERS
    fc_units: int = 4096
    lrn: LRNParams = LRNParams()
    dropout: float = 0.5
    # The paper normalizes each GPU's half on its own; Caffe's bvlc_alexnet across all
    # 96 / 256 channels of conv1 / conv2.
    lrn_across_groups: bool = False
    activation: str = "relu"  # of conv1..conv5, fc6, fc7 (ACTIVATIONS)
    pooling: str = "overlapping"  # pool1, pool2, pool5 (POOLINGS)
    # Middle conv layers left out (§7's depth comparison; REMOVABLE). The first conv layer
    # after pool2 sees both towers' maps, whichever it is.
    removed: tuple = ()

    def __post_init__(self):
        if len(self.filters) != 5 or any(int(f) < 2 or int(f) % 2 for f in self.filters):
            raise ValueError(
                f"filters {tuple(self.filters)}: five even counts of 2 or more "
                "(conv1..conv5; each splits in two towers)."
            )
        unknown = [name for name in self.removed if name not in REMOVABLE]
        if unknown:
            raise ValueError(f"removed layers {unknown}: only {REMOVABLE} can be left out.")

    @classmethod
    def create(
        cls,
        num_classes=1000,
        image_size=227,
        width=1.0,
        fc_units=4096,
        lrn="paper",
        dropout=0.5,
        lrn_across_groups=False,
        activation="relu",
        pooling="overlapping",
        filters=None,
        removed=(),
    ):
        """The spec of `build_alexnet`'s arguments (`width` scales the conv filters, unless
        `filters` gives the five counts)."""
        if activation not in ACTIVATIONS or pooling not in POOLINGS:
            raise ValueError(
                f"activation {activation!r} / pooling {pooling!r}: choose from "
                f"{ACTIVATIONS} / {POOLINGS}."
            )
        filters = tuple(int(f) for f in filters) if filters else scaled_filters(width)
        return cls(
            int(num_classes),
            int(image_size),
            filters,
            int(fc_units),
            LRNParams.of(lrn),
            float(dropout),
            bool(lrn_across_groups),
            activation,
            pooling,
            tuple(sorted(removed)),
        )

    def to_json(self):
        return dataclasses.asdict(self)

    def alexnet_arguments(self):
        """`AlexNet`'s keyword arguments that build this spec's network."""
        return dict(
            num_classes=self.num_classes,
            image_size=self.image_size,
            filters=self.filters,
            fc_units=self.fc_units,
            lrn=dataclasses.asdict(self.lrn) if self.lrn else "none",
            lrn_across_groups=self.lrn_across_groups,
            dropout=self.dropout,
            activation=self.activation,
            pool_window=pool_window(self.pooling),
            removed=self.removed,
        )

    @classmethod
    def from_json(cls, d):
        return cls(
            int(d["num_classes"]),
            int(d["image_size"]),
            tuple(d["filters"]),
            int(d["fc_units"]),
            LRNParams.of(d["lrn"]),
            float(d["dropout"]),
            bool(d.get("lrn_across_groups", False)),  # these three absent before 0.2
            d.get("activation", "relu"),
            d.get("pooling", "overlapping"),
            tuple(d.get("removed", ())),
        )  # absent before 0.4
