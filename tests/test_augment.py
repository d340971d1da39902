"""The paper's augmentation and test crops, checked against their definitions."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tf_alexnet.config import AugmentConfig
from tf_alexnet.data import augment, crops, decode
from tf_alexnet.data import stats as stats_lib

N = 12000  # 100 offsets: P(some offset never drawn) ~ 100 * exp(-N / 100) ~ 0

# 67-pixel crops of 76-pixel squares: the paper's 227-of-256 transform at a tenth of the
# pixels (the code does not depend on the sizes; the crop tests below use the paper's).
BASE = AugmentConfig(image_size=67, resize_size=76, mean="none", pca_sigma=0.0, flip=False)
PAPER = AugmentConfig(image_size=227, mean="none", pca_sigma=0.0, flip=False)


def train_preprocess(config, stats, seed=0):
    """The training transform on one image: the host half (the square, the draws of a batch
    of one starting at stream index `first`) then the device half, as the train step runs
    it."""
    square = augment.make_square(config)
    draws = augment.make_batch_draws(config, seed)
    on_device = augment.make_augment_on_device(config, stats)

    def fn(x, first):
        return on_device({"image": square(x)[None], **draws(first, 1)})[0]

    return fn


def position_image(size=256):
    """R = row, G = column, B = 7: a crop's first pixel tells its offset."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, 7)], -1).astype(np.uint8)


def run_train(config, n, image=None):
    fn = train_preprocess(config, stats_lib.Stats())
    image = tf.constant(position_image(76) if image is None else image)
    ds = tf.data.Dataset.range(n).map(lambda i: fn(image, i), num_parallel_calls=tf.data.AUTOTUNE)
    # Keep only the corner pixels: top-left and top-right of each crop.
    ds = ds.map(lambda x: tf.stack([x[0, 0], x[0, -1]])).batch(1000)
    return np.concatenate([b.numpy() for b in ds])


def test_random_crops_cover_every_offset():
    corners = run_train(BASE, N)
    offsets = {(int(r), int(c)) for r, c, _ in corners[:, 0]}
    assert offsets == {(r, c) for r in range(10) for c in range(10)}


def test_flips_are_half():
    corners = run_train(dataclasses.replace(BASE, flip=True), N)
    flipped = corners[:, 0, 1] > corners[:, 1, 1]  # left column index > right one
    assert abs(flipped.mean() - 0.5) < 0.02
    # A flipped crop is the mirror image of an unflipped crop at the same offset.
    assert np.all(np.abs(corners[:, 0, 1] - corners[:, 1, 1]) == 66)


def test_pca_lighting_statistics():
    sigma = 0.1
    config = dataclasses.replace(BASE, pca_sigma=sigma)
    noise = run_train(config, N, image=np.zeros((76, 76, 3), np.uint8))[:, 0] / 255.0
    eigvec = np.array(stats_lib.IMAGENET_EIGVEC)
    eigval = np.array(stats_lib.IMAGENET_EIGVAL)
    # Projected on the eigenvectors, the noise is alpha_i * lambda_i, alpha_i ~ N(0, sigma).
    projected = noise @ eigvec
    assert np.all(np.abs(projected.mean(0)) < 4 * sigma * eigval / np.sqrt(N))
    cov = np.cov(projected.T)
    np.testing.assert_allclose(np.diag(cov), (sigma * eigval) ** 2, rtol=0.06)
    off = cov - np.diag(np.diag(cov))
    assert np.all(np.abs(off) < 0.06 * np.sqrt(np.outer(np.diag(cov), np.diag(cov))))


def test_same_result_eagerly_and_in_dataset_map():
    config = dataclasses.replace(BASE, flip=True, pca_sigma=0.1, mean="channel")
    fn = train_preprocess(config, stats_lib.Stats())
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (300, 280, 3), np.uint8))
    encoded = tf.io.encode_png(image)
    firsts = [tf.constant(i, tf.int64) for i in range(4)]
    eager = [fn(encoded, i).numpy() for i in firsts]
    mapped = list(
        tf.data.Dataset.from_tensor_slices(tf.stack(firsts))
        .map(lambda i: fn(encoded, i))
        .as_numpy_iterator()
    )
    # Same random draws; only float rounding may differ between eager and graph kernels.
    for a, b in zip(eager, mapped):
        np.testing.assert_allclose(a, b, atol=1e-3)
    eval_fn = crops.make_eval_preprocess(config.preprocessing(stats_lib.Stats()))
    mapped = next(iter(tf.data.Dataset.from_tensors(encoded).map(eval_fn)))
    np.testing.assert_allclose(eval_fn(encoded).numpy(), mapped.numpy(), atol=1e-3)


def test_ten_crops_are_corners_center_and_flips():
    image = position_image()
    ten = crops.make_eval_preprocess(PAPER.preprocessing(stats_lib.Stats()), "ten")(
        tf.constant(image)
    ).numpy()
    assert ten.shape == (10, 227, 227, 3)
    want = [
        image[t : t + 227, l : l + 227] for t, l in [(0, 0), (0, 29), (29, 0), (29, 29), (14, 14)]
    ]
    want += [w[:, ::-1] for w in want]
    for got, expected in zip(ten, want):
        np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_center_crop_and_mean_image():
    mean_image = np.random.default_rng(1).random((256, 256, 3)).astype(np.float32) * 100
    stats = stats_lib.Stats(mean_image=mean_image)
    image = position_image()
    got = crops.make_eval_preprocess(dataclasses.replace(PAPER, mean="image").preprocessing(stats))(
        tf.constant(image)
    ).numpy()
    np.testing.assert_allclose(
        got, (image.astype(np.float32) - mean_image)[14:241, 14:241], rtol=1e-6
    )
    # Training subtracts the mean image at the crop's own offset.
    train = train_preprocess(dataclasses.replace(PAPER, mean="image"), stats)
    out = train(tf.constant(image), tf.constant(5, tf.int64)).numpy()
    plain = train_preprocess(PAPER, stats)(tf.constant(image), tf.constant(5, tf.int64)).numpy()
    top, left = int(plain[0, 0, 0]), int(plain[0, 0, 1])
    np.testing.assert_allclose(
        out, plain - mean_image[top : top + 227, left : left + 227], rtol=1e-5, atol=1e-4
    )


def test_decode_formats_to_rgb_squares():
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (300, 500, 1), np.uint8)
    for encoded in (tf.io.encode_png(gray), tf.io.encode_jpeg(gray)):
        square = decode.decode_square(encoded, 256)
        assert square.shape == (256, 256, 3)
        np.testing.assert_array_equal(square[..., 0], square[..., 2])
    small = tf.io.encode_png(rng.integers(0, 256, (40, 60, 3), np.uint8))  # < the crop
    assert decode.decode_square(small, 256).shape == (256, 256, 3)
    big = tf.io.encode_jpeg(np.full((2400, 1800, 3), 90, np.uint8))  # DCT-scaled decode
    np.testing.assert_allclose(decode.decode_square(big, 256).numpy(), 90, atol=1.5)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    image_mod = pytest.importorskip("PIL.Image", reason="Pillow makes the CMYK JPEG")
    path = tmp_path / "cmyk.jpg"
    image_mod.new("RGB", (64, 48), (200, 50, 10)).convert("CMYK").save(path, "JPEG")
    square = decode.decode_square(tf.io.read_file(str(path)), 256).numpy()
    np.testing.assert_allclose(square.mean((0, 1)), (200, 50, 10), atol=3)


@pytest.mark.usefixtures("exact_float32")  # the lighting is a matmul: no TF32 on a GPU
def test_augment_on_device_equals_the_papers_transform_with_the_same_draws():
    """A batch of uint8 squares augmented as in the train step equals the paper's transform
    (§4.1) written here in numpy per image, with the draws make_batch_draws documents: one
    stateless_split((seed, first), 3) per batch, then the offsets, flips and alphas of its
    examples."""
    rng = np.random.default_rng(3)
    size, crop, sigma, n = 76, 67, 0.1, 16
    config = AugmentConfig(
        image_size=crop, resize_size=size, mean="image", flip=True, pca_sigma=sigma
    )
    stats = stats_lib.Stats(mean_image=rng.random((size, size, 3)).astype(np.float32) * 200)
    squares = rng.integers(0, 256, (n, size, size, 3), np.uint8)
    draws = augment.make_batch_draws(config, 9)(tf.constant(32, tf.int64), n)
    keys = tf.random.experimental.stateless_split(tf.constant([9, 32], tf.int64), 3)
    offsets = tf.random.stateless_uniform([n, 2], keys[0], 0, size - crop + 1, tf.int32)
    np.testing.assert_array_equal(draws["offset"], offsets)
    np.testing.assert_array_equal(draws["flip"], tf.random.stateless_uniform([n], keys[1]) < 0.5)
    np.testing.assert_array_equal(
        draws["alpha"], tf.random.stateless_normal([n, 3], keys[2]) * sigma
    )
    batch = {"image": tf.constant(squares), **draws}
    got = tf.function(augment.make_augment_on_device(config, stats))(batch).numpy()
    eigvec = np.array(stats_lib.IMAGENET_EIGVEC)
    eigval = np.array(stats_lib.IMAGENET_EIGVAL)
    per_image = zip(squares, offsets.numpy(), draws["flip"].numpy(), draws["alpha"].numpy(), got)
    for x, (top, left), flip, alpha, out in per_image:
        want = (
            x[top : top + crop, left : left + crop].astype(np.float64)
            - stats.mean_image[top : top + crop, left : left + crop]
        )
        want = want[:, ::-1] if flip else want
        want = want + eigvec @ (alpha * eigval) * 255.0
        np.testing.assert_allclose(out, want, atol=2e-3)
    assert 0 < draws["flip"].numpy().sum() < n  # both decisions occur in the batch
    assert len({tuple(o) for o in offsets.numpy()}) > n // 2  # each example its own crop


@pytest.mark.parametrize("encoded", [False, True])
def test_squash_training_crops_see_the_whole_image(encoded):
    """--resize_mode=squash (Caffe, an imported model's): a 1:3 image of red, green and blue
    thirds keeps all three in its square; shorter-side + central square sees only green."""
    thirds = np.concatenate(
        [
            np.broadcast_to(np.array(c, np.uint8), (76, 76, 3))
            for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))
        ],
        axis=1,
    )
    image = tf.constant(thirds)
    if encoded:
        image = tf.io.encode_png(image)
    for mode, colours in (("squash", 3), ("shorter", 1)):
        config = dataclasses.replace(BASE, resize_mode=mode)
        crop = augment.make_square(config)(image).numpy()
        dominant = {
            int(np.argmax(pixel))
            for pixel in crop.reshape(-1, 3)
            if pixel.max() > 200 and np.sort(pixel)[1] < 50
        }
        assert len(dominant) == colours, (mode, dominant)
        assert config.preprocessing(stats_lib.Stats()).resize_mode == mode
