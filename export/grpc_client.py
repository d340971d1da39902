"""Asks a running TF Serving for AlexNet's top-5 over gRPC (port 8500).

    pip install tensorflow-serving-api grpcio
    python export/grpc_client.py --server localhost:8500 --model alexnet cat.jpg dog.png

Needs nothing of tf_alexnet: only tensorflow-serving-api (which brings tensorflow and grpcio).
"""

import argparse

import tensorflow as tf


def make_request(model_name, images, signature="serving_default"):
    """A PredictRequest carrying encoded image files for the `image_bytes` input."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    return request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="localhost:8500", help="host:port of gRPC")
    parser.add_argument("--model", default="alexnet", help="model name in TF Serving")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    parser.add_argument("images", nargs="+", help="JPEG/PNG/GIF/BMP files")
    args = parser.parse_args()

    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    images = [open(path, "rb").read() for path in args.images]
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(args.server))
    response = stub.Predict(make_request(args.model, images), args.timeout)
    names = tf.make_ndarray(response.outputs["top_k_names"])
    scores = tf.make_ndarray(response.outputs["top_k_scores"])
    for path, row_names, row_scores in zip(args.images, names, scores):
        print(path)
        for name, score in zip(row_names, row_scores):
            print(f"  {score:7.2%}  {name.decode()}")


if __name__ == "__main__":
    main()
