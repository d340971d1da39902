"""Starting a run from another model's weights (`train --init_from`, fine-tuning).

    resolve_init_from(config)  the config with the source's network and preprocessing where
                             its flags were left at their defaults, and the Transfer
    network_spec(...)        the run's AlexNetSpec: the config's network, the data's classes
    freeze(model, layers)    conv1..fc8 names set untrainable (no update, no weight decay)
    load_matching(...)       copies the source's layers of the same name and shape

What a fine-tuned model sees must be what its weights learnt to see, so the image size, the
resize (and its mode: Caffe squashes), the mean and the statistics come from the source, and
so do the filters, fc units and LRN. A workdir that already holds checkpoints resumes: then
the same values come from its own model.json and nothing is loaded again. WORKDIR/init.json
records where the weights came from, what was loaded and what is frozen; a resume with
another set of frozen layers is refused (the optimizer's slots would not line up).
"""

import dataclasses
import json
import logging
import os

from tf_alexnet.config import AugmentConfig, TrainConfig
from tf_alexnet.data.stats import STATS_JSON
from tf_alexnet.errors import WorkdirError
from tf_alexnet import validation
from tf_alexnet.model.groupings import canonical_weights, set_canonical_weights
from tf_alexnet.model.spec import (
    CONV_NAMES,
    LRN_PRESETS,
    PAPER_FILTERS,
    AlexNetSpec,
    scaled_filters,
)
from tf_alexnet.workdir import checkpoints
from tf_alexnet.workdir.restore import restore_model
from tf_alexnet.workdir.info import MODEL_JSON, NetworkRecord, load_network

INIT_JSON = "init.json"


@dataclasses.dataclass(frozen=True)
class Transfer:
    """What a run inherits: `base` (the NetworkRecord whose network and preprocessing it takes:
    the source's, or its own when resuming) and, at step 0 only, the weights to load."""

    base: object = None  # NetworkRecord or None
    base_dir: str = ""  # the workdir holding `base` (and its stats.json)
    source: str = ""  # --init_from as given
    checkpoint: str = ""  # the source checkpoint the weights come from
    weights: dict = dataclasses.field(default=None, repr=False)  # canonical, numpy


def _source_workdir(path):
    """(workdir, checkpoint prefix or None) of an --init_from path."""
    path = path.rstrip("/") or "/"
    if os.path.isdir(path):
        return path, None
    if os.path.exists(path + ".index"):  # WORKDIR/checkpoints/ckpt-N
        return os.path.dirname(os.path.dirname(os.path.abspath(path))), path
    raise WorkdirError(
        f"--init_from {path}: no such workdir or checkpoint (give a workdir "
        "of train or import_weights, or one of its checkpoints/ckpt-N)."
    )


def open_init_source(path):
    """The Transfer of `--init_from path`: its RunInfo and weights (canonical layout)."""
    workdir, prefix = _source_workdir(path)
    if not os.path.exists(os.path.join(workdir, MODEL_JSON)):
        raise WorkdirError(
            f"--init_from {path}: {workdir} has no {MODEL_JSON}; give a "
            "workdir of train or import_weights, or one of its checkpoints."
        )
    try:
        model = restore_model(workdir, prefix)
    except WorkdirError as e:
        raise WorkdirError(f"--init_from {path}: {e}") from None
    return Transfer(
        NetworkRecord.of(model), workdir, path, model.checkpoint_path, canonical_weights(model)
    )


def _resuming(workdir):
    return (
        os.path.exists(os.path.join(workdir, MODEL_JSON))
        and checkpoints.latest_checkpoint(workdir) is not None
    )


# The flags a run takes from its --init_from source when they are left at their default.
INHERITED = (
    "image_size",
    "resize_size",
    "resize_mode",
    "mean",
    "stats",
    "width",
    "fc_units",
    "lrn",
    "activation",
    "pooling",
    "remove_layers",
    "filters",
)


def inherit_preprocessing(config, base, stats_dir):
    """`config` with `base`'s preprocessing for each AugmentConfig flag at its default."""
    augment, default, p = config.augment, AugmentConfig(), base.preprocessing
    changes = {}
    if augment.image_size == default.image_size:
        changes.update(image_size=p.image_size)
        if augment.resize_size == default.resize_size:
            changes.update(resize_size=p.resize)
    if augment.resize_mode == default.resize_mode:
        changes.update(resize_mode=p.resize_mode)
    if augment.mean == default.mean:
        changes.update(mean=p.mean)
    if augment.stats == default.stats:
        changes.update(stats=os.path.join(stats_dir, STATS_JSON))
    return dataclasses.replace(config, augment=dataclasses.replace(augment, **changes))


def resolve_init_from(config):
    """(config, Transfer) of a TrainConfig: unchanged and an empty Transfer without
    --init_from; else the source opened (or, when resuming, the workdir's own record), and
    the config holding the network and preprocessing values it inherits."""
    _check_frozen(config)
    if not config.init_from:
        return config, Transfer()
    if _resuming(config.workdir):
        transfer = Transfer(load_network(config.workdir), config.workdir, config.init_from)
    else:
        transfer = open_init_source(config.init_from)
    config = inherit_preprocessing(config, transfer.base, transfer.base_dir)
    return inherit_network(config, transfer.base.spec), transfer


def _width_of(filters):
    """The --width whose filters are `filters`, or None when no width gives them."""
    width = filters[0] / PAPER_FILTERS[0]
    return width if scaled_filters(width) == tuple(filters) else None


def _lrn_name(lrn):
    """The --lrn preset of LRNParams `lrn` (None: "none"), or None when none matches."""
    if lrn is None:
        return "none"
    return next((name for name, params in LRN_PRESETS.items() if params == lrn), None)


def inherit_network(config, source):
    """`config` with the source spec's width (or filters, when no width gives them), fc
    units, LRN, activation, pooling and removed layers for each of those flags at its
    default (the values flags.txt then records)."""
    default, changes = TrainConfig(), {}
    width = _width_of(source.filters)
    inherited = dict(
        width=width,
        fc_units=source.fc_units,
        lrn=_lrn_name(source.lrn),
        activation=source.activation,
        pooling=source.pooling,
        remove_layers=tuple(source.removed),
        filters=tuple(source.filters) if width is None else None,
    )
    for name, value in inherited.items():
        if getattr(config, name) == getattr(default, name) and value is not None:
            changes[name] = value
    return dataclasses.replace(config, **changes)


def network_spec(config, num_classes, base=None):
    """The run's AlexNetSpec from the config; with a `base` NetworkRecord, the base's filters and
    LRN where the config gives the same or leaves a flag that cannot name the base's at its
    default (no --width gives its filters, no --lrn preset its LRN), and the base's
    normalization across both towers (an imported Caffe network's, which no flag says)."""
    spec = AlexNetSpec.create(
        num_classes,
        config.augment.image_size,
        config.width,
        config.fc_units,
        config.lrn,
        config.dropout,
        activation=config.activation,
        pooling=config.pooling,
        filters=config.filters,
        removed=config.remove_layers,
    )
    if base is None:
        return spec
    default, source, changes = TrainConfig(), base.spec, {}
    if spec.filters == source.filters or (
        config.width == default.width and _width_of(source.filters) is None
    ):
        changes.update(filters=source.filters)
    if spec.lrn == source.lrn or (config.lrn == default.lrn and _lrn_name(source.lrn) is None):
        changes.update(lrn=source.lrn, lrn_across_groups=source.lrn_across_groups)
    return dataclasses.replace(spec, **changes)


def model_layers(model, names):
    """The Keras layers of the canonical layer `names` (a tower model's conv2 is conv2a and
    conv2b)."""
    wanted = set(names)
    return [
        layer
        for layer in model.layers
        if layer.name in wanted
        or (layer.name[:-1] in wanted and layer.name[:-1] in CONV_NAMES and layer.name[-1] in "ab")
    ]


def freeze(model, names):
    """Sets the layers `names` untrainable: they leave model.trainable_variables, so the
    optimizer neither updates nor decays them (and keeps no velocity for them)."""
    for layer in model_layers(model, names):
        layer.trainable = False


def load_matching(model, transfer):
    """Copies `transfer.weights` into the AlexNet `model` layer by layer where name and
    shapes match (fc8 only when the class lists are the same). Returns (loaded layer names,
    {layer: why new} of the others)."""
    class_names, grouping = model.class_names, model.grouping
    target, loaded, new = canonical_weights(model), {}, {}
    same_classes = tuple(class_names) == tuple(transfer.base.class_names)
    for name, arrays in target.items():
        source = transfer.weights.get(name)
        shapes = [a.shape for a in arrays]
        if name == "fc8" and not same_classes:
            new[name] = (
                f"{len(class_names)} classes vs. the source's {len(transfer.base.class_names)}"
                if shapes[0] != source[0].shape
                else "other classes"
            )
        elif source is None or [a.shape for a in source] != shapes:
            new[name] = (
                f"kernel {tuple(shapes[0])} vs. the source's {tuple(source[0].shape)}"
                if source
                else "not in the source"
            )
        else:
            loaded[name] = source
    set_canonical_weights(model, grouping, loaded)
    return list(loaded), new


def describe_init(transfer, loaded, new, frozen):
    """The one line that says what the run took from where."""
    parts = [
        f"Initialized from {transfer.source} ({transfer.checkpoint}): loaded "
        f"{', '.join(loaded) or 'nothing'}"
    ]
    if new:
        parts.append("new " + ", ".join(f"{name} ({why})" for name, why in new.items()))
    if frozen:
        parts.append("frozen " + ", ".join(frozen))
    return "; ".join(parts) + "."


def record(workdir, transfer, loaded, new, config):
    """Writes WORKDIR/init.json: the source, what was loaded, new and frozen."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, INIT_JSON), "w") as f:
        json.dump(
            dict(
                init_from=transfer.source,
                checkpoint=transfer.checkpoint,
                loaded=loaded,
                new=new,
                frozen=list(config.frozen_layers),
                head_lr_multiplier=config.head_lr_multiplier,
            ),
            f,
            indent=2,
        )


INIT_SCHEMA = validation.Record(optional=dict(frozen=validation.STRINGS))  # INIT_JSON


def _check_frozen(config):
    """A resumed run must freeze what it froze: the optimizer's velocities are its trainable
    variables', in order."""
    if not _resuming(config.workdir):
        return
    path = os.path.join(config.workdir, INIT_JSON)
    before = ()
    if os.path.exists(path):
        before = tuple(validation.read_record(path, INIT_SCHEMA, WorkdirError).get("frozen", ()))
    if before != config.frozen_layers:
        raise WorkdirError(
            f"Cannot resume {config.workdir}: it was trained with frozen layers "
            f"{list(before) or 'none'}, now {list(config.frozen_layers) or 'none'}; use its "
            "--freeze/--train_from (flags.txt), or a new --workdir."
        )


def load_init_weights(model, run, transfer):
    """At step 0: the source's matching layers loaded into `model` (with --init_from), the
    one line logged, and init.json written (by the chief) when anything was loaded or
    frozen."""
    config, loaded, new = run.config, [], {}
    if transfer.weights is not None:
        loaded, new = load_matching(model, transfer)
        logging.info("%s", describe_init(transfer, loaded, new, config.frozen_layers))
    elif config.frozen_layers:
        logging.info("Frozen (not trained): %s.", ", ".join(config.frozen_layers))
    if run.chief and (transfer.weights is not None or config.frozen_layers):
        record(config.workdir, transfer, loaded, new, config)
