"""`export(config)`: a workdir's checkpoint as a SavedModel version and its TFLite files."""

import os

from tf_alexnet.errors import ExportError
from tf_alexnet.export.savedmodel import export_saved_model, serving_versions
from tf_alexnet.export.tflite import export_tflite


def export(config, report=print):
    """The SavedModel version (unless --tflite_only) and the TFLite files of `config` (an
    ExportConfig); `report(line)` is told each path written. Returns the version dir."""
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
        report(f"SavedModel: {version_dir}")
    for path in export_tflite(
        version_dir, config.tflite, config.calibration_images, config.calibration_data or None
    ):
        report(f"TFLite: {path}")
    return version_dir
