"""TFLite files of an exported SavedModel's `tflite_predict` function, and running them.

A .tflite takes what a camera app has after one resize: uint8 RGB squares [N, R, R, 3] (R =
the run's resize side, 256 for the paper's 227 crops), the central square of the photo (or
the whole photo, aspect not kept, for a "squash" model) resized to R x R. The mean
subtraction and the center crop are inside the graph, so the file needs no statistics; its
`.json` sidecar says in numbers what to feed and holds the class names (`sidecar`), and the
two travel together anywhere. Builtin ops only (no Flex/SELECT_TF_OPS: the pip interpreters
cannot run them). LRN becomes the builtin LOCAL_RESPONSE_NORMALIZATION, which exists in
float32 only, so the int8 model keeps it in float between quantize/dequantize
(tests/test_export.py checks that the int8 file holds the builtin op). Image decoding cannot
be converted: the caller decodes and resizes (export/loading.py, with the evaluation's
functions). The interpreter runs on every core unless told otherwise.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tf_alexnet.console import filtered_stderr
from tf_alexnet.config import QUANTIZATIONS, EvalDataConfig, SourceConfig
from tf_alexnet.data.pipeline import eval_dataset
from tf_alexnet.errors import ExportError, require
from tf_alexnet.export.savedmodel import META
from tf_alexnet.workdir.info import load_record


def convert(saved_model_dir, quantization, representative_images=None):
    """Returns the .tflite bytes of the export's `tflite_predict` at `quantization`."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown TFLite quantization {quantization!r}; choose from {','.join(QUANTIZATIONS)}."
        )
    loaded = tf.saved_model.load(saved_model_dir)
    # `tflite_predict` (export/serving.py) has no class-name table, which has no builtin
    # TFLite op: names come from the .tflite's .json sidecar. Freezing turns the resource
    # variables into constants (else the converter emits READ_VARIABLE ops).
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
                yield [np.asarray(image, np.uint8)[None]]

        converter.representative_dataset = calibration
        # Integer kernels where they exist; LRN has none and stays float.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    with filtered_stderr():
        return converter.convert()


def op_names(tflite_bytes):
    """The operator names a .tflite uses (to check for Flex ops)."""
    litert = require("ai_edge_litert.interpreter", "ai-edge-litert", "Checking a .tflite")
    interp = litert.Interpreter(model_content=tflite_bytes)
    return sorted({d["op_name"] for d in interp._get_ops_details()})


TFLITE_FORMAT = "tf_alexnet.tflite/2"  # uint8 squares in, mean and crop inside


def default_threads():
    """Every core of this machine (the interpreter's own default is one thread)."""
    return os.cpu_count() or 1


class TFLiteRunner:
    """Runs a .tflite file's signature on uint8 squares; returns probabilities.

    num_threads: interpreter threads; 0 or None: every core."""

    def __init__(self, path_or_bytes, num_threads=None):
        self.source, self.num_threads = path_or_bytes, num_threads or default_threads()
        self._open(delegates=True)

    def _open(self, delegates):
        litert = require("ai_edge_litert.interpreter", "ai-edge-litert", "Running a .tflite")
        kwargs = dict(num_threads=self.num_threads)
        if not delegates:
            kwargs["experimental_op_resolver_type"] = (
                litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        if isinstance(self.source, bytes):
            self.interpreter = litert.Interpreter(model_content=self.source, **kwargs)
        else:
            self.interpreter = litert.Interpreter(model_path=str(self.source), **kwargs)
        (key,) = self.interpreter.get_signature_list()  # the one converted signature
        self.runner = self.interpreter.get_signature_runner(key)
        self.delegates, self.invoked = delegates, False

    def shapes(self):
        """(input side, number of classes) the file's own tensors say: its signature's
        `squares` input [1, R, R, 3] and `output_0` probabilities [1, C]."""
        inputs, outputs = self.runner.get_input_details(), self.runner.get_output_details()
        return int(inputs["squares"]["shape"][1]), int(outputs["output_0"]["shape"][-1])

    def __call__(self, squares):
        """Probabilities [N, C] of uint8 squares [N, R, R, 3] (floats are rounded)."""
        squares = np.asarray(squares)
        if squares.dtype != np.uint8:
            squares = np.clip(np.round(squares), 0, 255).astype(np.uint8)
        # The signature runner resizes its input for each batch size it is given. Freezing
        # names the outputs output_0.. in the flattening order of the function's output
        # dict (sorted keys), so output_0 is "probabilities".
        try:
            out = self._invoke(squares)
        except RuntimeError as e:
            # XNNPACK (the default delegate) refuses some int8 graphs with a float LRN
            # between quantize/dequantize ("failed to prepare"); the builtin kernels run them.
            if not self.delegates or "XNNPACK" not in str(e):
                raise
            self._open(delegates=False)
            out = self._invoke(squares)
        return out["output_0"]

    def _invoke(self, squares):
        if self.invoked:
            return self.runner(squares=squares)
        with filtered_stderr():  # the first call prints "INFO: Created ... XNNPACK delegate"
            out = self.runner(squares=squares)
        self.invoked = True
        return out


def square_preprocessing(preprocessing):
    """The transform that gives a .tflite its input: the resize rule only (no mean, no
    crop), as a Preprocessing of crop = resize."""
    return dataclasses.replace(preprocessing, image_size=preprocessing.resize, mean="none")


def sidecar(raw, network, quantization, version):
    """The .tflite's sidecar: what to feed it, in numbers, and the class names."""
    p = network.preprocessing
    rule = (
        "the whole image resized to {r}x{r}, aspect ratio not kept (bilinear, no antialiasing)"
        if p.resize_mode == "squash"
        else "its central square (side = "
        "the shorter side) resized to {r}x{r} (bilinear, antialiased)"
    ).format(r=p.resize)
    # The same choice as data/crops.py: mean_tensor, which the graph subtracts.
    if p.mean == "none":
        inside = "subtracts nothing"
    elif p.mean in ("image", "auto") and p.stats.mean_image is not None:
        inside = "subtracts the mean image"
    else:
        inside = f"subtracts the per-channel mean {[round(v, 3) for v in p.stats.mean_rgb]}"
    return dict(
        {k: v for k, v in raw.items() if k != "signatures"},
        quantization=quantization,
        saved_model=version,
        format=TFLITE_FORMAT,
        input=dict(
            name="squares",
            dtype="uint8",
            shape=[-1, p.resize, p.resize, 3],
            channels="RGB",
            range=[0, 255],
            resize=rule,
        ),
        inside=f"The model {inside}, takes the central {p.image_size}x{p.image_size} crop "
        "and returns softmax probabilities.",
        outputs=dict(
            output_0="probabilities [N, classes] in class_names order",
            output_1=f"top_k_indices [N, {min(5, len(network.class_names))}] int32 "
            "(k = min(5, classes))",
            output_2=f"top_k_scores [N, {min(5, len(network.class_names))}]",
        ),
    )


def calibration_images(network, run, count, data_spec=None):
    """A random sample of the training data as the .tflite's input (uint8 squares), for
    int8 calibration (a folder's first images would be of one or two classes only)."""
    source = SourceConfig(source=data_spec or run.source, synthetic_examples=max(count, 64))
    ds, _ = eval_dataset(
        source,
        EvalDataConfig(batch_size=count),
        "train",
        square_preprocessing(network.preprocessing),
        sample=True,
    )
    images, _ = next(iter(ds))
    return np.clip(np.round(images.numpy()[:count]), 0, 255).astype(np.uint8)


def export_tflite(version_dir, quantizations, calibration=100, data_spec=None, written=None):
    """Writes `<base>/<version>_<q>.tflite` (+ .json sidecar) for each quantization; returns
    their paths. `written`: a list that gets each path as soon as its file is opened, so a
    caller can remove them when a later conversion fails."""
    extra = os.path.join(version_dir, "assets.extra")
    network, run, raw = load_record(extra, META)
    base, version = os.path.split(os.path.normpath(version_dir))
    images = (
        calibration_images(network, run, calibration, data_spec)
        if "int8" in quantizations
        else None
    )
    written = [] if written is None else written
    for q in quantizations:
        model = convert(version_dir, q, images)
        flex = [op for op in op_names(model) if op.lower().startswith("flex")]
        if flex:
            raise ExportError(f"TFLite {q} needs Flex ops {flex}; not exported.")
        path = os.path.join(base, f"{version}_{q}.tflite")
        written.append(path)
        with open(path, "wb") as f:
            f.write(model)
        with open(path + ".json", "w") as f:
            json.dump(sidecar(raw, network, q, version), f, indent=2)
    return written
