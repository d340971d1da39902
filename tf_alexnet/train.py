"""Trains AlexNet: python -m tf_alexnet.train --flagfile configs/paper.flags [--flag=value ...]

Flags after --flagfile override the file. Rerunning the same command resumes from the
workdir's last checkpoint. See configs/ for the recipes and README.md for the flags.
"""

import tf_alexnet  # noqa: F401  (oneDNN on before TensorFlow loads)

import json
import logging
import os
import sys

from absl import app

from tf_alexnet import flags as flags_lib


def set_xla_environment(config):
    """XLA reads its options from the environment when TensorFlow starts: a persistent cache
    of compiled programs in the workdir (a resumed or repeated run does not compile again)
    and a cheaper GPU autotune level. Explicit settings in the environment are kept."""
    if not config.xla:
        return
    cache = os.path.join(os.path.abspath(config.workdir), "xla_cache")
    if "--tf_xla_persistent_cache_directory" not in os.environ.get("TF_XLA_FLAGS", ""):
        os.environ["TF_XLA_FLAGS"] = (os.environ.get("TF_XLA_FLAGS", "")
                                      + f" --tf_xla_persistent_cache_directory={cache}").strip()
    if "--xla_gpu_autotune_level" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level"
                                   f"={config.xla_autotune_level}").strip()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = flags_lib.train_config()
    except ValueError as e:
        sys.exit(f"train: {e}")
    set_xla_environment(config)  # before TensorFlow is imported (below)
    from tf_alexnet import cli, data, train_lib

    def explain(error):
        logging.error("%s", error)
        return data.explain_failure(config.data, (config.split, config.eval_split), error)

    result = cli.run("train", lambda: train_lib.train(config, flags_lib.resolved_flagfile()),
                     explain)
    print(json.dumps(result))


if __name__ == "__main__":
    flags_lib.define_train_flags()
    app.run(main)
