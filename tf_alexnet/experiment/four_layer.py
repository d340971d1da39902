"""The four-layer CIFAR-10 net of the paper's Figure 1 (§3.1), from the authors' 2012 code.

`layers-cifar/layers-18pct.cfg` and `layer-params-18pct-noisylr.cfg` of the authors'
released cuda-convnet code (computerhistory/AlexNet-Source-Code, 2025): three convolutional
layers and one fully connected, 32x32 input minus the mean image:

    conv1 5x5, 32, pad 2 -> max pool 3/2 -> act -> rnorm 3     32 -> 16
    conv2 5x5, 32, pad 2 -> act -> avg pool 3/2 -> rnorm 3     16 -> 8
    conv3 5x5, 64, pad 2 -> act -> avg pool 3/2                8 -> 4
    fc10 (4 x 4 x 64 = 1024 inputs) -> logits

`act` is ReLU or tanh: Figure 1 compares the two "in every layer but the output". Pools are
cuda-convnet's with outputsX=0: ceil((32 - 3) / 2) + 1 = 16 outputs, the last window over
the edge, which is Keras' "same" padding at stride 2 (one pixel after the end; the average
pool divides by the cells inside the image). `rnorm` is cuda-convnet's same-map response
normalization (`SameMapNormalization`) with the config's scale 5e-5 and power 0.75. Initial
weights as the config: conv1 N(0, 1e-4), the others N(0, 0.01), biases 0.
"""

import keras
import numpy as np

# (layer, filters, init std of its weights)
CONVS = (("conv1", 32, 1e-4), ("conv2", 32, 1e-2), ("conv3", 64, 1e-2))
FC_STD = 1e-2
RNORM = dict(size=3, scale=5e-5, power=0.75)  # layer-params-18pct.cfg
ACTIVATIONS = ("relu", "tanh")


@keras.saving.register_keras_serializable(package="tf_alexnet")
class SameMapNormalization(keras.layers.Layer):
    """cuda-convnet's `rnorm`: each value divided by (1 + scale / size^2 * the sum of the
    squares in its size x size spatial neighbourhood, in its own map) ** power; the window
    is cut at the image's edges (zero padding adds nothing to the sum)."""

    def __init__(self, size=3, scale=5e-5, power=0.75, **kwargs):
        super().__init__(**kwargs)
        self.size, self.scale, self.power = int(size), float(scale), float(power)

    def call(self, x):
        ops = keras.ops
        window = ops.ones((self.size, self.size, x.shape[-1], 1), dtype=x.dtype)
        total = ops.depthwise_conv(ops.square(x), window, strides=1, padding="same")
        return x / ops.power(1.0 + self.scale / self.size**2 * total, self.power)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "scale": self.scale, "power": self.power}


def four_layer_net(activation="relu", seed=0, num_classes=10, name=None):
    """The Figure 1 network with `activation` after each convolutional layer (logits out)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r}: choose from {ACTIVATIONS}.")

    def conv(layer, filters, std):
        return keras.layers.Conv2D(
            filters,
            5,
            padding="same",
            name=layer,
            kernel_initializer=keras.initializers.RandomNormal(
                0.0, std, seed=seed * 10 + len(layer) + int(layer[-1])
            ),
            bias_initializer="zeros",
        )

    (n1, f1, s1), (n2, f2, s2), (n3, f3, s3) = CONVS
    inputs = keras.Input((32, 32, 3), name="images")
    x = conv(n1, f1, s1)(inputs)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)
    x = keras.layers.Activation(activation, name="act1")(x)
    x = SameMapNormalization(**RNORM, name="rnorm1")(x)
    x = keras.layers.Activation(activation, name="act2")(conv(n2, f2, s2)(x))
    x = keras.layers.AveragePooling2D(3, 2, padding="same", name="pool2")(x)
    x = SameMapNormalization(**RNORM, name="rnorm2")(x)
    x = keras.layers.Activation(activation, name="act3")(conv(n3, f3, s3)(x))
    x = keras.layers.AveragePooling2D(3, 2, padding="same", name="pool3")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(
        num_classes,
        name="fc10",
        bias_initializer="zeros",
        kernel_initializer=keras.initializers.RandomNormal(0.0, FC_STD, seed=seed * 10 + 9),
    )(x)
    return keras.Model(inputs, logits, name=name or f"four_layer_{activation}")


def same_map_norm_reference(x, size=3, scale=5e-5, power=0.75):
    """numpy: the rnorm formula, summing each window cell by cell (tests' reference)."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    half = size // 2
    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            window = x[:, max(0, i - half) : i + half + 1, max(0, j - half) : j + half + 1, :]
            total = (window**2).sum(axis=(1, 2))
            out[:, i, j, :] = x[:, i, j, :] / (1 + scale / size**2 * total) ** power
    return out
