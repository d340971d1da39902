"""The configs of the commands around trained models (predict, bench, report,
import_weights, experiment), declared as config.py's are (each field is also a flag);
config.py holds train's, evaluate's, export's and prepare's.
"""

import dataclasses

from tf_alexnet.config import (
    PRECISIONS,
    RUN_DATA,
    AugmentConfig,
    EvalDataConfig,
    SourceConfig,
)
from tf_alexnet.config_fields import check, nested, same_setting, setting
from tf_alexnet.model.spec import GROUPINGS


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """`python -m tf_alexnet.predict`: top classes of image files (or of the images in
    folders)."""

    images: tuple = ()
    model: str = setting(
        "",
        "A SavedModel directory, a TF Serving base directory (its "
        "latest version) or a .tflite file.",
    )
    json: bool = setting(False, "Print one JSON line per image instead of text.")
    top_k: int = setting(5, "Classes printed per image.", within="[1, )")
    tflite_threads: int = setting(
        0, "Threads of a .tflite interpreter; 0: every core of this machine.", within="[0, )"
    )
    max_megapixels: float = same_setting(SourceConfig, "max_megapixels")
    rest_body: bool = setting(
        False,
        "Print the JSON body of a TF Serving REST predict "
        "request for the images (serving_default, b64) instead of "
        "predicting.",
    )

    def validate(self):
        return check(self)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """`python -m tf_alexnet.bench`: what to measure and for how long."""

    command: str = ""
    source: SourceConfig = nested(SourceConfig)
    augment: AugmentConfig = nested(AugmentConfig, batch_size=64)
    steps: int = setting(8, "Timed steps per measurement (after warm-up steps).", within="[1, )")
    warmup: int = setting(
        2, "Untimed steps before timing (tracing, XLA compilation).", within="[0, )"
    )
    groupings: tuple = setting(
        GROUPINGS, "Groupings for `bench model` and `bench train`.", GROUPINGS
    )
    split: str = setting("train", "`bench data`: the split to read.")
    xla: bool = setting(False, "`bench train`: compile the step with XLA.")
    precisions: tuple = setting(
        ("auto",),
        "`bench train`: the precisions to measure, each against its own ceiling, in one run "
        "(auto: what train's --precision=auto chooses here).",
        PRECISIONS,
    )
    steps_per_loop: int = setting(
        0,
        "`bench train`: train steps per compiled call; 0: auto (1 on CPU, 50 on GPUs).",
        within="[0, )",
    )
    model: str = setting(
        "",
        "`bench inference`: an export (TF Serving base, version dir); "
        "empty: export a fresh paper model to a temporary directory.",
    )
    seconds: float = setting(20.0, "`bench data`: how long to measure, in seconds.", within="(0, )")
    tflite_threads: int = setting(
        0, "Threads of a .tflite interpreter; 0: every core of this machine.", within="[0, )"
    )

    def validate(self):
        self.source.validate()
        self.augment.validate()
        return check(self)


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """`python -m tf_alexnet.report`: the paper's figures from a trained workdir (an empty
    --data: the run's own data, as evaluate)."""

    source: SourceConfig = nested(SourceConfig, source=RUN_DATA)
    evaluation: EvalDataConfig = nested(EvalDataConfig)
    workdir: str = setting(
        "", "Training workdir to draw (its newest checkpoint and TensorBoard event files)."
    )
    output: str = setting("", "Directory for the PNG figures, report.json and index.html.")
    split: str = setting(
        "",
        "Split of --data to score (top-5, neighbours' queries, "
        "confusion matrix); empty: the split training validated on.",
    )
    max_train_images: int = setting(
        0,
        "Training images searched for nearest neighbours (fc7); 0: the whole training split.",
        within="[0, )",
    )

    def validate(self):
        self.source.validate()
        self.evaluation.validate()
        return check(
            self,
            [
                (bool(self.workdir), "--workdir is required"),
                (bool(self.output), "--output is required"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ImportConfig:
    """`python -m tf_alexnet.import_weights`: Caffe's bvlc_alexnet as a workdir."""

    caffemodel: str = setting("", "Caffe's weights (bvlc_alexnet.caffemodel, either layer format).")
    npy: str = setting("", "caffe-tensorflow's bvlc_alexnet.npy instead of --caffemodel.")
    prototxt: str = setting(
        "",
        "Caffe's deploy.prototxt, to check the weights' network "
        "against (kernels, strides, groups, pools) and take its LRN "
        "parameters and input side from; empty: bvlc_alexnet's.",
    )
    mean_file: str = setting(
        "",
        "Caffe's mean image (imagenet_mean.binaryproto); empty: "
        "bvlc_alexnet's mean pixel B 104.007, G 116.669, R 122.679.",
    )
    workdir: str = setting(
        "runs/bvlc_alexnet", "Directory to write (model.json, stats.json, checkpoints/ckpt-0)."
    )

    def validate(self):
        return check(
            self,
            [
                (bool(self.caffemodel) != bool(self.npy), "Give one of --caffemodel or --npy."),
                (bool(self.workdir), "--workdir is required"),
            ],
        )


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """`python -m tf_alexnet.experiment CLAIM ...`: the paper's claims as sets of runs
    (tf_alexnet/experiment/claims.py names them)."""

    claims: tuple = ()
    source: SourceConfig = nested(
        SourceConfig, source="folder:../shared/data/cifar10/train", validation_fraction=0.5
    )
    root: str = setting(
        "runs/claims",
        "Directory of the runs (ROOT/RUN, shared between "
        "claims) and of the tables (claims.md, claims.json, figure1.png).",
    )
    epochs: float = setting(
        0.0,
        "Epochs of every AlexNet run; 0: the regime's (250; tf_alexnet/experiment/claims.py).",
        within="[0, )",
    )
    train_steps: int = setting(
        0,
        "Steps of every AlexNet run; > 0 overrides --epochs (cut-downs for tests).",
        within="[0, )",
    )
    train_per_class: int = setting(
        0,
        "Training photos of each class of the AlexNet runs; 0: the regime's (100).",
        within="[0, )",
    )
    seeds: int = setting(
        3,
        "Runs of every arm (seeds 0, 1, ...): the table's mean, spread and verdict.",
        within="[1, )",
    )
    figure1_epochs: int = setting(
        45,
        "Figure 1: the most epochs of a run (a run stops 2 "
        "epochs after reaching 25% training error).",
        within="[1, )",
    )
    figure1_rates: tuple = setting(
        (0.001, 0.002, 0.005, 0.01, 0.02, 0.05),
        "Figure 1: the learning rates each activation tries (3 epochs each); the fastest is used.",
        within="(0, )",
        item=float,
    )
    figure1_images: int = setting(
        0,
        "Figure 1: training photos an epoch (a seeded sample); 0: all (cut-downs for tests).",
        within="[0, )",
    )

    def validate(self):
        self.source.validate()
        return check(
            self,
            [
                (bool(self.root), "--root is required"),
                (bool(self.figure1_rates), "--figure1_rates is empty"),
            ],
        )
