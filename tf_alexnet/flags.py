"""Every command-line flag of the package, and their conversion into frozen configs.

Each entry point calls its `define_<command>_flags()` before `app.run` and its
`<command>_config()` once in main(); this is the only module that reads FLAGS. A command
defines only the flags it honours (evaluate takes sizes and mean from the trained model,
so it has no --image_size or --mean). Renamed flags keep their old spelling as an alias.
"""

import dataclasses

from absl import flags

from tf_alexnet.config import (BenchConfig, DataConfig, EvalConfig, ExportConfig,
                               PredictConfig, PrepareConfig, ReportConfig, TrainConfig)

FLAGS = flags.FLAGS
_D = DataConfig()
_T = TrainConfig(data=_D, workdir="")

# Data flags: name -> (definer, help). Defaults are DataConfig's (or a command's own).
_DATA_FLAGS = {
    "data": (flags.DEFINE_string, "Data source: tfds:NAME, folder:PATH, tfrecord:DIR, "
             "synthetic:shapes or synthetic:random."),
    "image_size": (flags.DEFINE_integer, "Network input side in pixels (227 in the paper; "
                   ">= 67)."),
    "resize_size": (flags.DEFINE_integer, "Shorter side in pixels before cropping; 0 = "
                    "image_size * 256 / 227 (256 for 227)."),
    "batch_size": (flags.DEFINE_integer, "Global batch size in images (split over "
                   "replicas)."),
    "seed": (flags.DEFINE_integer, "Seed of initialization, shuffling, augmentation and "
             "synthetic data."),
    "validation_fraction": (flags.DEFINE_float, "folder: sources without split folders: "
                            "fraction (0..1) of images carved out as the validation split, "
                            "by a hash of the file path."),
    "stats": (flags.DEFINE_string, "Dataset statistics for mean subtraction and PCA "
              "lighting: auto (the source's stats.json if it has one, else ImageNet's), "
              "imagenet, or the path of a stats.json written by prepare."),
    "mean": (flags.DEFINE_string, "What to subtract: image (the mean image, paper; needs "
             "mean_image.npy), channel (per-channel mean, 0..255 units), none, or auto "
             "(image if available)."),
    "pca_sigma": (flags.DEFINE_float, "Std of the PCA lighting coefficients alpha_i "
                  "(paper: 0.1); 0 disables."),
    "flip": (flags.DEFINE_bool, "Random horizontal flips in training."),
    "eval_crops": (flags.DEFINE_string, "Evaluation crops: center, or ten (the paper's 10 "
                   "crops, softmax averaged)."),
    "on_bad_image": (flags.DEFINE_string, "Corrupt, empty or non-image files: skip (counted "
                     "and logged) or fail (stop with the file's path)."),
    "tfds_data_dir": (flags.DEFINE_string, "TFDS data_dir (empty: TFDS's default, "
                      "~/tensorflow_datasets)."),
    "tfds_manual_dir": (flags.DEFINE_string, "Directory holding manually downloaded archives "
                        "(the ImageNet tars); empty: <tfds_data_dir>/downloads/manual."),
    "synthetic_examples": (flags.DEFINE_integer, "synthetic: sources: training examples per "
                           "epoch (validation: a tenth)."),
    "shuffle_buffer": (flags.DEFINE_integer, "Shuffle buffer in examples for record sources "
                       "(folder sources shuffle all file names)."),
    "cache_eval": (flags.DEFINE_bool, "Cache the preprocessed evaluation split in memory "
                   "(small splits)."),
    "max_megapixels": (flags.DEFINE_float, "Images with more pixels than this (millions, "
                       "read from the file's header before decoding) are bad images: a "
                       "23000x23000 PNG would take 8.7 GB to decode."),
}
_ENUMS = {"mean": ["auto", "image", "channel", "none"], "eval_crops": ["center", "ten"],
          "on_bad_image": ["skip", "fail"]}
SOURCE_FLAGS = ("data", "seed", "validation_fraction", "on_bad_image", "tfds_data_dir",
                "tfds_manual_dir", "synthetic_examples", "max_megapixels")
ALL_DATA_FLAGS = tuple(_DATA_FLAGS)


def _field(flag):
    return "source" if flag == "data" else flag


def define_data_flags(names=ALL_DATA_FLAGS, **defaults):
    """Defines the data flags in `names`, with DataConfig's defaults unless given."""
    for name in names:
        definer, help_text = _DATA_FLAGS[name]
        default = defaults.get(name, getattr(_D, _field(name)))
        if name in _ENUMS:
            flags.DEFINE_enum(name, default, _ENUMS[name], help_text)
        else:
            definer(name, default, help_text)


def data_config(**overrides):
    """The validated `DataConfig` of the data flags this command defined (others default)."""
    values = {_field(name): FLAGS[name].value for name in _DATA_FLAGS if name in FLAGS}
    return DataConfig(**{**values, **overrides}).validate()


def define_train_flags():
    t = _T
    define_data_flags()
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
    flags.DEFINE_float("dropout", t.dropout, "Dropout rate (0..1) after fc6 and fc7.")
    flags.DEFINE_float("width", t.width, "Multiplier on the conv filter counts (1 = paper).")
    flags.DEFINE_integer("fc_units", t.fc_units, "Units of fc6 and fc7 (paper: 4096).")
    flags.DEFINE_float("learning_rate", t.learning_rate, "Initial learning rate eps "
                       "(paper: 0.01).")
    flags.DEFINE_float("momentum", t.momentum, "Momentum mu (paper: 0.9).")
    flags.DEFINE_float("weight_decay", t.weight_decay, "L2 weight decay lambda inside the "
                       "momentum update (paper: 0.0005).")
    flags.DEFINE_bool("decay_biases", t.decay_biases, "Apply weight decay to biases too.")
    flags.DEFINE_enum("lr_schedule", t.lr_schedule, ["plateau", "step", "cosine"],
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
    _define_execution_flags(t)


def _define_execution_flags(t):
    flags.DEFINE_enum("strategy", t.strategy, ["default", "mirrored", "multi_worker"],
                      "tf.distribute strategy: default (one device, or the two towers), "
                      "mirrored (data parallel over local GPUs), multi_worker (TF_CONFIG).")
    flags.DEFINE_enum("precision", t.precision, ["auto", "float32", "mixed_float16",
                                                 "mixed_bfloat16"],
                      "Compute precision; auto: mixed_bfloat16 on GPUs of compute capability "
                      ">= 8.0, float32 elsewhere.")
    flags.DEFINE_bool("xla", t.xla, "Compile the train step with XLA (jit_compile), keeping "
                      "compiled programs in WORKDIR/xla_cache for later runs.")
    flags.DEFINE_integer("xla_autotune_level", t.xla_autotune_level, "With --xla on GPUs: "
                         "XLA's autotune level 0-4 (XLA_FLAGS=--xla_gpu_autotune_level; 4, "
                         "XLA's default, re-checks every algorithm and compiles minutes "
                         "longer).")
    flags.DEFINE_integer("steps_per_loop", t.steps_per_loop, "Train steps per call of the "
                         "compiled loop (logs, evaluations, checkpoints and SIGTERM act "
                         "between calls); 0: auto, 1 on CPU, 50 on GPUs.")
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


def _values(config_class, skip=()):
    """{field: FLAGS[field]} for the fields of `config_class` that are flags."""
    return {f.name: FLAGS[f.name].value for f in dataclasses.fields(config_class)
            if f.name not in skip and f.name in FLAGS}


def train_config():
    values = _values(TrainConfig, skip=("data",))
    values["step_epochs"] = tuple(float(e) for e in FLAGS.step_epochs)
    return TrainConfig(data=data_config(num_classes=FLAGS.num_classes), **values).validate()


def resolved_flagfile():
    """The package's flags with their values, as a flagfile that reproduces the run."""
    lines = ["# Resolved flags of this run: python -m tf_alexnet.train --flagfile THIS_FILE"]
    for flag in sorted(FLAGS.get_flags_for_module(__name__), key=lambda f: f.name):
        lines.append(flag.serialize() if flag.value is not None else f"# --{flag.name} unset")
    return "\n".join(lines) + "\n"


def define_prepare_flags():
    define_data_flags(SOURCE_FLAGS + ("image_size", "resize_size"))
    flags.DEFINE_string("output", None, "Directory for the TFRecord shards, classes.txt, "
                        "stats.json and mean_image.npy.")
    flags.DEFINE_list("splits", [], "Splits to write; empty: every split the source has "
                      "(train and validation for a folder without split folders).")
    flags.DEFINE_integer("num_shards", 0, "Shards per split; 0: one per 1,000 images.")
    flags.DEFINE_integer("workers", 0, "Parallel shard writers (threads); 0: CPU count.")
    flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality (1-100) of the 256x256 images.")
    flags.mark_flag_as_required("output")


def prepare_config():
    values = _values(PrepareConfig, skip=("data",))
    values["splits"] = tuple(FLAGS.splits)
    return PrepareConfig(data=data_config(), **values).validate()


def define_evaluate_flags():
    define_data_flags(SOURCE_FLAGS + ("batch_size", "eval_crops", "cache_eval"),
                      batch_size=64)
    flags.DEFINE_alias("crops", "eval_crops")  # the flag's name until 0.1
    flags.DEFINE_string("workdir", "", "Training workdir whose latest checkpoint is scored.")
    flags.DEFINE_string("checkpoint", "", "A checkpoint path of the workdir instead of the "
                        "latest.")
    flags.DEFINE_string("model", "", "Score an exported model instead: a SavedModel "
                        "directory, a TF Serving base directory (latest version) or a .tflite "
                        "file.")
    flags.DEFINE_string("split", "validation", "Split of --data to score.")
    flags.DEFINE_bool("json", False, "Print one JSON line instead of text.")
    flags.DEFINE_integer("max_examples", 0, "Score at most this many images; 0: all.")


def evaluate_config():
    return EvalConfig(data=data_config(pca_sigma=0.0), **_values(EvalConfig, ("data",))
                      ).validate()


def define_export_flags():
    e = ExportConfig()
    flags.DEFINE_string("workdir", e.workdir, "Training workdir to export (its latest "
                        "checkpoint).")
    flags.DEFINE_string("checkpoint", e.checkpoint, "Export this checkpoint of the workdir "
                        "instead.")
    flags.DEFINE_string("export_dir", e.export_dir, "TF Serving base directory: versions are "
                        "its integer subdirectories.")
    flags.DEFINE_integer("version", e.version, "Version number; 0: the next free integer "
                         "(with --tflite_only: the latest).")
    flags.DEFINE_bool("overwrite", e.overwrite, "Replace an existing version.")
    flags.DEFINE_list("tflite", list(e.tflite), "TFLite files to write: "
                      "float32,float16,dynamic,int8.")
    flags.DEFINE_bool("tflite_only", e.tflite_only, "Convert an existing SavedModel version "
                      "to TFLite (no --workdir).")
    flags.DEFINE_integer("calibration_images", e.calibration_images, "int8: calibration "
                         "images from the training data.")
    flags.DEFINE_string("calibration_data", e.calibration_data, "int8: data spec for "
                        "calibration images; empty: the training run's --data.")


def export_config():
    values = _values(ExportConfig)
    values["tflite"] = tuple(FLAGS.tflite)
    return ExportConfig(**values).validate()


def define_predict_flags():
    p = PredictConfig(images=())
    flags.DEFINE_string("model", p.model, "A SavedModel directory, a TF Serving base "
                        "directory (its latest version) or a .tflite file.")
    flags.DEFINE_bool("json", p.json, "Print one JSON line per image instead of text.")
    flags.DEFINE_integer("top_k", p.top_k, "Classes printed per image.")
    flags.DEFINE_bool("rest_body", p.rest_body, "Print the JSON body of a TF Serving REST "
                      "predict request for the images (serving_default, b64) instead of "
                      "predicting.")


def predict_config(images):
    return PredictConfig(images=tuple(images), **_values(PredictConfig, ("images",)))


def define_bench_flags():
    b = BenchConfig(command="", data=_D)
    define_data_flags(batch_size=64)
    flags.DEFINE_integer("steps", b.steps, "Timed steps per measurement (after warm-up "
                         "steps).")
    flags.DEFINE_integer("warmup", b.warmup, "Untimed steps before timing (tracing, XLA "
                         "compilation).")
    flags.DEFINE_list("groupings", list(b.groupings), "Groupings for `bench model` and "
                      "`bench train`.")
    flags.DEFINE_string("split", b.split, "`bench data`: the split to read.")
    flags.DEFINE_bool("xla", b.xla, "`bench train`: compile the step with XLA.")
    flags.DEFINE_integer("steps_per_loop", b.steps_per_loop, "`bench train`: train steps per "
                         "compiled call; 0: auto (1 on CPU, 50 on GPUs).")
    flags.DEFINE_string("model", b.model, "`bench inference`: an export (TF Serving base, "
                        "version dir); empty: export a fresh paper model to a temporary "
                        "directory.")
    flags.DEFINE_float("seconds", b.seconds, "`bench data`: how long to measure, in "
                       "seconds.")


def bench_config(command):
    values = _values(BenchConfig, ("data", "command"))
    values["groupings"] = tuple(FLAGS.groupings)
    return BenchConfig(command=command, data=data_config(), **values)


def define_report_flags():
    r = ReportConfig(data=_D)
    define_data_flags(SOURCE_FLAGS + ("batch_size",), batch_size=64)
    flags.DEFINE_string("workdir", r.workdir, "Training workdir to draw (its newest "
                        "checkpoint and TensorBoard event files).")
    flags.DEFINE_string("output", r.output, "Directory for the PNG figures, report.json and "
                        "index.html.")
    flags.DEFINE_string("split", r.split, "Split of --data to score (top-5, neighbours' "
                        "queries, confusion matrix).")
    flags.DEFINE_integer("max_train_images", r.max_train_images, "Training images searched "
                         "for nearest neighbours (fc7); 0: the whole training split.")


def report_config():
    return ReportConfig(data=data_config(), **_values(ReportConfig, ("data",))).validate()
