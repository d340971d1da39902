"""Keras layers of the paper that Keras does not ship: LRN, and layers that run on a device.

All layers are serializable (`.keras` files) under the package name `tf_alexnet` and run on
every Keras backend: on TensorFlow, LRN is TensorFlow's fused op and placement is
`tf.device`; elsewhere (JAX) LRN is the same formula in `keras.ops` and placement is a
no-op (tests/test_jax_backend.py compares the two).
"""

import contextlib
import dataclasses

import keras

from tf_alexnet.model.spec import LRNParams


def _tensorflow():
    """The tensorflow module when Keras runs on it, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


class _OnDevice:
    """Mixin: builds the layer's variables and runs its ops under `tf.device(self.device)`.

    Keras 3 functional models drop `tf.device` scopes that surround model construction
    (tests/test_model.py's placement test reads the devices of the traced ops), so placement
    has to happen inside the layer, when it builds and when it runs.
    `device=None` places nothing. Soft placement lets a model built for GPUs run on a CPU.
    """

    def _init_device(self, device):
        self.device = device or None

    def _scope(self):
        tf = _tensorflow()
        return tf.device(self.device) if self.device and tf else contextlib.nullcontext()

    def build(self, input_shape):
        with self._scope():
            super().build(input_shape)

    def call(self, inputs, *args, **kwargs):
        with self._scope():
            return super().call(inputs, *args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "device": self.device}


@keras.saving.register_keras_serializable(package="tf_alexnet")
class PlacedConv2D(_OnDevice, keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose variables and ops live on `device` (e.g. "/GPU:1")."""

    def __init__(self, *args, device=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_device(device)


@keras.saving.register_keras_serializable(package="tf_alexnet")
class PlacedMaxPooling2D(_OnDevice, keras.layers.MaxPooling2D):
    """`keras.layers.MaxPooling2D` whose ops run on `device`."""

    def __init__(self, *args, device=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_device(device)


@keras.saving.register_keras_serializable(package="tf_alexnet")
class LocalResponseNormalization(_OnDevice, keras.layers.Layer):
    """Local response normalization across channels (channels-last), the paper's §3.3.

        b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2) ** beta

    with n = 2 * depth_radius + 1 channels in the window and the sum cut at the first and
    last channel. Defaults are the paper's k=2, n=5, alpha=1e-4, beta=0.75.

    alpha is NOT divided by n: TensorFlow's `tf.nn.local_response_normalization` multiplies
    every squared term by alpha as given, which is the formula as the paper prints it. Layers
    of other frameworks (PyTorch, Caffe, ONNX) divide their alpha by n; to reproduce those,
    pass alpha / n, or use the "cuda_convnet" / "caffe" presets.

    Args:
      depth_radius, bias, alpha, beta: as `tf.nn.local_response_normalization`
        (n = 2 * depth_radius + 1, k = bias). Override the preset when given.
      preset: "paper", "cuda_convnet" or "caffe" (see LRN_PRESETS).
      groups: channels are split in this many equal groups, each normalized on its own.
        The paper normalizes each GPU's half separately, so the fused two-group model uses
        groups=2 to compute exactly what the two towers compute.
      device: optional device for the op (see `_OnDevice`).
      keep: (start, stop): output only these channels of the result (a tower's half of a
        normalization across both towers' channels).
    """

    def __init__(
        self,
        depth_radius=None,
        bias=None,
        alpha=None,
        beta=None,
        preset="paper",
        groups=1,
        device=None,
        keep=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        given = dict(depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta)
        params = dataclasses.replace(
            LRNParams.of(preset), **{k: v for k, v in given.items() if v is not None}
        )
        self.depth_radius = int(params.depth_radius)
        self.bias = float(params.bias)
        self.alpha = float(params.alpha)
        self.beta = float(params.beta)
        self.groups = int(groups)
        self.keep = tuple(keep) if keep is not None else None
        self._init_device(device)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels % self.groups:
            raise ValueError(
                f"{self.name}: {channels} channels do not split in {self.groups} groups."
            )
        super().build(input_shape)

    def call(self, inputs):
        tf = _tensorflow()
        with self._scope():
            if tf is None:
                out = self._lrn_ops(inputs)
            else:
                # TF's LRN kernel has float32 and float16 versions only: bfloat16 runs in
                # float32.
                x = tf.cast(inputs, tf.float32) if inputs.dtype == tf.bfloat16 else inputs

                def lrn(part):
                    return tf.nn.local_response_normalization(
                        part,
                        depth_radius=self.depth_radius,
                        bias=self.bias,
                        alpha=self.alpha,
                        beta=self.beta,
                    )

                out = (
                    lrn(x)
                    if self.groups == 1
                    else tf.concat([lrn(p) for p in tf.split(x, self.groups, axis=-1)], axis=-1)
                )
                out = tf.cast(out, inputs.dtype)
            if self.keep:
                out = out[..., self.keep[0] : self.keep[1]]
            return out

    def _lrn_ops(self, inputs):
        """The same formula in keras.ops (backends without TF's op): each group's squares
        summed over the window of 2 * depth_radius + 1 channels, cut at the group's ends."""
        ops, r = keras.ops, self.depth_radius
        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        size = channels // self.groups
        outs = []
        for g in range(self.groups):
            part = x[..., g * size : (g + 1) * size]
            padded = ops.pad(ops.square(part), [[0, 0]] * (len(x.shape) - 1) + [[r, r]])
            total = sum(padded[..., i : i + size] for i in range(2 * r + 1))
            outs.append(part / ops.power(self.bias + self.alpha * total, self.beta))
        out = outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)
        return ops.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape):
        if self.keep:
            return tuple(input_shape[:-1]) + (self.keep[1] - self.keep[0],)
        return input_shape

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            depth_radius=self.depth_radius,
            bias=self.bias,
            alpha=self.alpha,
            beta=self.beta,
            preset="paper",
            groups=self.groups,
            device=self.device,
            keep=self.keep,
        )
        return config
