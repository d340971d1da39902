"""Settings that XLA reads from the environment when TensorFlow starts (plain Python: the
train command sets them after parsing its flags and before TensorFlow is imported)."""

import os


def set_xla_environment(config):
    """A persistent cache of compiled programs in the workdir (a resumed or repeated run
    does not compile again) and a cheaper GPU autotune level. Explicit settings in the
    environment are kept."""
    if not config.xla:
        return
    cache = os.path.join(os.path.abspath(config.workdir), "xla_cache")
    if "--tf_xla_persistent_cache_directory" not in os.environ.get("TF_XLA_FLAGS", ""):
        os.environ["TF_XLA_FLAGS"] = (
            os.environ.get("TF_XLA_FLAGS", "") + f" --tf_xla_persistent_cache_directory={cache}"
        ).strip()
    if "--xla_gpu_autotune_level" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level"
            f"={config.xla_autotune_level}"
        ).strip()
