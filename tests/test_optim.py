"""The paper's update rule and the learning-rate schedules, against independent references."""

import numpy as np
import pytest
import tensorflow as tf

from tf_alexnet.train.optim import LearningRate, PaperSGD


def numpy_paper_update(w, v, g, lr, mu, decay):
    """v <- mu v - decay lr w - lr g ; w <- w + v (the paper's §5)."""
    v = mu * v - decay * lr * w - lr * g
    return w + v, v


@pytest.mark.parametrize("decay_biases", [False, True])
def test_paper_sgd_matches_numpy(decay_biases):
    rng = np.random.default_rng(0)
    kernel = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    bias = tf.Variable(rng.standard_normal(4).astype(np.float32))
    lr = tf.Variable(0.1)
    opt = PaperSGD(
        learning_rate=lambda: lr, momentum=0.9, decay=0.0005 * 100, decay_biases=decay_biases
    )
    w = {"k": kernel.numpy().astype(np.float64), "b": bias.numpy().astype(np.float64)}
    v = {"k": np.zeros((3, 4)), "b": np.zeros(4)}
    for step in range(6):
        if step == 3:
            lr.assign(0.01)  # a learning-rate change mid-way
        grads = {"k": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
        opt.apply_gradients(
            [
                (tf.constant(grads["k"], tf.float32), kernel),
                (tf.constant(grads["b"], tf.float32), bias),
            ]
        )
        for name in ("k", "b"):
            decay = 0.05 if (name == "k" or decay_biases) else 0.0
            w[name], v[name] = numpy_paper_update(
                w[name], v[name], grads[name], float(lr.numpy()), 0.9, decay
            )
    np.testing.assert_allclose(kernel.numpy(), w["k"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias.numpy(), w["b"], rtol=1e-5, atol=1e-6)


def test_plateau_divides_after_patience_at_most_max_times():
    s = LearningRate("plateau", 0.01, 1000, factor=0.1, patience=2, max_reductions=3)
    errors = [
        0.9,
        0.8,
        0.85,
        0.81,  # two evaluations without improvement: divide
        0.7,
        0.75,  # one bad evaluation: no division
        0.76,
        0.8,
        0.9,
        0.9,
        0.9,
        0.9,
        0.9,
        0.9,
        0.9,
    ]
    reduced = [s.report(e) for e in errors]
    assert reduced == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]
    assert int(s.reductions.numpy()) == 3
    assert float(s(tf.constant(5))) == pytest.approx(0.01 * 1e-3)


def test_plateau_state_survives_a_restart(tmp_path):
    s = LearningRate("plateau", 0.01, 1000, patience=2)
    for e in (0.5, 0.6, 0.7):
        s.report(e)
    assert int(s.reductions.numpy()) == 1
    s.report(0.8)  # one evaluation without improvement since the division
    path = tf.train.Checkpoint(**s.trackables()).save(str(tmp_path / "ckpt"))
    fresh = LearningRate("plateau", 0.01, 1000, patience=2)
    tf.train.Checkpoint(**fresh.trackables()).restore(path).assert_consumed()
    assert float(fresh(0)) == pytest.approx(0.001)
    assert float(fresh.best.numpy()) == pytest.approx(0.5)
    assert fresh.report(0.9) is True  # the count before the restart carried over
    assert float(fresh(0)) == pytest.approx(0.0001)


def test_step_and_cosine_and_warmup():
    step = LearningRate("step", 0.1, 100, boundaries=(10, 20), factor=0.1)
    assert [round(float(step(i)), 6) for i in (0, 9, 10, 19, 20, 99)] == [
        0.1,
        0.1,
        0.01,
        0.01,
        0.001,
        0.001,
    ]
    cosine = LearningRate("cosine", 0.1, 100)
    assert float(cosine(0)) == pytest.approx(0.1)
    assert float(cosine(50)) == pytest.approx(0.05, abs=1e-6)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-7)
    warm = LearningRate("cosine", 0.1, 100, warmup_steps=10)
    assert float(warm(0)) == pytest.approx(0.1 * 0.1 * (1 + np.cos(0)) / 2)
    assert step.report(0.5) is False  # only plateau divides on reports


def test_head_lr_multiplier_scales_both_terms_of_fc8s_update_only():
    """Caffe's lr_mult: fc8's eps becomes 10 eps, in the gradient and the decay term."""
    import keras

    rng = np.random.default_rng(1)
    layers = {name: keras.layers.Dense(3, name=name) for name in ("fc7", "fc8")}
    for layer in layers.values():
        layer.build((None, 4))
    variables = [v for layer in layers.values() for v in layer.trainable_variables]
    opt = PaperSGD(learning_rate=0.1, momentum=0.9, decay=0.01, lr_multipliers={"fc8": 10.0})
    assert [v.path for v in variables][2:] == ["fc8/kernel", "fc8/bias"]
    w = [v.numpy().astype(np.float64) for v in variables]
    vel = [np.zeros_like(x) for x in w]
    for _ in range(3):
        grads = [rng.standard_normal(x.shape) for x in w]
        opt.apply_gradients([(tf.constant(g, tf.float32), v) for g, v in zip(grads, variables)])
        for i, v in enumerate(variables):
            lr = 0.1 * (10.0 if v.path.startswith("fc8/") else 1.0)
            decay = 0.01 if len(v.shape) > 1 else 0.0
            w[i], vel[i] = numpy_paper_update(w[i], vel[i], grads[i], lr, 0.9, decay)
    for v, want in zip(variables, w):
        np.testing.assert_allclose(v.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=v.path)
    assert PaperSGD.from_config(opt.get_config()).lr_multipliers == {"fc8": 10.0}


def test_a_model_compiled_with_paper_sgd_and_a_schedule_saves_and_reloads(tmp_path):
    """PaperSGD and LearningRate are registered Keras objects with a config: model.save
    works and load_model gives the same optimizer class and schedule (issue 26 builds the
    rest of the .keras story on this)."""
    import keras
    import numpy as np

    inputs = keras.Input([4])
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    schedule = LearningRate("step", 0.1, 100, boundaries=(10, 20), factor=0.5, warmup_steps=2)
    model.compile(
        optimizer=PaperSGD(schedule, decay=1e-3, lr_multipliers={"dense": 2.0}), loss="mse"
    )
    model.fit(np.ones([8, 4]), np.zeros([8, 3]), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is PaperSGD and loaded.optimizer.decay == 1e-3
    assert loaded.optimizer.lr_multipliers == {"dense": 2.0}
    again = loaded.optimizer._learning_rate  # the schedule (.learning_rate: its value now)
    assert isinstance(again, LearningRate) and again.get_config() == schedule.get_config()
    for step in (0, 5, 15, 25):
        assert float(again(step)) == float(schedule(step))
    np.testing.assert_array_equal(
        loaded.predict(np.ones([2, 4]), verbose=0), model.predict(np.ones([2, 4]), verbose=0)
    )
