"""`export(config)`: a workdir's checkpoint as a SavedModel version and its TFLite files.

An export is whole or absent: what TFLite needs is checked before anything is written, and
when a TFLite conversion fails after the SavedModel version was written, that version and
the TFLite files of this call are removed (a rerun writes the same version number again,
not the next one). `--tflite_only` never removes the SavedModel it converts.
"""

import os
import shutil

from tf_alexnet.errors import ExportError, require
from tf_alexnet.export.savedmodel import export_saved_model, serving_versions
from tf_alexnet.export.tflite import export_tflite


def export(config, report=print):
    """The SavedModel version (unless --tflite_only) and the TFLite files of `config` (an
    ExportConfig); `report(line)` is told each path written. Returns the version dir."""
    if config.tflite:  # before any work: a missing runtime is one line, nothing written
        require("ai_edge_litert.interpreter", "ai-edge-litert", "export --tflite")
    if config.tflite_only:
        versions = serving_versions(config.export_dir)
        if not versions:
            raise ExportError(f"{config.export_dir}: no SavedModel versions to convert.")
        version_dir = os.path.join(config.export_dir, str(config.version or versions[-1]))
    else:
        version_dir = export_saved_model(
            config.workdir,
            config.export_dir,
            config.version,
            config.checkpoint or None,
            config.overwrite,
        )
    written = []
    try:
        written = export_tflite(
            version_dir,
            config.tflite,
            config.calibration_images,
            config.calibration_data or None,
            written=written,
        )
    except BaseException:
        for path in written:
            for name in (path, path + ".json"):
                if os.path.exists(name):
                    os.remove(name)
        if not config.tflite_only:
            shutil.rmtree(version_dir, ignore_errors=True)
            report(f"Not kept: {version_dir} (the TFLite conversion failed; see below).")
        raise
    if not config.tflite_only:
        report(f"SavedModel: {version_dir}")
    for path in written:
        report(f"TFLite: {path}")
    return version_dir
