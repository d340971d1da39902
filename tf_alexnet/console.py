"""What a process that imported tf_alexnet shows on its console: TensorFlow's start-up banners
filtered out (and the TFLite converter's and interpreter's notes, where they run).

TensorFlow 2.21 writes its start-up lines from C++ before absl's logging is initialized, so
TF_CPP_MIN_LOG_LEVEL does not hide them (each of its two shared libraries prints the oneDNN
and CUDA-stub banners once), and on a machine without an NVIDIA driver the first device
listing logs `failed call to cuInit`. `install()` (called by tf_alexnet/__init__.py, before
TensorFlow loads) puts a finder on `sys.meta_path` that imports TensorFlow, and lists its
GPUs, with file descriptor 2 sent to a temporary file; afterwards the lines that are not
known noise (`NOISE`) are written to the real stderr, in order. Listing the GPUs creates no
runtime context, so logical devices can still be configured afterwards. The cuInit line is
dropped only where no NVIDIA driver is installed (no /proc/driver/nvidia): where there is
one, its failure matters. Plain Python: no TensorFlow is loaded here.
"""

import contextlib
import os
import re
import sys
import tempfile

from tf_alexnet.import_hook import ImportHook

NOISE = re.compile(
    "|".join(
        [
            r"All log messages before absl::InitializeLog\(\) is called",
            r"\] oneDNN custom operations are on",
            r"cudart_stub\.cc:\d+\] Could not find cuda drivers",
            r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
            r"^To enable the following instructions: .*rebuild TensorFlow",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation_placer\.cc:\d+\] computation placer already registered",
            r"TF-TRT Warning: Could not find TensorRT",
            r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
            # The TFLite converter's notes to its developers (tf_alexnet/export/tflite.py: convert).
            r"tf_tfl_flatbuffer_helpers\.cc:\d+\] Ignored (output_format|drop_control_dependency)",
            r"^fully_quantize: \d+, inference_type: ",
            r"flatbuffer_export\.cc:\d+\] Skipping runtime version metadata",
        ]
    )
)
NO_DRIVER_NOISE = re.compile(r"failed call to cuInit")


def has_nvidia_driver():
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")


def is_noise(line):
    return bool(NOISE.search(line) or (NO_DRIVER_NOISE.search(line) and not has_nvidia_driver()))


@contextlib.contextmanager
def filtered_stderr():
    """Sends file descriptor 2 to a temporary file for the block, then writes the lines that
    are not noise to the real stderr (also when the block raises)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(True)
                if not is_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietTensorFlow(ImportHook):
    """Imports `tensorflow` (and lists its GPUs) inside `filtered_stderr()`."""

    name = "tensorflow"

    def load(self, module):
        with filtered_stderr():
            self.run(module)
            module.config.list_physical_devices("GPU")


def install():
    """Filters TensorFlow's start-up noise when it is imported later (nothing when it has
    been imported already, or TF_ALEXNET_CONSOLE=raw)."""
    if "tensorflow" in sys.modules or os.environ.get("TF_ALEXNET_CONSOLE") == "raw":
        return
    _QuietTensorFlow.install()
