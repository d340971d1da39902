"""Small files and runners for tests."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import ROOT


def write_image(path, array, fmt=None):
    """Writes a uint8 [h, w, c] array as PNG or JPEG (by extension unless fmt given)."""
    array = tf.constant(np.asarray(array, np.uint8))
    fmt = fmt or ("png" if str(path).endswith(".png") else "jpeg")
    data = tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array, quality=95)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.numpy())
    return path


def solid(h, w, colour):
    return np.broadcast_to(np.asarray(colour, np.uint8), (h, w, len(colour))).copy()


def run_module(module, *args, timeout=600, env=None):
    """Runs `python -m tf_alexnet.<module> args` from the project root; CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", f"tf_alexnet.{module}", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=full_env)
