"""gru.py: the compiled GRU loop against a float64 GRU written out in numpy, values and gradients."""
import numpy as np
import pytest

import gru


def reference_outputs(projected, kernel, bias, state):
    """Keras' GRU (reset_after) over projected inputs, in float64, one step at a time."""
    units = kernel.shape[0]
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, outputs = state.astype(np.float64), []
    for t in range(projected.shape[1]):
        x = projected[:, t].astype(np.float64)
        g = h @ kernel + bias
        z = sigmoid(x[:, :units] + g[:, :units])
        r = sigmoid(x[:, units:2 * units] + g[:, units:2 * units])
        c = np.tanh(x[:, 2 * units:] + r * g[:, 2 * units:])
        h = z * h + (1 - z) * c
        outputs.append(h)
    return np.stack(outputs, axis=1)


def inputs(batch=3, frames=9, units=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, frames, 3 * units)).astype(np.float32),
            (0.5 * rng.normal(size=(units, 3 * units))).astype(np.float32),
            (0.3 * rng.normal(size=3 * units)).astype(np.float32),
            (0.5 * rng.normal(size=(batch, units))).astype(np.float32))


def test_fast_tanh_is_tanh_to_float32_precision():
    x = np.linspace(-20, 20, 4001, dtype=np.float32)
    got = np.array([gru.fast_tanh(v) for v in x])
    np.testing.assert_allclose(got, np.tanh(x.astype(np.float64)), rtol=0, atol=5e-7)
    assert np.abs(got).max() <= 1  # clamped, not a polynomial running away
    np.testing.assert_allclose([gru.fast_sigmoid(v) for v in x[::100]],
                               1 / (1 + np.exp(-x[::100].astype(np.float64))), atol=5e-7)


@pytest.mark.parametrize("units", [1, 5, 29])
def test_forward_is_the_gru(units):
    projected, kernel, bias, state = inputs(units=units)
    outputs, previous, gates = gru.forward(projected, kernel, bias, state)
    want = reference_outputs(projected, kernel, bias, state)
    np.testing.assert_allclose(outputs, want, atol=2e-6)
    # the states before each frame and the gates, frame by frame, a clip per column
    np.testing.assert_allclose(previous[0], state.T)
    np.testing.assert_allclose(previous[1:], outputs[:, :-1].transpose(1, 2, 0))
    assert gates.shape == (projected.shape[1], 4 * units, projected.shape[0])


def numeric_gradient(loss, array, index, step=1e-3):
    plus, minus = array.astype(np.float64), array.astype(np.float64)
    plus[index] += step
    minus[index] -= step
    return (loss(plus) - loss(minus)) / (2 * step)


def test_backward_matches_finite_differences():
    projected, kernel, bias, state = inputs(units=4, frames=7)
    weights = np.random.default_rng(1).normal(size=(3, 7, 4))  # loss = sum(weights * outputs)
    _, previous, gates = gru.forward(projected, kernel, bias, state)
    grads = gru.backward(weights.astype(np.float32), previous, gates, kernel)
    arguments = [projected, kernel, bias, state]
    rng = np.random.default_rng(2)
    for position, grad in enumerate(grads):
        assert grad.shape == arguments[position].shape
        for _ in range(6):
            index = tuple(rng.integers(n) for n in grad.shape)

            def loss(value, position=position):
                changed = list(arguments)
                changed[position] = value
                return (reference_outputs(*changed) * weights).sum()

            assert grad[index] == pytest.approx(numeric_gradient(loss, arguments[position], index),
                                                rel=1e-3, abs=1e-4)


def test_the_last_frame_gets_only_its_own_gradient():
    # upstream only on the last frame: earlier frames' input gradients come from the state alone, and
    # a gradient on the first frame's output reaches the state before it through z
    projected, kernel, bias, state = inputs(units=3, frames=4)
    _, previous, gates = gru.forward(projected, kernel, bias, state)
    upstream = np.zeros((3, 4, 3), np.float32)
    upstream[:, 0] = 1
    d_projected, _, _, d_state = gru.backward(upstream, previous, gates, kernel)
    assert not d_projected[:, 1:].any()
    assert d_state.any() and d_projected[:, 0].any()
