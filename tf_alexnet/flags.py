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
