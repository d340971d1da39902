"""The model's own input transform, carried inside the model: `InputPreprocessor`.

An `AlexNet` holds one (`model.preprocessor`): the evaluation transform its export applies
(resize, mean, center crop) as a Keras layer whose config is the transform's settings and
whose one weight is the mean image, so that a `.keras` file says how to feed its network.
It is not part of the network's graph: the network's input is the preprocessed crop, as the
paper's was, and training subtracts the mean on the device (tf_alexnet/data/augment.py).
`tf_alexnet.preprocess_input` (tf_alexnet/model/applications.py) applies it to photos.
"""

import os
import weakref

import keras
import numpy as np
import tensorflow as tf

from tf_alexnet import config
from tf_alexnet.data.crops import make_eval_preprocess
from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet import validation

RESIZE_MODES = tuple(m for m in config.RESIZE_MODES if m != "auto")  # a model's, resolved


@keras.saving.register_keras_serializable(package="tf_alexnet")
class InputPreprocessor(keras.layers.Layer):
    """The settings and statistics of a model's evaluation transform (`Preprocessing`).

    Config: `image_size` (the crop), `resize` (the square it is cut from), `mean` (auto |
    image | channel | none), `resize_mode` (shorter | squash), the dataset's channel mean
    and std and the PCA of its colours (the paper's lighting, §4.1), and the shape of the
    mean image, which is the layer's one weight (non-trainable) when there is one.
    Calling it (eagerly) runs the transform on a batch of images (`preprocess_input`).
    """

    def __init__(
        self,
        image_size=227,
        resize=256,
        mean="auto",
        resize_mode="shorter",
        mean_rgb=None,
        std_rgb=None,
        pca_eigenvalues=None,
        pca_eigenvectors=None,
        mean_image_shape=None,
        stats_source="imagenet",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mean not in config.MEAN_MODES or resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"mean {mean!r} / resize_mode {resize_mode!r}: choose from "
                f"{config.MEAN_MODES} / {RESIZE_MODES}."
            )
        defaults = Stats()
        self.image_size, self.resize = int(image_size), int(resize)
        if not 0 < self.image_size <= self.resize:
            raise ValueError(
                f"preprocessor: image_size {image_size} / resize {resize}: the crop must "
                "be at least 1 pixel and fit in the resized square."
            )
        self.mean, self.resize_mode = mean, resize_mode

        def numbers(values, default, name, shape):
            checked = validation.finite(
                default if values is None else values,
                f"preprocessor {name}",
                ValueError,
                shape,
                np.float64,
            ).tolist()
            return tuple(tuple(row) if isinstance(row, list) else row for row in checked)

        self.mean_rgb = numbers(mean_rgb, defaults.mean_rgb, "mean_rgb", (3,))
        self.std_rgb = numbers(std_rgb, defaults.std_rgb, "std_rgb", (3,))
        self.pca_eigenvalues = numbers(
            pca_eigenvalues, defaults.pca_eigenvalues, "pca_eigenvalues", (3,)
        )
        self.pca_eigenvectors = numbers(
            pca_eigenvectors, defaults.pca_eigenvectors, "pca_eigenvectors", (3, 3)
        )
        self.mean_image_shape = tuple(mean_image_shape) if mean_image_shape else None
        if self.mean_image_shape and (
            len(self.mean_image_shape) != 3
            or self.mean_image_shape[2] != 3
            or not all(isinstance(n, int) and 0 < n <= 4096 for n in self.mean_image_shape)
        ):
            raise ValueError(
                f"preprocessor mean_image_shape {list(self.mean_image_shape)}: expected "
                "[H, W, 3] with sides of 1 to 4096."
            )
        self._network = None  # the AlexNet that owns it: weights checked after a load
        self.stats_source = stats_source
        self.mean_image = None
        if self.mean_image_shape:
            self.mean_image = self.add_weight(
                shape=self.mean_image_shape, initializer="zeros", trainable=False, name="mean_image"
            )
        self.built = True

    @classmethod
    def of(cls, preprocessing, name="preprocessor"):
        """The layer of a `Preprocessing` (its mean image copied into the weight)."""
        stats = preprocessing.stats
        image = None if stats.mean_image is None else np.asarray(stats.mean_image, np.float32)
        layer = cls(
            preprocessing.image_size,
            preprocessing.resize,
            preprocessing.mean,
            preprocessing.resize_mode,
            stats.mean_rgb,
            stats.std_rgb,
            stats.pca_eigenvalues,
            stats.pca_eigenvectors,
            None if image is None else image.shape,
            stats.source,
            name=name,
        )
        if image is not None:
            layer.mean_image.assign(image)
        return layer

    @property
    def preprocessing(self):
        """The `Preprocessing` (with its `Stats`) the layer holds."""
        image = (
            None
            if self.mean_image is None
            else keras.ops.convert_to_numpy(self.mean_image.value).astype(np.float32)
        )
        stats = Stats(
            self.mean_rgb,
            self.std_rgb,
            self.pca_eigenvalues,
            self.pca_eigenvectors,
            image,
            self.stats_source,
        )
        return Preprocessing(self.image_size, self.resize, self.mean, stats, self.resize_mode)

    def load_own_variables(self, store):
        """Keras' loading of a `.keras` or `.weights.h5` (keras/src/saving/saving_lib.py
        loads a functional model's layers first, then its attributes, this one among them):
        the mean image, then every weight of the network it belongs to, must be finite."""
        super().load_own_variables(store)
        if self.mean_image is not None:
            validation.finite(
                keras.ops.convert_to_numpy(self.mean_image.value),
                "the loaded model's mean image (preprocessor/mean_image)",
                ValueError,
            )
        network = self._network() if self._network is not None else None
        if network is not None:
            validation.finite_weights(
                network.weights, f"the loaded model {network.name!r}", ValueError
            )

    def belongs_to(self, network):
        """Records (weakly) the network whose loaded weights `load_own_variables` checks."""
        object.__setattr__(self, "_network", weakref.ref(network))
        return self

    def call(self, images):
        return keras.ops.convert_to_tensor(preprocess_images(images, self.preprocessing))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size, self.image_size, 3)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "resize": self.resize,
            "mean": self.mean,
            "resize_mode": self.resize_mode,
            "mean_rgb": list(self.mean_rgb),
            "std_rgb": list(self.std_rgb),
            "pca_eigenvalues": list(self.pca_eigenvalues),
            "pca_eigenvectors": [list(r) for r in self.pca_eigenvectors],
            "mean_image_shape": list(self.mean_image_shape or ()) or None,
            "stats_source": self.stats_source,
        }


def default_preprocessing(image_size):
    """A new network's transform: ImageNet's channel mean, the shorter side resized in the
    paper's 256:224 proportion (256 for 227), the center crop."""
    return Preprocessing(image_size, int(round(image_size * 256 / 227)), "auto", Stats())


def preprocess_images(images, preprocessing, crops="center"):
    """numpy float32 [N, S, S, 3] (or [N, 10, S, S, 3] for crops="ten") of `images`: a
    batch array [N, H, W, 3] or a list of [H, W, 3] arrays of any sizes, uint8 or float in
    0..255, or encoded JPEG/PNG/BMP/GIF bytes. The export's transform, number for number
    (tf_alexnet/data/crops.py: the same function the SavedModel and evaluation run)."""
    transform = make_eval_preprocess(preprocessing, crops)
    if hasattr(images, "shape") and not isinstance(images, (bytes, str)):
        images = np.asarray(keras.ops.convert_to_numpy(images))
        if images.ndim not in (3, 4):
            raise ValueError(
                f"images of shape {list(images.shape)}: expected photos [N, H, W, 3] (or one "
                "[H, W, 3]), RGB in 0..255; a grey [H, W] photo: np.stack([x] * 3, -1)."
            )
    single = isinstance(images, (bytes, str, os.PathLike)) or (
        hasattr(images, "ndim") and images.ndim == 3
    )
    items = [images] if single else list(images)
    if not items:
        raise ValueError("images: none given (an empty batch).")
    out = []
    for i, image in enumerate(items):
        if isinstance(image, (str, os.PathLike)):
            with open(image, "rb") as f:
                image = f.read()
        if isinstance(image, bytes):
            x = tf.constant(image)
        else:
            what = "images" if single else f"images[{i}]"
            array = np.asarray(keras.ops.convert_to_numpy(image))
            checked = validation.finite(array, what, ValueError, ("H", "W", 3))
            if 0 in checked.shape:
                raise ValueError(f"{what}: an empty image of shape {list(checked.shape)}.")
            x = tf.constant(array if array.dtype == np.uint8 else checked)
        out.append(transform(x).numpy())
    return np.stack(out).astype(np.float32)


def alexnet_of(model):
    """The AlexNet (or AlexNetEnsemble) of `model`: itself, or the one inside a Sequential
    or functional wrapper (augmentation layers in front, say): the model that carries a
    preprocessor and class names."""
    for candidate in [model, *getattr(model, "layers", ())]:
        if isinstance(getattr(candidate, "preprocessor", None), InputPreprocessor) and hasattr(
            candidate, "class_names"
        ):
            return candidate
    raise TypeError(f"{type(model).__name__} is not (and holds no) tf_alexnet.AlexNet.")
