"""What "auto" means on this machine, and the tf.distribute strategy of a run."""

import dataclasses
import logging

import tensorflow as tf

from tf_alexnet.model.network import resolve_tower_devices


def make_strategy(name):
    """default: one device (or the two placed towers); mirrored: data parallel over the
    local GPUs (over the logical CPUs when there is no GPU, e.g. in tests); multi_worker:
    the cluster in TF_CONFIG."""
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # oneDNN's bfloat16 kernels use them


def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo; empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bfloat16():
    """The CPU's bfloat16 arithmetic flags (AVX512_BF16, AMX-BF16); empty: none."""
    return sorted(cpu_flags() & set(BFLOAT16_CPU_FLAGS))


def auto_precision(recorded=None):
    """(precision, why) that --precision=auto means here: a resumed run's own (`recorded`,
    from its flags.txt: a run resumes in the precision it ran in, on any machine); else
    mixed_bfloat16 on GPUs of compute capability >= 8.0 (bfloat16 tensor cores) and on CPUs
    with bfloat16 arithmetic (docs/performance.md: bench ceilings), float32 elsewhere."""
    if recorded and recorded != "auto":
        return recorded, "the run's own, from its flags.txt"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [
            tf.config.experimental.get_device_details(g).get("compute_capability") or (0, 0)
            for g in gpus
        ]
        if min(capabilities) >= (8, 0):
            return "mixed_bfloat16", "GPUs of compute capability >= 8.0"
        return "float32", "GPUs without bfloat16 tensor cores"
    flags = native_bfloat16()
    if flags:
        return "mixed_bfloat16", f"this CPU has bfloat16 arithmetic ({', '.join(flags)})"
    return "float32", "this CPU has no bfloat16 arithmetic"


def resolve_auto(config, recorded_precision=None):
    """The config with "auto" made concrete for this machine: precision as
    `auto_precision` says (`recorded_precision`: a resumed run's); steps_per_loop 1 on CPU
    (a call costs nothing there next to a step) and 50 on GPUs, where one Python call per
    step would leave the GPU waiting."""
    gpus = tf.config.list_physical_devices("GPU")
    precision = config.precision
    if precision == "auto":
        precision = auto_precision(recorded_precision)[0]
    steps = config.steps_per_loop or (50 if gpus else 1)
    return dataclasses.replace(config, precision=precision, steps_per_loop=steps)


def existing_devices(devices):
    """`devices` when this machine has each, else None (the towers on the default device)
    with one warning line naming what is missing: the paper's flagfile asks for two GPUs
    and still trains where there are fewer."""
    if not devices:
        return devices
    have = {
        (spec.device_type, spec.device_index)
        for spec in (tf.DeviceSpec.from_string(d.name) for d in tf.config.list_logical_devices())
    }
    missing = [
        d
        for d in devices
        if (
            tf.DeviceSpec.from_string(d).device_type,
            tf.DeviceSpec.from_string(d).device_index or 0,
        )
        not in have
    ]
    if not missing:
        return devices
    logging.warning(
        "--tower_devices %s: this machine has no %s (it has %s); both towers "
        "run on the default device.",
        ",".join(devices),
        ", ".join(missing),
        ", ".join(sorted(f"/{t}:{i}" for t, i in have)),
    )
    return None


def resolve_grouping(config, previous=None):
    """(grouping, tower devices): "auto" keeps a resumed run's grouping, else picks towers
    on CPU (3x faster training than Keras' XLA grouped conv there: `bench model`), on two
    or more GPUs under the default strategy (the paper's placement) and on GPUs without
    --xla (fastest uncompiled); fused with --xla on GPUs (XLA compiles the grouped conv,
    the fastest step on one H100: docs/performance.md, "GPU")."""
    default = config.strategy == "default"
    gpus = tf.config.list_logical_devices("GPU")
    grouping = config.grouping
    if grouping == "auto":
        fused = gpus and config.xla and not (default and len(gpus) >= 2)
        grouping = previous or ("fused" if fused else "towers")
    devices = None
    if grouping == "towers" and default:
        devices = existing_devices(resolve_tower_devices(config.tower_devices))
    elif config.tower_devices not in ("auto", "none", ""):
        raise ValueError(
            "--tower_devices places the two towers of --grouping=towers under "
            "--strategy=default only."
        )
    return grouping, devices
