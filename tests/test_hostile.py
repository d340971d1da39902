"""Hostile but realistic use through the real commands: nothing lost, nothing silent.

Each test is one of the numbered points of the issue "Nothing lost, nothing silent"; every
expected failure must be one line naming the file or flag, with a non-zero exit. The
commands run in this process (their flags, main and error handling: tests/helpers.run_cli);
test_6 also runs them as processes, for the exit status and stderr a shell sees.
"""

import fcntl
import json
import os

import numpy as np
import pytest

from helpers import TINY_FLAGS, colour_classes, last_json, run_cli, run_module, write_image
from test_import_weights import assert_one_line, files  # noqa: F401  (a fixture)
from tf_alexnet.model import caffe_format

# One worker holds the shared colour run and its export (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("colour_run")


def last_line(result):
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = last_line(result)
    for word in words:
        assert word in line, (word, line)


def train(workdir, *extra):
    return run_cli("train", f"--workdir={workdir}", *TINY_FLAGS, "--eval_split=", *extra)


def ckpt(workdir, n, suffix=".index"):
    return workdir / "checkpoints" / f"ckpt-{n}{suffix}"


def data_file(workdir, n):
    return ckpt(workdir, n, ".data-00000-of-00001")


@pytest.fixture
def work(colour_run, tmp_path):
    """A copy of the shared colour run (checkpoints at steps 50, 100 and 150)."""
    import shutil

    target = tmp_path / "run"
    shutil.copytree(colour_run["run"], target)
    return target


def resume(work, steps, *extra):
    """The shared run's own command (its flags.txt) on `work`, to `steps`."""
    return run_cli(
        "train",
        f"--flagfile={work}/flags.txt",
        f"--workdir={work}",
        f"--train_steps={steps}",
        "--checkpoint_every_steps=10",
        "--eval_split=",
        "--keep_checkpoints=10",
        "--allow_changed_flags",
        *extra,
    )


def evaluate(work, *extra):
    return run_cli("evaluate", f"--workdir={work}", "--data=synthetic:shapes", "--json", *extra)


def test_1_missing_index_or_state_file_resumes_from_the_newest_good(work):
    before = data_file(work, 100).read_bytes()
    ckpt(work, 150).unlink()
    result = resume(work, 160)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ckpt-150 cannot be restored" in result.stderr
    assert "ckpt-100 at step 100" in result.stderr  # not from step 0
    assert (work / "checkpoints" / "unreadable" / data_file(work, 150).name).exists()
    assert data_file(work, 100).read_bytes() == before  # never rewritten
    (work / "checkpoints" / "checkpoint").unlink()  # the state file
    result = resume(work, 170)
    assert result.returncode == 0 and "ckpt-160 at step 160" in result.stderr


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_3_corrupt_latest_checkpoint_falls_back_in_train_and_evaluate(work, colour_run, damage):
    data = bytearray(data_file(work, 150).read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 3]
    else:  # flipped bytes all over: every tensor's checksum fails
        for i in range(100, len(data), 997):
            data[i] ^= 0xFF
    data_file(work, 150).write_bytes(bytes(data))
    scored = run_cli(
        "evaluate", f"--workdir={work}", f"--data=folder:{colour_run['data']}", "--json"
    )
    assert last_json(scored)["model"].endswith("ckpt-100")
    assert "ckpt-150 cannot be restored" in scored.stderr
    result = resume(work, 160)
    assert result.returncode == 0 and "ckpt-100 at step 100" in result.stderr


def test_1_no_restorable_checkpoint_stops_without_starting_over(work, colour_run):
    for n in (50, 100, 150):
        data_file(work, n).write_bytes(b"")
    result = resume(work, 160)
    assert_one_line_error(result, "none of 3 checkpoint(s) can be restored")
    assert not list((work / "checkpoints").glob("ckpt-160*"))
    assert len(list((work / "checkpoints").glob("ckpt-*.index"))) == 3  # all kept in place
    scored = run_cli("evaluate", f"--workdir={work}", f"--data=folder:{colour_run['data']}")
    assert_one_line_error(scored, "can be restored")
    again = resume(work, 160)  # a rerun does not start from 0 either
    assert_one_line_error(again, "can be restored")


def test_11_partial_save_is_cleaned_and_10_a_second_trainer_is_refused(work):
    (work / "checkpoints" / "ckpt-160_temp" / "part").mkdir(parents=True)
    with open(work / ".lock", "a+") as lock:  # another trainer holds the workdir
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.seek(0)
        lock.truncate()
        lock.write("4242\n")
        lock.flush()
        result = resume(work, 160)
        assert_one_line_error(result, str(work), "in use by another trainer", "4242")
        fcntl.flock(lock, fcntl.LOCK_UN)
    result = resume(work, 160)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (work / "checkpoints" / "ckpt-160_temp").exists()


def test_12_a_full_disk_during_a_save_names_the_checkpoint_and_the_cause(tmp_path):
    """The workdir on a 200 KB tmpfs: the first save fills it. The line names the
    checkpoint, the file and "No space left on device" (it was the class name only)."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"mounting a small tmpfs needs root: {mounted.stderr.strip()}")
    try:
        result = run_cli(
            "train",
            f"--workdir={disk}/w",
            *TINY_FLAGS,
            "--eval_split=",
            "--train_steps=4",
            "--checkpoint_every_steps=2",
            "--width=0.5",
            "--fc_units=256",
        )
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)
    assert_one_line_error(
        result,
        f"{disk}/w/checkpoints/ckpt-2: the checkpoint could not be saved",
        "ckpt-2_temp",
        "No space left on device",
        "last good checkpoint is none",
    )
    assert "function_node" not in last_line(result)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    folder = colour_classes(root / "colours", ["blue", "green", "red"], per_class=20)
    out = root / "out"
    result = run_cli(
        "prepare",
        f"--data=folder:{folder}",
        f"--output={out}",
        "--image_size=67",
        "--validation_fraction=0.25",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_2_truncated_shards_are_named_and_counted(shards, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(shards, out)
    (train_shard,) = out.glob("train-*.tfrecord")
    (val_shard,) = out.glob("validation-*.tfrecord")
    announced = int((out / "validation.count").read_text())
    os.truncate(train_shard, train_shard.stat().st_size // 2)
    os.truncate(val_shard, val_shard.stat().st_size // 2)
    spec = f"--data=tfrecord:{out}"
    result = run_cli(
        "train",
        f"--workdir={tmp_path}/w",
        *TINY_FLAGS,
        spec,
        "--train_steps=2",
        "--on_bad_image=fail",
    )
    assert_one_line_error(result, train_shard.name, "ends early: read")
    result = run_cli("train", f"--workdir={tmp_path}/w", *TINY_FLAGS, spec, "--train_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{train_shard.name} ends early: read" in result.stderr
    scored = run_cli("evaluate", f"--workdir={tmp_path}/w", spec, "--json")
    assert scored.returncode == 0, scored.stderr[-3000:]
    out_json = json.loads(scored.stdout.strip().splitlines()[-1])
    assert out_json["num_images"] < announced == out_json["expected_images"]
    assert f"of the {announced} images" in scored.stderr
    strict = run_cli("evaluate", f"--workdir={tmp_path}/w", spec, "--on_bad_image=fail")
    assert_one_line_error(strict, val_shard.name, "ends early: read")


def garble(path):
    """Breaks a JPEG's headers, keeping its start and end markers: the listing check passes
    it, the decoder refuses it."""
    data = bytearray(path.read_bytes())
    data[2:20] = b"\x00" * 18
    path.write_bytes(bytes(data))


def test_4_fail_mode_names_the_file_that_does_not_decode(tmp_path):
    folder = colour_classes(tmp_path / "c", ["blue", "red"], per_class=6)
    bad = write_image(
        folder / "red" / "zz.jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3))
    )
    garble(tmp_path / "c" / "red" / "zz.jpg")
    result = run_cli(
        "train",
        f"--workdir={tmp_path}/w",
        *TINY_FLAGS,
        f"--data=folder:{folder}",
        "--train_steps=3",
        "--batch_size=4",
        "--validation_fraction=0.5",
        "--on_bad_image=fail",
    )
    assert_one_line_error(result, str(bad))


def test_5_damaged_models_are_one_line_in_predict(exported, tmp_path):
    """(Point 8, --overwrite replacing a version's TFLite files too, is in test_export.)"""
    import shutil

    base = tmp_path / "m"
    shutil.copytree(exported["base"], base)
    image = write_image(tmp_path / "x.png", np.zeros((8, 8, 3)))
    model = base / "1_float32.tflite"
    shutil.copy(model.with_name(model.name + ".json"), base / "2_float32.tflite.json")
    (base / "2_float32.tflite").write_bytes(os.urandom(3000))
    os.truncate(model, model.stat().st_size // 2)
    for damaged in (model, base / "2_float32.tflite"):
        assert_one_line_error(
            run_cli("predict", f"--model={damaged}", image), str(damaged), "cannot be loaded"
        )
    (variables,) = (base / "1" / "variables").glob("*.data-*")
    os.truncate(variables, variables.stat().st_size // 2)
    assert_one_line_error(
        run_cli("predict", f"--model={base / '1'}", image), str(base / "1"), "cannot be loaded"
    )


def test_6_bad_paths_and_numbers_are_one_line(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_one_line_error(train(a_file, "--train_steps=1"), str(a_file))
    assert_one_line_error(train("/proc/tf_alexnet_run", "--train_steps=1"), "/proc")
    assert_one_line_error(
        run_cli("prepare", "--data=synthetic:shapes", f"--output={a_file}"), str(a_file)
    )
    assert_one_line_error(train(tmp_path / "w", "--epochs=inf"), "--epochs", "finite")
    assert_one_line_error(train(tmp_path / "w", "--pca_sigma=nan"), "--pca_sigma")
    assert_one_line_error(train(tmp_path / "w", "--width=0"), "--width")
    assert_one_line_error(train(tmp_path / "w", "--lr_factor=2"), "--lr_factor", "(0, 1]")
    # As a process: exit status 1 and that one line last on stderr, no traceback.
    process = run_module("train", f"--workdir={a_file}", *TINY_FLAGS, "--train_steps=1")
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines()[-1].startswith(f"train: {a_file}")


@pytest.mark.parametrize("name", ["model.json", "stats.json"])
def test_13_a_damaged_record_is_one_line_naming_it(work, name):
    path = work / name
    path.write_text(path.read_text()[:25])
    assert_one_line_error(evaluate(work), f"evaluate: {path}: damaged, not valid JSON")
    assert_one_line_error(resume(work, 160), f"train: {path}: damaged")


def test_14_a_second_prepare_into_the_same_directory_is_refused(tmp_path):
    folder = colour_classes(tmp_path / "c", ["blue", "red"], per_class=4)
    out = tmp_path / "o"
    out.mkdir()
    with open(out / ".lock", "a+") as lock:  # a first prepare run is writing
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4343\n")
        lock.flush()
        result = run_cli(
            "prepare",
            f"--data=folder:{folder}",
            f"--output={out}",
            "--image_size=67",
            "--splits=all",
        )
        assert_one_line_error(result, str(out), "in use by another prepare run", "4343")
    assert not list(out.glob("*.tfrecord*"))
    assert (
        last_json(
            run_cli(
                "prepare",
                f"--data=folder:{folder}",
                f"--output={out}",
                "--image_size=67",
                "--splits=all",
            )
        )["num_images"]
        == 8
    )


def test_7_hidden_folders_are_not_classes_and_one_class_is_refused(tmp_path):
    folder = colour_classes(tmp_path / "c", ["blue", "red"], per_class=6)
    colour_classes(folder / ".thumbs", ["green"], per_class=2)
    write_image(folder / ".thumbs" / "t.png", np.zeros((8, 8, 3)))
    from tf_alexnet.config import EvalDataConfig, SourceConfig
    from tf_alexnet.data.pipeline import eval_dataset
    from tf_alexnet.data.stats import Preprocessing

    _, info = eval_dataset(
        SourceConfig(source=f"folder:{folder}"), EvalDataConfig(), "all", Preprocessing(67, 76)
    )
    assert info.class_names == ("blue", "red")
    one = colour_classes(tmp_path / "one", ["red"], per_class=6)
    result = run_cli(
        "train",
        f"--workdir={tmp_path}/w",
        *TINY_FLAGS,
        f"--data=folder:{one}",
        "--train_steps=1",
        "--split=all",
    )
    assert_one_line_error(result, "at least 2")


def test_9_pixel_limit_from_the_header_before_decoding(tmp_path):
    folder = colour_classes(tmp_path / "c", ["blue", "red"], per_class=4)  # 40x40 = 1,600
    write_image(folder / "red" / "big.png", np.zeros((100, 100, 3)))  # 10,000 pixels
    result = run_cli(
        "prepare",
        f"--data=folder:{folder}",
        f"--output={tmp_path}/o",
        "--splits=all",
        "--image_size=67",
        "--max_megapixels=0.005",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = (tmp_path / "o" / "bad_files.txt").read_text()
    assert "big.png" in listed and "megapixels" in listed
    assert int((tmp_path / "o" / "all.count").read_text()) == 8
    result = run_cli(
        "prepare",
        f"--data=folder:{folder}",
        f"--output={tmp_path}/f",
        "--splits=all",
        "--image_size=67",
        "--max_megapixels=0.005",
        "--on_bad_image=fail",
    )
    assert_one_line_error(result, "big.png", "megapixels")


def test_11_bad_files_listed_once_and_under_their_own_split(tmp_path):
    folder = colour_classes(tmp_path / "c", ["blue", "red"], per_class=10)
    (folder / "red" / "empty.jpg").write_bytes(b"")
    result = run_cli(
        "prepare", f"--data=folder:{folder}", f"--output={tmp_path}/o", "--image_size=67"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = (tmp_path / "o" / "bad_files.txt").read_text().splitlines()
    assert len(listed) == 1 and "empty.jpg" in listed[0]
    from tf_alexnet.data.folder import in_validation

    split = (
        "validation"
        if in_validation(str(folder / "red" / "empty.jpg"), str(folder), 0.1)
        else "train"
    )
    result = train(
        tmp_path / "w",
        f"--data=folder:{folder}",
        "--train_steps=1",
        "--eval_split=validation",
        "--eval_examples=0",
    )
    notes = [l for l in result.stderr.splitlines() if "bad image(s) left out" in l]
    assert len(notes) == 1 and f"split {split!r}" in notes[0], notes


class _RunsACommand:
    """What a malicious weights file holds: unpickling it calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_weights_file_that_would_run_code_is_refused_before_anything_runs(tmp_path):
    import pickle

    marker = tmp_path / "it_ran"
    npy, bare = tmp_path / "bvlc_alexnet.npy", tmp_path / "bare.npy"
    np.save(npy, np.array({"conv1": [_RunsACommand(marker)]}, dtype=object), allow_pickle=True)
    bare.write_bytes(pickle.dumps({"conv1": _RunsACommand(marker)}, protocol=2))
    for path in (npy, bare):
        result = run_cli("import_weights", f"--npy={path}", f"--workdir={tmp_path / 'w'}")
        assert_one_line_error(
            result, str(path), "refused", f"{os.system.__module__}.system", "nothing of it was run"
        )
    assert not marker.exists() and not (tmp_path / "w").exists()


@pytest.fixture(scope="module")
def raw_shards(tmp_path_factory):
    """Raw shards of 60 colour photos: 256x256 squares (the default) and 76x76 ones."""
    root = tmp_path_factory.mktemp("raw")
    folder = colour_classes(root / "colours", ["blue", "green", "red"], per_class=20)
    for name, size in (("s256", []), ("s76", ["--image_size=67"])):
        result = run_cli(
            "prepare",
            f"--data=folder:{folder}",
            f"--output={root / name}",
            "--format=raw",
            "--validation_fraction=0.25",
            *size,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_shards_of_another_square_size_are_refused_naming_both_sizes(raw_shards):
    result = train(raw_shards / "w", f"--data=tfrecord:{raw_shards / 's256'}", "--train_steps=2")
    assert_one_line_error(
        result,
        f"tfrecord:{raw_shards / 's256'} holds 256x256 squares",
        "this run needs 76x76",
        "--resize_size 76",
    )
    assert not (raw_shards / "w" / "checkpoints").exists()


def test_a_format_json_that_disagrees_with_the_shards_is_named(raw_shards, tmp_path):
    import shutil

    out = tmp_path / "s76"
    shutil.copytree(raw_shards / "s76", out)
    form = json.loads((out / "format.json").read_text())
    (out / "format.json").write_text(json.dumps(dict(form, size=75)))
    result = train(
        tmp_path / "w",
        f"--data=tfrecord:{out}",
        "--train_steps=2",
        "--resize_size=75",
        "--image_size=67",
    )
    assert_one_line_error(result, "format.json says 75x75 squares", "of 76x76", "train-")


def test_a_raw_shard_with_an_extra_record_is_said_so(raw_shards, tmp_path):
    import shutil

    out = tmp_path / "s76"
    shutil.copytree(raw_shards / "s76", out)
    (shard,) = out.glob("train-*.raw")
    record = 76 * 76 * 3 + 4
    count = shard.stat().st_size // record
    with open(shard, "ab") as f:
        f.write(shard.read_bytes()[:record])
    result = train(tmp_path / "w", f"--data=tfrecord:{out}", "--train_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"holds {count + 1} records, 1 more than the {count} prepare wrote" in result.stderr


def test_tensorflow_errors_keep_their_cause_in_the_one_line():
    import tensorflow as tf

    from tf_alexnet.errors import describe

    with pytest.raises(tf.errors.InvalidArgumentError) as eager:
        tf.reshape(tf.zeros([3]), [2])
    assert describe(eager.value) == (
        "Input to reshape is a tensor with 3 values, but the requested shape has 2 (op Reshape)"
    )

    @tf.function
    def traced(x):
        return tf.reshape(x, [2])

    with pytest.raises(ValueError) as tracing:
        traced(tf.zeros([3]))
    line = describe(tracing.value)
    assert "in user code" not in line and "Cannot reshape a tensor with 3 elements" in line
    oom = tf.errors.ResourceExhaustedError(
        None,
        None,
        (
            "{{function_node __wrapped__Fill_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
            " OOM when allocating tensor with shape[1,100000,100000,3] and type float [Op:Fill]"
        ),
    )
    assert describe(oom) == (
        "OOM when allocating tensor with shape[1,100000,100000,3] and type float (op Fill)"
    )


@pytest.mark.parametrize(
    "value, words",
    [
        ("inf", "--step_epochs must be a finite number, not inf"),
        ("nan", "--step_epochs must be a finite number, not nan"),
        ("25,abc", "--step_epochs: 'abc' is not a number"),
        ("-1", "--step_epochs must be >= 0"),
    ],
)
def test_each_item_of_a_list_flag_is_checked_and_the_flag_named(value, words, tmp_path):
    assert_one_line_error(train(tmp_path / "w", f"--step_epochs={value}"), words)


def test_a_list_flag_of_integers_names_the_flag(tmp_path):
    assert_one_line_error(
        train(tmp_path / "w", "--profile_steps=a,b"), "--profile_steps: 'a' is not an integer"
    )


def test_an_ensemble_naming_a_run_twice_is_refused(colour_run):
    run = colour_run["run"]
    assert_one_line_error(
        run_cli("evaluate", f"--workdir={run},{run}/", "--json"), "names", "twice", "each run once"
    )


def test_tower_devices_that_do_not_exist_are_named_and_the_default_used(tmp_path):
    result = train(
        tmp_path / "w", "--train_steps=1", "--grouping=towers", "--tower_devices=/GPU:0,/GPU:7"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "--tower_devices /GPU:0,/GPU:7: this machine has no /GPU:0, /GPU:7" in result.stderr
    ) and "both towers run on the default device" in result.stderr


def test_labels_out_of_range_are_bad_records_named_by_shard_and_index(raw_shards, tmp_path):
    import shutil

    out = tmp_path / "s76"
    shutil.copytree(raw_shards / "s76", out)
    record = 76 * 76 * 3 + 4
    (train_shard,) = out.glob("train-*.raw")
    (val_shard,) = out.glob("validation-*.raw")
    announced = int((out / "validation.count").read_text())
    for shard, index, label in ((train_shard, 3, -1), (val_shard, 1, 7)):
        with open(shard, "r+b") as f:
            f.seek(index * record + record - 4)
            f.write(np.int32(label).tobytes())
    spec = f"--data=tfrecord:{out}"
    failed = train(
        tmp_path / "a", spec, "--train_steps=8", "--on_bad_image=fail", "--min_epoch_steps=0"
    )
    assert_one_line_error(failed, f"{train_shard}: record 3 has label -1, outside 0..2")
    # skip: trained without it (a warning naming it); evaluation leaves it out, never
    # scoring it as another class.
    skipped = train(tmp_path / "b", spec, "--train_steps=8", "--min_epoch_steps=0")
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert f"{train_shard}: record 3 has label -1, outside 0..2" in skipped.stderr
    scored = last_json(run_cli("evaluate", f"--workdir={tmp_path / 'b'}", spec, "--json"))
    assert scored["num_images"] == announced - 1
    assert_one_line_error(
        run_cli("evaluate", f"--workdir={tmp_path / 'b'}", spec, "--on_bad_image=fail"),
        f"{val_shard}: record 1 has label 7, outside 0..2",
    )


def _cut_experiment(tmp_path):
    from tf_alexnet.config import SourceConfig
    from tf_alexnet.command_configs import ExperimentConfig

    return ExperimentConfig(
        source=SourceConfig(source="synthetic:shapes", synthetic_examples=64),
        root=str(tmp_path / "claims"),
        train_steps=2,
    )


def test_experiment_names_the_run_that_failed_and_sums_its_training_time(tmp_path, monkeypatch):
    import time

    from tf_alexnet.errors import NonFiniteLoss, WorkdirError
    from tf_alexnet.experiment import runner

    calls = []

    def train(config):  # stopped by a signal once, then diverging
        calls.append(config.workdir)
        time.sleep(0.3)
        if len(calls) == 1:
            return {"stopped_at": 1}
        raise NonFiniteLoss("Loss became non-finite between steps 1 and 2; stopped.")

    monkeypatch.setattr(runner, "train", train)
    config = _cut_experiment(tmp_path)
    first = f"{config.root}/baseline/seed0"
    with pytest.raises(WorkdirError) as failed:
        runner.run_all(config, ["lrn"])
    assert str(failed.value).startswith(f"run baseline seed 0 ({first}): ")
    assert "stopped at step 1" in str(failed.value)
    # A run whose loss goes non-finite is a result (at chance error, named), not a stop.
    results = runner.run_all(config, ["lrn"])
    assert all(
        "non-finite" in r["diverged"] for arm in ("baseline", "lrn_none") for r in results[arm]
    )
    spent = json.loads((tmp_path / "claims" / "baseline" / "seed0" / runner.SPENT_JSON).read_text())
    assert spent["seconds"] >= 0.6  # both processes' time
    assert results["baseline"][0]["seconds"] >= 0.6


def test_experiment_stopped_between_runs_says_so(tmp_path, monkeypatch):
    import signal

    from tf_alexnet.experiment import runner

    monkeypatch.setattr(
        runner, "run_one", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM) or time_out()
    )
    previous = signal.getsignal(signal.SIGTERM)
    try:
        result = run_cli(
            "experiment", "lrn", "--data=synthetic:shapes", f"--root={tmp_path}", "--train_steps=2"
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert_one_line_error(result, "stopped by SIGTERM between runs", "rerun the same command")


def time_out():
    import time

    time.sleep(5)  # the signal arrives first
    raise AssertionError("SIGTERM was not handled")


def test_prepare_verify_names_the_damaged_shard_and_record(raw_shards, tmp_path):
    import shutil

    out = tmp_path / "s76"
    shutil.copytree(raw_shards / "s76", out)
    ok = run_cli("prepare", f"--verify={out}")
    assert ok.returncode == 0 and "2 shard(s) checked, 0 damaged" in ok.stdout
    (shard,) = out.glob("train-*.raw")
    record = 76 * 76 * 3 + 4
    data = bytearray(shard.read_bytes())
    for i in range(1000):  # 1,000 flipped bytes in record 5 and after
        data[5 * record + 7 * i] ^= 0xFF
    shard.write_bytes(bytes(data))
    (val,) = out.glob("validation-*.raw")
    with open(val, "ab") as f:
        f.write(val.read_bytes()[:record])
    damaged = run_cli("prepare", f"--verify={out}")
    assert damaged.returncode == 1
    lines = damaged.stdout.strip().splitlines()
    assert f"{shard}: record 5 differs from what prepare wrote" in lines
    assert any(line.startswith(f"{val}: holds ") and "1 more than" in line for line in lines)


def test_readers_of_a_live_run_restore_its_newest_checkpoint(tmp_path):
    """A real trainer saving every step and keeping one checkpoint, and evaluate, export,
    predict and report reading the workdir meanwhile: each reads a checkpoint that restores,
    and none gives the trainer's "move the checkpoints away" advice."""
    import subprocess
    import sys
    import time

    from conftest import ROOT

    workdir = tmp_path / "live"
    trainer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tf_alexnet.train",
            f"--workdir={workdir}",
            *TINY_FLAGS,
            "--eval_split=",
            "--train_steps=100000",
            "--checkpoint_every_steps=1",
            "--keep_checkpoints=1",
            "--log_every_steps=1000",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while not list((workdir / "checkpoints").glob("ckpt-*.index")):
            assert time.time() < deadline and trainer.poll() is None, trainer.stderr.read()
            time.sleep(0.2)
        results = [run_cli("evaluate", f"--workdir={workdir}", "--json") for _ in range(8)]
        results.append(
            run_cli("export", f"--workdir={workdir}", f"--export_dir={tmp_path / 'export'}")
        )
        assert trainer.poll() is None  # the trainer was running all along
    finally:
        trainer.terminate()
        try:
            trainer.wait(timeout=60)
        except subprocess.TimeoutExpired:  # never leave a trainer behind
            trainer.kill()
            raise
    steps = []
    for result in results:
        assert result.returncode == 0, result.stderr[:600]
        assert "Move the checkpoints away" not in result.stderr
    for result in results[:-1]:
        steps.append(int(last_json(result)["model"].rsplit("ckpt-", 1)[1]))
    assert steps == sorted(steps) and steps[-1] > steps[0]  # newer checkpoints each time


def test_a_format_json_that_disagrees_with_jpeg_shards_is_named(shards, tmp_path):
    """Else every record fails its decode and a skipping pipeline waits forever."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(shards, out)
    form = json.loads((out / "format.json").read_text())
    (out / "format.json").write_text(json.dumps(dict(form, size=75)))
    result = train(tmp_path / "w", f"--data=tfrecord:{out}", "--train_steps=2", "--resize_size=75")
    assert_one_line_error(result, "format.json says 75x75 squares", "holds 76x76 JPEGs")


def test_non_finite_weights_or_means_and_odd_filter_counts_are_refused(files, tmp_path):
    root, blobs = files
    nan = dict(blobs, conv3=[blobs["conv3"][0].copy(), blobs["conv3"][1]])
    nan["conv3"][0][0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "nan.caffemodel"
    path.write_bytes(caffe_format.write_net(nan))
    assert_one_line(
        run_cli("import_weights", f"--caffemodel={path}", f"--workdir={tmp_path}/a"),
        str(path),
        "conv3 weights: 3 of",
        "values are NaN or infinite; refused",
    )
    mean = caffe_format.BlobProto(num=1, channels=3, height=2, width=2)
    mean.data.extend([1.0] * 11 + [float("nan")])
    bad_mean = tmp_path / "nan.binaryproto"
    bad_mean.write_bytes(mean.SerializeToString())
    assert_one_line(
        run_cli(
            "import_weights",
            f"--caffemodel={root / 'net.caffemodel'}",
            f"--mean_file={bad_mean}",
            f"--workdir={tmp_path}/b",
        ),
        str(bad_mean),
        "the mean image: 1 of 12 values are NaN or infinite; refused",
    )
    odd = dict(blobs, conv1=[blobs["conv1"][0][:11], blobs["conv1"][1][:11]])
    path = tmp_path / "odd.caffemodel"
    path.write_bytes(caffe_format.write_net(odd))
    assert_one_line(
        run_cli("import_weights", f"--caffemodel={path}", f"--workdir={tmp_path}/c"),
        str(path),
        "conv1 11",
        "even filter counts",
    )
    assert not any((tmp_path / w).exists() for w in "abc")
