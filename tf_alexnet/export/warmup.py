"""TF Serving's request formats: the warm-up records of a version, and REST bodies.

Warm-up records (assets.extra/tf_serving_warmup_requests) are PredictionLog messages of
tensorflow-serving-api, one PredictRequest per signature, so that a server loads a version
with every signature traced before it takes traffic.
"""

import base64
import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2


def prediction_log(model_name, signature, inputs):
    """A serialized PredictionLog holding one PredictRequest of `inputs` ({name: array})."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
    )
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    return log.SerializeToString()


def warmup_requests(sample_jpeg, size, sample_image):
    """[(signature, inputs)] of the warm-up records: one per signature."""
    return [
        ("serving_default", {"image_bytes": np.array([sample_jpeg], dtype=object)}),
        ("serving_ten_crop", {"image_bytes": np.array([sample_jpeg], dtype=object)}),
        ("predict_images", {"images": sample_image[None].astype(np.float32)}),
        ("predict_images_uint8", {"images": sample_image[None].astype(np.uint8)}),
        ("predict_preprocessed", {"images": np.zeros((1, size, size, 3), np.float32)}),
    ]


def write_warmup(version_dir, model_name, requests):
    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            writer.write(prediction_log(model_name, signature, inputs))
    return path


def rest_body(encoded_images, signature="serving_default"):
    """The JSON body of a TF Serving REST predict request (POST /v1/models/NAME:predict) for
    encoded images: binary strings travel as {"b64": ...} in the "instances" (row) format."""
    return {
        "signature_name": signature,
        "instances": [
            {"image_bytes": {"b64": base64.b64encode(data).decode("ascii")}}
            for data in encoded_images
        ],
    }
