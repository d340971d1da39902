"""Frozen configs: what the flags (tf_alexnet/flags.py) turn into and the code takes."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Input pipeline settings (see tf_alexnet/data.py for the source specs)."""
    data: str = "synthetic:shapes"
    image_size: int = 227          # crop side fed to the network (pixels)
    resize_size: int = 0           # shorter side before cropping; 0: image_size * 256 / 227
    batch_size: int = 128          # global batch (images)
    seed: int = 0
    validation_fraction: float = 0.1  # folder: sources without split folders
    stats: str = "auto"            # auto | imagenet | PATH/stats.json
    mean: str = "auto"             # auto | image | channel | none
    pca_sigma: float = 0.1         # std of the paper's PCA lighting alpha; 0 disables
    flip: bool = True
    eval_crops: str = "center"     # center | ten
    on_bad_image: str = "skip"     # skip | fail
    tfds_data_dir: str = ""        # TFDS data_dir ("" = TFDS default)
    tfds_manual_dir: str = ""      # where the ImageNet tars are (TFDS manual_dir)
    synthetic_examples: int = 6000  # synthetic: training examples (validation: one tenth)
    num_classes: int = 0           # synthetic:random / synthetic:shapes classes; 0 = default
    shuffle_buffer: int = 10000
    cache: bool = False            # cache decoded eval data in memory

    @property
    def resize(self):
        """The shorter side before cropping: 256 for the paper's 227 crops."""
        return self.resize_size or int(round(self.image_size * 256 / 227))

    def validate(self):
        problems = []
        if self.image_size < 1 or self.resize < self.image_size:
            problems.append(f"--resize_size {self.resize} must be >= --image_size "
                            f"{self.image_size}")
        if self.batch_size < 1:
            problems.append("--batch_size must be >= 1")
        if not 0.0 < self.validation_fraction < 1.0:
            problems.append("--validation_fraction must be in (0, 1)")
        if self.mean not in ("auto", "image", "channel", "none"):
            problems.append(f"--mean {self.mean!r} is not one of auto|image|channel|none")
        if self.eval_crops not in ("center", "ten"):
            problems.append(f"--eval_crops {self.eval_crops!r} is not one of center|ten")
        if self.on_bad_image not in ("skip", "fail"):
            problems.append(f"--on_bad_image {self.on_bad_image!r} is not one of skip|fail")
        if self.pca_sigma < 0:
            problems.append("--pca_sigma must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self
