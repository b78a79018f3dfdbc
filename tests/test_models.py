"""Every model on batches of several lengths in a row, output_length and build specs."""
import numpy as np
import pytest

import sample_models as sm

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


@pytest.mark.parametrize("units", [6, 70])
@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("graph", [False, True])  # eagerly, and traced as fit traces it
def test_projected_gru_is_a_gru(backwards, units, graph):
    # same weights in, same outputs and gradients out, as keras.layers.GRU, in either direction
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)  # the same initial weights every run
    x = tf.constant(np.random.default_rng(3).normal(size=(3, 17, 11)).astype("float32"))
    plain = keras.layers.GRU(units, return_sequences=True, go_backwards=backwards)
    projected = sm.ProjectedGRU(units, return_sequences=True, go_backwards=backwards)
    plain.build(x.shape)
    projected.build(x.shape)
    projected.set_weights([w + 0.1 for w in plain.get_weights()])
    plain.set_weights(projected.get_weights())  # non-zero biases on both
    results = []
    for layer in (plain, projected):
        def outputs_and_gradients(x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                total = tf.reduce_sum(y * tf.range(1.0, units + 1.0))
            return y, tape.gradient(total, [x, *layer.trainable_weights])
        y, grads = (tf.function(outputs_and_gradients) if graph else outputs_and_gradients)(x)
        results.append((y.numpy(), *[g.numpy() for g in grads]))
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)  # sums of hundreds of float32 terms
    last = sm.ProjectedGRU(units, go_backwards=backwards)
    last.build(x.shape)
    last.set_weights(plain.get_weights())
    np.testing.assert_allclose(last(x).numpy(), results[0][0][:, -1], rtol=1e-4, atol=1e-5)


def gru_outputs_and_gradients(layer, x, weights):
    """A GRU layer's outputs and the gradients of a weighted sum of them, with ``weights`` set."""
    import tensorflow as tf

    layer.build(x.shape)
    layer.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y * tf.range(1.0, y.shape[-1] + 1.0))
    return [t.numpy() for t in (y, *tape.gradient(total, [x, *layer.trainable_weights]))]


@pytest.mark.parametrize("inputs, units, in_bfloat16", [(256, 128, True), (64, 64, False)])
def test_large_input_products_run_in_bfloat16_and_match_float32(monkeypatch, inputs, units, in_bfloat16):
    # the final model's layer (256 x 384 weights) within bfloat16's rounding of a GRU in float32; a
    # small layer (64 x 192) exactly as in float32
    import keras
    import tensorflow as tf

    import gru

    keras.utils.set_random_seed(5)
    x = tf.constant(np.random.default_rng(5).normal(size=(2, 9, inputs)).astype("float32"))
    plain = keras.layers.GRU(units, return_sequences=True)
    plain.build(x.shape)
    weights = plain.get_weights()
    want = gru_outputs_and_gradients(plain, x, weights)
    monkeypatch.setattr(gru, "BFLOAT16", True)
    got = gru_outputs_and_gradients(sm.ProjectedGRU(units, return_sequences=True), x, weights)
    differences = [np.abs(g - w).max() / np.abs(w).max() for g, w in zip(got, want)]
    if in_bfloat16:
        assert 1e-5 < differences[0] < 2e-2  # rounded: the product ran in bfloat16, and only rounded
        assert max(differences) < 3e-2
    else:
        assert max(differences) < 1e-5
    layer = sm.ProjectedGRU(units, return_sequences=True)  # inference: float32 whatever the layer's size
    layer.build(x.shape)
    layer.set_weights(weights)
    np.testing.assert_allclose(layer(x, training=False).numpy(), plain(x).numpy(), rtol=1e-4, atol=1e-5)


def test_bfloat16_follows_the_cpu_unless_told(tmp_path, monkeypatch):
    import gru

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n")
    assert gru.cpu_has_bfloat16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512bw\n")
    assert not gru.cpu_has_bfloat16(cpuinfo)
    assert not gru.cpu_has_bfloat16(tmp_path / "missing")
    monkeypatch.setattr(gru, "cpu_has_bfloat16", lambda: True)
    assert gru.bfloat16_setting("auto") and gru.bfloat16_setting("1") and not gru.bfloat16_setting("0")
    monkeypatch.setattr(gru, "cpu_has_bfloat16", lambda: False)
    assert not gru.bfloat16_setting("auto")
    with pytest.raises(ValueError, match="VUI_BF16='yes'"):
        gru.bfloat16_setting("yes")


def test_fused_batch_normalization_is_keras_batch_normalization():
    # the same outputs, gradients and moving statistics as Keras' layer in training, and its inference
    import keras
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).normal(1.0, 3.0, size=(4, 11, 6)).astype("float32"))
    ours, keras_bn = sm.BatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    results = []
    for layer in (ours, keras_bn):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, 6).astype("float32"))
        layer.beta.assign(np.linspace(-1.0, 1.0, 6).astype("float32"))

        @tf.function
        def step(a, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = layer(a, training=True)
                loss = tf.reduce_sum(y * tf.sin(y))
            return [y, *tape.gradient(loss, [a, layer.gamma, layer.beta])]

        results.append([t.numpy() for t in step(x)] + [layer.moving_mean.numpy(), layer.moving_variance.numpy(),
                                                       layer(x, training=False).numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    assert not np.allclose(results[0][4], 0) and not np.allclose(results[0][5], 1)  # the statistics moved


def test_dropout_keeps_the_share_and_scale_of_keras_dropout():
    import tensorflow as tf

    layer = sm.Dropout(0.25, seed=3)
    ones = tf.ones((64, 50, 32))
    first, second = layer(ones, training=True).numpy(), layer(ones, training=True).numpy()
    assert set(np.unique(first)) == {0.0, np.float32(1 / 0.75)}
    assert abs((first != 0).mean() - 0.75) < 0.01
    assert (first != second).mean() > 0.2  # a fresh mask at every call
    np.testing.assert_array_equal(layer(ones, training=False).numpy(), ones.numpy())
    # inside a compiled training step too, the mask changes from step to step
    step = tf.function(lambda a: layer(a, training=True))
    assert (step(ones).numpy() != step(ones).numpy()).mean() > 0.2
