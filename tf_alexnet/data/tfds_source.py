"""tfds: sources: any TFDS image-classification dataset (ImageNet from its manual tars)."""

import os

import tensorflow as tf

from tf_alexnet.data.source import Source
from tf_alexnet.errors import DataError

TFDS_SPLITS = {"validation": ("validation", "test"), "test": ("test", "validation")}


def open_tfds(config, name, split):
    import tensorflow_datasets as tfds  # heavy import, only for this source

    try:
        builder = tfds.builder(name, data_dir=config.tfds_data_dir or None)
    except Exception as e:  # tfds raises DatasetNotFoundError and others
        raise DataError(
            f"tfds:{name}: not a TFDS dataset ({type(e).__name__}: {str(e).splitlines()[0]})."
        ) from None
    if not builder.is_prepared():
        manual = config.tfds_manual_dir or os.path.join(
            config.tfds_data_dir or os.path.expanduser("~/tensorflow_datasets"),
            "downloads",
            "manual",
        )
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=manual)
            )
        except AssertionError as e:  # tfds: "Manual directory ... does not exist or is empty"
            raise DataError(
                f"tfds:{name} needs a manual download: put the ImageNet tars "
                f"(ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar) in {manual} "
                f"(or pass --tfds_manual_dir), then rerun. ({str(e).splitlines()[0]})"
            ) from None
    splits = builder.info.splits
    for candidate in TFDS_SPLITS.get(split, (split,)):
        if candidate in splits or not splits:  # no split info (e.g. tfds.testing.mock_data)
            split_name = candidate
            break
    else:
        raise DataError(f"tfds:{name} has no {split!r} split; it has {sorted(splits)}.")
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise DataError(f"tfds:{name} has no 'image' and 'label' features.")
    ds = builder.as_dataset(
        split=split_name,
        shuffle_files=split == "train",
        decoders={"image": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(shuffle_seed=config.seed),
    )
    ds = ds.map(
        lambda ex: (ex["image"], tf.cast(ex["label"], tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    size = splits[split_name].num_examples if split_name in splits else -1
    return Source(ds, tuple(features["label"].names), size)
