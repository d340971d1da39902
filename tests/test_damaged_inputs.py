"""Damaged, hostile and odd inputs at every entry: model files, numbers, the package's own
records, the files they describe, concurrent writers and odd paths.

Each kind ends in one line (a command's last stderr line, exit status 1) or one exception
message naming the file or argument and the cause; nothing is lost or silently wrong.
docs/errors.md lists each kind with its line.
"""

import json
import shutil
import threading
import zipfile

import h5py
import keras
import numpy as np
import pytest

import tf_alexnet
from helpers import colour_classes, run_cli
from tf_alexnet import validation
from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.experiment import runner
from tf_alexnet.train.optim import LearningRate, PaperSGD

pytestmark = pytest.mark.xdist_group("colour_run")  # the shared run (tests/conftest.py)


def assert_one_line(result, *words):
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in line, (word, line)


def raises_one_line(error, call, *words):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, (word, message)
    return message


def small_net(mean_image=True, seed=1):
    stats = Stats(mean_image=np.full((76, 76, 3), 100.0, np.float32)) if mean_image else Stats()
    return tf_alexnet.AlexNet(
        3,
        67,
        width=0.25,
        fc_units=16,
        init="he",
        seed=seed,
        preprocessing=Preprocessing(67, 76, "image" if mean_image else "channel", stats),
    )


def edited_keras(src, dst, config=None, weights=None):
    """A copy of the .keras `src` with its config.json edited by `config(dict)` and its
    weights file by `weights(h5py.File)`."""
    with zipfile.ZipFile(src) as z:
        files = {name: z.read(name) for name in z.namelist()}
    if config:
        files["config.json"] = json.dumps(config(json.loads(files["config.json"]))).encode()
    if weights:
        h5 = dst.with_suffix(".h5")
        h5.write_bytes(files["model.weights.h5"])
        with h5py.File(h5, "r+") as f:
            weights(f)
        files["model.weights.h5"] = h5.read_bytes()
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return dst


# Model files: a loaded config never opens another path; numbers are finite.


def test_a_keras_config_naming_weights_is_refused_and_opens_nothing(tmp_path, monkeypatch):
    small_net().save(tmp_path / "m.keras")
    opened = []
    from tf_alexnet.model import pretrained

    monkeypatch.setattr(pretrained, "read_pretrained", lambda *a: opened.append(a))
    for target in ("/etc/passwd", str(tmp_path / "self.keras")):

        def point(config, target=target):
            config["config"]["weights"] = target
            return config

        path = edited_keras(tmp_path / "m.keras", tmp_path / "self.keras", config=point)
        raises_one_line(
            ValueError,
            lambda: keras.models.load_model(path),
            f"names weights={target!r}",
            "may not point the loader at another file",
        )
    assert opened == []


def test_nan_in_a_keras_file_is_refused_naming_the_tensor(tmp_path):
    small_net().save(tmp_path / "m.keras")

    def nan_mean(f):
        f["preprocessor/vars/0"][...] = np.nan

    def inf_kernel(f):
        data = f["layers/dense/vars/0"][()]
        data[0, 0] = np.inf
        f["layers/dense/vars/0"][...] = data

    for name, edit, words in (
        ("mean.keras", nan_mean, ["mean image", "17328 of 17328 values are NaN or infinite"]),
        ("kernel.keras", inf_kernel, ["fc6/kernel", "1 of", "NaN or infinite"]),
    ):
        path = edited_keras(tmp_path / "m.keras", tmp_path / name, weights=edit)
        raises_one_line(ValueError, lambda: keras.models.load_model(path), *words)
        message = raises_one_line(ValueError, lambda: tf_alexnet.AlexNet(weights=str(path)), *words)
        assert message.startswith(f"weights={path}: ") and "\n" not in message


def test_weights_h5_files_users_have(tmp_path):
    model = small_net()
    model.save_weights(tmp_path / "m.weights.h5")
    loaded = tf_alexnet.AlexNet(weights=str(tmp_path / "m.weights.h5"))  # its mean image too
    x = np.random.default_rng(0).uniform(-50, 50, (2, 67, 67, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(
        loaded.preprocessing.stats.mean_image, model.preprocessing.stats.mean_image
    )
    photo = np.random.default_rng(1).integers(0, 255, (90, 120, 3), np.uint8)
    np.testing.assert_allclose(
        tf_alexnet.preprocess_input(photo, loaded), tf_alexnet.preprocess_input(photo, model)
    )
    nan = tmp_path / "nan.weights.h5"
    shutil.copy(tmp_path / "m.weights.h5", nan)
    with h5py.File(nan, "r+") as f:
        f["layers/dense/vars/0"][...] = np.nan
    raises_one_line(
        ValueError,
        lambda: tf_alexnet.AlexNet(weights=str(nan)),
        f"weights={nan}: layers/dense/vars/0",
        "NaN or infinite",
    )
    with pytest.raises(ValueError, match="fc6/kernel: 1024 of 1024 values are NaN"):
        small_net().load_weights(nan)  # Keras' own loading: the same check
    empty, cut = tmp_path / "empty.weights.h5", tmp_path / "cut.weights.h5"
    empty.write_bytes(b"")
    cut.write_bytes((tmp_path / "m.weights.h5").read_bytes()[:5000])
    for path in (empty, cut):
        raises_one_line(
            ValueError, lambda: tf_alexnet.AlexNet(weights=str(path)), f"weights={path}: not a "
        )


def test_empty_or_random_keras_files_are_named(tmp_path):
    empty, noise = tmp_path / "empty.keras", tmp_path / "noise.keras"
    empty.write_bytes(b"")
    noise.write_bytes(np.random.default_rng(0).bytes(1000))
    for path, size in ((empty, 0), (noise, 1000)):
        raises_one_line(
            ValueError,
            lambda: tf_alexnet.AlexNet(weights=str(path)),
            f"weights={path}: not a .keras file",
            f"{size} bytes",
        )


def test_a_workdir_with_a_nan_mean_image_is_refused_by_evaluate_and_export(colour_run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(colour_run["run"], work)
    np.save(work / "mean_image.npy", np.full((76, 76, 3), np.nan, np.float32))
    for command, extra in (
        ("evaluate", [f"--data=folder:{colour_run['data']}"]),
        ("export", [f"--export_dir={tmp_path}/export"]),
    ):
        assert_one_line(
            run_cli(command, f"--workdir={work}", *extra),
            f"{work}/mean_image.npy: the mean image: 17328 of 17328 values are NaN",
        )
    assert not (tmp_path / "export" / "1").exists()


# Numbers and arrays handed to the Python API: one-line ValueErrors.


@pytest.mark.parametrize(
    "images, words",
    [
        (np.zeros((50, 50)), ["images of shape [50, 50]", "[N, H, W, 3]"]),
        (np.zeros((50, 50, 4)), ["images: shape [50, 50, 4], expected [H, W, 3]"]),
        (np.zeros((1, 1, 50, 50, 3)), ["images of shape [1, 1, 50, 50, 3]"]),
        (np.zeros((0, 50, 50, 3)), ["none given"]),
        ([], ["none given"]),
        ([np.zeros((0, 5, 3))], ["images[0]: an empty image"]),
        (np.full((2, 9, 9, 3), np.nan), ["images[0]: 243 of 243 values are NaN or infinite"]),
        (np.array([["a"]]), ["images of shape [1, 1]"]),
    ],
)
def test_preprocess_input_refuses_what_is_not_photos(images, words):
    message = raises_one_line(ValueError, lambda: tf_alexnet.preprocess_input(images), *words)
    assert "\n" not in message


def test_decode_predictions_refuses_non_finite_outputs():
    for bad in (np.nan, np.inf):
        outputs = np.zeros((2, 1000), np.float32)
        outputs[1, 7] = bad
        raises_one_line(
            ValueError,
            lambda: tf_alexnet.decode_predictions(outputs),
            "outputs: 1 of 2000 values are NaN or infinite",
        )


def test_the_optimizer_and_schedule_take_the_flags_ranges(tmp_path):
    cases = [  # (the call, its words; the flag, the command line's words)
        (lambda: PaperSGD(momentum=1.5), "must be in [0, 1)", "--momentum=1.5", "in [0, 1)"),
        (lambda: PaperSGD(momentum=float("nan")), "a finite number", "--momentum=nan", "finite"),
        (lambda: PaperSGD(decay=-1.0), "must be >= 0", "--weight_decay=-1", ">= 0"),
        (lambda: PaperSGD(learning_rate=0.0), "must be > 0", "--learning_rate=0", "> 0"),
        (
            lambda: LearningRate("cosine", float("nan"), 10),
            "a finite number",
            "--learning_rate=nan",
            "finite",
        ),
        (lambda: LearningRate("step", 0.1, 10, factor=2.0), "in (0, 1]", "--lr_factor=2", "(0, 1]"),
    ]
    for call, words, flag, cli_words in cases:
        name = flag.split("=")[0]
        message = raises_one_line(ValueError, call, words, f"(as {name})")
        assert "\n" not in message
        # The command line refuses the same value by the same declared range.
        result = run_cli("train", f"--workdir={tmp_path}/w", "--data=synthetic:shapes", flag)
        assert_one_line(result, name, cli_words)
    with pytest.raises(ValueError, match="total_steps=-1 must be an integer >= 0"):
        LearningRate("cosine", 0.1, -1)
    assert not (tmp_path / "w").exists()


# The package's own records: a schema check on read, one line naming file and field.


def test_record_schemas_name_the_file_and_the_field(tmp_path):
    path = tmp_path / "result.json"
    good = dict(
        arm="baseline",
        seed=0,
        workdir="w",
        top1_error=0.25,
        train_scored_top1_error=0.1,
        seconds=3.0,
        curves=dict(train=[[1, 0.5]], heldout=[[1.0, 0.4]]),
    )
    cases = [
        ("{}", "it has no 'arm' entry"),
        ("[]", "its content is [], expected an object"),
        (json.dumps(dict(good, top1_error="0.3")), 'top1_error is "0.3", expected a number'),
        (json.dumps(dict(good, curves=dict(train=[], heldout=[[1]]))), "curves.heldout[0] is"),
        ("{not json", "damaged, not valid JSON"),
        (b"\xff\xfe\x00garbage", "not text (not UTF-8)"),
    ]
    for content, words in cases:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        raises_one_line(
            tf_alexnet.errors.WorkdirError,
            lambda: validation.read_record(
                path, runner.RESULT_SCHEMA, tf_alexnet.errors.WorkdirError
            ),
            f"{path}: damaged",
            words,
        )
    path.write_text(json.dumps(good))
    assert validation.read_record(path, runner.RESULT_SCHEMA) == good


def damaged_model_json(work, edit):
    record = json.loads((work / "model.json").read_text())
    (work / "model.json").write_text(json.dumps(edit(record)))


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda r: [r], "its content is"),
        (lambda r: {k: v for k, v in r.items() if k != "spec"}, "it has no 'spec' entry"),
        (lambda r: dict(r, class_names=5), "class_names is 5, expected a list of strings"),
        (lambda r: dict(r, class_names=["a"]), "1 class_names for spec.num_classes 3"),
        (lambda r: dict(r, spec=dict(r["spec"], filters=[8, "x"])), "spec.filters is"),
    ],
)
def test_a_damaged_model_json_is_one_line(colour_run, tmp_path, edit, words):
    work = tmp_path / "run"
    shutil.copytree(colour_run["run"], work)
    damaged_model_json(work, edit)
    assert_one_line(
        run_cli("evaluate", f"--workdir={work}", f"--data=folder:{colour_run['data']}"),
        f"{work}/model.json: damaged",
        words,
    )


def test_a_damaged_flags_txt_is_named(colour_run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(colour_run["run"], work)
    (work / "flags.txt").write_bytes(np.random.default_rng(0).bytes(300) + b"\xff")
    result = run_cli("train", f"--workdir={work}", *colour_run["flags"], "--train_steps=160")
    assert_one_line(result, f"{work}/flags.txt: damaged: not text")


def test_a_truncated_event_file_still_gives_a_report(colour_run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(colour_run["run"], work)
    (events,) = (work / "train").glob("events.out.tfevents.*")
    events.write_bytes(events.read_bytes()[:-7])
    result = run_cli(
        "report", f"--workdir={work}", f"--output={tmp_path}/report", "--max_train_images=20"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "report" / "index.html").exists()
    assert f"{events}: damaged or cut short after" in result.stderr


# Derived files against what they describe.


def test_a_sidecar_that_does_not_describe_its_tflite_is_refused(exported, tmp_path):
    source = exported["base"] / "1_float32.tflite"
    sidecar = json.loads(source.with_suffix(".tflite.json").read_text())
    image = exported["images"][0]
    cases = [
        ([sidecar], "its content is"),
        ({k: v for k, v in sidecar.items() if k != "spec"}, "it has no 'spec' entry"),
        (dict(sidecar, class_names=5), "class_names is 5"),
        (
            dict(sidecar, class_names=["a", "b"], spec=dict(sidecar["spec"], num_classes=2)),
            "3 display_names for 2 classes",
        ),
        (
            dict(
                sidecar,
                class_names=["a", "b"],
                display_names=["a", "b"],
                spec=dict(sidecar["spec"], num_classes=2),
            ),
            "it says 76x76 squares and 2 classes, the .tflite takes 76x76 and gives 3",
        ),
        (
            dict(
                sidecar,
                class_names=list("abcdefghi"),
                display_names=list("abcdefghi"),
                spec=dict(sidecar["spec"], num_classes=9),
            ),
            "and 9 classes",
        ),
        (
            dict(sidecar, resize=100),
            "it says 100x100 squares and 3 classes, the .tflite takes 76x76",
        ),
    ]
    for i, (content, words) in enumerate(cases):
        path = tmp_path / f"m{i}.tflite"
        shutil.copy(source, path)
        (tmp_path / f"m{i}.tflite.json").write_text(json.dumps(content))
        assert_one_line(run_cli("predict", f"--model={path}", image), f"{path}", words)


def test_prepare_verify_checks_its_records_and_format(tmp_path):
    folder = colour_classes(tmp_path / "colours", ["blue", "red"], per_class=8)
    out = tmp_path / "raw"
    result = run_cli(
        "prepare",
        f"--data=folder:{folder}",
        f"--output={out}",
        "--image_size=67",
        "--format=raw",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert run_cli("prepare", f"--verify={out}").returncode == 0
    (table,) = out.glob("train.checksums.json")
    entries = json.loads(table.read_text())
    for content, words in (
        ("[]", "its content is [], expected an object"),
        (json.dumps({k: {"crc32": 1} for k in entries}), "has no"),
        ("not json", "damaged, not valid JSON"),
    ):
        table.write_text(content)
        assert_one_line(run_cli("prepare", f"--verify={out}"), str(table), words)
    table.write_text(json.dumps(entries))
    form = json.loads((out / "format.json").read_text())
    (out / "format.json").write_text(json.dumps([form]))
    for result in (
        run_cli("prepare", f"--verify={out}"),
        run_cli("train", f"--workdir={tmp_path}/w", f"--data=tfrecord:{out}", "--train_steps=1"),
    ):
        assert_one_line(result, f"{out}/format.json: damaged: its content is")
    (out / "format.json").write_text(json.dumps(dict(form, size=75)))
    result = run_cli("prepare", f"--verify={out}")
    assert (
        result.returncode == 1 and "format.json says 75x75 squares" in result.stdout + result.stderr
    )
    assert_one_line(run_cli("prepare", f"--verify={tmp_path}/nowhere"), "no such directory")


# Concurrency and odd paths.


def test_concurrent_exports_each_get_their_own_version(tmp_path):
    from tf_alexnet.export.savedmodel import export_model

    model, base, done = small_net(mean_image=False), tmp_path / "models", []
    threads = [
        threading.Thread(target=lambda: done.append(export_model(model, str(base))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == [str(base / "1"), str(base / "2")]
    for version in ("1", "2"):
        assert (base / version / "saved_model.pb").exists()
        meta = json.loads((base / version / "assets.extra" / "tf_alexnet.json").read_text())
        assert meta["version"] == int(version)


def test_a_workdir_path_with_a_comma(colour_run, tmp_path):
    comma = tmp_path / "runs" / "a,b"
    shutil.copytree(colour_run["run"], comma)
    data = f"--data=folder:{colour_run['data']}"
    one = run_cli("evaluate", f"--workdir={comma}", data, "--json")
    assert one.returncode == 0, one.stderr[-2000:]
    assert json.loads(one.stdout.strip().splitlines()[-1])["model"].startswith(str(comma))
    escaped = str(comma).replace(",", "\\,")
    pair = run_cli("evaluate", f"--workdir={escaped},{colour_run['run']}", data, "--json")
    assert pair.returncode == 0, pair.stderr[-2000:]
    scored = json.loads(pair.stdout.strip().splitlines()[-1])
    assert str(comma) in scored["model"] and str(colour_run["run"]) in scored["model"], scored


def test_predict_names_a_decompression_bomb(exported, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    bomb = tmp_path / "bomb.png"  # a 30000 x 30000 PNG header in 60 bytes
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    for model in (exported["version"], exported["base"] / "1_float32.tflite"):
        result = run_cli("predict", f"--model={model}", bomb, exported["images"][0])
        assert result.returncode == 1
        assert f"{bomb}: error: 900.0 megapixels (its header), over --max_megapixels=100" in (
            result.stderr
        )
        assert str(exported["images"][0]) in result.stdout  # the others are still predicted
    small = run_cli(
        "predict",
        f"--model={exported['version']}",
        "--max_megapixels=0.0001",
        exported["images"][0],
    )
    assert "over --max_megapixels=0.0001" in small.stderr
