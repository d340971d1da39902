"""The AlexNet of the paper as a Keras functional model, in three groupings.

    conv1 11x11/4 96 VALID -> ReLU -> LRN -> maxpool 3/2          227 -> 55 -> 27
    conv2 5x5 256 SAME, 2 groups -> ReLU -> LRN -> maxpool 3/2   27 -> 13
    conv3 3x3 384 (sees both groups) -> ReLU                     13
    conv4 3x3 384, 2 groups -> ReLU                              13
    conv5 3x3 256, 2 groups -> ReLU -> maxpool 3/2               13 -> 6; 6*6*256 = 9216
    fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 (logits)

`AlexNet` is a registered Keras model class (a functional model, as keras-hub's backbones
are) whose constructor arguments are its `get_config()`: a `.keras` file of it says what
network it is, its grouping, its class names and how to feed it (`model.preprocessor`, the
mean image as a weight), and `keras.models.load_model` rebuilds it after `import tf_alexnet`.

The switches for the paper's own comparisons: `activation` tanh instead of ReLU (§3.1),
`lrn="none"` without the LRN layers (§3.3), `pool_window=2`: 2x2 / 2 pools instead of 3x3 / 2
(§3.4; the same 55/27/13/6 maps at 227 px, larger where a side is even).

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

from tf_alexnet.data.stats import Preprocessing
from tf_alexnet.model.class_names import ilsvrc_synsets

# Module references, not names: Keras may load (and tf_alexnet/registration.py import this
# module) while one of these is still half run.
from tf_alexnet.model import network, preprocessor, pretrained
from tf_alexnet.model.spec import AlexNetSpec, LRNParams, pool_window, pooling_of, scaled_filters


FEATURES = ("pool5", "fc7")
GLOBAL_POOLS = (None, "avg", "max")


def _pooling_name(window):
    """A POOLINGS name of a pool window (3 or 2; the names are taken as they are)."""
    name = pooling_of(window)
    if name is None:
        raise ValueError(
            f"pool_window {window!r}: 3 (the paper's overlapping 3x3 / 2 "
            "pools) or 2 (2x2 / 2, §3.4's comparison)."
        )
    return name


def _preprocessor(preprocessing, image_size):
    if preprocessing is None:
        return preprocessor.InputPreprocessor.of(preprocessor.default_preprocessing(image_size))
    if isinstance(preprocessing, Preprocessing):
        return preprocessor.InputPreprocessor.of(preprocessing)
    if isinstance(preprocessing, preprocessor.InputPreprocessor):
        return preprocessor.InputPreprocessor.of(preprocessing.preprocessing)
    settings = {
        k: v for k, v in dict(preprocessing).items() if k not in ("name", "trainable", "dtype")
    }
    return preprocessor.InputPreprocessor(**settings, name="preprocessor")


@keras.saving.register_keras_serializable(package="tf_alexnet")
class AlexNet(keras.Model):
    """The paper's network; the defaults are the paper's (60,965,224 parameters, logits).

    Args (all of them are `get_config()`, except `weights`):
      num_classes: outputs of fc8.
      image_size: square input side in pixels, >= 67; 227 gives the paper's 55/27/13/6 maps.
      include_top: False: no classifier; the output is `features`.
      weights: None (initialized as `init` says), or a file or workdir to take the network
        and its weights from: a training workdir (its newest checkpoint that restores), a
        `.keras` file, a `.weights.h5` (the shapes it holds fix the widths), Caffe's
        `bvlc_alexnet.caffemodel` or its `.npy` (tf_alexnet/model/pretrained.py). The file
        decides the network; arguments given that contradict it raise ValueError.
      features: with include_top=False, "pool5" ([6, 6, 256] maps at 227 px) or "fc7"
        (the 4096 activations after fc7's ReLU: the classic transfer-learning features).
      global_pool: with features="pool5": None (the maps), "avg" or "max" ([256]).
      classifier_activation: None (logits, what the package's commands expect) or a Keras
        activation name for fc8's output, e.g. "softmax" (keras.applications' default).
      grouping: "towers", "fused" or "none" (module docstring).
      tower_devices: None, "auto" or two device names such as ("/GPU:0", "/GPU:1") for the
        towers; a no-op off the TensorFlow backend.
      lrn: a preset name ("paper", "cuda_convnet", "caffe"), a dict of
        tf.nn.local_response_normalization's arguments, or "none" (no LRN layers).
      lrn_across_groups: normalize across both towers' channels (Caffe's bvlc_alexnet).
      activation: "relu" (the paper) or "tanh" (§3.1), after conv1..conv5, fc6 and fc7.
      pool_window: 3 (overlapping 3x3 / 2 pools, the paper) or 2 (2x2 / 2, §3.4).
      dropout: dropout rate after fc6 and fc7.
      width: multiplier on the conv filters (rounded to even counts), or `filters`: the
        five conv widths themselves.
      fc_units: width of fc6 and fc7.
      removed: middle conv layers left out, ("conv3",) or ("conv4",) (§7's depth
        comparison); the first conv layer after pool2 then sees both towers' maps.
      init: "paper", "caffe" or "he" (tf_alexnet/model/spec.py: INITS).
      seed: makes the initial weights and dropout masks reproducible.
      class_names: the names of fc8's outputs (default: ImageNet's synsets for 1000
        classes, else class_0, class_1, ...); `decode_predictions` shows them.
      preprocessing: how photos become this network's input (`model.preprocessor`): a
        `Preprocessing`, or the preprocessor's config; default: ImageNet's channel mean,
        the shorter side to 256 (for 227), the center crop.
    """

    def __init__(
        self,
        num_classes=1000,
        image_size=227,
        *,
        include_top=True,
        weights=None,
        features="pool5",
        global_pool=None,
        classifier_activation=None,
        grouping="towers",
        tower_devices=None,
        lrn="paper",
        lrn_across_groups=False,
        activation="relu",
        pool_window=3,
        dropout=0.5,
        width=1.0,
        filters=None,
        fc_units=4096,
        removed=(),
        init="paper",
        seed=None,
        class_names=None,
        preprocessing=None,
        name="alexnet",
        **kwargs,
    ):
        args = dict(
            num_classes=num_classes,
            image_size=image_size,
            grouping=grouping,
            lrn=lrn,
            lrn_across_groups=lrn_across_groups,
            activation=activation,
            pool_window=pool_window,
            dropout=dropout,
            width=width,
            filters=filters,
            fc_units=fc_units,
            removed=removed,
            class_names=class_names,
            preprocessing=preprocessing,
        )
        source = None
        if weights is not None:
            source = pretrained.read_pretrained(weights, args, AlexNet)
            args = pretrained.configured_by(source, args, AlexNet)
        if features not in FEATURES or global_pool not in GLOBAL_POOLS:
            raise ValueError(
                f"features {features!r} / global_pool {global_pool!r}: choose "
                f"from {FEATURES} / {GLOBAL_POOLS}."
            )
        if global_pool and features != "pool5":
            raise ValueError("global_pool pools pool5's maps: it needs features='pool5'.")
        spec = AlexNetSpec(
            int(args["num_classes"]),
            int(args["image_size"]),
            tuple(int(f) for f in args["filters"])
            if args["filters"]
            else scaled_filters(args["width"]),
            int(args["fc_units"]),
            LRNParams.of(args["lrn"]),
            float(args["dropout"]),
            bool(args["lrn_across_groups"]),
            args["activation"],
            _pooling_name(args["pool_window"]),
            tuple(sorted(args["removed"] or ())),
        )
        if spec.activation not in ("relu", "tanh"):
            raise ValueError(f"activation {spec.activation!r}: choose from ('relu', 'tanh').")
        inputs, outputs = network.network_graph(
            spec,
            args["grouping"],
            network.resolve_tower_devices(tower_devices),
            init,
            seed,
            include_top,
            features,
            global_pool,
            classifier_activation,
        )
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._spec, self._grouping = spec, args["grouping"]
        self._class_names = (
            tuple(str(c) for c in args["class_names"]) if args["class_names"] is not None else None
        )
        if self._class_names is not None and len(self._class_names) != spec.num_classes:
            raise ValueError(
                f"{len(self._class_names)} class names for {spec.num_classes} classes."
            )
        self._settings = dict(
            include_top=bool(include_top),
            features=features,
            global_pool=global_pool,
            classifier_activation=classifier_activation,
            tower_devices=(
                list(tower_devices) if isinstance(tower_devices, (list, tuple)) else tower_devices
            ),
            init=init,
            seed=seed,
        )
        # Set past Keras' attribute tracking: the preprocessor is not a layer of the
        # network (model.layers, model.weights, checkpoints and count_params leave it out),
        # yet `.keras` files save and load it (keras/src/saving/saving_lib.py walks dir()).
        object.__setattr__(
            self,
            "preprocessor",
            _preprocessor(args["preprocessing"], spec.image_size).belongs_to(self),
        )
        if self.preprocessor.image_size != spec.image_size:
            raise ValueError(
                f"preprocessing crops {self.preprocessor.image_size} px for a "
                f"network of {spec.image_size} px."
            )
        if source is not None:
            source.load_into(self)

    def __call__(self, inputs, *args, **kwargs):
        _check_input_shape(self, inputs)
        return super().__call__(inputs, *args, **kwargs)

    @property
    def spec(self):
        """The `AlexNetSpec`: what fixes the network's function."""
        return self._spec

    @property
    def grouping(self):
        return self._grouping

    @property
    def include_top(self):
        return self._settings["include_top"]

    @property
    def class_names(self):
        """fc8's class names (ImageNet's synsets for an unnamed 1000-class network)."""
        if self._class_names is not None:
            return self._class_names
        if self._spec.num_classes == 1000:
            return ilsvrc_synsets(1000)
        return tuple(f"class_{i}" for i in range(self._spec.num_classes))

    @property
    def preprocessing(self):
        """The `Preprocessing` of `model.preprocessor` (what evaluation and export apply)."""
        return self.preprocessor.preprocessing

    def set_preprocessing(self, preprocessing):
        """Replaces the preprocessor by that of a `Preprocessing` (a run's statistics)."""
        if preprocessing.image_size != self._spec.image_size:
            raise ValueError(
                f"preprocessing crops {preprocessing.image_size} px for a "
                f"network of {self._spec.image_size} px."
            )
        object.__setattr__(
            self, "preprocessor", preprocessor.InputPreprocessor.of(preprocessing).belongs_to(self)
        )
        return self

    def get_config(self):
        spec = self._spec
        preprocessor = {
            k: v
            for k, v in self.preprocessor.get_config().items()
            if k not in ("name", "trainable", "dtype")
        }
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": spec.num_classes,
            "image_size": spec.image_size,
            **self._settings,
            "grouping": self._grouping,
            "lrn": dataclasses.asdict(spec.lrn) if spec.lrn else "none",
            "lrn_across_groups": spec.lrn_across_groups,
            "activation": spec.activation,
            "pool_window": pool_window(spec.pooling),
            "dropout": spec.dropout,
            "filters": list(spec.filters),
            "fc_units": spec.fc_units,
            "removed": list(spec.removed),
            "class_names": (list(self._class_names) if self._class_names is not None else None),
            "preprocessing": preprocessor,
        }

    @classmethod
    def from_config(cls, config):
        """The network a config describes. A config is data, read from files a user may
        not have made (`.keras`): one that names `weights` (a path to open) is refused, as
        the package never writes one."""
        if "weights" in config:
            raise ValueError(
                f"This AlexNet config names weights={config['weights']!r}: a model file's "
                "config may not point the loader at another file (tf_alexnet never writes "
                "one); the file is not tf_alexnet's or was edited. Nothing was opened."
            )
        return cls(**config)


def _check_input_shape(model, inputs):
    """One-line ValueError naming the expected shape when `inputs` (an array or tensor)
    cannot be the network's input: Keras' own message is several lines, names `path ''`
    and, for a single unbatched image in `predict`, the shape of its batched slices."""
    shape = getattr(inputs, "shape", None)
    if shape is None:
        return
    shape, side = tuple(shape), model.spec.image_size
    expected = (side, side, 3)
    if len(shape) == 4 and all(a is None or a == b for a, b in zip(shape[1:], expected)):
        return
    single = len(shape) == 3 and shape[-1] == 3
    hint = " (one image? add the batch axis: x[None])" if single else ""
    raise ValueError(
        f"{model.name} takes images of shape [N, {side}, {side}, 3] (photos go through "
        f"tf_alexnet.preprocess_input(photos, model) first), not {list(shape)}{hint}."
    )


def build_alexnet(num_classes=1000, image_size=227, **kwargs):
    """`AlexNet(num_classes, image_size, **kwargs)` (the name of the 0.x API)."""
    return AlexNet(num_classes, image_size, **kwargs)


def build_from_spec(
    spec,
    grouping,
    devices=None,
    init="paper",
    seed=None,
    name="alexnet",
    class_names=None,
    preprocessing=None,
):
    """The `AlexNet` of an `AlexNetSpec` (what resumed runs and imports use)."""
    return AlexNet(
        **spec.alexnet_arguments(),
        grouping=grouping,
        tower_devices=devices,
        init=init,
        seed=seed,
        name=name,
        class_names=class_names,
        preprocessing=preprocessing,
    )


def build_network(record, devices=None, init="paper", seed=None, name="alexnet"):
    """The AlexNet of a record of one (workdir/info.py's NetworkRecord: spec, grouping,
    class names, preprocessing), with initial weights."""
    return build_from_spec(
        record.spec,
        record.grouping,
        devices,
        init,
        seed,
        name,
        class_names=record.class_names,
        preprocessing=record.preprocessing,
    )
