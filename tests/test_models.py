"""Every model on batches of several lengths in a row, output_length, build specs and the CTC loss."""
import math

import numpy as np
import pytest

import ctc
import sample_models as sm
import train_utils
from train_utils import ctc_loss
from data_generator import pack_ctc_targets

BUILDERS = {
    "model_0": lambda: sm.simple_rnn_model(input_dim=161),
    "model_1": lambda: sm.rnn_model(input_dim=161, units=32, activation="relu"),
    "model_2": lambda: sm.cnn_rnn_model(input_dim=161, filters=32, kernel_size=11, conv_stride=2,
                                        conv_border_mode="valid", units=32),
    "model_3": lambda: sm.deep_rnn_model(input_dim=161, units=32, recur_layers=2),
    "model_4": lambda: sm.bidirectional_rnn_model(input_dim=161, units=32),
    "model_5": lambda: sm.dilated_cnn_model(input_dim=161, filters=32, kernel_size=3),
    "model_6": lambda: sm.bidirectional_rnn_model(input_dim=13, units=32),
    "model_end": lambda: sm.final_model(units=32, filters=32),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_variable_length_batches_match_output_length(name):
    model = BUILDERS[name]()
    dim = model.input_shape[-1]
    for frames in (250, 100, 37, 251):  # the 2017 TimeDistributed wrapper broke on the second length
        out = model.predict_on_batch(np.random.default_rng(0).normal(size=(3, frames, dim)).astype("float32"))
        assert out.shape == (3, model.output_length(frames), 29)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_build_spec_rebuilds_the_same_architecture(name):
    model = BUILDERS[name]()
    rebuilt = sm.build_from_spec(model.build_spec)
    assert [type(layer).__name__ for layer in rebuilt.layers] == [type(layer).__name__ for layer in model.layers]
    assert rebuilt.count_params() == model.count_params()


def test_rebuilding_a_saved_model_shows_no_summary(monkeypatch):
    # in Jupyter the summary bypasses sys.stdout, so count the calls rather than capture the output
    shown = []
    monkeypatch.setattr(sm.keras.Model, "summary", lambda self, *a, **k: shown.append(self.name))
    model = sm.final_model(units=8, recur_layers=1)
    assert shown == ["final_model"]  # the model functions still show it, as in 2017
    sm.build_from_spec(model.build_spec)
    assert shown == ["final_model"]
    sm.build_from_spec(model.build_spec, verbose=True)
    assert shown == ["final_model", "final_model"]
    sm.final_model(units=8, recur_layers=1)
    assert len(shown) == 3  # the switch is back on afterwards


def test_deep_rnn_with_one_layer_is_model_1():
    one = sm.deep_rnn_model(input_dim=161, units=20, recur_layers=1, activation="relu")
    base = sm.rnn_model(input_dim=161, units=20, activation="relu")
    assert [l.get_config() for l in one.layers[1:]] == [l.get_config() for l in base.layers[1:]]


def test_final_model_is_callable_without_arguments_and_unlike_the_others():
    final = sm.final_model()
    shape = [type(layer).__name__ for layer in final.layers]
    for name, build in BUILDERS.items():
        if name != "model_end":
            assert [type(layer).__name__ for layer in build().layers] != shape


@pytest.mark.parametrize("length, mode, stride, dilation, expected", [
    (100, "same", 1, 1, 100), (100, "same", 2, 1, 50), (101, "same", 2, 1, 51),
    (100, "valid", 1, 1, 90), (100, "valid", 2, 1, 45), (100, "valid", 1, 2, 80), (None, "valid", 2, 1, None)])
def test_cnn_output_length(length, mode, stride, dilation, expected):
    assert sm.cnn_output_length(length, 11, mode, stride, dilation) == expected


def test_cnn_output_length_matches_keras():
    import keras
    for mode, stride, dilation in (("valid", 2, 1), ("same", 3, 1), ("valid", 1, 3), ("same", 1, 2)):
        layer = keras.layers.Conv1D(4, 5, strides=stride, padding=mode, dilation_rate=dilation)
        for frames in (40, 41, 57):
            out = layer(np.zeros((1, frames, 3), "float32"))
            assert out.shape[1] == sm.cnn_output_length(frames, 5, mode, stride, dilation)


@pytest.fixture(params=["numba", "tensorflow"])
def kernel(request, monkeypatch):
    """Each CTC test runs on both kernels."""
    monkeypatch.setattr(train_utils, "CTC_KERNEL", request.param)
    return request.param


def test_ctc_loss_matches_a_hand_computed_case(kernel):
    # two frames, label "a" (index 2): the paths a-a, a-blank, blank-a all collapse to "a"
    p = np.full((1, 2, 29), 0.0, dtype="float32")
    p[0, 0, 2], p[0, 0, 28], p[0, 0, 5] = 0.6, 0.3, 0.1
    p[0, 1, 2], p[0, 1, 28], p[0, 1, 5] = 0.2, 0.7, 0.1
    expected = -math.log(0.6 * 0.2 + 0.6 * 0.7 + 0.3 * 0.2)
    loss = ctc_loss(pack_ctc_targets([[2]], [2]), p).numpy()
    assert loss.shape == (1,)
    assert loss[0] == pytest.approx(expected, rel=1e-4)


def test_ctc_loss_respects_each_clips_lengths(kernel):
    # label "ab" in 3 frames must pass a-b with an optional blank or repeat: enumerate by hand
    rng = np.random.default_rng(1)
    p = rng.random((2, 5, 29)).astype("float32")
    p /= p.sum(axis=-1, keepdims=True)
    a, b, blank = 2, 3, 28
    q = p[0]
    paths = [(a, b, blank), (a, blank, b), (blank, a, b), (a, a, b), (a, b, b)]
    expected0 = -math.log(sum(q[0, x] * q[1, y] * q[2, z] for x, y, z in paths))
    expected1 = -math.log(sum(p[1, 0, x] * p[1, 1, y] for x, y in [(a, a), (a, blank), (blank, a)]))
    loss = ctc_loss(pack_ctc_targets([[a, b], [a]], [3, 2]), p).numpy()
    np.testing.assert_allclose(loss, [expected0, expected1], rtol=1e-4)


def loss_and_gradient_on_both_kernels(targets, logits, weights=1.0):
    """{kernel: (per-clip losses, gradient of their weighted sum with respect to the logits)}."""
    import tensorflow as tf

    results = {}
    for name in ("numba", "tensorflow"):
        train_utils.CTC_KERNEL = name
        try:
            with tf.GradientTape() as tape:
                tape.watch(logits)
                loss = ctc_loss(targets, tf.nn.softmax(logits))
                total = tf.reduce_sum(loss * weights)
            results[name] = loss.numpy(), tape.gradient(total, logits).numpy()
        finally:
            train_utils.CTC_KERNEL = "auto"
    return results


def test_ctc_kernels_agree_on_loss_and_gradient():
    # a batch with padding, repeated letters (a blank must separate them) and a one-letter label
    import tensorflow as tf

    rng = np.random.default_rng(4)
    frames = [60, 45, 33, 8]
    labels = [list(rng.integers(0, 28, 20)), [5, 5, 5, 7, 7], list(rng.integers(0, 28, 12)), [9]]
    targets = tf.constant(pack_ctc_targets(labels, frames))
    logits = tf.constant(rng.normal(size=(4, 60, 29)).astype("float32") * 3)
    results = loss_and_gradient_on_both_kernels(targets, logits, weights=[1.0, 2.0, 0.5, 1.0])
    np.testing.assert_allclose(results["numba"][0], results["tensorflow"][0], rtol=1e-5)
    np.testing.assert_allclose(results["numba"][1], results["tensorflow"][1], atol=2e-4)
    assert np.all(results["numba"][1][1, 45:] == 0)  # no gradient into padding frames


@pytest.mark.parametrize("path", ["scaled", "logarithmic"])
def test_ctc_gradient_matches_finite_differences(path):
    rng = np.random.default_rng(5)
    logits, label = rng.normal(size=(12, 6)) * 2, np.array([1, 1, 3, 2])

    def loss(x, grad=None):
        symbol, skip, reach, need = ctc._states(label, 5)
        probs, log_probs = ctc._softmax(x)
        grad = np.zeros_like(x) if grad is None else grad
        if path == "scaled":
            return ctc._scaled(probs, symbol, skip, reach, need, grad)
        return ctc._logarithmic(log_probs, symbol, skip, reach, need, grad)

    grad = np.zeros_like(logits)
    assert loss(logits, grad) == pytest.approx(ctc.ctc_clip(logits, label, 5, np.zeros_like(logits)), rel=1e-12)
    step, numeric = 1e-6, np.zeros_like(logits)
    for index in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (loss(up) - loss(down)) / (2 * step)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_ctc_falls_back_to_log_space_only_out_of_range():
    label, probs_spread = np.array([1, 2, 3, 1]), {"narrow": 2, "wide": 400}
    for name, spread in probs_spread.items():
        logits = np.random.default_rng(7).normal(size=(12, 6)) * spread
        symbol, skip, reach, need = ctc._states(label, 5)
        probs, _ = ctc._softmax(logits)
        scaled = ctc._scaled(probs, symbol, skip, reach, need, np.zeros_like(logits))
        assert np.isnan(scaled) == (name == "wide")
        assert np.isfinite(ctc.ctc_clip(logits, label, 5, np.zeros_like(logits)))


def test_ctc_loss_is_infinite_where_the_label_cannot_fit():
    # "aab" needs 4 frames (a, blank, a, b); 3 give no alignment
    losses, grads = ctc.ctc_batch(np.zeros((2, 4, 29), "float32"), np.array([3, 4]),
                                           np.array([[2, 2, 3], [2, 2, 3]]), np.array([3, 3]), 28)
    assert np.isinf(losses[0]) and np.isfinite(losses[1])
    assert not grads[0].any() and grads[1].any()


@pytest.mark.parametrize("case", ["sure of its blanks", "sure of a wrong letter", "sure, at random", "two halves"])
def test_ctc_kernel_is_exact_where_probabilities_span_more_than_float64(case):
    # a model that puts e^-16 on every letter leaves alignments 100 letters apart 1e-700 from each other:
    # beyond float64's range, so the rescaled probabilities must give way to log space here
    import tensorflow as tf

    rng = np.random.default_rng(6)
    frames, logits = 400, np.zeros((400, 29), "float32")
    label = list(np.arange(150) % 27)
    if case == "sure of its blanks":
        logits[:, 28] = 16
    elif case == "sure of a wrong letter":
        logits[:, 4], label = 16, list(rng.integers(0, 28, 100))
    elif case == "sure, at random":
        logits, label = (rng.normal(size=(400, 29)) * 12).astype("float32"), list(rng.integers(0, 28, 120))
    else:
        logits[:, 28], logits[:200, 3] = 16, 30
    targets = tf.constant(pack_ctc_targets([label], [frames]))
    results = loss_and_gradient_on_both_kernels(targets, tf.constant(logits[None]))
    (loss, grad), (want_loss, want_grad) = results["numba"], results["tensorflow"]
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(grad, want_grad, atol=1e-2)  # TensorFlow's kernel runs in float32


def test_ctc_kernel_choice(monkeypatch):
    monkeypatch.setattr(train_utils, "CTC_KERNEL", "auto")
    import tensorflow as tf

    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    assert train_utils.ctc_kernel() == ("tensorflow" if on_gpu else "numba")
    monkeypatch.setattr(train_utils, "CTC_KERNEL", "cuda")
    with pytest.raises(ValueError, match="VUI_CTC='cuda'"):
        train_utils.ctc_kernel()


@pytest.mark.parametrize("backwards", [False, True])
def test_projected_gru_is_a_gru(backwards):
    # same weights in, same outputs and gradients out, as keras.layers.GRU, in either direction
    import keras
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(3).normal(size=(3, 17, 11)).astype("float32"))
    plain = keras.layers.GRU(6, return_sequences=True, go_backwards=backwards)
    projected = sm.ProjectedGRU(6, return_sequences=True, go_backwards=backwards)
    plain.build(x.shape)
    projected.build(x.shape)
    projected.set_weights([w + 0.1 for w in plain.get_weights()])
    plain.set_weights(projected.get_weights())  # non-zero biases on both
    results = []
    for layer in (plain, projected):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            total = tf.reduce_sum(y * tf.range(1.0, 7.0))
        results.append((y.numpy(), *[g.numpy() for g in tape.gradient(total, [x, *layer.trainable_weights])]))
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    last = sm.ProjectedGRU(6, go_backwards=backwards)
    last.build(x.shape)
    last.set_weights(plain.get_weights())
    np.testing.assert_allclose(last(x).numpy(), results[0][0][:, -1], rtol=1e-4, atol=1e-5)
