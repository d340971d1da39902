"""Sources, make_dataset, prepare and bad input, on generated folders and the shared data."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import shared_data
from helpers import run_cli, solid, tiny_config, write_image
from tf_alexnet.config import AugmentConfig, EvalDataConfig, PrepareConfig, SourceConfig
from tf_alexnet.data.folder import folder_files
from tf_alexnet.data.pipeline import eval_dataset, train_dataset
from tf_alexnet.data.shards import prepare
from tf_alexnet.data.stats import Preprocessing
from tf_alexnet.errors import DataError

SMALL = Preprocessing(67, 76)  # the evaluation transform of a 67-pixel model

COLOURS = {
    "blue": [(10, 20, 200), (0, 0, 255)],
    "red": [(250, 0, 0), (200, 40, 30)],
    "green": [(0, 180, 0), (30, 220, 60)],
}


def colour_folder(root):
    """Solid-colour PNGs (lossless) of several sizes, one smaller than the crop."""
    sizes = [(300, 400), (64, 50), (256, 256), (500, 260)]
    for name, colours in COLOURS.items():
        for i, colour in enumerate(colours):
            write_image(root / name / f"{i}.png", solid(*sizes[i % 4 + (name == "red")], colour))
    return root


def prep_config(data, output, **kw):
    return PrepareConfig(
        source=SourceConfig(source=data, **kw),
        output=str(output),
        splits=("all",),
        num_shards=2,
        workers=2,
        jpeg_quality=95,
    )


def test_prepare_known_colours(tmp_path):
    root = colour_folder(tmp_path / "colours")
    stats = prepare(prep_config(f"folder:{root}", tmp_path / "out"))
    pixels = np.array([c for cs in COLOURS.values() for c in cs], np.float64)
    # Every image becomes 256x256 of one colour: the statistics are those of the colours.
    np.testing.assert_allclose(stats["mean_rgb"], pixels.mean(0), atol=1e-6)
    np.testing.assert_allclose(stats["std_rgb"], pixels.std(0), atol=1e-6)
    cov = np.cov((pixels / 255).T, bias=True)
    np.testing.assert_allclose(stats["covariance"], cov, atol=1e-9)
    eigval = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(stats["pca_eigenvalues"], eigval, atol=1e-9)
    vecs = np.array(stats["pca_eigenvectors"])
    np.testing.assert_allclose(cov @ vecs, vecs * np.array(stats["pca_eigenvalues"]), atol=1e-9)
    out = tmp_path / "out"
    assert open(out / "classes.txt").read().split() == ["blue", "green", "red"]
    assert int(open(out / "all.count").read()) == 6
    mean_image = np.load(out / "mean_image.npy")
    assert mean_image.shape == (256, 256, 3)
    np.testing.assert_allclose(
        mean_image.astype(np.float64).mean((0, 1)), pixels.mean(0), atol=1e-3
    )
    # Shards read back: 256x256 JPEGs with the right labels and colours.
    ds, info = eval_dataset(
        SourceConfig(source=f"tfrecord:{out}"),
        EvalDataConfig(batch_size=6),
        "all",
        Preprocessing(mean="none"),
    )
    assert info.class_names == ("blue", "green", "red")
    images, labels = next(iter(ds))
    colours = {tuple(np.round(im.numpy().mean((0, 1)))): int(l) for im, l in zip(images, labels)}
    for label, name in enumerate(("blue", "green", "red")):
        for c in COLOURS[name]:
            match = [l for k, l in colours.items() if np.abs(np.subtract(k, c)).max() <= 3]
            assert match == [label], (name, c, colours)


def test_prepare_resumes_keeping_finished_shards(tmp_path):
    root = colour_folder(tmp_path / "colours")
    out = tmp_path / "out"
    prepare(prep_config(f"folder:{root}", out))
    shards = sorted(out.glob("all-*.tfrecord"))
    assert len(shards) == 2
    kept = shards[0].stat().st_mtime_ns
    os.remove(shards[1])  # as if interrupted while writing the second shard
    prepare(prep_config(f"folder:{root}", out))
    assert shards[0].stat().st_mtime_ns == kept and shards[1].exists()
    assert int(open(out / "all.count").read()) == 6


def bad_folder(root):
    good = np.random.default_rng(0).integers(0, 256, (80, 90, 3), np.uint8)
    for name in ("cat", "dog"):
        for i in range(3):
            write_image(root / name / f"{i}.jpg", good)
    whole = open(root / "cat" / "0.jpg", "rb").read()
    (root / "cat" / "a_truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "dog" / "b_text.jpg").write_text("this is not an image\n")
    (root / "dog" / "c_empty.jpg").write_bytes(b"")
    (root / "dog" / "notes.txt").write_text("ignored: not an image by name\n")
    (root / "empty_class").mkdir()
    return root


def test_bad_files_skipped_and_counted(tmp_path, caplog):
    root = bad_folder(tmp_path / "bad")
    source = SourceConfig(source=f"folder:{root}")
    ds, info = eval_dataset(source, EvalDataConfig(batch_size=2), "all", SMALL)
    assert info.class_names == ("cat", "dog")  # the empty class folder is skipped
    assert sorted(os.path.basename(p) for p, _ in info.bad_files) == [
        "a_truncated.jpg",
        "b_text.jpg",
        "c_empty.jpg",
    ]
    assert sum(int(y.shape[0]) for _, y in ds) == 6
    train, _ = train_dataset(source, AugmentConfig(image_size=67, batch_size=2), "all")
    x, y = next(iter(train))  # training delivers uint8 squares (cropped on the device)
    assert x["image"].shape == (2, 76, 76, 3) and x["image"].dtype == tf.uint8
    stats = prepare(prep_config(f"folder:{root}", tmp_path / "out"))
    assert stats["bad_files"] == 3 and stats["num_images"] == 6
    listed = open(tmp_path / "out" / "bad_files.txt").read().splitlines()
    assert len(listed) == 3 and all("\t" in line for line in listed)


def test_fail_mode_names_first_bad_file(tmp_path):
    root = bad_folder(tmp_path / "bad")
    source = SourceConfig(source=f"folder:{root}", on_bad_image="fail")
    with pytest.raises(DataError, match="a_truncated.jpg"):
        eval_dataset(source, EvalDataConfig(), "all", SMALL)
    result = run_cli(
        "prepare",
        f"--data=folder:{root}",
        f"--output={tmp_path / 'o'}",
        "--on_bad_image=fail",
        "--splits=all",
    )
    assert result.returncode != 0
    assert "a_truncated.jpg" in result.stderr.splitlines()[-1]


def test_decode_error_inside_a_whole_jpeg_is_skipped_by_prepare(tmp_path):
    root = tmp_path / "garbled"
    write_image(root / "a" / "ok.jpg", solid(40, 40, (1, 2, 3)))
    data = bytearray(open(root / "a" / "ok.jpg", "rb").read())
    data[2:20] = b"\x00" * 18  # breaks the headers, keeps the start and end markers
    (root / "a" / "bad.jpg").write_bytes(bytes(data))
    stats = prepare(prep_config(f"folder:{root}", tmp_path / "out"))
    assert stats["bad_files"] == 1 and stats["num_images"] == 1


@pytest.mark.parametrize(
    "spec,message",
    [
        ("nothing:x", "Unknown data source"),
        ("folder:/nonexistent/dir", "no such directory"),
        ("tfds:no_such_dataset_xyz", "not a TFDS dataset"),
        ("tfrecord:/nonexistent/dir", "classes.txt"),
        ("synthetic:cubes", "Unknown synthetic source"),
    ],
)
def test_clear_errors(spec, message):
    with pytest.raises(DataError, match=message):
        train_dataset(SourceConfig(source=spec), AugmentConfig(image_size=67), "train")


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "only_empty_class").mkdir()
    with pytest.raises(DataError, match="no images found"):
        eval_dataset(SourceConfig(source=f"folder:{tmp_path}"), EvalDataConfig(), "all", SMALL)


def test_missing_imagenet_manual_download_says_where_tars_go(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    source = SourceConfig(
        source="tfds:imagenet2012",
        tfds_data_dir=str(tmp_path / "tfds"),
        tfds_manual_dir=str(tmp_path / "manual"),
    )
    with pytest.raises(DataError, match="ILSVRC2012_img_train.tar.*manual"):
        train_dataset(source, AugmentConfig(), "train")


def test_folder_carves_train_and_validation_deterministically(tmp_path):
    for name in ("a", "b"):
        for i in range(40):
            write_image(tmp_path / name / f"{i}.png", solid(8, 8, (i, i, i)))
    config = SourceConfig(source=f"folder:{tmp_path}", validation_fraction=0.25)
    train, _, _, _ = folder_files(config, str(tmp_path), "train")
    val, _, _, _ = folder_files(config, str(tmp_path), "validation")
    assert not set(train) & set(val) and len(train) + len(val) == 80
    assert 8 <= len(val) <= 32
    assert folder_files(config, str(tmp_path), "validation")[0] == val


def test_same_seed_same_batches_and_resume():
    source = SourceConfig(source="synthetic:shapes", synthetic_examples=64, seed=5)
    augment = AugmentConfig(image_size=67, batch_size=8)

    def images(source, n, start=0):
        ds, _ = train_dataset(source, augment, "train", start_example=start)
        return [
            np.concatenate([b[0]["image"].numpy().ravel(), b[0]["alpha"].numpy().ravel()])
            for b in ds.take(n)
        ]

    first = images(source, 3)
    again = images(source, 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = images(dataclasses.replace(source, seed=6), 1)[0]
    assert not np.array_equal(other, first[0])
    resumed = images(source, 1, start=16)[0]
    np.testing.assert_array_equal(resumed, first[2])


def test_synthetic_classes_and_ten_crop_batches():
    ds, info = eval_dataset(
        SourceConfig(source="synthetic:shapes", synthetic_examples=40),
        EvalDataConfig(batch_size=4, eval_crops="ten"),
        "validation",
        SMALL,
    )
    assert info.class_names[:3] == ("disk", "square", "triangle") and info.num_examples == 4
    x, y = next(iter(ds))
    assert x.shape == (4, 10, 67, 67, 3) and y.shape == (4,)


def test_cifar10_folder_has_ten_sorted_classes():
    root = shared_data("cifar10", "train")
    ds, info = eval_dataset(
        SourceConfig(source=f"folder:{root}"), EvalDataConfig(batch_size=16), "validation", SMALL
    )
    assert info.class_names == (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )
    x, y = next(iter(ds))
    assert x.shape == (16, 67, 67, 3)


def test_prepare_imagenet_sample(tmp_path):
    root = shared_data("imagenet-sample")
    result = run_cli("prepare", f"--data=folder:{root}", f"--output={tmp_path}", "--splits=all")
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.load(open(tmp_path / "stats.json"))
    assert stats["num_images"] == 100
    eig = stats["pca_eigenvalues"]
    assert eig[0] > eig[1] > eig[2] > 0
    np.testing.assert_allclose(stats["mean_rgb"], (123.7, 116.3, 103.5), atol=10)
    # Grayscale photos decode to 3 channels.
    grays = [
        p
        for p in sorted(root.glob("*/*.JPEG"))
        if tf.io.decode_jpeg(tf.io.read_file(str(p))).shape[-1] == 1
    ]
    assert grays, "the sample holds grayscale JPEGs"
    ds, _ = eval_dataset(
        SourceConfig(source=f"folder:{root}"),
        EvalDataConfig(batch_size=100),
        "all",
        Preprocessing(),
    )
    x, _ = next(iter(ds))
    assert x.shape == (100, 227, 227, 3)


def test_tfds_source_through_mock_data(tmp_path):
    """tfds: with TFDS's own mock (no download): encoded images, labels and class names flow
    through the same preprocessing, and a training run takes it."""
    tfds = pytest.importorskip("tensorflow_datasets")
    from tf_alexnet.train.trainer import train

    with tfds.testing.mock_data(num_examples=8):
        source = SourceConfig(source="tfds:imagenet2012")
        ds, _ = eval_dataset(source, EvalDataConfig(batch_size=4), "validation", SMALL)
        x, y = next(iter(ds))
        assert x.shape == (4, 67, 67, 3) and y.dtype == tf.int32
        _, info = train_dataset(source, AugmentConfig(image_size=67, batch_size=4), "train")
        assert len(info.class_names) == 1000 and info.class_names[0] == "n01440764"
        result = train(
            tiny_config(
                tmp_path,
                source="tfds:imagenet2012",
                batch_size=4,
                train_steps=2,
                eval_examples=4,
                log_every_steps=1,
            )
        )
        assert result["step"] == 2 and result["num_images"] == 4


def test_raw_shards_hold_the_squares_pixels_and_train_as_jpeg_shards_do(tmp_path):
    """prepare --format=raw stores each 256 square's uint8 pixels (no JPEG): read back they
    equal the squares made from the files; format.json tells tfrecord: which it reads, and
    the training pipeline crops them as it crops decoded JPEG shards."""
    from tf_alexnet.data.decode import decode_square

    root = colour_folder(tmp_path / "colours")
    config = dataclasses.replace(
        prep_config(f"folder:{root}", tmp_path / "raw"), image_format="raw"
    )
    prepare(config)
    assert json.load(open(tmp_path / "raw" / "format.json")) == {
        "format": "raw",
        "size": 256,
        "layout": "fixed",
    }
    from tf_alexnet.data.pipeline import open_split
    from tf_alexnet.data.records import raw_record_dtype

    opened = open_split(SourceConfig(source=f"tfrecord:{tmp_path / 'raw'}"), "all", 256)
    got = sorted((int(y), x.numpy().tobytes()) for x, y in opened.dataset)
    files = [p for p in folder_files(SourceConfig(), str(root), "all")[0]]
    labels = folder_files(SourceConfig(), str(root), "all")[1]
    want = sorted(
        (label, np.round(decode_square(tf.io.read_file(p), 256).numpy()).astype(np.uint8).tobytes())
        for p, label in zip(files, labels)
    )
    assert got == want
    # The shard's documented layout, read by numpy alone: pixels then a little-endian label.
    records = np.concatenate(
        [
            np.fromfile(shard, raw_record_dtype(256))
            for shard in sorted((tmp_path / "raw").glob("all-*-of-*.raw"))
        ]
    )
    assert sorted((int(r["label"]), r["image"].tobytes()) for r in records) == want
    # Training squares: the raw shards and PNG files (lossless, the same squares) agree.
    augment = AugmentConfig(image_size=227, batch_size=6, mean="none", pca_sigma=0.0)
    batches = [
        next(iter(train_dataset(SourceConfig(source=s), augment, "all")[0]))
        for s in (f"tfrecord:{tmp_path / 'raw'}", f"folder:{root}")
    ]
    assert batches[0][0]["image"].dtype == tf.uint8

    def colours(batch):  # one epoch of the 6 solid images: (label, the crop's colour)
        features, labels = batch
        return sorted(
            (int(y), tuple(np.asarray(x).reshape(-1, 3).mean(0).round(1)))
            for x, y in zip(features["image"], labels)
        )

    assert colours(batches[0]) == colours(batches[1])
    # A directory of JPEG shards is not rewritten as raw.
    prepare(prep_config(f"folder:{root}", tmp_path / "jpeg"))
    result = run_cli(
        "prepare",
        f"--data=folder:{root}",
        f"--output={tmp_path / 'jpeg'}",
        "--splits=all",
        "--format=raw",
    )
    assert result.returncode == 1 and "format" in result.stderr.strip().splitlines()[-1]


def legacy_raw_shards(out, squares, num_shards=1):
    """Raw shards as versions before the fixed-length layout wrote them: TFRecords of
    Examples whose image/encoded is the pixels, format.json without "layout"; label i % 3."""
    from tf_alexnet.data.shards import _example

    out.mkdir()
    (out / "classes.txt").write_text("a\nb\nc\n")
    (out / "format.json").write_text(json.dumps({"format": "raw", "size": squares.shape[1]}))
    for k in range(num_shards):
        with tf.io.TFRecordWriter(str(out / f"all-{k:05d}-of-{num_shards:05d}.tfrecord")) as w:
            for i in range(k, len(squares), num_shards):
                w.write(_example(squares[i].tobytes(), i % 3, b"x.png"))
    return SourceConfig(source=f"tfrecord:{out}")


def test_raw_tfrecord_shards_of_earlier_versions_still_read(tmp_path):
    """Raw TFRecord shards (before the fixed-length layout) read as they did."""
    from tf_alexnet.data.pipeline import open_split

    squares = np.random.default_rng(5).integers(0, 256, (6, 76, 76, 3), dtype=np.uint8)
    source = legacy_raw_shards(tmp_path / "old", squares)
    opened = open_split(source, "all", 76)
    assert opened.random_access is None
    got = sorted((int(y), x.numpy().tobytes()) for x, y in opened.dataset)
    assert got == sorted((i % 3, sq.tobytes()) for i, sq in enumerate(squares))
    augment = AugmentConfig(image_size=67, resize_size=76, batch_size=6)
    ((features, labels),) = train_dataset(source, augment, "all")[0].take(1)
    assert {x.tobytes() for x in features["image"].numpy()} == {sq.tobytes() for sq in squares}


@pytest.mark.parametrize("start", [0, 8])
def test_raw_shards_train_on_a_fresh_permutation_of_every_record_each_epoch(tmp_path, start):
    """Fixed-length raw shards are read by index: each epoch of the stream holds every
    record once (as numpy reads the shards by their documented layout), in an order that
    changes from epoch to epoch and with the seed; a resumed stream is the uninterrupted
    one from there on (squares, labels and draws)."""
    from tf_alexnet.data.records import raw_record_dtype

    rng = np.random.default_rng(7)
    for i in range(12):
        write_image(
            tmp_path / "noise" / f"c{i % 3}" / f"{i}.png", rng.integers(0, 256, (80, 90, 3))
        )
    augment = AugmentConfig(image_size=67, batch_size=4)
    prepare(
        dataclasses.replace(
            prep_config(f"folder:{tmp_path / 'noise'}", tmp_path / "raw"),
            image_format="raw",
            augment=augment,
        )
    )
    records = np.concatenate(
        [np.fromfile(f, raw_record_dtype(76)) for f in sorted((tmp_path / "raw").glob("all-*.raw"))]
    )
    want = sorted((int(r["label"]), r["image"].tobytes()) for r in records)
    assert len(want) == 12

    def stream(seed, start_example=0, batches=9):
        source = SourceConfig(source=f"tfrecord:{tmp_path / 'raw'}", seed=seed)
        ds, _ = train_dataset(source, augment, "all", start_example=start_example)
        return [tf.nest.map_structure(np.asarray, b) for b in ds.take(batches)]

    full = stream(0)
    epochs = [
        [
            (int(y), x.tobytes())
            for b in full[e * 3 : e * 3 + 3]
            for x, y in zip(b[0]["image"], b[1])
        ]
        for e in range(3)
    ]
    for epoch in epochs:
        assert sorted(epoch) == want
    assert epochs[0] != epochs[1] != epochs[2]
    other = stream(1, batches=3)
    assert [x.tobytes() for b in other for x in b[0]["image"]] != [x for _, x in epochs[0]]
    resumed = stream(0, start, batches=9 - start // 4)
    for a, b in zip(resumed, full[start // 4 :]):
        for key in ("image", "offset", "flip", "alpha"):
            np.testing.assert_array_equal(a[0][key], b[0][key], err_msg=key)
        np.testing.assert_array_equal(a[1], b[1])


def test_a_raw_shard_cut_inside_a_record_is_named_and_its_whole_records_read(tmp_path):
    from tf_alexnet.data.pipeline import open_split

    rng = np.random.default_rng(6)
    for i in range(6):
        write_image(
            tmp_path / "noise" / f"c{i % 2}" / f"{i}.png", rng.integers(0, 256, (80, 90, 3))
        )
    config = dataclasses.replace(
        prep_config(f"folder:{tmp_path / 'noise'}", tmp_path / "raw"),
        image_format="raw",
        num_shards=1,
        augment=AugmentConfig(image_size=67, resize_size=76),
    )
    prepare(config)
    (shard,) = (tmp_path / "raw").glob("all-*.raw")
    record = 76 * 76 * 3 + 4
    assert shard.stat().st_size == 6 * record
    os.truncate(shard, 4 * record + 100)
    with pytest.raises(DataError, match=f"{shard.name} ends early: read 4 of 6 records"):
        open_split(
            SourceConfig(source=f"tfrecord:{tmp_path / 'raw'}", on_bad_image="fail"), "all", 76
        )
    source = SourceConfig(source=f"tfrecord:{tmp_path / 'raw'}")
    opened = open_split(source, "all", 76)
    assert len(list(opened.dataset)) == 4 and opened.random_access.count == 4
    augment = AugmentConfig(image_size=67, resize_size=76, batch_size=4)
    ((features, _),) = train_dataset(source, augment, "all", opened=opened)[0].take(1)
    assert sorted(x.tobytes() for x in features["image"].numpy()) == sorted(
        x.numpy().tobytes() for x, _ in opened.dataset
    )


@pytest.mark.parametrize("start", [0, 5])
def test_cache_train_gives_the_same_batches(tmp_path, start):
    """--cache_train keeps decoded squares, not the stream: the batches (squares, draws,
    labels) equal the uncached pipeline's, from the start and after a resume skip."""
    from helpers import jpeg_files

    root = tmp_path / "photos"
    for i, path in enumerate(jpeg_files(tmp_path / "jpegs")[:12]):  # generated, odd sizes
        os.makedirs(root / f"c{i % 3}", exist_ok=True)
        os.replace(path, root / f"c{i % 3}" / os.path.basename(path))
    source = SourceConfig(source=f"folder:{root}", validation_fraction=0.01)
    batches = []
    for cache in (False, True):
        augment = AugmentConfig(image_size=67, resize_size=76, batch_size=4, cache_train=cache)
        ds, _ = train_dataset(source, augment, "train", start_example=start)
        batches.append([tf.nest.map_structure(np.asarray, b) for b in ds.take(7)])
    for plain, cached in zip(*batches):
        for key in ("image", "offset", "flip", "alpha"):
            np.testing.assert_array_equal(plain[0][key], cached[0][key], err_msg=key)
        np.testing.assert_array_equal(plain[1], cached[1])


@pytest.mark.parametrize("start", [0, 6])
def test_raw_records_parsed_a_batch_at_a_time_give_the_per_record_stream(tmp_path, start):
    """Raw TFRecord shards' records are parsed a batch at a time in training; the batches
    (squares, draws, labels) equal those of the per-record parse, from the start and after
    a resume skip, and the squares are the shards' pixels."""
    from tf_alexnet.data.pipeline import open_split

    squares = np.random.default_rng(4).integers(0, 256, (12, 76, 76, 3), dtype=np.uint8)
    source = legacy_raw_shards(tmp_path / "raw", squares, num_shards=2)
    augment = AugmentConfig(image_size=67, batch_size=4)
    opened = open_split(source, "all", augment.resize)
    assert opened.parse_batch is not None
    pixels = {sq.tobytes() for sq in squares}
    streams = []
    for o in (opened, dataclasses.replace(opened, parse_batch=None)):
        ds, _ = train_dataset(source, augment, "all", start_example=start, opened=o)
        streams.append([tf.nest.map_structure(np.asarray, b) for b in ds.take(6)])
    for batched, single in zip(*streams):
        for key in ("image", "offset", "flip", "alpha"):
            np.testing.assert_array_equal(batched[0][key], single[0][key], err_msg=key)
        np.testing.assert_array_equal(batched[1], single[1])
        assert batched[0]["image"].shape == (4, 76, 76, 3)
        assert {x.tobytes() for x in batched[0]["image"]} <= pixels
