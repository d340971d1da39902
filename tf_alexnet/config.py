"""Every setting of the package, declared once: default, help text (units), choices, range.

Each field is also a command-line flag of the same name (tf_alexnet/config_fields.py declares,
tf_alexnet/flags.py generates; `--data` sets `SourceConfig.source`). `validate()` checks the
declared choices and ranges, so a config built in Python is checked as strictly as one built
from flags. Plain Python: no TensorFlow is loaded while flags are parsed.

    SourceConfig     what opens a data source (spec, seed, splits, bad files)
    AugmentConfig    what the training pipeline does (sizes, batch, mean, lighting, flip)
    EvalDataConfig   what an evaluation pipeline does (batch, crops, cache)
    TrainConfig, PrepareConfig, EvalConfig, ExportConfig: one per command (the other
    commands': tf_alexnet/command_configs.py).
"""

import dataclasses

from tf_alexnet.data.stats import Preprocessing
from tf_alexnet.model.spec import (
    ACTIVATIONS,
    CONV_NAMES,
    DENSE_NAMES,
    GROUPINGS,
    INITS,
    LRN_CHOICES,
    POOLINGS,
    REMOVABLE,
)
from tf_alexnet.config_fields import check, nested, setting

MEAN_MODES = ("auto", "image", "channel", "none")
EVAL_CROPS = ("center", "ten")
ON_BAD_IMAGE = ("skip", "fail")
LR_SCHEDULES = ("plateau", "step", "cosine")
STRATEGIES = ("default", "mirrored", "multi_worker")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
RESIZE_MODES = ("auto", "shorter", "squash")
SHARD_FORMATS = ("jpeg", "raw")
LAYERS = CONV_NAMES + DENSE_NAMES
RUN_DATA = ""  # --data of evaluate and report: the model's own validation data
DATA_KINDS = ("tfds", "folder", "tfrecord", "synthetic")  # --data KIND:ARGUMENT


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """What opens a data source (tf_alexnet/data/pipeline.py lists the specs)."""

    source: str = setting(
        "synthetic:shapes",
        "Data source: tfds:NAME, folder:PATH, "
        "tfrecord:DIR, synthetic:shapes or synthetic:random (evaluate, "
        "report: empty = the model's own validation data).",
        flag="data",
    )
    seed: int = setting(0, "Seed of initialization, shuffling, augmentation and synthetic data.")
    validation_fraction: float = setting(
        0.1,
        "folder: sources without split folders: fraction (0..1) of images carved out "
        "as the validation split, by a hash of the file path.",
        within="(0, 1)",
    )
    on_bad_image: str = setting(
        "skip",
        "Corrupt, empty or non-image files: skip (counted "
        "and logged) or fail (stop with the file's path).",
        ON_BAD_IMAGE,
    )
    tfds_data_dir: str = setting(
        "", "TFDS data_dir (empty: TFDS's default, ~/tensorflow_datasets)."
    )
    tfds_manual_dir: str = setting(
        "",
        "Directory holding manually downloaded archives (the "
        "ImageNet tars); empty: <tfds_data_dir>/downloads/manual.",
    )
    synthetic_examples: int = setting(
        6000,
        "synthetic: sources: training examples per epoch (validation: a tenth).",
        within="[1, )",
    )
    num_classes: int = setting(
        0,
        "Classes (fc8 outputs); 0: from the data. synthetic: "
        "sources make this many (0: 6 shapes, 1000 random).",
        within="[0, )",
    )
    max_megapixels: float = setting(
        100.0,
        "Images with more pixels than this (millions, read from the file's header "
        "before decoding) are bad images: a 23000x23000 PNG would take 8.7 GB to decode.",
        within="(0, )",
    )
    train_per_class: int = setting(
        0,
        "folder: sources: train on this many images of each "
        "class, a fixed subset (by a hash of their paths); 0: "
        "all. Validation is unchanged.",
        within="[0, )",
    )
    classes: tuple = setting(
        (),
        "folder: sources: only these class folders (names, e.g. "
        "dog,frog), indexed in sorted order; empty: every folder.",
    )

    def validate(self):
        return check(self)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """The training pipeline: sizes, batch and the paper's augmentation (§4.1)."""

    image_size: int = setting(
        227, "Network input side in pixels (227 in the paper; >= 67).", within="[67, )"
    )
    resize_size: int = setting(
        0,
        "Shorter side in pixels before cropping; 0 = image_size * 256 / 227 (256 for 227).",
        within="[0, )",
    )
    resize_mode: str = setting(
        "auto",
        "How an image becomes the resize x resize square: "
        "shorter (shorter side to resize, central square: the paper), "
        "squash (whole image, aspect ratio not kept: Caffe), auto "
        "(shorter, or the --init_from model's).",
        RESIZE_MODES,
    )
    batch_size: int = setting(
        128, "Global batch size in images (split over replicas).", within="[1, )"
    )
    stats: str = setting(
        "auto",
        "Dataset statistics for mean subtraction and PCA lighting: "
        "auto (the source's stats.json if it has one, else ImageNet's), "
        "imagenet, or the path of a stats.json written by prepare.",
    )
    mean: str = setting(
        "auto",
        "What to subtract: image (the mean image, paper; needs "
        "mean_image.npy), channel (per-channel mean, 0..255 units), none, or "
        "auto (image if available).",
        MEAN_MODES,
    )
    pca_sigma: float = setting(
        0.1,
        "Std of the PCA lighting coefficients alpha_i (paper: 0.1); 0 disables.",
        within="[0, )",
    )
    flip: bool = setting(True, "Random horizontal flips in training.")
    shuffle_buffer: int = setting(
        10000,
        "Shuffle buffer in examples for record sources "
        "(folder sources shuffle all file names; raw shards read "
        "a new permutation of all records each epoch).",
        within="[1, )",
    )
    cache_train: bool = setting(
        False,
        "Keep the decoded resize x resize squares of the "
        "training split in memory after the first epoch (uint8: "
        "17 KB an image at 76 px, 196 KB at 256; about twice that "
        "while shuffling): no decoding after it, the same batches.",
    )

    @property
    def resize(self):
        """The shorter side before cropping: 256 for the paper's 227 crops."""
        return self.resize_size or int(round(self.image_size * 256 / 227))

    @property
    def squash(self):
        return self.resize_mode == "squash"

    def preprocessing(self, stats):
        """The evaluation transform these settings give with `stats`."""
        return Preprocessing(
            self.image_size, self.resize, self.mean, stats, "squash" if self.squash else "shorter"
        )

    def validate(self):
        return check(
            self,
            [
                (
                    self.resize >= self.image_size,
                    f"--resize_size {self.resize} must be >= --image_size {self.image_size}",
                )
            ],
        )


@dataclasses.dataclass(frozen=True)
class EvalDataConfig:
    """An evaluation pipeline (sizes and mean come from the model's Preprocessing)."""

    batch_size: int = setting(64, "Batch size in images.", within="[1, )")
    eval_crops: str = setting(
        "center",
        "Evaluation crops: center, or ten (the paper's 10 crops, softmax averaged).",
        EVAL_CROPS,
        aliases=("crops",),
    )
    cache_eval: bool = setting(
        False, "Cache the preprocessed evaluation split in memory (small splits)."
    )

    def validate(self):
        return check(self)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `python -m tf_alexnet.train` does."""

    source: SourceConfig = nested(SourceConfig)
    augment: AugmentConfig = nested(AugmentConfig)
    evaluation: EvalDataConfig = nested(EvalDataConfig, batch_size=128)  # as --batch_size
    workdir: str = setting(
        "runs/alexnet",
        "Directory for checkpoints, TensorBoard logs "
        "(train/, eval/), the resolved flags and the model's metadata. "
        "Rerunning with the same workdir resumes.",
    )
    split: str = setting("train", "Training split of the data source.")
    eval_split: str = setting("validation", "Validation split; empty: no evaluation.")
    epochs: float = setting(90.0, "Training length in epochs (paper: ~90).", within="[0, )")
    train_steps: int = setting(
        0, "Training length in steps; > 0 overrides --epochs.", within="[0, )"
    )
    min_epoch_steps: int = setting(
        8,
        "Small data: a training split that gives fewer steps "
        "than this an epoch at --batch_size trains with a batch of "
        "(its images // this), at least 1; 0: never.",
        within="[0, )",
    )
    allow_changed_flags: bool = setting(
        False,
        "Rerunning a workdir with flags that differ "
        "from its flags.txt (other than the run's length and "
        "log/checkpoint cadence): continue it with the new "
        "values from the step it resumes at (schedules "
        "included) instead of stopping. The network, classes "
        "and frozen layers cannot change.",
    )
    # Model
    grouping: str = setting(
        "auto",
        "conv2/4/5 grouping: towers (the paper's two columns), "
        "fused (Conv2D(groups=2), XLA), none (ungrouped), auto (towers on "
        "CPU, fused on GPUs with --xla unless two towers can be placed).",
        ("auto",) + GROUPINGS,
    )
    tower_devices: str = setting(
        "auto",
        "Devices of the two towers, e.g. '/GPU:0,/GPU:1'; "
        "auto: the first two GPUs if present; none.",
    )
    lrn: str = setting(
        "paper",
        "LRN parameter preset (paper: k=2, n=5, alpha=1e-4, "
        "beta=0.75); none: no LRN layers (the paper's section 3.3 "
        "comparison).",
        LRN_CHOICES,
    )
    activation: str = setting(
        "relu",
        "Nonlinearity of conv1..conv5, fc6 and fc7: relu (the "
        "paper) or tanh (its section 3.1 comparison).",
        ACTIVATIONS,
    )
    pooling: str = setting(
        "overlapping",
        "Max pooling: overlapping (3x3, stride 2: the "
        "paper) or non_overlapping (2x2, stride 2: its section 3.4 "
        "comparison).",
        POOLINGS,
    )
    init: str = setting(
        "paper",
        "Weight initialization: paper (N(0, 0.01), biases 1), caffe (avoids the flat start), he.",
        tuple(INITS),
    )
    dropout: float = setting(0.5, "Dropout rate (0..1) after fc6 and fc7.", within="[0, 1)")
    width: float = setting(1.0, "Multiplier on the conv filter counts (1 = paper).", within="(0, )")
    fc_units: int = setting(4096, "Units of fc6 and fc7 (paper: 4096).", within="[1, )")
    filters: tuple = setting(
        (),
        "The five conv filter counts, conv1..conv5, each even (two "
        "towers), e.g. 48,128,192,192,256 (the paper's one-GPU net of "
        "section 3.2 with --grouping=none); empty: --width's.",
        within="[2, )",
        item=int,
    )
    remove_layers: tuple = setting(
        (),
        "Middle conv layers left out: conv3, conv4 (the paper's section 7 depth comparison).",
        REMOVABLE,
    )
    # Starting from another model (fine-tuning)
    init_from: str = setting(
        "",
        "Start from the weights of a workdir (its newest checkpoint), "
        "a checkpoint prefix (WORKDIR/checkpoints/ckpt-N) or an "
        "import_weights workdir: layers of the same name and shape are "
        "copied, fc8 is new when the class lists differ. The network "
        "(filters, fc units, LRN) and preprocessing (--image_size, "
        "--resize_size, --resize_mode, --mean, --stats) are the source's "
        "for each of those flags left at its default. Only at step 0: a "
        "workdir with checkpoints resumes.",
    )
    freeze: tuple = setting(
        (), "Layers not trained (not updated, not decayed), e.g. conv1,conv2.", LAYERS
    )
    train_from: str = setting(
        "",
        "Train this layer and those after it only, e.g. fc6 (conv1.."
        "conv5 frozen); empty: every layer (less --freeze).",
    )
    head_lr_multiplier: float = setting(
        1.0,
        "Learning-rate multiplier of fc8, the new head (Caffe's fine-tuning convention: 10).",
        within="(0, )",
    )
    # Optimizer and schedule
    learning_rate: float = setting(0.01, "Initial learning rate eps (paper: 0.01).", within="(0, )")
    momentum: float = setting(0.9, "Momentum mu (paper: 0.9).", within="[0, 1)")
    weight_decay: float = setting(
        5e-4, "L2 weight decay lambda inside the momentum update (paper: 0.0005).", within="[0, )"
    )
    decay_biases: bool = setting(False, "Apply weight decay to biases too.")
    lr_schedule: str = setting(
        "plateau",
        "plateau: divide by 1/lr_factor when validation "
        "top-1 error stops improving (paper); step: at --step_epochs; "
        "cosine.",
        LR_SCHEDULES,
    )
    lr_factor: float = setting(0.1, "Learning-rate multiplier per reduction.", within="(0, 1]")
    plateau_patience: int = setting(
        1, "Evaluations without improvement before a plateau reduction.", within="[1, )"
    )
    plateau_min_steps: int = setting(
        200,
        "Small data: a plateau reduction also needs this "
        "many steps without improvement (the patience becomes "
        "at least this many steps' evaluations; the paper's "
        "epochs are 10,000 steps).",
        within="[0, )",
    )
    plateau_max_reductions: int = setting(3, "Most plateau reductions (paper: 3).", within="[0, )")
    step_epochs: tuple = setting(
        (25.0, 51.0, 79.0),
        "Epochs at which the step schedule "
        "multiplies the rate by lr_factor (paper's log: 25,51,79).",
        within="[0, )",
        item=float,
    )
    warmup_epochs: float = setting(
        0.0, "Linear learning-rate warm-up, in epochs (0: none, as the paper).", within="[0, )"
    )
    # Execution
    strategy: str = setting(
        "default",
        "tf.distribute strategy: default (one device, or the "
        "two towers), mirrored (data parallel over local GPUs), "
        "multi_worker (TF_CONFIG).",
        STRATEGIES,
    )
    precision: str = setting(
        "auto",
        "Compute precision; auto: mixed_bfloat16 on GPUs of "
        "compute capability >= 8.0, float32 elsewhere.",
        PRECISIONS,
    )
    xla: bool = setting(
        False,
        "Compile the train step with XLA (jit_compile), keeping "
        "compiled programs in WORKDIR/xla_cache for later runs.",
    )
    xla_autotune_level: int = setting(
        1,
        "With --xla on GPUs: XLA's autotune level 0-4 "
        "(XLA_FLAGS=--xla_gpu_autotune_level; 4, XLA's default, "
        "re-checks every algorithm and compiles minutes "
        "longer).",
        within="[0, 4]",
    )
    steps_per_loop: int = setting(
        0,
        "Train steps per call of the compiled loop (logs, "
        "evaluations, checkpoints and SIGTERM act between calls); "
        "0: auto, 1 on CPU, 50 on GPUs.",
        within="[0, )",
    )
    deterministic: bool = setting(
        False, "Enable TF op determinism: same seed gives the same weights (slower)."
    )
    # Intervals
    log_every_steps: int = setting(
        50, "Steps between metric reads, log lines and train summaries.", within="[1, )"
    )
    eval_every_steps: int = setting(
        0, "Steps between evaluations; 0: at the end of each epoch.", within="[0, )"
    )
    eval_examples: int = setting(
        0,
        "Validation examples per evaluation (the same seeded "
        "random sample each time); 0: the whole split.",
        within="[0, )",
    )
    checkpoint_every_steps: int = setting(
        500,
        "Steps between periodic checkpoints (also "
        "saved at each evaluation, at the end and on "
        "SIGINT/SIGTERM).",
        within="[1, )",
    )
    keep_checkpoints: int = setting(3, "Checkpoints kept.", within="[1, )")
    profile_steps: tuple = setting(
        (),
        "START,END: a TensorFlow profiler trace of steps "
        "START+1..END in WORKDIR/train/plugins/profile "
        "(TensorBoard's Profile tab); empty: none.",
        within="[0, )",
        item=int,
    )

    def validate(self):
        for part in (self.source, self.augment, self.evaluation):
            part.validate()
        return check(
            self,
            [
                (self.epochs > 0 or self.train_steps > 0, "--epochs or --train_steps must be > 0"),
                (bool(self.workdir), "--workdir is required"),
                (
                    not self.filters
                    or (len(self.filters) == 5 and all(f % 2 == 0 for f in self.filters)),
                    f"--filters {','.join(map(str, self.filters))}: give five even counts "
                    "(conv1..conv5)",
                ),
                (
                    min(2 * round(f * self.width / 2) for f in (96, 256, 384)) >= 2,
                    f"--width {self.width} leaves conv1 with less than one filter per tower "
                    "(96 * width must round to 2 or more)",
                ),
                (
                    self.train_from in ("",) + LAYERS,
                    f"--train_from {self.train_from!r} is not one of {'|'.join(LAYERS)}",
                ),
                (
                    len(self.frozen_layers) < len(LAYERS),
                    "--freeze/--train_from leave no layer to train",
                ),
                (
                    not self.profile_steps
                    or (
                        len(self.profile_steps) == 2
                        and 0 <= self.profile_steps[0] < self.profile_steps[1]
                    ),
                    f"--profile_steps {','.join(map(str, self.profile_steps))}: "
                    "give START,END with 0 <= START < END",
                ),
            ],
        )

    @property
    def frozen_layers(self):
        """The layers (conv1..fc8) that this run does not train, in network order."""
        before = LAYERS[: LAYERS.index(self.train_from)] if self.train_from in LAYERS else ()
        return tuple(name for name in LAYERS if name in before or name in self.freeze)


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """`python -m tf_alexnet.prepare`: 256x256 TFRecord shards and statistics."""

    source: SourceConfig = nested(SourceConfig)
    augment: AugmentConfig = nested(AugmentConfig)  # its sizes only
    output: str = setting(
        "", "Directory for the TFRecord shards, classes.txt, stats.json and mean_image.npy."
    )
    splits: tuple = setting(
        (),
        "Splits to write; empty: every split the source has (train "
        "and validation for a folder without split folders).",
    )
    num_shards: int = setting(0, "Shards per split; 0: one per 1,000 images.", within="[0, )")
    workers: int = setting(0, "Parallel shard writers (threads); 0: CPU count.", within="[0, )")
    jpeg_quality: int = setting(
        90, "JPEG quality (1-100) of the 256x256 images.", within="[1, 100]"
    )
    image_format: str = setting(
        "jpeg",
        "How the squares are stored: jpeg (--jpeg_quality, "
        "~20-30 KB at 256 px) or raw (uint8 pixels and label in "
        "fixed-length .raw records, 196 KB at 256 px, read without "
        "decoding).",
        SHARD_FORMATS,
        flag="format",
    )
    verify: str = setting(
        "",
        "Instead of preparing: check the shards of this directory "
        "against the checksums prepare recorded (reads every byte once), "
        "name each damaged shard and its first damaged record, exit 1 if "
        "any.",
    )

    def validate(self):
        self.source.validate()
        self.augment.validate()
        return check(
            self,
            [(bool(self.output) or bool(self.verify), "--output is required (or --verify DIR)")],
        )


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """`python -m tf_alexnet.evaluate`: the data to score; sizes and mean come from the
    model (model.preprocessing), so it has no AugmentConfig. An empty --data scores the model's own
    validation data as training did (workdir/info.py: run_data)."""

    source: SourceConfig = nested(SourceConfig, source=RUN_DATA)
    evaluation: EvalDataConfig = nested(EvalDataConfig)
    workdir: str = setting(
        "",
        "Training workdir whose latest checkpoint is scored; a,b,c: "
        "the mean probabilities of several runs (an ensemble, the "
        "paper's Table 2; same classes and preprocessing).",
    )
    checkpoint: str = setting("", "A checkpoint path of the workdir instead of the latest.")
    model: str = setting(
        "",
        "Score an exported model instead: a SavedModel directory, a TF "
        "Serving base directory (latest version) or a .tflite file.",
    )
    split: str = setting(
        "", "Split of --data to score; empty: the split training validated on (validation)."
    )
    json: bool = setting(False, "Print one JSON line instead of text.")
    max_examples: int = setting(
        0,
        "Score at most this many images (a seeded random sample of the split); 0: all.",
        within="[0, )",
    )
    tflite_threads: int = setting(
        0, "Threads of a .tflite interpreter; 0: every core of this machine.", within="[0, )"
    )

    def validate(self):
        self.source.validate()
        self.evaluation.validate()
        return check(
            self,
            [
                (
                    bool(self.workdir) != bool(self.model),
                    "Give one of --workdir (a training run) or --model (an export).",
                )
            ],
        )


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """`python -m tf_alexnet.export`: a SavedModel version and TFLite files."""

    workdir: str = setting(
        "",
        "Training workdir to export (its latest checkpoint); a,b,c: "
        "one model averaging several runs' probabilities.",
    )
    checkpoint: str = setting("", "Export this checkpoint of the workdir instead.")
    export_dir: str = setting(
        "export/models/alexnet",
        "TF Serving base directory: versions are its integer subdirectories.",
    )
    version: int = setting(
        0,
        "Version number; 0: the next free integer (with --tflite_only: the latest).",
        within="[0, )",
    )
    overwrite: bool = setting(False, "Replace an existing version.")
    tflite: tuple = setting(
        (), "TFLite files to write: float32,float16,dynamic,int8.", QUANTIZATIONS
    )
    tflite_only: bool = setting(
        False, "Convert an existing SavedModel version to TFLite (no --workdir)."
    )
    calibration_images: int = setting(
        100, "int8: calibration images from the training data.", within="[1, )"
    )
    calibration_data: str = setting(
        "", "int8: data spec for calibration images; empty: the training run's --data."
    )

    def validate(self):
        return check(
            self,
            [(self.tflite_only or bool(self.workdir), "--workdir is required (or --tflite_only).")],
        )
