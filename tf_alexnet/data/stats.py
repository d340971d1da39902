"""Dataset statistics (`Stats`) and a trained model's evaluation transform (`Preprocessing`).

Plain numpy: configs and model.json records hold them before TensorFlow loads.
"""

import dataclasses
import json
import os

import numpy as np

from tf_alexnet.errors import DataError
from tf_alexnet.files import replaced
from tf_alexnet import validation as v

# ImageNet statistics as fb.resnet.torch publishes them (datasets/imagenet.lua): per-channel
# mean and std of pixels in [0, 1], and the PCA of the RGB covariance used for lighting.
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)  # 0..255 (0.485, 0.456, 0.406) * 255
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)  # 0..255 (0.229, 0.224, 0.225) * 255
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),  # rows; the columns are the eigenvectors
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
STATS_JSON, MEAN_IMAGE = "stats.json", "mean_image.npy"

_THREE = v.ListOf(v.NUMBER, length=3)
STATS_SCHEMA = v.Record(
    dict(
        mean_rgb=_THREE,
        std_rgb=_THREE,
        pca_eigenvalues=_THREE,
        pca_eigenvectors=v.ListOf(_THREE, length=3),
    ),
    dict(source=v.STRING),
)


@dataclasses.dataclass(frozen=True)
class Stats:
    """Dataset statistics; `mean_image` is optional (resize x resize x 3, 0..255).

    On disk: `stats.json` (mean_rgb, std_rgb in 0..255; pca_eigenvalues descending and
    pca_eigenvectors as columns, of the RGB covariance of pixels in [0, 1]) and, when there
    is a mean image, `mean_image.npy` beside it. prepare, training workdirs and exports all
    write and read them through `save` and `load`.
    """

    mean_rgb: tuple = IMAGENET_MEAN_RGB
    std_rgb: tuple = IMAGENET_STD_RGB
    pca_eigenvalues: tuple = IMAGENET_EIGVAL
    pca_eigenvectors: tuple = IMAGENET_EIGVEC
    mean_image: object = dataclasses.field(default=None, compare=False, repr=False)
    source: str = dataclasses.field(default="imagenet", compare=False)  # where they came from

    def to_json(self):
        return dict(
            mean_rgb=list(self.mean_rgb),
            std_rgb=list(self.std_rgb),
            pca_eigenvalues=list(self.pca_eigenvalues),
            pca_eigenvectors=[list(r) for r in self.pca_eigenvectors],
            source=self.source,
        )

    @classmethod
    def from_json(cls, d, mean_image=None, source=None):
        return cls(
            tuple(d["mean_rgb"]),
            tuple(d["std_rgb"]),
            tuple(d["pca_eigenvalues"]),
            tuple(map(tuple, d["pca_eigenvectors"])),
            mean_image,
            source=source or d.get("source", ""),
        )

    @classmethod
    def load(cls, path):
        """Reads `stats.json` (and `mean_image.npy` beside it, if there); a damaged file
        raises DataError naming it."""
        d = v.read_record(path, STATS_SCHEMA, DataError)
        mean_path = os.path.join(os.path.dirname(path), MEAN_IMAGE)
        mean_image = None
        if os.path.exists(mean_path):
            try:
                mean_image = np.load(mean_path, allow_pickle=False)
            except (ValueError, EOFError) as e:
                raise DataError(f"{mean_path}: damaged ({e}).") from None
            mean_image = v.finite(
                mean_image, f"{mean_path}: the mean image", DataError, ("H", "W", 3)
            )
        return cls.from_json(d, mean_image, source=path)

    def save(self, directory, **extra):
        """Writes stats.json (with `extra` keys) and mean_image.npy (removes a stale one)."""
        os.makedirs(directory, exist_ok=True)
        with replaced(os.path.join(directory, STATS_JSON)) as f:
            json.dump({**self.to_json(), **extra}, f, indent=2)
        mean_path = os.path.join(directory, MEAN_IMAGE)
        if self.mean_image is not None:
            with replaced(mean_path, "wb") as f:
                np.save(f, np.asarray(self.mean_image, np.float32))
        elif os.path.exists(mean_path):
            os.remove(mean_path)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What the evaluation transform of a trained model needs: the network's input side,
    the square it is cropped from, what is subtracted, and the statistics."""

    image_size: int = 227
    resize: int = 256
    mean: str = "auto"  # auto | image | channel | none
    stats: Stats = Stats()
    resize_mode: str = "shorter"  # shorter side to `resize` + center square | squash (Caffe)
