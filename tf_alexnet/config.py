"""Every frozen config of the package: what the flags (tf_alexnet/flags.py) turn into.

Only flags.py reads FLAGS; every other module takes one of these. A field has the name of
its flag (`--lr_schedule` -> `lr_schedule`), except `DataConfig.source`, which `--data` sets.
"""

import dataclasses
import math


def _raise_problems(checks, config=None):
    """ValueError listing every failed check; first, any float field that is nan or inf
    (named by its flag), since no comparison below would catch a nan."""
    problems = []
    for f in dataclasses.fields(config) if config is not None else ():
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"--{'data' if f.name == 'source' else f.name} must be a finite "
                            f"number, not {value}")
    problems += [message for ok, message in checks if not ok]
    if problems:
        raise ValueError("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Input pipeline settings (see tf_alexnet/sources.py for the source specs)."""
    source: str = "synthetic:shapes"  # --data
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
    cache_eval: bool = False       # cache decoded eval data in memory
    max_megapixels: float = 100.0  # larger images are bad images (read from the header)

    @property
    def resize(self):
        """The shorter side before cropping: 256 for the paper's 227 crops."""
        return self.resize_size or int(round(self.image_size * 256 / 227))

    def preprocessing(self, stats):
        """The evaluation transform these settings give with `stats`."""
        from tf_alexnet.preprocess import Preprocessing  # TensorFlow: not at flag parsing

        return Preprocessing(self.image_size, self.resize, self.mean, stats)

    def validate(self):
        _raise_problems([
            (self.image_size >= 1 and self.resize >= self.image_size,
             f"--resize_size {self.resize} must be >= --image_size {self.image_size}"),
            (self.batch_size >= 1, "--batch_size must be >= 1"),
            (0.0 < self.validation_fraction < 1.0, "--validation_fraction must be in (0, 1)"),
            (self.mean in ("auto", "image", "channel", "none"),
             f"--mean {self.mean!r} is not one of auto|image|channel|none"),
            (self.eval_crops in ("center", "ten"),
             f"--eval_crops {self.eval_crops!r} is not one of center|ten"),
            (self.on_bad_image in ("skip", "fail"),
             f"--on_bad_image {self.on_bad_image!r} is not one of skip|fail"),
            (self.pca_sigma >= 0, "--pca_sigma must be >= 0"),
            (self.max_megapixels > 0, "--max_megapixels must be > 0"),
        ], self)
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
    lr_schedule: str = "plateau"   # plateau | step | cosine
    lr_factor: float = 0.1
    plateau_patience: int = 1      # evaluations without improvement
    plateau_max_reductions: int = 3
    step_epochs: tuple = (25, 51, 79)
    warmup_epochs: float = 0.0
    # Execution
    strategy: str = "default"      # default | mirrored | multi_worker
    precision: str = "auto"        # auto | float32 | mixed_float16 | mixed_bfloat16
    xla: bool = False
    xla_autotune_level: int = 1    # XLA's GPU autotuning (its default, 4, re-checks all)
    steps_per_loop: int = 0        # train steps per compiled call; 0: auto (1 CPU, 50 GPU)
    deterministic: bool = False
    # Intervals
    log_every_steps: int = 50
    eval_every_steps: int = 0      # 0: at the end of each epoch
    eval_examples: int = 0         # 0: the whole evaluation split
    checkpoint_every_steps: int = 500
    keep_checkpoints: int = 3

    def validate(self):
        self.data.validate()
        _raise_problems([
            (self.grouping in ("auto", "towers", "fused", "none"),
             f"--grouping {self.grouping!r} is not one of auto|towers|fused|none"),
            (self.lr_schedule in ("plateau", "step", "cosine"),
             f"--lr_schedule {self.lr_schedule!r} is not one of plateau|step|cosine"),
            (self.strategy in ("default", "mirrored", "multi_worker"),
             f"--strategy {self.strategy!r} is not one of default|mirrored|multi_worker"),
            (self.precision in ("auto", "float32", "mixed_float16", "mixed_bfloat16"),
             f"--precision {self.precision!r} is not auto|float32|mixed_float16|"
             "mixed_bfloat16"),
            (self.steps_per_loop >= 0, "--steps_per_loop must be >= 0 (0: auto)"),
            (0 <= self.xla_autotune_level <= 4, "--xla_autotune_level must be in 0..4"),
            (self.learning_rate > 0, "--learning_rate must be > 0"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight_decay must be >= 0"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.epochs > 0 or self.train_steps > 0, "--epochs or --train_steps must be > 0"),
            (self.log_every_steps > 0, "--log_every_steps must be > 0"),
            (self.checkpoint_every_steps > 0, "--checkpoint_every_steps must be > 0"),
            (bool(self.workdir), "--workdir is required"),
            (self.width > 0 and min(2 * round(f * self.width / 2) for f in (96, 256, 384))
             >= 2, f"--width {self.width} leaves conv1 with less than one filter per tower "
             "(96 * width must round to 2 or more)"),
            (self.fc_units >= 1, "--fc_units must be >= 1"),
        ], self)
        return self


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """`python -m tf_alexnet.prepare`: 256x256 TFRecord shards and statistics."""
    data: DataConfig
    output: str
    splits: tuple = ()             # empty: every split the source has
    num_shards: int = 0            # per split; 0: one per 1,000 images
    workers: int = 0               # parallel shard writers; 0: CPU count
    jpeg_quality: int = 90

    def validate(self):
        self.data.validate()
        _raise_problems([(1 <= self.jpeg_quality <= 100, "--jpeg_quality must be in 1..100"),
                         (bool(self.output), "--output is required")])
        return self


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """`python -m tf_alexnet.evaluate`: the data to score; sizes and mean come from the
    model (its RunInfo), so `data` carries only the source, batch and crops."""
    data: DataConfig
    workdir: str = ""
    checkpoint: str = ""
    model: str = ""
    split: str = "validation"
    json: bool = False
    max_examples: int = 0

    def validate(self):
        self.data.validate()
        _raise_problems([(bool(self.workdir) != bool(self.model),
                          "Give one of --workdir (a training run) or --model (an export).")])
        return self


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """`python -m tf_alexnet.export`: a SavedModel version and TFLite files."""
    workdir: str = ""
    checkpoint: str = ""
    export_dir: str = "export/models/alexnet"
    version: int = 0               # 0: the next free integer (--tflite_only: the latest)
    overwrite: bool = False
    tflite: tuple = ()             # float32, float16, dynamic, int8
    tflite_only: bool = False
    calibration_images: int = 100
    calibration_data: str = ""     # data spec; empty: the training run's

    def validate(self):
        _raise_problems([(self.tflite_only or bool(self.workdir),
                          "--workdir is required (or --tflite_only)."),
                         (self.version >= 0, "--version must be >= 0"),
                         (self.calibration_images >= 1, "--calibration_images must be >= 1")])
        return self


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """`python -m tf_alexnet.predict`: top classes of image files."""
    images: tuple
    model: str = ""
    json: bool = False
    top_k: int = 5
    rest_body: bool = False


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """`python -m tf_alexnet.bench`: what to measure and for how long."""
    command: str
    data: DataConfig
    steps: int = 8                 # timed steps per measurement
    warmup: int = 2                # untimed steps first (tracing, XLA compilation)
    groupings: tuple = ("towers", "fused", "none")
    split: str = "train"           # bench data
    xla: bool = False              # bench train
    steps_per_loop: int = 0        # bench train; 0: auto, as train
    model: str = ""                # bench inference: an export; empty: a fresh paper model
    seconds: float = 20.0          # bench data


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """`python -m tf_alexnet.report`: the paper's figures from a trained workdir."""
    data: DataConfig
    workdir: str = ""
    output: str = ""
    split: str = "validation"
    max_train_images: int = 0      # training images searched for neighbours; 0: all

    def validate(self):
        self.data.validate()
        _raise_problems([(bool(self.workdir), "--workdir is required"),
                         (bool(self.output), "--output is required"),
                         (self.max_train_images >= 0, "--max_train_images must be >= 0")])
        return self
