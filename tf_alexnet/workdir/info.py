"""What a workdir records (WORKDIR/model.json + stats.json): the network and the run.

    NetworkRecord   the network (spec, grouping, class names, preprocessing): what an
                    `AlexNet`'s config holds, for the files that hold no Keras model
    RunInfo         the run: the data it trained on and how it validated
    run_data        what evaluate and report score by default (the run's validation)

An export carries the same record (assets.extra/tf_alexnet.json and stats.json): evaluate,
export and predict read only these files, so a workdir can be moved to another machine.
"""

import dataclasses
import json
import os

from tf_alexnet.config import DATA_KINDS, SourceConfig, TrainConfig
from tf_alexnet.data.specs import same_spec, whole_data_split
from tf_alexnet.data.stats import STATS_JSON, Preprocessing, Stats
from tf_alexnet.errors import WorkdirError
from tf_alexnet.files import replaced
from tf_alexnet.flags import read_flagfile
from tf_alexnet.model.spec import GROUPINGS, POOLINGS, AlexNetSpec
from tf_alexnet import validation as v

MODEL_JSON = "model.json"

_LRN = v.Nullable(
    v.Either(
        v.STRING,  # "none" or a preset's name
        v.Record({k: v.NUMBER for k in ("depth_radius", "bias", "alpha", "beta")}),
        v.ListOf(v.ListOf(v.ANY, length=2), length=4),  # sorted pairs, before 0.2
    )
)
SPEC_SCHEMA = v.Record(
    dict(
        num_classes=v.Range(1, integer=True),
        image_size=v.Range(1, 4096, integer=True),
        filters=v.ListOf(v.Range(1, integer=True), length=5),
        fc_units=v.Range(1, integer=True),
        lrn=_LRN,
        dropout=v.Range(0, 1),
    ),
    dict(
        lrn_across_groups=v.BOOLEAN,
        activation=v.OneOf("relu", "tanh"),
        pooling=v.OneOf(*POOLINGS),
        removed=v.ListOf(v.OneOf("conv3", "conv4")),
    ),
)


def _classes_match(d):
    if len(d["class_names"]) != d["spec"]["num_classes"]:
        return (
            f"{len(d['class_names'])} class_names for spec.num_classes {d['spec']['num_classes']}"
        )
    if len(d.get("display_names", d["class_names"])) != len(d["class_names"]):
        return f"{len(d['display_names'])} display_names for {len(d['class_names'])} classes"
    if d["image_size"] > d["resize"]:
        return f"image_size {d['image_size']} is larger than resize {d['resize']}"
    return None


# model.json, an export's tf_alexnet.json and a .tflite's sidecar: the network and the run.
RECORD_SCHEMA = v.Record(
    dict(
        spec=SPEC_SCHEMA,
        grouping=v.OneOf(*GROUPINGS),
        class_names=v.ListOf(v.STRING, min_length=1),
        image_size=v.Range(1, 4096, integer=True),
        resize=v.Range(1, 8192, integer=True),
        mean=v.OneOf("auto", "image", "channel", "none"),
    ),
    dict(
        resize_mode=v.OneOf("shorter", "squash"),
        data=v.STRING,
        validation=v.Nullable(v.Record(optional=dict(split=v.Nullable(v.STRING)))),
        display_names=v.ListOf(v.STRING),
        extra_dir=v.STRING,
    ),
    rule=_classes_match,
)


def read_network_record(path, error=WorkdirError, schema=RECORD_SCHEMA):
    """The JSON of a network record file (model.json, an export's record, a sidecar),
    checked against `schema`: one `error` line naming the file and the field."""
    return v.read_record(path, schema, error)


@dataclasses.dataclass(frozen=True)
class NetworkRecord:
    """A network as model.json records it: what `AlexNet`'s config holds (spec, grouping,
    class names, preprocessing). Files that hold no Keras model (a workdir's model.json, an
    export's assets.extra/tf_alexnet.json) read and write it; code that has a model asks
    the model (`model.spec`, `model.class_names`, `model.preprocessing`)."""

    spec: AlexNetSpec
    grouping: str  # towers | fused | none
    class_names: tuple
    preprocessing: Preprocessing  # with the run's Stats

    @classmethod
    def of(cls, model):
        """The record of an AlexNet (or an AlexNetEnsemble: its first member's)."""
        return cls(model.spec, model.grouping, tuple(model.class_names), model.preprocessing)

    def to_json(self):
        p = self.preprocessing
        return dict(
            spec=self.spec.to_json(),
            grouping=self.grouping,
            class_names=list(self.class_names),
            image_size=p.image_size,
            resize=p.resize,
            mean=p.mean,
            resize_mode=p.resize_mode,
        )

    @classmethod
    def from_json(cls, d, stats):
        """Reads today's model.json and that of earlier versions (LRN as sorted pairs)."""
        return cls(
            AlexNetSpec.from_json(d["spec"]),
            d["grouping"],
            tuple(d["class_names"]),
            Preprocessing(
                int(d["image_size"]),
                int(d["resize"]),
                d["mean"],
                stats,
                d.get("resize_mode", "shorter"),
            ),
        )  # absent before 0.2

    def incompatibilities(self, new):
        """Why resuming this network's checkpoints as `new` would load wrong weights."""
        problems = []
        if self.spec != new.spec:
            diff = {
                f.name: (getattr(self.spec, f.name), getattr(new.spec, f.name))
                for f in dataclasses.fields(AlexNetSpec)
                if getattr(self.spec, f.name) != getattr(new.spec, f.name)
            }
            problems.append(f"the network differs (workdir vs. now: {diff})")
        if self.grouping != new.grouping:
            problems.append(
                f"grouping {self.grouping!r} vs. {new.grouping!r} (use --grouping={self.grouping})"
            )
        if self.class_names != new.class_names:
            problems.append(
                f"the class list differs ({len(self.class_names)} classes, first "
                f"{list(self.class_names[:3])}, vs. {len(new.class_names)}, "
                f"first {list(new.class_names[:3])})"
            )
        return problems


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a run records beside its network: the data it trained on and how it validated
    (evaluate and report score the same by default: `run_data`)."""

    source: str = ""  # the training data spec (--data)
    # {"source": SourceConfig fields, "split": eval split, "examples": --eval_examples}
    validation: dict = dataclasses.field(default_factory=dict, compare=False)

    def to_json(self):
        return dict(data=self.source, validation=self.validation)

    @classmethod
    def from_json(cls, d):
        return cls(d.get("data", ""), d.get("validation") or {})  # validation: since 0.3


def save_record(directory, network, info=RunInfo(), filename=MODEL_JSON, **extra):
    """Writes `filename` (the network's and the run's record, with `extra` keys),
    stats.json and mean_image.npy. `network`: a NetworkRecord or a model."""
    if not isinstance(network, NetworkRecord):
        network = NetworkRecord.of(network)
    os.makedirs(directory, exist_ok=True)
    network.preprocessing.stats.save(directory)
    with replaced(os.path.join(directory, filename)) as f:
        json.dump({**network.to_json(), **info.to_json(), **extra}, f, indent=2)


def load_record(directory, filename=MODEL_JSON, stats_dir=None):
    """(NetworkRecord, RunInfo, the raw JSON) from `directory`; stats from `stats_dir`
    (default: the same directory)."""
    path = os.path.join(directory, filename)
    d = read_network_record(path)
    stats = Stats.load(os.path.join(stats_dir or directory, STATS_JSON))
    try:
        return NetworkRecord.from_json(d, stats), RunInfo.from_json(d), d
    except (KeyError, TypeError, ValueError) as e:
        raise WorkdirError(f"{path}: damaged, cannot read its {e} entry.") from None


def run_data(info, source, split, max_examples, given):
    """(SourceConfig, split, max_examples) to score `info`'s model on.

    Without --data (an empty source spec): the run's validation data exactly as training
    scored it, its SourceConfig (split rule, fraction, classes, seed), split and sample size
    (--eval_examples). With the run's own spec: the same split rule, the whole split. The
    fields named in `given` (set by the caller) win. With other data: as given; without a
    split, the whole of it: "all" of a folder without split subfolders, else the source's
    "validation" (data/specs.py: whole_data_split). Specs are compared as paths
    (`photos/` is `photos`)."""
    if source.source and not same_spec(source.source, info.source):
        return source, split or whole_data_split(source.source), max_examples
    given_spec = bool(source.source)
    if info.source.partition(":")[0] not in DATA_KINDS:  # "" or an imported file
        raise WorkdirError("The model records no training data (an imported network): give --data.")
    names = {f.name for f in dataclasses.fields(SourceConfig)}
    recorded = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in info.validation.get("source", {}).items()
        if k in names
    }
    recorded.update({k: getattr(source, k) for k in given if k in names and k != "source"})
    source = dataclasses.replace(SourceConfig(**recorded), source=info.source)
    if not (split and "split" in given):
        split = split or info.validation.get("split") or "validation"
    if "max_examples" not in given and not given_spec:
        max_examples = info.validation.get("examples", 0)
    return source, split, max_examples


def load_network(workdir):
    """The NetworkRecord of a training workdir (model.json, stats.json)."""
    if not os.path.exists(os.path.join(workdir, MODEL_JSON)):
        raise WorkdirError(f"{workdir}: no {MODEL_JSON}; is it a tf_alexnet.train workdir?")
    return load_record(workdir)[0]


def load_run_info(workdir):
    """The RunInfo of a training workdir. A model.json of 0.2 or before records no
    validation data: its flags.txt (the flags as typed: the data's are as used) gives it."""
    if not os.path.exists(os.path.join(workdir, MODEL_JSON)):
        raise WorkdirError(f"{workdir}: no {MODEL_JSON}; is it a tf_alexnet.train workdir?")
    info = load_record(workdir)[1]
    flags_txt = os.path.join(workdir, "flags.txt")
    if info.validation or not os.path.exists(flags_txt):
        return info
    try:
        run = read_flagfile(TrainConfig, flags_txt)
    except ValueError:
        return info
    return dataclasses.replace(
        info,
        validation=dict(
            source=dataclasses.asdict(run.source), split=run.eval_split, examples=run.eval_examples
        ),
    )


def check_compatible(old, new):
    """Raises WorkdirError when resuming `old` (NetworkRecord) as `new` would load wrong
    weights."""
    problems = old.incompatibilities(new)
    if problems:
        raise WorkdirError(
            "Cannot resume: the workdir's checkpoints are of another model: "
            + "; ".join(problems)
            + ". Use a new --workdir, or the flags of "
            "the original run (its flags.txt)."
        )
