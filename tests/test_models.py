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
