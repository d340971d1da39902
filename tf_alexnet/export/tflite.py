"""TFLite files of an exported SavedModel's `predict_preprocessed` signature, and running them.

Builtin ops only (no Flex/SELECT_TF_OPS: the pip interpreters cannot run them). LRN becomes
the builtin LOCAL_RESPONSE_NORMALIZATION, which exists in float32 only, so the int8 model
keeps it in float between quantize/dequantize (tests/test_export.py checks that the int8
file holds the builtin op). Image decoding cannot be converted: a .tflite takes preprocessed
[N, S, S, 3] float32 images, and `export/loading.py` preprocesses with the same functions as
evaluation.
"""

import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tf_alexnet.config import QUANTIZATIONS, EvalDataConfig, SourceConfig
from tf_alexnet.data.pipeline import eval_dataset
from tf_alexnet.errors import ExportError
from tf_alexnet.export.savedmodel import META
from tf_alexnet.workdir.info import RunInfo


def convert(saved_model_dir, quantization, representative_images=None):
    """Returns the .tflite bytes of `predict_preprocessed` at `quantization`."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Unknown TFLite quantization {quantization!r}; choose from "
                         f"{','.join(QUANTIZATIONS)}.")
    loaded = tf.saved_model.load(saved_model_dir)
    # `tflite_predict` is predict_preprocessed without the class-name table, which has no
    # builtin TFLite op: names come from the .tflite's .json sidecar. Freezing turns the
    # resource variables into constants (else the converter emits READ_VARIABLE ops).
    function = loaded.tflite_predict.concrete_functions[0]
    frozen = convert_variables_to_constants_v2(function)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], loaded)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":
        if representative_images is None or not len(representative_images):
            raise ValueError("int8 needs calibration images.")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def calibration():
            for image in representative_images:
                yield [np.asarray(image, np.float32)[None]]

        converter.representative_dataset = calibration
        # Integer kernels where they exist; LRN has none and stays float.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def op_names(tflite_bytes):
    """The operator names a .tflite uses (to check for Flex ops)."""
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(model_content=tflite_bytes)
    return sorted({d["op_name"] for d in interp._get_ops_details()})


class TFLiteRunner:
    """Runs a .tflite file's `predict_preprocessed` signature; returns probabilities."""

    def __init__(self, path_or_bytes, num_threads=None):
        self.source, self.num_threads = path_or_bytes, num_threads
        self._open(delegates=True)

    def _open(self, delegates):
        from ai_edge_litert import interpreter as litert

        kwargs = dict(num_threads=self.num_threads) if self.num_threads else {}
        if not delegates:
            kwargs["experimental_op_resolver_type"] = (
                litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        if isinstance(self.source, bytes):
            self.interpreter = litert.Interpreter(model_content=self.source, **kwargs)
        else:
            self.interpreter = litert.Interpreter(model_path=str(self.source), **kwargs)
        (key,) = self.interpreter.get_signature_list()  # the one converted signature
        self.runner = self.interpreter.get_signature_runner(key)
        self.delegates = delegates

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        # The signature runner resizes its input for each batch size it is given. Freezing
        # names the outputs output_0.. in the flattening order of the function's output
        # dict (sorted keys), so output_0 is "probabilities".
        try:
            out = self.runner(images=images)
        except RuntimeError as e:
            # XNNPACK (the default delegate) refuses some int8 graphs with a float LRN
            # between quantize/dequantize ("failed to prepare"); the builtin kernels run them.
            if not self.delegates or "XNNPACK" not in str(e):
                raise
            self._open(delegates=False)
            out = self.runner(images=images)
        return out["output_0"]


def calibration_images(info, count, data_spec=None):
    """A random sample of the training data through the model's evaluation transform, for
    int8 calibration (a folder's first images would be of one or two classes only)."""
    source = SourceConfig(source=data_spec or info.source, synthetic_examples=max(count, 64))
    ds, _ = eval_dataset(source, EvalDataConfig(batch_size=count), "train",
                         info.preprocessing, sample=True)
    images, _ = next(iter(ds))
    return images.numpy()[:count]


def export_tflite(version_dir, quantizations, calibration=100, data_spec=None):
    """Writes `<base>/<version>_<q>.tflite` (+ .json sidecar) for each quantization."""
    extra = os.path.join(version_dir, "assets.extra")
    info, raw = RunInfo.load(extra, META)
    base, version = os.path.split(os.path.normpath(version_dir))
    images = (calibration_images(info, calibration, data_spec) if "int8" in quantizations
              else None)
    written = []
    for q in quantizations:
        model = convert(version_dir, q, images)
        flex = [op for op in op_names(model) if op.lower().startswith("flex")]
        if flex:
            raise ExportError(f"TFLite {q} needs Flex ops {flex}; not exported.")
        path = os.path.join(base, f"{version}_{q}.tflite")
        with open(path, "wb") as f:
            f.write(model)
        with open(path + ".json", "w") as f:
            json.dump(dict(raw, quantization=q, saved_model=version,
                           extra_dir=os.path.join(version, "assets.extra")), f, indent=2)
        written.append(path)
    return written
