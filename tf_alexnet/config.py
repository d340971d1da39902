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


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `python -m tf_alexnet.train` does; built by flags.train_config()."""
    data: DataConfig
    workdir: str
    split: str = "train"
    eval_split: str = "validation"
    num_classes: int = 0           # 0: from the data
    epochs: float = 90.0
    train_steps: int = 0           # > 0 overrides epochs
    # Model
    grouping: str = "auto"         # auto | towers | fused | none
    tower_devices: str = "auto"    # auto | none | "DEV0,DEV1"
    lrn: str = "paper"
    init: str = "paper"
    dropout: float = 0.5
    width: float = 1.0
    fc_units: int = 4096
    # Optimizer and schedule
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    decay_biases: bool = False
    schedule: str = "plateau"      # plateau | step | cosine
    lr_factor: float = 0.1
    plateau_patience: int = 1      # evaluations without improvement
    plateau_max_reductions: int = 3
    step_epochs: tuple = (25, 51, 79)
    warmup_epochs: float = 0.0
    # Execution
    strategy: str = "default"      # default | mirrored | multi_worker
    precision: str = "float32"     # float32 | mixed_float16 | mixed_bfloat16
    xla: bool = False
    deterministic: bool = False
    # Intervals
    log_every_steps: int = 50
    eval_every_steps: int = 0      # 0: at the end of each epoch
    eval_examples: int = 0         # 0: the whole evaluation split
    checkpoint_every_steps: int = 500
    keep_checkpoints: int = 3

    def validate(self):
        self.data.validate()
        checks = [
            (self.grouping in ("auto", "towers", "fused", "none"),
             f"--grouping {self.grouping!r} is not one of auto|towers|fused|none"),
            (self.schedule in ("plateau", "step", "cosine"),
             f"--lr_schedule {self.schedule!r} is not one of plateau|step|cosine"),
            (self.strategy in ("default", "mirrored", "multi_worker"),
             f"--strategy {self.strategy!r} is not one of default|mirrored|multi_worker"),
            (self.precision in ("float32", "mixed_float16", "mixed_bfloat16"),
             f"--precision {self.precision!r} is not float32|mixed_float16|mixed_bfloat16"),
            (self.learning_rate > 0, "--learning_rate must be > 0"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight_decay must be >= 0"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.epochs > 0 or self.train_steps > 0, "--epochs or --train_steps must be > 0"),
            (self.log_every_steps > 0, "--log_every_steps must be > 0"),
            (self.checkpoint_every_steps > 0, "--checkpoint_every_steps must be > 0"),
            (bool(self.workdir), "--workdir is required"),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))
        return self
