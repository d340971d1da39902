"""The serving graph: a tf.Module whose signatures TF Serving runs without any of our Python.

Signatures (inputs -> outputs; every output is named):
  serving_default       image_bytes [N] string (JPEG/PNG/GIF/BMP)
  predict_images        images [N, H, W, 3] float32, RGB 0..255, any H, W
  predict_images_uint8  images [N, H, W, 3] uint8
  predict_preprocessed  images [N, S, S, 3] float32, already preprocessed
  serving_ten_crop      image_bytes [N] string; the paper's 10 crops, softmax averaged
each -> probabilities [N, C], top_k_indices [N, K] int32, top_k_scores [N, K],
        top_k_names [N, K] string (from the assets/classes.txt asset); K = min(5, C).

The image signatures apply the evaluation preprocessing of tf_alexnet/data/crops.py in the
graph (decode, shorter side to 256, central square, minus the mean, center crop), so that a
served prediction equals `evaluate`'s. The model is the tower (or ungrouped) network: no
XLA-compiled grouped convolution, since TF Serving runs without XLA by default.
`tflite_predict` (a function, not a signature) is what TFLite converts: uint8 squares in,
the mean and the center crop inside (tf_alexnet/export/tflite.py).
"""

import tensorflow as tf

from tf_alexnet.data.crops import make_eval_preprocess, mean_tensor
from tf_alexnet.model.predict import average_crops

TOP_K = 5
SIGNATURES = (
    "serving_default",
    "predict_images",
    "predict_images_uint8",
    "predict_preprocessed",
    "serving_ten_crop",
)


class ServingModule(tf.Module):
    """Holds the Keras model, the class-name table and the preprocessing constants."""

    def __init__(self, model, names_file, preprocessing):
        super().__init__(name="alexnet_serving")
        # Neither the Keras model nor its keras.Variables are tracked: with either, TF1-style
        # loaders (TF Serving's C++ loader, saved_model_cli run) fail with "Could not find
        # variable ..." (keras-team/keras#20095). As Keras' own ExportArchive does,
        # `signatures()` tracks the tf.Variables the traced functions capture. The model is
        # reached through a closure, which is not tracked.
        self._logits = lambda images: model(images, training=False)
        self.size, self.resize = preprocessing.image_size, preprocessing.resize
        self._mean = mean_tensor(preprocessing.stats, preprocessing.mean, self.resize)
        self.k = min(TOP_K, int(model.output_shape[-1]))
        self.names_asset = tf.saved_model.Asset(names_file)
        self.names = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.names_asset,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
        )
        self._center = make_eval_preprocess(preprocessing, crops="center")
        self._ten = make_eval_preprocess(preprocessing, crops="ten")
        s = self.size

        def function(body, shape, dtype, name):
            return tf.function(body, input_signature=[tf.TensorSpec(shape, dtype, name=name)])

        self.serving_default = function(self._center_crop, [None], tf.string, "image_bytes")
        self.serving_ten_crop = function(self._ten_crops, [None], tf.string, "image_bytes")
        self.predict_images = function(
            self._center_crop, [None, None, None, 3], tf.float32, "images"
        )
        self.predict_images_uint8 = function(
            self._center_crop, [None, None, None, 3], tf.uint8, "images"
        )
        self.predict_preprocessed = function(
            self._from_preprocessed, [None, s, s, 3], tf.float32, "images"
        )

    def _from_squares(self, squares):
        """What TFLite converts: uint8 RGB squares [N, R, R, 3] (the image after the resize
        rule) minus the mean, the center crop, the network; no name table (it has no
        builtin TFLite op: names are in the .tflite's sidecar)."""
        images = tf.cast(squares, tf.float32)
        if self._mean is not None:
            images -= self._mean
        off = (self.resize - self.size) // 2
        probabilities = self._probabilities(images[:, off : off + self.size, off : off + self.size])
        scores, indices = tf.math.top_k(probabilities, k=self.k)
        return {"probabilities": probabilities, "top_k_indices": indices, "top_k_scores": scores}

    def _outputs(self, probabilities):
        scores, indices = tf.math.top_k(probabilities, k=self.k)
        names = self.names.lookup(tf.cast(indices, tf.int64))
        return {
            "probabilities": probabilities,
            "top_k_indices": indices,
            "top_k_scores": scores,
            "top_k_names": names,
        }

    def _probabilities(self, images):
        return tf.nn.softmax(tf.cast(self._logits(images), tf.float32))

    def _map(self, fn, batch, shape):
        return tf.map_fn(fn, batch, fn_output_signature=tf.TensorSpec(shape, tf.float32))

    def _center_crop(self, images_or_bytes):
        images = self._map(self._center, images_or_bytes, [self.size, self.size, 3])
        return self._outputs(self._probabilities(images))

    def _ten_crops(self, image_bytes):
        crops = self._map(self._ten, image_bytes, [10, self.size, self.size, 3])
        return self._outputs(average_crops(self._probabilities, crops))

    def _from_preprocessed(self, images):
        return self._outputs(self._probabilities(images))

    def signatures(self):
        """{name: concrete function} to save; also tracks the captured tf.Variables."""
        # Saved as a plain function of the module too (not a signature), for TFLite.
        self.tflite_predict = tf.function(
            self._from_squares,
            input_signature=[
                tf.TensorSpec([None, self.resize, self.resize, 3], tf.uint8, name="squares")
            ],
        )
        functions = {name: getattr(self, name).get_concrete_function() for name in SIGNATURES}
        captured = {}
        for fn in list(functions.values()) + [self.tflite_predict.get_concrete_function()]:
            for variable in fn.variables:
                captured[id(variable)] = variable
        self.captured_variables = list(captured.values())
        return functions
