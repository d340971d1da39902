"""Each setting declared once: the flags are generated from the config fields, keep the
names (and defaults) of 0.1's hand-written flags, and validate() checks what they declare."""

import dataclasses
import importlib

from absl import flags
import pytest

from helpers import COMMANDS
from tf_alexnet import flags as flags_lib
from tf_alexnet.config import AugmentConfig, EvalDataConfig, ExportConfig, SourceConfig, TrainConfig
from tf_alexnet.command_configs import BenchConfig

SOURCE = {
    "data",
    "seed",
    "validation_fraction",
    "on_bad_image",
    "tfds_data_dir",
    "tfds_manual_dir",
    "synthetic_examples",
    "max_megapixels",
}
AUGMENT = {
    "image_size",
    "resize_size",
    "batch_size",
    "stats",
    "mean",
    "pca_sigma",
    "flip",
    "shuffle_buffer",
}
# The flags each command had at commit c95a3a8 (hand-written then), aliases included, and
# those added since.
SINCE_0_1 = {
    "source": {"classes", "train_per_class"},
    "augment": {"resize_mode"},
    "train": {
        "init_from",
        "freeze",
        "train_from",
        "head_lr_multiplier",
        "activation",
        "pooling",
        "profile_steps",
        "min_epoch_steps",
        "plateau_min_steps",
        "allow_changed_flags",
        "filters",
        "remove_layers",
    },
    "prepare": {"format", "verify"},
    "evaluate": {"tflite_threads"},
    "predict": {"tflite_threads"},
    "bench": {"tflite_threads"},
}
FLAGS_0_1 = {
    "train": SOURCE
    | AUGMENT
    | {
        "eval_crops",
        "cache_eval",
        "num_classes",
        "workdir",
        "split",
        "eval_split",
        "epochs",
        "train_steps",
        "grouping",
        "tower_devices",
        "lrn",
        "init",
        "dropout",
        "width",
        "fc_units",
        "learning_rate",
        "momentum",
        "weight_decay",
        "decay_biases",
        "lr_schedule",
        "lr_factor",
        "plateau_patience",
        "plateau_max_reductions",
        "step_epochs",
        "warmup_epochs",
        "strategy",
        "precision",
        "xla",
        "xla_autotune_level",
        "steps_per_loop",
        "deterministic",
        "log_every_steps",
        "eval_every_steps",
        "eval_examples",
        "checkpoint_every_steps",
        "keep_checkpoints",
    },
    "prepare": SOURCE
    | {"image_size", "resize_size", "output", "splits", "num_shards", "workers", "jpeg_quality"},
    "evaluate": SOURCE
    | {
        "batch_size",
        "eval_crops",
        "crops",
        "cache_eval",
        "workdir",
        "checkpoint",
        "model",
        "split",
        "json",
        "max_examples",
    },
    "export": {
        "workdir",
        "checkpoint",
        "export_dir",
        "version",
        "overwrite",
        "tflite",
        "tflite_only",
        "calibration_images",
        "calibration_data",
    },
    "predict": {"model", "json", "top_k", "rest_body", "max_megapixels"},
    "bench": SOURCE
    | AUGMENT
    | {
        "steps",
        "warmup",
        "groupings",
        "split",
        "xla",
        "steps_per_loop",
        "model",
        "seconds",
        "precisions",
    },
    "report": SOURCE | {"batch_size", "workdir", "output", "split", "max_train_images"},
}


def command_flags(command):
    flag_values = flags.FlagValues()
    importlib.import_module(COMMANDS[command]).define_flags(flag_values)
    return flag_values


@pytest.mark.parametrize("command", sorted(FLAGS_0_1))
def test_generated_flags_keep_their_names_and_have_help(command):
    flag_values = command_flags(command)
    names = set(flag_values)
    want = FLAGS_0_1[command] | ({"crops"} if "eval_crops" in FLAGS_0_1[command] else set())
    want |= SINCE_0_1["source"] if "data" in want else set()
    want |= SINCE_0_1["augment"] if "resize_size" in want else set()
    want |= {"cache_train"} if "shuffle_buffer" in want else set()
    want |= SINCE_0_1.get(command, set())
    assert names == want
    for name in names:
        assert len(flag_values[name].help) > 10, name


def test_defaults_are_the_fields_and_per_command():
    train, evaluate, bench = (command_flags(c) for c in ("train", "evaluate", "bench"))
    assert train["batch_size"].default == 128 and evaluate["batch_size"].default == 64
    assert bench["batch_size"].default == 64 == BenchConfig().augment.batch_size
    bench(["bench"])
    assert flags_lib.read(BenchConfig, bench) == BenchConfig()
    assert train["workdir"].default == "runs/alexnet" and train["step_epochs"].default == [
        "25.0",
        "51.0",
        "79.0",
    ]
    assert train["lrn"].parser.enum_values == ["paper", "cuda_convnet", "caffe", "none"]
    train(["train"])
    config = flags_lib.read(TrainConfig, train)
    assert config == TrainConfig()  # the flags' defaults are the fields' defaults
    # One --batch_size feeds both the training and the evaluation pipeline.
    train(["train", "--batch_size=16", "--crops=ten"])
    config = flags_lib.read(TrainConfig, train)
    assert config.augment.batch_size == config.evaluation.batch_size == 16
    assert config.evaluation.eval_crops == "ten"  # through the alias


@pytest.mark.parametrize(
    "config,message",
    [
        (TrainConfig(lrn="torch"), "--lrn 'torch' is not one of paper|cuda_convnet|caffe"),
        (TrainConfig(init="xavier"), "--init 'xavier' is not one of paper|caffe|he"),
        (TrainConfig(grouping="split"), "--grouping 'split' is not one of auto|towers|fused|none"),
        (TrainConfig(dropout=1.0), "--dropout must be in [0, 1)"),
        (TrainConfig(learning_rate=0.0), "--learning_rate must be > 0"),
        (TrainConfig(epochs=float("nan")), "--epochs must be a finite number"),
        (TrainConfig(augment=AugmentConfig(image_size=64)), "--image_size must be >= 67"),
        (
            TrainConfig(augment=AugmentConfig(resize_size=100)),
            "--resize_size 100 must be >= --image_size 227",
        ),
        (
            TrainConfig(source=SourceConfig(validation_fraction=1.0)),
            "--validation_fraction must be in (0, 1)",
        ),
        (
            TrainConfig(evaluation=EvalDataConfig(eval_crops="five")),
            "--eval_crops 'five' is not one of center|ten",
        ),
        (
            ExportConfig(workdir="w", tflite=("int4",)),
            "--tflite 'int4' is not one of float32|float16|dynamic|int8",
        ),
        (TrainConfig(xla_autotune_level=5), "--xla_autotune_level must be in [0, 4]"),
        (TrainConfig(filters=(48, 128, 192)), "--filters 48,128,192: give five even counts"),
        (TrainConfig(filters=(48, 128, 191, 192, 256)), "give five even counts"),
        (
            TrainConfig(remove_layers=("conv2",)),
            "--remove_layers 'conv2' is not one of conv3|conv4",
        ),
        (TrainConfig(source=SourceConfig(train_per_class=-1)), "--train_per_class must be >= 0"),
    ],
)
def test_validate_checks_what_the_fields_declare(config, message):
    with pytest.raises(
        ValueError,
        match=message.replace("[", r"\[")
        .replace("(", r"\(")
        .replace(")", r"\)")
        .replace("|", r"\|"),
    ):
        config.validate()


def test_every_setting_has_help_and_a_range_or_choices_where_numeric():
    for config_class in (SourceConfig, AugmentConfig, EvalDataConfig, TrainConfig):
        for field in dataclasses.fields(config_class):
            if "help" not in field.metadata:
                continue
            meta = field.metadata
            assert meta["help"].strip(), field.name
            if type(field.default) in (int, float) and field.name != "seed":
                assert meta["within"], f"{config_class.__name__}.{field.name} has no range"


def test_filters_and_removed_layers_reach_the_network_and_model_json(tmp_path):
    """--filters and --remove_layers give the spec (and model.json) the run trains; a
    model.json of 0.3 (no "removed") reads as the full network."""
    from tf_alexnet.model.spec import AlexNetSpec
    from tf_alexnet.train.transfer import network_spec

    config = TrainConfig(
        filters=(24, 64, 96, 96, 128),
        remove_layers=("conv4",),
        augment=AugmentConfig(image_size=67),
    )
    spec = network_spec(config, 10)
    assert spec.filters == (24, 64, 96, 96, 128) and spec.removed == ("conv4",)
    assert AlexNetSpec.from_json(spec.to_json()) == spec
    old = {k: v for k, v in spec.to_json().items() if k != "removed"}
    assert AlexNetSpec.from_json(old).removed == ()
