"""The package as Keras users meet it: `tf_alexnet.AlexNet` fitted with `model.fit` and the
paper's augmentation layers, saved as `.keras` and loaded in a fresh process after `import
tf_alexnet` alone; features (`include_top=False`), `weights=` from each kind of source,
`preprocess_input` / `decode_predictions` against the SavedModel, and one `fit` step against
the package's own train step."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_alexnet
from conftest import ROOT, SHARED_DATA
from helpers import jpeg_files, random_images

pytestmark = pytest.mark.usefixtures("exact_float32")
TINY = dict(num_classes=3, image_size=67, width=0.125, fc_units=32)


def python(script, *args, env=None):
    """Runs `script` in a fresh interpreter (what only a new process shows: which classes
    are registered by `import tf_alexnet` alone); its last stdout line as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


FIT_AND_SAVE = """
    import json, sys
    import numpy as np
    import tf_alexnet, keras, tensorflow as tf
    from tf_alexnet.data.stats import Preprocessing, Stats
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    mean = rng.uniform(90, 140, (76, 76, 3)).astype("float32")
    model = tf_alexnet.AlexNet(3, 67, width=0.125, fc_units=32, init="he", seed=1,
                               class_names=["red", "green", "blue"],
                               preprocessing=Preprocessing(67, 76, "image",
                                                           Stats(mean_image=mean)))
    colours = np.array([[220, 30, 30], [30, 200, 40], [20, 40, 230]])
    labels = rng.integers(0, 3, 48)
    squares = np.clip(colours[labels][:, None, None, :] + rng.integers(-25, 25, (48, 76, 76, 3)),
                      0, 255).astype("uint8")
    ds = tf.data.Dataset.from_tensor_slices((squares, labels)).batch(16)
    train = keras.Sequential([keras.Input((76, 76, 3), dtype="uint8"),
                              tf_alexnet.paper_augmentation(model, seed=3), model])
    schedule = tf_alexnet.LearningRate("cosine", 0.01, 3)
    train.compile(optimizer=tf_alexnet.PaperSGD(schedule), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = train.fit(ds, epochs=1, verbose=0)
    train.save(out + "/train.keras")
    model.save(out + "/alexnet.keras")
    members = [model, tf_alexnet.AlexNet(3, 67, width=0.125, fc_units=32, seed=2,
                                        grouping="fused", name="second")]
    tf_alexnet.ensemble_model(members).save(out + "/ensemble.keras")
    for kind in ("plateau", "step", "cosine"):
        other = tf_alexnet.AlexNet(3, 67, width=0.125, fc_units=32, seed=4)
        other.compile(optimizer=tf_alexnet.PaperSGD(tf_alexnet.LearningRate(
            kind, 0.02, 100, boundaries=[10, 20])), loss="mse")
        other.save(out + f"/{kind}.keras")
    x = rng.uniform(-120, 130, (2, 67, 67, 3)).astype("float32")
    np.save(out + "/x.npy", x)
    np.save(out + "/squares.npy", squares[:2])
    outputs = dict(alexnet=model(x).numpy().tolist(),
                   train=train(squares[:2]).numpy().tolist(),
                   ensemble=tf_alexnet.ensemble_model(members)(x).numpy().tolist(),
                   examples=int(train.layers[0].layers[1].examples.numpy()))
    print(json.dumps(dict(outputs, loss=history.history["loss"])))
"""

LOAD = """
    import json, sys
    import numpy as np
    import tf_alexnet
    import keras
    out = sys.argv[1]
    x, squares = np.load(out + "/x.npy"), np.load(out + "/squares.npy")
    train = keras.models.load_model(out + "/train.keras")
    model = keras.models.load_model(out + "/alexnet.keras")
    ensemble = keras.models.load_model(out + "/ensemble.keras")
    schedules = {}
    for kind in ("plateau", "step", "cosine"):
        other = keras.models.load_model(out + f"/{kind}.keras")
        lr = other.optimizer._learning_rate
        schedules[kind] = [type(other.optimizer).__name__, type(lr).__name__, lr.kind,
                           list(lr.boundaries)]
    print(json.dumps(dict(
        alexnet=model(x).numpy().tolist(), train=train(squares).numpy().tolist(),
        ensemble=ensemble(x).numpy().tolist(), optimizer=type(train.optimizer).__name__,
        schedule=type(train.optimizer._learning_rate).__name__, schedules=schedules,
        types=[type(model).__name__, type(ensemble).__name__],
        layer_types=sorted({type(l).__name__ for l in model.layers}),
        class_names=list(model.class_names), mean=float(model.preprocessing.stats.mean_image.sum()),
        examples=int(train.layers[0].layers[1].examples.numpy()),
        lambdas=[l.name for l in ensemble.layers if type(l).__name__ == "Lambda"])))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("keras_api")
    return out, python(FIT_AND_SAVE, out)


def test_fit_save_and_load_in_a_fresh_process_with_import_tf_alexnet_alone(saved):
    """The issue's bar: fitted with the augmentation layers and PaperSGD, saved, reloaded in
    another process with only `import tf_alexnet` (safe_mode on): same outputs, same
    optimizer and schedule classes, the ensemble without a Lambda layer."""
    out, made = saved
    loaded = python(LOAD, out)
    assert np.isfinite(made["loss"]).all()
    for key in ("alexnet", "train", "ensemble"):
        np.testing.assert_array_equal(loaded[key], made[key], err_msg=key)
    assert loaded["optimizer"] == "PaperSGD" and loaded["schedule"] == "LearningRate"
    assert loaded["schedules"] == {
        k: ["PaperSGD", "LearningRate", k, [10, 20]] for k in ("plateau", "step", "cosine")
    }
    assert loaded["types"] == ["AlexNet", "AlexNetEnsemble"] and loaded["lambdas"] == []
    assert "LocalResponseNormalization" in loaded["layer_types"]
    assert loaded["class_names"] == ["red", "green", "blue"]
    assert loaded["mean"] > 0  # the mean image came back as the preprocessor's weight
    assert loaded["examples"] == made["examples"] == 48  # the draws' stream goes on


def test_inference_of_the_training_model_is_the_export_transform(saved):
    """At inference the augmentation is the mean and the center crop: the fitted Sequential
    on squares equals the AlexNet on preprocess_input of the same squares."""
    out, made = saved
    model = keras.models.load_model(out / "alexnet.keras")
    squares = np.load(out / "squares.npy")
    np.testing.assert_allclose(
        model(tf_alexnet.preprocess_input(squares, model)).numpy(),
        made["train"],
        rtol=1e-5,
        atol=1e-5,
    )


def test_features_without_the_top():
    full = tf_alexnet.AlexNet(seed=0)
    assert tf_alexnet.AlexNet(include_top=False).output_shape == (None, 6, 6, 256)
    assert tf_alexnet.AlexNet(include_top=False, global_pool="max").output_shape == (None, 256)
    fc7 = tf_alexnet.AlexNet(include_top=False, features="fc7", seed=0)
    assert fc7.output_shape == (None, 4096)
    x = random_images(2, 227)
    want = keras.Model(full.input, full.get_layer("fc7").output)(x).numpy()
    np.testing.assert_allclose(fc7(x).numpy(), want, rtol=1e-5, atol=1e-5)
    probabilities = tf_alexnet.AlexNet(seed=0, classifier_activation="softmax")(x).numpy()
    np.testing.assert_allclose(probabilities, tf.nn.softmax(full(x)).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="global_pool"):
        tf_alexnet.AlexNet(include_top=False, features="fc7", global_pool="avg")


def test_weights_from_each_source(tmp_path, colour_run):
    """weights= takes a workdir, a .keras, a .weights.h5: each gives the network and the
    numbers of the source (the workdir's own restore as the reference); features of it
    are its layers' outputs."""
    from tf_alexnet.workdir.restore import restore_model

    source = restore_model(str(colour_run["run"]))
    x = random_images(2, source.spec.image_size)
    want = source(x).numpy()
    from_workdir = tf_alexnet.AlexNet(weights=str(colour_run["run"]))
    np.testing.assert_allclose(from_workdir(x).numpy(), want, rtol=1e-5, atol=1e-6)
    assert from_workdir.class_names == source.class_names
    assert from_workdir.preprocessing == source.preprocessing
    source.save(tmp_path / "m.keras")
    source.save_weights(tmp_path / "m.weights.h5")
    fused = tf_alexnet.AlexNet(weights=str(tmp_path / "m.keras"), grouping="fused")
    assert fused.grouping == "fused"
    np.testing.assert_allclose(fused(x).numpy(), want, rtol=1e-4, atol=1e-5)
    h5 = tf_alexnet.AlexNet(
        weights=str(tmp_path / "m.weights.h5"), image_size=source.spec.image_size, init="he"
    )
    assert h5.spec.filters == source.spec.filters and h5.spec.num_classes == 3
    np.testing.assert_allclose(h5(x).numpy(), want, rtol=1e-5, atol=1e-6)
    features = tf_alexnet.AlexNet(weights=str(colour_run["run"]), include_top=False)
    pool5 = keras.Model(source.input, source.get_layer("concat5").output)(x).numpy()
    np.testing.assert_allclose(features(x).numpy(), pool5, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="another network"):
        tf_alexnet.AlexNet(weights=str(colour_run["run"]), num_classes=5)
    with pytest.raises(ValueError, match="no such file"):
        tf_alexnet.AlexNet(weights=str(tmp_path / "absent.keras"))


def test_weights_from_caffe_files_equal_the_imported_workdir(tmp_path):
    """A .caffemodel or .npy gives what import_weights makes of it (LRN across groups,
    Caffe's squash and mean pixel, ILSVRC synsets)."""
    from test_import_weights import caffe_blobs, npy_of
    from tf_alexnet.command_configs import ImportConfig
    from tf_alexnet.model import caffe_format
    from tf_alexnet.workdir.importer import import_weights
    from tf_alexnet.workdir.restore import restore_model

    blobs = caffe_blobs()
    (tmp_path / "net.caffemodel").write_bytes(caffe_format.write_net(blobs))
    np.save(tmp_path / "net.npy", np.array(npy_of(blobs), dtype=object), allow_pickle=True)
    import_weights(
        ImportConfig(
            caffemodel=str(tmp_path / "net.caffemodel"), workdir=str(tmp_path / "imported")
        )
    )
    imported = restore_model(str(tmp_path / "imported"))
    x = random_images(2, imported.spec.image_size)
    for name in ("net.caffemodel", "net.npy"):
        model = tf_alexnet.AlexNet(weights=str(tmp_path / name))
        assert model.spec == imported.spec and model.preprocessing == imported.preprocessing
        np.testing.assert_allclose(model(x).numpy(), imported(x).numpy(), rtol=1e-5, atol=1e-6)


def test_preprocess_input_and_decode_predictions_match_the_savedmodel(tmp_path, exported):
    """On real photos (ImageNet samples when ../shared/data is there, JPEGs of colours
    otherwise): preprocess_input + the Keras model give the SavedModel's probabilities from
    the same files' bytes, and decode_predictions names its top classes in order."""
    from tf_alexnet.export.loading import load
    from tf_alexnet.workdir.restore import restore_model

    model = restore_model(str(exported["run"]))
    paths = jpeg_files(tmp_path)[:12]
    served = load(str(exported["version"]))
    want = np.stack([served.predict_bytes(open(p, "rb").read()) for p in paths])
    got = tf.nn.softmax(model(tf_alexnet.preprocess_input(paths, model))).numpy()
    np.testing.assert_allclose(got, want, atol=2e-5)
    decoded = tf_alexnet.decode_predictions(got, model, top=2)
    assert len(decoded) == len(paths)
    for row, probs in zip(decoded, got):
        assert [name for name, _, _ in row] == [
            model.class_names[i] for i in np.argsort(-probs)[:2]
        ]
        assert row[0][2] >= row[1][2]


def test_decode_predictions_names_imagenet_classes():
    model = tf_alexnet.AlexNet(include_top=True)  # 1000 classes: ImageNet's synsets
    logits = np.zeros((1, 1000), np.float32)
    logits[0, 1], logits[0, 0] = 9.0, 8.0
    (row,) = tf_alexnet.decode_predictions(logits, model, top=3)
    assert row[0][:2] == ("n01443537", "goldfish") and row[1][:2] == ("n01440764", "tench")
    assert row[0][2] > row[1][2] > row[2][2] > 0
    photos = sorted(SHARED_DATA.glob("imagenet-sample/*/*.JPEG"))[:2]
    if photos:  # a real photo through the whole path: 5 named classes per image
        (decoded,) = tf_alexnet.decode_predictions(
            model(tf_alexnet.preprocess_input(photos[:1], model)), model
        )
        assert len(decoded) == 5 and all(len(name) for _, name, _ in decoded)


def test_one_fit_step_is_the_packages_train_step():
    """The same batch of squares, the same seed: Keras fit with paper_augmentation and
    PaperSGD, and the package's compiled train step (make_augment_on_device, draws from
    make_batch_draws), end with the same weights."""
    from tf_alexnet.config import AugmentConfig
    from tf_alexnet.data.augment import make_augment_on_device, make_batch_draws
    from tf_alexnet.data.stats import Preprocessing, Stats
    from tf_alexnet.train.step import make_train_step

    rng = np.random.default_rng(5)
    stats = Stats(mean_image=rng.uniform(80, 150, (76, 76, 3)).astype("float32"))
    augment = AugmentConfig(image_size=67, resize_size=76, mean="image", pca_sigma=0.1)
    preprocessing = Preprocessing(67, 76, "image", stats)
    squares = rng.integers(0, 256, (8, 76, 76, 3)).astype("uint8")
    labels = rng.integers(0, 3, 8).astype("int32")

    def model():
        return tf_alexnet.AlexNet(**TINY, init="he", seed=6, preprocessing=preprocessing)

    ours, theirs = model(), model()
    # The package's step.
    optimizer = tf_alexnet.PaperSGD(0.01)
    optimizer.build(ours.trainable_variables)
    features = dict(image=tf.constant(squares), **make_batch_draws(augment, 11)(0, 8))
    sums = tf.Variable(tf.zeros([3]))
    step = make_train_step(
        ours,
        optimizer,
        tf.distribute.get_strategy(),
        8,
        sums,
        make_augment_on_device(augment, stats),
    )
    step(iter(tf.data.Dataset.from_tensors((features, tf.constant(labels)))), tf.constant(1))
    # Keras fit.
    train = keras.Sequential(
        [
            keras.Input((76, 76, 3), dtype="uint8"),
            tf_alexnet.paper_augmentation(theirs, seed=11),
            theirs,
        ]
    )
    train.compile(
        optimizer=tf_alexnet.PaperSGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    train.fit(squares, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7, err_msg=a.path)
    assert not np.allclose(
        ours.get_layer("fc8").kernel.numpy(), model().get_layer("fc8").kernel.numpy()
    )  # it did train


def test_augmentation_layers_are_inactive_at_inference():
    model = tf_alexnet.AlexNet(**TINY)
    augmentation = tf_alexnet.paper_augmentation(model, seed=0)
    squares = np.random.default_rng(0).integers(0, 256, (2, 76, 76, 3)).astype("uint8")
    want = tf_alexnet.preprocess_input(squares, model)
    np.testing.assert_allclose(augmentation(squares, training=False).numpy(), want, atol=1e-4)
    trained = augmentation(squares, training=True).numpy()
    assert trained.shape == want.shape and not np.allclose(trained, want)


@pytest.mark.parametrize(
    "first",
    [
        "tf_alexnet.model.layers",
        "tf_alexnet.model.network",
        "tf_alexnet.model.preprocessor",
        "tf_alexnet.model.alexnet",
    ],
)
def test_every_class_registers_whichever_module_loads_keras_first(first):
    """The first import of Keras may come from a module of the package that is then half
    run (tf_alexnet/registration.py): all the classes still register."""
    got = python(f"""
        import json, sys
        import {first}
        import keras
        assert "keras" in sys.modules
        print(json.dumps(sorted(k for k in keras.saving.get_custom_objects()
                                if k.startswith("tf_alexnet>"))))
    """)
    assert got == sorted(f"tf_alexnet>{name}" for name in REGISTERED)


# Every class a model the package saves may hold (tf_alexnet/registration.py's modules).
REGISTERED = (
    "AlexNet",
    "AlexNetEnsemble",
    "EnsembleAverage",
    "InputPreprocessor",
    "LearningRate",
    "LocalResponseNormalization",
    "MeanSubtraction",
    "PCALighting",
    "PaperSGD",
    "PlacedConv2D",
    "PlacedMaxPooling2D",
    "RandomCropFlip",
    "SameMapNormalization",
)


def test_preprocess_input_and_decode_predictions_without_a_model_are_the_papers_imagenet():
    """keras.applications' habit: both work bare. preprocess_input: a 256x256 photo (no
    resize) gives its central 227 crop minus ImageNet's channel mean (0..255), computed here
    with numpy; decode_predictions reads 1000 ImageNet outputs by readable name."""
    from tf_alexnet.data.stats import IMAGENET_MEAN_RGB

    photo = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    x = tf_alexnet.preprocess_input(photo[None])
    start = (256 - 227) // 2
    reference = photo[start : start + 227, start : start + 227].astype(np.float32)
    reference -= np.array(IMAGENET_MEAN_RGB, np.float32)
    assert x.shape == (1, 227, 227, 3)
    np.testing.assert_allclose(x[0], reference, atol=1e-4)
    logits = np.zeros((2, 1000))
    logits[0, 0], logits[1, 1] = 9.0, 9.0
    decoded = tf_alexnet.decode_predictions(logits, top=2)
    assert decoded[0][0][:2] == ("n01440764", "tench") and decoded[1][0][1] == "goldfish"
    assert len(decoded[0]) == 2
    assert decoded[0][0][2] == pytest.approx(np.exp(9) / (np.exp(9) + 999))  # a softmax
    with pytest.raises(ValueError, match=r"without a model.*\[N, 1000\].*pass it"):
        tf_alexnet.decode_predictions(np.zeros((1, 6)))


def test_weights_h5_configures_the_network_it_holds_the_image_size_included(tmp_path):
    """AlexNet(weights=file.weights.h5) with no other argument: the file's classes, widths,
    fc units and grouping, and the input side from fc6's inputs (67 px: a 1x1 map; 131 px:
    3x3); the same function as the model saved."""
    x = np.random.default_rng(0).uniform(-100, 100, (2, 131, 131, 3)).astype("float32")
    for side in (67, 131):
        model = tf_alexnet.AlexNet(**{**TINY, "image_size": side}, init="he", seed=2)
        path = tmp_path / f"{side}.weights.h5"
        model.save_weights(path)
        again = tf_alexnet.AlexNet(weights=str(path))
        assert again.spec == model.spec and again.spec.image_size == side
        np.testing.assert_array_equal(again(x[:, :side, :side]), model(x[:, :side, :side]))


def test_a_wrong_input_shape_is_one_line_naming_the_expected_shape():
    model = tf_alexnet.AlexNet(**TINY, init="he", seed=0)
    for shape, hint in (((2, 100, 100, 3), ""), ((2, 67, 67), ""), ((100, 100, 3), "x[None]")):
        for call in (lambda x: model.predict(x, verbose=0), model):
            with pytest.raises(ValueError) as e:
                call(np.zeros(shape, np.float32))
            line = str(e.value)
            assert "\n" not in line and "[N, 67, 67, 3]" in line and hint in line, line
    assert model.predict(np.zeros((2, 67, 67, 3)), verbose=0).shape == (2, 3)
