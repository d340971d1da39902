"""The paper's training augmentation (§4.1) as Keras layers, for `model.fit`.

    MeanSubtraction     images minus the dataset's mean image (or channel mean)
    RandomCropFlip      training: the random crop and the horizontal flip; else the center
    PCALighting         training: the PCA lighting noise; else nothing
    paper_augmentation  the three in the package's order, configured from an AlexNet

They take the package's draws: each layer counts the examples it has seen (a weight, so a
saved and reloaded model goes on with the same stream) and draws a batch's offsets, flips
and lighting coefficients as `tf_alexnet.data.augment.make_batch_draws` does, keyed by
(seed, examples seen). A `fit` on a stream of batches therefore applies what the package's
own train step applies to the same stream with the same --seed (tests/test_keras_api.py
checks the weights after one step). Mean, crop and flip apply the same functions as the
train step; training runs on the TensorFlow backend (at inference, the crop and the mean
are `keras.ops` and run on any backend).
"""

import types

import keras
import numpy as np

from tf_alexnet.data.augment import add_lighting, crop_and_flip, make_batch_draws
from tf_alexnet.data.crops import mean_tensor
from tf_alexnet.data.stats import Stats

# A module reference, not a name: Keras may load (and tf_alexnet/registration.py import
# this module) while tf_alexnet.model.preprocessor is still half run.
from tf_alexnet.model import preprocessor


def _tensorflow_for_training(layer):
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"{layer.name}: the paper's random draws run on the "
            "TensorFlow backend; train with KERAS_BACKEND=tensorflow."
        )
    import tensorflow as tf

    return tf


def _draws(layer, images, tf):
    """make_batch_draws' draws for this batch (keyed by the examples seen), and the count
    advanced by the batch."""
    side = images.shape[1]
    augment = types.SimpleNamespace(
        resize=side,
        image_size=getattr(layer, "image_size", side),
        flip=getattr(layer, "flip", False),
        pca_sigma=getattr(layer, "sigma", 0.0),
    )
    n = tf.shape(images)[0]
    first = tf.convert_to_tensor(layer.examples.value)
    draws = make_batch_draws(augment, layer.seed)(first, n)
    layer.examples.assign(first + tf.cast(n, "int64"))
    return draws


class _Counting(keras.layers.Layer):
    """A layer with the examples it has drawn for (int64, not trained)."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.examples = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, name="examples"
        )
        self.built = True

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="tf_alexnet")
class MeanSubtraction(keras.layers.Layer):
    """float32 images minus `mean` (a [H, W, 3] mean image of the input's size, or a [3]
    channel mean), in training and at inference. The mean is the layer's weight."""

    def __init__(self, mean_shape=(3,), **kwargs):
        super().__init__(**kwargs)
        self.mean_shape = tuple(int(s) for s in mean_shape)
        self.mean = self.add_weight(
            shape=self.mean_shape, initializer="zeros", trainable=False, name="mean"
        )
        self.built = True

    @classmethod
    def of(cls, preprocessing, name="mean_subtraction"):
        """The mean of a `Preprocessing` at its resize x resize (crops.mean_tensor)."""
        mean = mean_tensor(preprocessing.stats, preprocessing.mean, preprocessing.resize)
        mean = np.zeros(3, np.float32) if mean is None else np.asarray(mean)
        layer = cls(mean.shape, name=name)
        layer.mean.assign(mean)
        return layer

    def call(self, images):
        return keras.ops.cast(images, "float32") - self.mean

    def compute_output_dtype(self, *args):
        return "float32"

    def get_config(self):
        return {**super().get_config(), "mean_shape": list(self.mean_shape)}


@keras.saving.register_keras_serializable(package="tf_alexnet")
class RandomCropFlip(_Counting):
    """Training: an `image_size` crop at a uniform random position of each square, mirrored
    with probability 1/2 when `flip` (the paper's §4.1). Inference: the center crop."""

    def __init__(self, image_size=227, flip=True, seed=0, **kwargs):
        super().__init__(seed, **kwargs)
        self.image_size, self.flip = int(image_size), bool(flip)

    def call(self, images, training=None):
        if not training:
            side, crop = images.shape[1], self.image_size
            off = (side - crop) // 2
            return images[:, off : off + crop, off : off + crop, :]
        tf = _tensorflow_for_training(self)
        draws = _draws(self, images, tf)
        return crop_and_flip(images, draws["offset"], draws["flip"], self.image_size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size, self.image_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "flip": self.flip}


@keras.saving.register_keras_serializable(package="tf_alexnet")
class PCALighting(_Counting):
    """Training: each image plus the paper's lighting noise [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T
    (p_i, l_i: eigenvectors and eigenvalues of the dataset's RGB covariance of pixels in
    [0, 1]; a_i ~ N(0, sigma); 0..255 units). Inference: the images as they are."""

    def __init__(self, eigenvalues=None, eigenvectors=None, sigma=0.1, seed=0, **kwargs):
        super().__init__(seed, **kwargs)
        stats = Stats()
        self.eigenvalues = tuple(float(v) for v in (eigenvalues or stats.pca_eigenvalues))
        self.eigenvectors = tuple(
            tuple(float(v) for v in row) for row in (eigenvectors or stats.pca_eigenvectors)
        )
        self.sigma = float(sigma)

    def call(self, images, training=None):
        if not training or self.sigma <= 0:
            return images
        tf = _tensorflow_for_training(self)
        draws = _draws(self, images, tf)
        return add_lighting(
            images,
            draws["alpha"],
            tf.constant(self.eigenvalues, tf.float32),
            tf.constant(self.eigenvectors, tf.float32),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "eigenvalues": list(self.eigenvalues),
            "eigenvectors": [list(r) for r in self.eigenvectors],
            "sigma": self.sigma,
        }


def paper_augmentation(model, *, seed=0, flip=True, pca_sigma=0.1, name="paper_augmentation"):
    """keras.Sequential([MeanSubtraction, RandomCropFlip, PCALighting]) for the AlexNet
    `model` (its preprocessor's mean, crop and PCA): uint8 or float resize x resize squares
    in, the network's input out. Put it in front of the model for `fit`:

        train = keras.Sequential([keras.Input((256, 256, 3), dtype="uint8"),
                                  tf_alexnet.paper_augmentation(model, seed=0), model])

    `seed`, `flip`, `pca_sigma` are train's --seed, --flip, --pca_sigma (0: no lighting)."""
    p = preprocessor.alexnet_of(model).preprocessing
    return keras.Sequential(
        [
            MeanSubtraction.of(p),
            RandomCropFlip(p.image_size, flip, seed, name="random_crop_flip"),
            PCALighting(
                p.stats.pca_eigenvalues,
                p.stats.pca_eigenvectors,
                pca_sigma,
                seed,
                name="pca_lighting",
            ),
        ],
        name=name,
    )
