"""Every command-line flag of the package, and their conversion into frozen configs.

Entry points call the `define_*` functions they need, then `*_config()` once in main();
nothing else in the package reads FLAGS.
"""

import dataclasses

from absl import flags

from tf_alexnet.config import DataConfig

FLAGS = flags.FLAGS


def _define_once(define, name, *args, **kwargs):
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_data_flags(image_size=227, batch_size=128):
    d = DataConfig()
    _define_once(flags.DEFINE_string, "data", d.data,
                 "Data source: tfds:NAME, folder:PATH, tfrecord:DIR, synthetic:shapes or "
                 "synthetic:random.")
    _define_once(flags.DEFINE_integer, "image_size", image_size,
                 "Network input side in pixels (227 in the paper; >= 67).")
    _define_once(flags.DEFINE_integer, "resize_size", d.resize_size,
                 "Shorter side in pixels before cropping; 0 = image_size * 256 / 227 "
                 "(256 for 227).")
    _define_once(flags.DEFINE_integer, "batch_size", batch_size,
                 "Global batch size in images (split over replicas).")
    _define_once(flags.DEFINE_integer, "seed", d.seed,
                 "Seed of initialization, shuffling, augmentation and synthetic data.")
    _define_once(flags.DEFINE_float, "validation_fraction", d.validation_fraction,
                 "folder: sources without split folders: fraction (0..1) of images carved "
                 "out as the validation split, by a hash of the file path.")
    _define_once(flags.DEFINE_string, "stats", d.stats,
                 "Dataset statistics for mean subtraction and PCA lighting: auto (the "
                 "source's stats.json if it has one, else ImageNet's), imagenet, or the path "
                 "of a stats.json written by prepare.")
    _define_once(flags.DEFINE_enum, "mean", d.mean, ["auto", "image", "channel", "none"],
                 "What to subtract: the mean image (paper; needs mean_image.npy), the "
                 "per-channel mean (0..255 units), nothing, or auto (image if available).")
    _define_once(flags.DEFINE_float, "pca_sigma", d.pca_sigma,
                 "Std of the PCA lighting coefficients alpha_i (paper: 0.1); 0 disables.")
    _define_once(flags.DEFINE_bool, "flip", d.flip, "Random horizontal flips in training.")
    _define_once(flags.DEFINE_enum, "eval_crops", d.eval_crops, ["center", "ten"],
                 "Evaluation crops: the center crop, or the paper's 10 crops (softmax "
                 "averaged).")
    _define_once(flags.DEFINE_enum, "on_bad_image", d.on_bad_image, ["skip", "fail"],
                 "Corrupt, empty or non-image files: skip them (counted and logged) or stop "
                 "with the file's path.")
    _define_once(flags.DEFINE_string, "tfds_data_dir", d.tfds_data_dir,
                 "TFDS data_dir (empty: TFDS's default, ~/tensorflow_datasets).")
    _define_once(flags.DEFINE_string, "tfds_manual_dir", d.tfds_manual_dir,
                 "Directory holding manually downloaded archives (the ImageNet tars); empty: "
                 "<tfds_data_dir>/downloads/manual.")
    _define_once(flags.DEFINE_integer, "synthetic_examples", d.synthetic_examples,
                 "synthetic: sources: training examples per epoch (validation: a tenth).")
    _define_once(flags.DEFINE_integer, "shuffle_buffer", d.shuffle_buffer,
                 "Shuffle buffer in examples for record sources (folder sources shuffle all "
                 "file names).")
    _define_once(flags.DEFINE_bool, "cache_eval", d.cache,
                 "Cache the preprocessed evaluation split in memory (small splits).")


def data_config(num_classes=0):
    """The `DataConfig` of the data flags (validated)."""
    return DataConfig(
        data=FLAGS.data, image_size=FLAGS.image_size, resize_size=FLAGS.resize_size,
        batch_size=FLAGS.batch_size, seed=FLAGS.seed,
        validation_fraction=FLAGS.validation_fraction, stats=FLAGS.stats, mean=FLAGS.mean,
        pca_sigma=FLAGS.pca_sigma, flip=FLAGS.flip, eval_crops=FLAGS.eval_crops,
        on_bad_image=FLAGS.on_bad_image, tfds_data_dir=FLAGS.tfds_data_dir,
        tfds_manual_dir=FLAGS.tfds_manual_dir, synthetic_examples=FLAGS.synthetic_examples,
        num_classes=num_classes, shuffle_buffer=FLAGS.shuffle_buffer,
        cache=FLAGS.cache_eval).validate()


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    data: DataConfig
    output: str
    splits: tuple
    num_shards: int
    workers: int
    jpeg_quality: int


def define_prepare_flags():
    define_data_flags(image_size=227)
    flags.DEFINE_string("output", None, "Directory for the TFRecord shards, classes.txt, "
                        "stats.json and mean_image.npy.")
    flags.DEFINE_list("splits", [], "Splits to write; empty: every split the source has "
                      "(train and validation for a folder without split folders).")
    flags.DEFINE_integer("num_shards", 0, "Shards per split; 0: one per 1,000 images.")
    flags.DEFINE_integer("workers", 0, "Parallel shard writers (threads); 0: CPU count.")
    flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality (1-100) of the 256x256 images.")
    flags.mark_flag_as_required("output")


def prepare_config():
    data = data_config()
    if not 1 <= FLAGS.jpeg_quality <= 100:
        raise ValueError("--jpeg_quality must be in 1..100")
    return PrepareConfig(data=data, output=FLAGS.output, splits=tuple(FLAGS.splits),
                         num_shards=FLAGS.num_shards, workers=FLAGS.workers,
                         jpeg_quality=FLAGS.jpeg_quality)


def define_train_flags():
    from tf_alexnet.config import TrainConfig
    t = TrainConfig(data=DataConfig(), workdir="")
    define_data_flags(image_size=227, batch_size=128)
    flags.DEFINE_string("workdir", "runs/alexnet", "Directory for checkpoints, TensorBoard "
                        "logs (train/, eval/), the resolved flags and the model's metadata. "
                        "Rerunning with the same workdir resumes.")
    flags.DEFINE_string("split", t.split, "Training split of the data source.")
    flags.DEFINE_string("eval_split", t.eval_split, "Validation split; empty: no evaluation.")
    flags.DEFINE_integer("num_classes", t.num_classes, "Classes (fc8 outputs); 0: from the "
                         "data.")
    flags.DEFINE_float("epochs", t.epochs, "Training length in epochs (paper: ~90).")
    flags.DEFINE_integer("train_steps", t.train_steps, "Training length in steps; > 0 "
                         "overrides --epochs.")
    flags.DEFINE_enum("grouping", t.grouping, ["auto", "towers", "fused", "none"],
                      "conv2/4/5 grouping: towers (the paper's two columns), fused "
                      "(Conv2D(groups=2), XLA), none (ungrouped), auto (towers on CPU, fused "
                      "on GPUs unless two towers can be placed).")
    flags.DEFINE_string("tower_devices", t.tower_devices, "Devices of the two towers, e.g. "
                        "'/GPU:0,/GPU:1'; auto: the first two GPUs if present; none.")
    flags.DEFINE_enum("lrn", t.lrn, ["paper", "cuda_convnet", "caffe"],
                      "LRN parameter preset (paper: k=2, n=5, alpha=1e-4, beta=0.75).")
    flags.DEFINE_enum("init", t.init, ["paper", "caffe", "he"], "Weight initialization: paper "
                      "(N(0, 0.01), biases 1), caffe (avoids the flat start), he.")
    flags.DEFINE_float("dropout", t.dropout, "Dropout rate after fc6 and fc7.")
    flags.DEFINE_float("width", t.width, "Multiplier on the conv filter counts (1 = paper).")
    flags.DEFINE_integer("fc_units", t.fc_units, "Units of fc6 and fc7 (paper: 4096).")
    flags.DEFINE_float("learning_rate", t.learning_rate, "Initial learning rate eps "
                       "(paper: 0.01).")
    flags.DEFINE_float("momentum", t.momentum, "Momentum mu (paper: 0.9).")
    flags.DEFINE_float("weight_decay", t.weight_decay, "L2 weight decay lambda inside the "
                       "momentum update (paper: 0.0005).")
    flags.DEFINE_bool("decay_biases", t.decay_biases, "Apply weight decay to biases too.")
    flags.DEFINE_enum("lr_schedule", t.schedule, ["plateau", "step", "cosine"],
                      "plateau: divide by 1/lr_factor when validation top-1 error stops "
                      "improving (paper); step: at --step_epochs; cosine.")
    flags.DEFINE_float("lr_factor", t.lr_factor, "Learning-rate multiplier per reduction.")
    flags.DEFINE_integer("plateau_patience", t.plateau_patience, "Evaluations without "
                         "improvement before a plateau reduction.")
    flags.DEFINE_integer("plateau_max_reductions", t.plateau_max_reductions,
                         "Most plateau reductions (paper: 3).")
    flags.DEFINE_list("step_epochs", list(map(str, t.step_epochs)), "Epochs at which the step "
                      "schedule multiplies the rate by lr_factor (paper's log: 25,51,79).")
    flags.DEFINE_float("warmup_epochs", t.warmup_epochs, "Linear learning-rate warm-up, in "
                       "epochs (0: none, as the paper).")
    flags.DEFINE_enum("strategy", t.strategy, ["default", "mirrored", "multi_worker"],
                      "tf.distribute strategy: default (one device, or the two towers), "
                      "mirrored (data parallel over local GPUs), multi_worker (TF_CONFIG).")
    flags.DEFINE_enum("precision", t.precision, ["float32", "mixed_float16",
                                                 "mixed_bfloat16"], "Compute precision.")
    flags.DEFINE_bool("xla", t.xla, "Compile the train step with XLA (jit_compile).")
    flags.DEFINE_bool("deterministic", t.deterministic, "Enable TF op determinism: same seed "
                      "gives the same weights (slower).")
    flags.DEFINE_integer("log_every_steps", t.log_every_steps, "Steps between metric reads, "
                         "log lines and train summaries.")
    flags.DEFINE_integer("eval_every_steps", t.eval_every_steps, "Steps between evaluations; "
                         "0: at the end of each epoch.")
    flags.DEFINE_integer("eval_examples", t.eval_examples, "Validation examples per "
                         "evaluation; 0: the whole split.")
    flags.DEFINE_integer("checkpoint_every_steps", t.checkpoint_every_steps,
                         "Steps between periodic checkpoints (also saved at each evaluation, "
                         "at the end and on SIGINT/SIGTERM).")
    flags.DEFINE_integer("keep_checkpoints", t.keep_checkpoints, "Checkpoints kept.")


def train_config():
    from tf_alexnet.config import TrainConfig
    return TrainConfig(
        data=data_config(FLAGS.num_classes), workdir=FLAGS.workdir, split=FLAGS.split,
        eval_split=FLAGS.eval_split, num_classes=FLAGS.num_classes, epochs=FLAGS.epochs,
        train_steps=FLAGS.train_steps, grouping=FLAGS.grouping,
        tower_devices=FLAGS.tower_devices, lrn=FLAGS.lrn, init=FLAGS.init,
        dropout=FLAGS.dropout, width=FLAGS.width, fc_units=FLAGS.fc_units,
        learning_rate=FLAGS.learning_rate, momentum=FLAGS.momentum,
        weight_decay=FLAGS.weight_decay, decay_biases=FLAGS.decay_biases,
        schedule=FLAGS.lr_schedule, lr_factor=FLAGS.lr_factor,
        plateau_patience=FLAGS.plateau_patience,
        plateau_max_reductions=FLAGS.plateau_max_reductions,
        step_epochs=tuple(float(e) for e in FLAGS.step_epochs),
        warmup_epochs=FLAGS.warmup_epochs, strategy=FLAGS.strategy,
        precision=FLAGS.precision, xla=FLAGS.xla, deterministic=FLAGS.deterministic,
        log_every_steps=FLAGS.log_every_steps, eval_every_steps=FLAGS.eval_every_steps,
        eval_examples=FLAGS.eval_examples, checkpoint_every_steps=FLAGS.checkpoint_every_steps,
        keep_checkpoints=FLAGS.keep_checkpoints).validate()


def resolved_flagfile():
    """The package's flags with their values, as a flagfile that reproduces the run."""
    lines = ["# Resolved flags of this run: python -m tf_alexnet.train --flagfile THIS_FILE"]
    for flag in sorted(FLAGS.get_flags_for_module("tf_alexnet.flags"), key=lambda f: f.name):
        lines.append(flag.serialize() if flag.value is not None else f"# --{flag.name} unset")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    data: DataConfig
    workdir: str
    checkpoint: str
    model: str
    split: str
    json: bool
    max_examples: int


def define_evaluate_flags():
    define_data_flags(batch_size=64)
    flags.DEFINE_string("workdir", "", "Training workdir whose latest checkpoint is scored.")
    flags.DEFINE_string("checkpoint", "", "A checkpoint path of the workdir instead of the "
                        "latest.")
    flags.DEFINE_string("model", "", "Score an exported model instead: a SavedModel "
                        "directory, a TF Serving base directory (latest version) or a .tflite "
                        "file.")
    flags.DEFINE_string("split", "validation", "Split of --data to score.")
    flags.DEFINE_enum("crops", "center", ["center", "ten"], "center crop, or the paper's 10 "
                      "crops with averaged softmax.")
    flags.DEFINE_bool("json", False, "Print one JSON line instead of text.")
    flags.DEFINE_integer("max_examples", 0, "Score at most this many images; 0: all.")


def evaluate_config(image_size, resize, mean, stats):
    """The evaluation's DataConfig takes sizes and mean from the trained model, not flags."""
    data = dataclasses.replace(data_config(), image_size=image_size, resize_size=resize,
                               mean=mean, stats=stats, eval_crops=FLAGS.crops,
                               pca_sigma=0.0).validate()
    return EvalConfig(data=data, workdir=FLAGS.workdir, checkpoint=FLAGS.checkpoint,
                      model=FLAGS.model, split=FLAGS.split, json=FLAGS.json,
                      max_examples=FLAGS.max_examples)


def define_export_flags():
    flags.DEFINE_string("workdir", "", "Training workdir to export (its latest checkpoint).")
    flags.DEFINE_string("checkpoint", "", "Export this checkpoint of the workdir instead.")
    flags.DEFINE_string("export_dir", "export/models/alexnet", "TF Serving base directory: "
                        "versions are its integer subdirectories.")
    flags.DEFINE_integer("version", 0, "Version number; 0: the next free integer (with "
                         "--tflite_only: the latest).")
    flags.DEFINE_bool("overwrite", False, "Replace an existing version.")
    flags.DEFINE_list("tflite", [], "TFLite files to write: float32,float16,dynamic,int8.")
    flags.DEFINE_bool("tflite_only", False, "Convert an existing SavedModel version to TFLite "
                      "(no --workdir).")
    flags.DEFINE_integer("calibration_images", 100, "int8: calibration images from the "
                         "training data.")
    flags.DEFINE_string("calibration_data", "", "int8: data spec for calibration images; "
                        "empty: the training run's --data.")


def define_predict_flags():
    flags.DEFINE_string("model", "", "A SavedModel directory, a TF Serving base directory "
                        "(its latest version) or a .tflite file.")
    flags.DEFINE_bool("json", False, "Print one JSON line per image instead of text.")
    flags.DEFINE_integer("top_k", 5, "Classes printed per image.")
    flags.DEFINE_bool("rest_body", False, "Print the JSON body of a TF Serving REST predict "
                      "request for the images (serving_default, b64) instead of predicting.")
