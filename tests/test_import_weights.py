"""Caffe's bvlc_alexnet imported, against an independent numpy implementation of Caffe's
forward pass (BGR input, O x I x H x W kernels, groups, Caffe's LRN across channels, 3/2
max pooling, fc6 over C x H x W). The test writes its own files: a width-scaled network of
random weights at 99 pixels (pool5 is 2 x 2, so fc6's order matters), as a .caffemodel in
both layer formats, as caffe-tensorflow's .npy, and a mean .binaryproto."""

import re

import numpy as np
import pytest
import tensorflow as tf

from helpers import last_json, run_cli, write_image
from tf_alexnet.model import caffe_format
from tf_alexnet.model.spec import LRN_PRESETS

pytestmark = pytest.mark.usefixtures("exact_float32")

FILTERS, UNITS, CLASSES, SIZE = (12, 32, 48, 48, 32), 64, 10, 99
MEAN_BGR = np.array([104.0, 117.0, 123.0])


def caffe_blobs(seed=0):
    """{layer: [W, b]} in Caffe's layout, random, of the width-scaled network."""
    rng = np.random.default_rng(seed)
    f1, f2, f3, f4, f5 = FILTERS
    shapes = {
        "conv1": (f1, 3, 11, 11),
        "conv2": (f2, f1 // 2, 5, 5),
        "conv3": (f3, f2, 3, 3),
        "conv4": (f4, f3 // 2, 3, 3),
        "conv5": (f5, f4 // 2, 3, 3),
        "fc6": (UNITS, f5 * 2 * 2),
        "fc7": (UNITS, UNITS),
        "fc8": (CLASSES, UNITS),
    }
    scale = {"conv1": 0.02}
    return {
        name: [
            (rng.standard_normal(shape) * scale.get(name, 0.1)).astype(np.float32),
            (rng.standard_normal(shape[0]) * 0.1).astype(np.float32),
        ]
        for name, shape in shapes.items()
    }


# ---- Caffe's forward pass in numpy (channels first, one image) ----


def conv(x, w, b, stride, pad, groups):
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out_channels, k = w.shape[0], w.shape[2]
    size = (x.shape[1] - k) // stride + 1
    cg, og = x.shape[0] // groups, out_channels // groups
    out = np.empty((out_channels, size, size))
    for g in range(groups):
        xs = x[g * cg : (g + 1) * cg]
        patches = np.stack(
            [
                [
                    xs[:, i : i + stride * size : stride, j : j + stride * size : stride]
                    for j in range(k)
                ]
                for i in range(k)
            ]
        )
        out[g * og : (g + 1) * og] = np.einsum("ijcyx,ocij->oyx", patches, w[g * og : (g + 1) * og])
    return out + b[:, None, None]


def caffe_lrn(a, n=5, k=1.0, alpha=1e-4, beta=0.75):
    """Caffe's ACROSS_CHANNELS LRN: a / (k + alpha / n * sum of squares in the window)^beta."""
    squares = np.pad(a**2, ((n // 2, n // 2), (0, 0), (0, 0)))
    window = sum(squares[i : i + a.shape[0]] for i in range(n))
    return a / (k + alpha / n * window) ** beta


def max_pool(a):
    size = (a.shape[1] - 3) // 2 + 1
    out = np.empty((a.shape[0], size, size))
    for y in range(size):
        for x in range(size):
            out[:, y, x] = a[:, 2 * y : 2 * y + 3, 2 * x : 2 * x + 3].max((1, 2))
    return out


def caffe_forward(blobs, bgr, flatten_chw=True, **lrn):
    """Logits of one BGR image [3, H, W] minus the mean, as Caffe computes them (`lrn`:
    caffe_lrn's n, k, alpha, beta)."""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = max_pool(caffe_lrn(relu(conv(bgr, *blobs["conv1"], 4, 0, 1)), **lrn))
    x = max_pool(caffe_lrn(relu(conv(x, *blobs["conv2"], 1, 2, 2)), **lrn))
    x = relu(conv(x, *blobs["conv3"], 1, 1, 1))
    x = relu(conv(x, *blobs["conv4"], 1, 1, 2))
    x = max_pool(relu(conv(x, *blobs["conv5"], 1, 1, 2)))
    x = x.ravel() if flatten_chw else x.transpose(1, 2, 0).ravel()
    x = relu(blobs["fc6"][0] @ x + blobs["fc6"][1])
    x = relu(blobs["fc7"][0] @ x + blobs["fc7"][1])
    return blobs["fc8"][0] @ x + blobs["fc8"][1]


def npy_of(blobs):
    """What caffe-tensorflow writes: H x W x I x O kernels, fc6 reordered to H x W x C
    inputs (its DataReshaper), other fc weights in x out."""
    out = {}
    for name, (w, b) in blobs.items():
        if w.ndim == 4:
            w = w.transpose(2, 3, 1, 0)
        elif name == "fc6":
            w = (
                w.reshape(w.shape[0], FILTERS[-1], 2, 2)
                .transpose(2, 3, 1, 0)
                .reshape(-1, w.shape[0])
            )
        else:
            w = w.T
        out[name] = [w, b]
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("caffe")
    blobs = caffe_blobs()
    (root / "net.caffemodel").write_bytes(caffe_format.write_net(blobs))
    (root / "old.caffemodel").write_bytes(caffe_format.write_net(blobs, old_format=True))
    np.save(root / "net.npy", np.array(npy_of(blobs), dtype=object), allow_pickle=True)
    np.savez(
        root / "net.npz",
        **{
            f"{name}_{part}": array
            for name, pair in npy_of(blobs).items()
            for part, array in zip(("weights", "biases"), pair)
        },
    )
    mean = caffe_format.BlobProto(num=1, channels=3, height=4, width=4)
    mean.data.extend(np.repeat(MEAN_BGR, 16).tolist())  # a flat mean image, B G R planes
    (root / "mean.binaryproto").write_bytes(mean.SerializeToString())
    return root, blobs


def imported_logits(workdir, images_rgb):
    from tf_alexnet.workdir.restore import restore_model

    model = info = restore_model(str(workdir))
    return model(images_rgb, training=False).numpy().astype(np.float64), info


def test_imported_model_computes_caffes_forward_pass(files, tmp_path):
    root, blobs = files
    result = last_json(
        run_cli(
            "import_weights",
            f"--caffemodel={root / 'net.caffemodel'}",
            f"--mean_file={root / 'mean.binaryproto'}",
            f"--workdir={tmp_path / 'w'}",
        )
    )
    assert result["filters"] == list(FILTERS) and result["image_size"] == SIZE
    rgb = np.random.default_rng(1).uniform(0, 255, (3, SIZE, SIZE, 3))
    got, info = imported_logits(tmp_path / "w", (rgb - MEAN_BGR[::-1]).astype(np.float32))
    assert info.spec.lrn_across_groups and info.spec.lrn.bias == 1.0
    assert info.preprocessing.resize_mode == "squash" and info.preprocessing.mean == "image"
    np.testing.assert_allclose(info.preprocessing.stats.mean_image[0, 0], MEAN_BGR[::-1])
    bgr = (rgb[..., ::-1] - MEAN_BGR).transpose(0, 3, 1, 2)  # Caffe's input
    want = np.stack([caffe_forward(blobs, x) for x in bgr])
    assert np.abs(want).max() > 0.1
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    # Each convention matters: RGB fed as Caffe's BGR, or fc6's inputs read channels last,
    # is another function by far more than the tolerance.
    no_swap = np.stack([caffe_forward(blobs, x[::-1]) for x in bgr])
    hwc = np.stack([caffe_forward(blobs, x, flatten_chw=False) for x in bgr])
    for broken in (no_swap, hwc):
        assert np.abs(got - broken).max() > 100 * 1e-4 * np.abs(want).max()


def test_old_caffe_format_and_npy_import_to_the_same_function(files, tmp_path):
    root, _ = files
    rgb = np.random.default_rng(2).uniform(-100, 100, (2, SIZE, SIZE, 3)).astype(np.float32)
    logits = []
    for flag in (
        f"--caffemodel={root / 'net.caffemodel'}",
        f"--caffemodel={root / 'old.caffemodel'}",
        f"--npy={root / 'net.npy'}",
        f"--npy={root / 'net.npz'}",
    ):
        work = tmp_path / str(len(logits))
        assert run_cli("import_weights", flag, f"--workdir={work}").returncode == 0
        got, info = imported_logits(work, rgb)
        logits.append(got)
    assert info.preprocessing.mean == "channel"  # no --mean_file: the mean pixel
    np.testing.assert_allclose(info.preprocessing.stats.mean_rgb, (122.679, 116.669, 104.007))
    for other in logits[1:]:
        np.testing.assert_allclose(other, logits[0], rtol=1e-5, atol=1e-5)


def test_imported_workdir_evaluates_and_exports(files, tmp_path):
    root, _ = files
    work = tmp_path / "w"
    assert (
        run_cli(
            "import_weights", f"--caffemodel={root / 'net.caffemodel'}", f"--workdir={work}"
        ).returncode
        == 0
    )
    # An imported network has no data of its own to default to.
    assert_one_line(
        run_cli("evaluate", f"--workdir={work}"), "records no training data", "give --data"
    )
    data = tmp_path / "photos"
    rng = np.random.default_rng(3)
    for i in range(3):  # class folders named as the model's classes (class_i, 10 outputs)
        for j in range(2):
            write_image(data / f"class_{i}" / f"{j}.jpg", rng.integers(0, 255, (80, 120, 3)))
    scores = last_json(
        run_cli("evaluate", f"--workdir={work}", f"--data=folder:{data}", "--split=all", "--json")
    )
    assert scores["num_images"] == 6 and scores["model"].endswith("ckpt-0")
    assert run_cli("export", f"--workdir={work}", f"--export_dir={tmp_path / 'm'}").returncode == 0
    assert (tmp_path / "m" / "1" / "saved_model.pb").exists()


def assert_one_line(result, *words):
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in line, (word, line)


def test_bad_files_are_one_line(files, tmp_path):
    root, blobs = files
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes((root / "net.caffemodel").read_bytes()[:5000])
    assert_one_line(
        run_cli("import_weights", f"--caffemodel={cut}", f"--workdir={tmp_path}/a"),
        "import_weights:",
        str(cut),
        "cannot be read",
    )
    foreign = tmp_path / "foreign.npy"
    np.save(foreign, np.zeros((3, 3)))
    assert_one_line(
        run_cli("import_weights", f"--npy={foreign}", f"--workdir={tmp_path}/b"), str(foreign)
    )
    other = tmp_path / "other.npy"
    np.save(other, np.array({"fc1": [np.zeros(2)]}, dtype=object), allow_pickle=True)
    assert_one_line(
        run_cli("import_weights", f"--npy={other}", f"--workdir={tmp_path}/c"),
        str(other),
        "not a caffe-tensorflow AlexNet",
    )
    ungrouped = dict(blobs, conv2=[np.zeros((32, 12, 5, 5), np.float32), blobs["conv2"][1]])
    path = tmp_path / "ungrouped.caffemodel"
    path.write_bytes(caffe_format.write_net(ungrouped))
    assert_one_line(
        run_cli("import_weights", f"--caffemodel={path}", f"--workdir={tmp_path}/d"),
        "conv2",
        "(32, 12, 5, 5)",
        "needs ((32, 6, 5, 5)",
    )
    missing = tmp_path / "missing.caffemodel"
    assert_one_line(
        run_cli("import_weights", f"--caffemodel={missing}", f"--workdir={tmp_path}/e"),
        str(missing),
    )
    assert_one_line(run_cli("import_weights", f"--workdir={tmp_path}/f"), "--caffemodel or --npy")
    good = f"--caffemodel={root / 'net.caffemodel'}"
    assert run_cli("import_weights", good, f"--workdir={tmp_path}/g").returncode == 0
    before = sorted((tmp_path / "g" / "checkpoints").iterdir())
    assert_one_line(
        run_cli("import_weights", good, f"--workdir={tmp_path}/g"),
        str(tmp_path / "g"),
        "already holds checkpoints",
    )
    assert sorted((tmp_path / "g" / "checkpoints").iterdir()) == before  # nothing overwritten
    from tf_alexnet.model.weight_files import load_layers  # a plain array: read, no pickle

    assert load_layers((tmp_path / "foreign.npy").read_bytes()).shape == (3, 3)
    with pytest.raises(ValueError, match="neither"):
        load_layers(b"plain text")


def test_squash_keeps_the_whole_image():
    from tf_alexnet.data.decode import decode_square

    image = np.zeros((100, 300, 3), np.uint8)
    image[:, :150, 0] = 255  # left half red, right half blue
    image[:, 150:, 2] = 255
    encoded = tf.io.encode_png(image)
    squashed = decode_square(encoded, 64, squash=True).numpy()
    square = decode_square(encoded, 64).numpy()
    assert squashed.shape == square.shape == (64, 64, 3)
    assert squashed[:, 0, 0].min() > 250 and squashed[:, -1, 2].min() > 250  # both ends kept
    assert square[:, 0, 0].min() > 250 and square[:, -1, 0].min() < 5
    assert square[:, -1, 2].min() > 250
    assert abs(square[:, :32, 0].mean() - 255) < 1 and squashed[:, 31, 0].mean() > 250


def test_imported_workdir_is_a_fine_tuning_source(files, tmp_path):
    """train --init_from an imported workdir: Caffe's network (LRN across both towers, k=1)
    and preprocessing (squash, mean pixel, 99 px) are inherited, conv1..fc7 loaded, fc8 new
    for 3 classes; with --train_from=fc6 the convolutions stay Caffe's."""
    from tf_alexnet.model.groupings import canonical_weights
    from tf_alexnet.workdir.restore import restore_model

    root, _ = files
    source = tmp_path / "bvlc"
    assert (
        run_cli(
            "import_weights", f"--caffemodel={root / 'net.caffemodel'}", f"--workdir={source}"
        ).returncode
        == 0
    )
    data = tmp_path / "photos"
    rng = np.random.default_rng(4)
    for name in ("cat", "dog", "fox"):
        for j in range(6):
            write_image(data / name / f"{j}.jpg", rng.integers(0, 255, (90, 140, 3)))
    result = run_cli(
        "train",
        f"--init_from={source}",
        f"--data=folder:{data}",
        f"--workdir={tmp_path / 'ft'}",
        "--train_from=fc6",
        "--train_steps=3",
        "--batch_size=4",
        "--eval_split=",
        "--head_lr_multiplier=10",
        "--learning_rate=0.001",
    )
    assert last_json(result)["step"] == 3
    assert (
        "loaded conv1, conv2, conv3, conv4, conv5, fc6, fc7; new fc8 (3 classes vs. "
        "the source's 10); frozen conv1, conv2, conv3, conv4, conv5"
    ) in result.stderr
    model = info = restore_model(str(tmp_path / "ft"))
    imported = caffe_info = restore_model(str(source))
    assert info.spec.lrn_across_groups and info.spec.lrn == caffe_info.spec.lrn
    assert info.spec.filters == FILTERS and info.spec.num_classes == 3
    assert info.preprocessing == caffe_info.preprocessing  # squash, mean pixel, 99 of 112
    got, want = canonical_weights(model, "towers"), canonical_weights(imported, "towers")
    for name in ("conv1", "conv3", "conv5"):
        np.testing.assert_array_equal(got[name][0], want[name][0])
    assert not np.array_equal(got["fc7"][0], want["fc7"][0])
    scores = last_json(
        run_cli(
            "evaluate",
            f"--workdir={tmp_path / 'ft'}",
            f"--data=folder:{data}",
            "--split=all",
            "--json",
        )
    )
    assert scores["num_images"] == 18  # squashed, minus Caffe's mean pixel, 99 of 112


def deploy_prototxt(
    lrn="local_size: 5 alpha: 0.0001 beta: 0.75", conv2_group=2, region="ACROSS_CHANNELS", side=SIZE
):
    """A deploy.prototxt of the test network, in Caffe's text format (with fields the
    importer does not read: param, bottom/top, pool: MAX ...)."""
    f1, f2, f3, f4, f5 = FILTERS
    convs = [
        ("conv1", f1, 11, 4, 0, 1),
        ("conv2", f2, 5, 1, 2, conv2_group),
        ("conv3", f3, 3, 1, 1, 1),
        ("conv4", f4, 3, 1, 1, 2),
        ("conv5", f5, 3, 1, 1, 2),
    ]
    text = [
        'name: "AlexNet"',
        f'layer {{ name: "data" type: "Input" top: "data" '
        f'input_param {{ shape: {{ dim: 10 dim: 3 dim: {side} dim: {side} }} }} }}',
    ]
    for name, out, k, stride, pad, group in convs:
        text.append(
            f'layer {{ name: "{name}" type: "Convolution" bottom: "x" top: "{name}" '
            f'param {{ lr_mult: 1 decay_mult: 1 }} convolution_param {{ num_output: '
            f'{out} kernel_size: {k} stride: {stride} pad: {pad}'
            + (f' group: {group}' if group > 1 else '')
            + ' } }'
        )
        if name in ("conv1", "conv2"):
            norm = "norm" + name[-1]
            text.append(
                f'layer {{ name: "{norm}" type: "LRN" lrn_param {{ {lrn} '
                f'norm_region: {region} }} }}'
            )
        if name in ("conv1", "conv2", "conv5"):
            text.append(
                f'layer {{ name: "pool{name[-1]}" type: "Pooling" pooling_param '
                '{ pool: MAX kernel_size: 3 stride: 2 } }'
            )
    for name, out in (("fc6", UNITS), ("fc7", UNITS), ("fc8", CLASSES)):
        text.append(
            f'layer {{ name: "{name}" type: "InnerProduct" inner_product_param '
            f'{{ num_output: {out} weight_filler {{ type: "gaussian" }} }} }}'
        )
    return "\n".join(text) + "\n"


def test_prototxt_checks_the_network_and_gives_its_lrn(files, tmp_path):
    root, blobs = files
    model = f"--caffemodel={root / 'net.caffemodel'}"

    def import_with(name, **prototxt):
        path = tmp_path / f"{name}.prototxt"
        path.write_text(deploy_prototxt(**prototxt))
        return run_cli(
            "import_weights", model, f"--prototxt={path}", f"--workdir={tmp_path / name}"
        ), path

    result, _ = import_with("bvlc")
    assert last_json(result)["image_size"] == SIZE
    _, info = imported_logits(tmp_path / "bvlc", np.zeros((1, SIZE, SIZE, 3), np.float32))
    assert info.spec.lrn == LRN_PRESETS["caffe"]  # bvlc_alexnet's norm1/norm2
    # The old (V1) format: net-level input_dim, `layers` with enum types.
    old = re.sub(
        r'layer \{ name: "data".*\n',
        f"input: \"data\" input_dim: 10 input_dim: 3 input_dim: {SIZE} input_dim: {SIZE}\n",
        deploy_prototxt(),
    )
    old = re.sub(
        r'type: "(\w+)"',
        lambda m: "type: " + m.group(1).upper(),
        old.replace("layer {", "layers {"),
    )
    (tmp_path / "v1.prototxt").write_text(old)
    result = run_cli(
        "import_weights",
        model,
        f"--prototxt={tmp_path / 'v1.prototxt'}",
        f"--workdir={tmp_path / 'v1'}",
    )
    assert "layers {" in old and last_json(result)["image_size"] == SIZE
    # Another LRN in the prototxt (k 2, alpha 5e-4 over 3 channels) is the imported one:
    # against Caffe's forward pass with those numbers.
    result, _ = import_with("lrn", lrn="local_size: 3 alpha: 0.0005 beta: 0.6 k: 2")
    assert result.returncode == 0, result.stderr[-2000:]
    rgb = np.random.default_rng(5).uniform(-100, 100, (2, SIZE, SIZE, 3))
    got, info = imported_logits(tmp_path / "lrn", rgb.astype(np.float32))
    assert (info.spec.lrn.depth_radius, info.spec.lrn.bias, info.spec.lrn.beta) == (1, 2.0, 0.6)
    want = np.stack(
        [
            caffe_forward(blobs, x, n=3, k=2.0, alpha=5e-4, beta=0.6)
            for x in rgb[..., ::-1].transpose(0, 3, 1, 2)
        ]
    )
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    for name, prototxt, words in (
        ("ungrouped", dict(conv2_group=1), ["conv2", "(5, 1, 2, 1)", "(5, 1, 2, 2)"]),
        ("within", dict(region="WITHIN_CHANNEL"), ["norm1", "WITHIN_CHANNEL"]),
        ("small", dict(side=67), ["input 67 x 67", "2 x 2"]),
        (
            "no_window",
            dict(lrn="local_size: 0 alpha: 0.0001 beta: 0.75"),
            ["norm1", "local_size 0", "odd local_size"],
        ),
        (
            "even_window",
            dict(lrn="local_size: 4 alpha: 0.0001 beta: 0.75"),
            ["norm1", "local_size 4"],
        ),
    ):
        result, path = import_with(name, **prototxt)
        assert_one_line(result, str(path), *words)
    garbage = tmp_path / "garbage.prototxt"
    garbage.write_text("layer { name: ")
    assert_one_line(
        run_cli("import_weights", model, f"--prototxt={garbage}", f"--workdir={tmp_path / 'g'}"),
        str(garbage),
        "prototxt",
    )
