"""model.json: the network's and the run's record, its JSON round trip, and workdirs of
earlier versions."""

import json

import numpy as np
import pytest

from helpers import TINY
from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.errors import WorkdirError
from tf_alexnet.model.spec import LRN_PRESETS, AlexNetSpec, LRNParams
from tf_alexnet.workdir.info import (
    NetworkRecord,
    RunInfo,
    check_compatible,
    load_network,
    load_run_info,
    save_record,
)


def network(**spec):
    stats = Stats(mean_rgb=(1.0, 2.0, 3.0), mean_image=np.ones((76, 76, 3), np.float32))
    return NetworkRecord(
        AlexNetSpec.create(**{**TINY, **spec}),
        "towers",
        tuple("abcdefghij"),  # TINY's 10 classes
        Preprocessing(67, 76, "image", stats),
    )


def save(directory, record):
    save_record(directory, record, RunInfo("folder:/data"))


def test_json_round_trip_through_files(tmp_path):
    info = network(lrn="caffe")
    save(tmp_path, info)
    loaded = load_network(tmp_path)
    assert load_run_info(tmp_path).source == "folder:/data"
    assert loaded == info  # the mean image is compared below (arrays do not compare)
    assert loaded.spec.lrn == LRNParams(2, 1.0, 2e-5, 0.75) == LRN_PRESETS["caffe"]
    np.testing.assert_array_equal(loaded.preprocessing.stats.mean_image, 1.0)
    assert loaded.preprocessing.stats.mean_rgb == (1.0, 2.0, 3.0)


def test_model_json_of_version_0_1_still_loads(tmp_path):
    """model.json as 0.1 (commit 246ed8c) wrote it: LRN as sorted [key, value] pairs."""
    old = {
        "spec": {
            "num_classes": 10,
            "image_size": 67,
            "filters": [12, 32, 48, 48, 32],
            "fc_units": 64,
            "dropout": 0.5,
            "lrn": [["alpha", 0.0001], ["beta", 0.75], ["bias", 2.0], ["depth_radius", 2]],
        },
        "grouping": "towers",
        "class_names": list("abcdefghij"),
        "image_size": 67,
        "resize": 76,
        "mean": "image",
        "data": "folder:/data",
    }
    (tmp_path / "model.json").write_text(json.dumps(old))
    Stats(mean_rgb=(1.0, 2.0, 3.0), mean_image=np.ones((76, 76, 3))).save(tmp_path)
    assert load_network(tmp_path) == network()
    assert load_run_info(tmp_path).source == "folder:/data"


def test_resume_compatibility_names_what_differs():
    check_compatible(network(), network())
    with pytest.raises(WorkdirError, match="filters"):
        check_compatible(network(), network(width=0.25))
    with pytest.raises(WorkdirError, match="lrn"):
        check_compatible(network(), network(lrn="caffe"))


@pytest.mark.parametrize("name", ["model.json", "stats.json"])
def test_damaged_record_names_its_file(tmp_path, name):
    save(tmp_path, network())
    path = tmp_path / name
    path.write_text(path.read_text()[:20])  # cut off mid-file
    with pytest.raises(Exception, match=f"{path}: damaged, not valid JSON") as caught:
        load_network(tmp_path)
    assert isinstance(caught.value, ValueError)  # a one-line error for the commands


@pytest.mark.usefixtures("exact_float32")
def test_workdir_of_0_1_still_evaluates_and_exports(tmp_path):
    """A trained workdir whose model.json predates the paper's switches (activation,
    pooling), lrn_across_groups and resize_mode is the paper's network: evaluate and export
    take it, and the export computes what its checkpoint does."""
    import tensorflow as tf

    from helpers import clean_process_probabilities, last_json, random_images, run_cli, write_image
    from tf_alexnet.model.alexnet import build_from_spec
    from tf_alexnet.workdir.checkpoints import checkpoint_layers

    spec = AlexNetSpec.create(**TINY)
    model = build_from_spec(spec, "towers", None, seed=3)
    work = tmp_path / "old"
    tf.train.Checkpoint(model=model, layers=checkpoint_layers(model)).save(
        str(work / "checkpoints" / "ckpt")
    )
    classes = tuple(f"c{i}" for i in range(10))
    save_record(
        work,
        NetworkRecord(spec, "towers", classes, Preprocessing(67, 76, "none")),
        RunInfo("folder:x"),
    )
    record = json.loads((work / "model.json").read_text())
    for key in ("activation", "pooling", "lrn_across_groups"):
        del record["spec"][key]
    del record["resize_mode"]
    (work / "model.json").write_text(json.dumps(record))
    for i in range(2):
        write_image(tmp_path / "data" / f"c{i}" / "0.png", np.full((50, 70, 3), 90 * i, np.uint8))
    scored = last_json(
        run_cli(
            "evaluate",
            f"--workdir={work}",
            f"--data=folder:{tmp_path / 'data'}",
            "--split=all",
            "--json",
        )
    )
    assert scored["num_images"] == 2
    assert run_cli("export", f"--workdir={work}", f"--export_dir={tmp_path / 'm'}").returncode == 0
    x = random_images(2, 67)
    np.save(tmp_path / "x.npy", x)
    (got,) = clean_process_probabilities([(tmp_path / "m" / "1", tmp_path / "x.npy")])
    np.testing.assert_allclose(got, tf.nn.softmax(model(x, training=False)).numpy(), atol=1e-5)
