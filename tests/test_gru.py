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


def mkl_or_skip():
    library = gru.load_mkl()
    if library is None:
        pytest.skip("Intel MKL is not installed (the `mkl` wheel is for Linux x86-64)")
    return library


@pytest.mark.parametrize("batch, units", [(3, 5), (16, 40)])
def test_bfloat16_products_give_the_float32_gru_to_bfloat16_rounding(batch, units):
    bf16_forward, bf16_backward = gru.bfloat16_product_kernels(mkl_or_skip())
    projected, kernel, bias, state = inputs(batch=batch, units=units, frames=12)
    upstream = np.random.default_rng(3).normal(size=(batch, 12, units)).astype(np.float32)
    want = gru.forward(projected, kernel, bias, state)
    got = bf16_forward(projected, kernel, bias, state)
    want_grads = gru.backward(upstream, want[1], want[2], kernel)
    got_grads = bf16_backward(upstream, got[1], got[2], kernel)
    for name, w, g in zip(["outputs", "previous", "gates", "d_projected", "d_kernel", "d_bias", "d_state"],
                          [*want, *want_grads], [*got, *got_grads]):
        assert g.shape == w.shape and g.dtype == np.float32, name
        error = np.abs(g - w).max() / np.abs(w).max()
        # bfloat16 keeps 8 bits of mantissa: rounded (so not float32's products), and only rounded
        assert 1e-6 < error < 2e-2, (name, error)


def test_the_bfloat16_kernel_is_used_only_where_it_applies(tmp_path, monkeypatch):
    assert gru.load_mkl(prefix=str(tmp_path)) is None  # no MKL in that environment: float32
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert {"amx_bf16", "avx512_bf16"} <= gru.cpu_flags(str(cpuinfo))
    assert gru.cpu_flags(str(tmp_path / "missing")) == set()

    def kernels(bfloat16, flags, library, forced=None):
        monkeypatch.setattr(gru, "BFLOAT16", bfloat16)
        monkeypatch.setattr(gru, "cpu_flags", lambda: set(flags))
        monkeypatch.setattr(gru, "load_mkl", lambda: library)
        monkeypatch.setattr(gru, "bfloat16_product_kernels", lambda lib: ("forward", "backward"))
        monkeypatch.setattr(gru, "BFLOAT16_SETTING", forced or "auto")
        gru.bfloat16_kernels.cache_clear()
        try:
            return gru.bfloat16_kernels()
        finally:
            gru.bfloat16_kernels.cache_clear()

    mkl = object()
    assert kernels(True, {"amx_bf16"}, mkl) == ("forward", "backward")
    assert kernels(True, {"avx512_bf16"}, mkl) is None  # measured to pay with AMX only
    assert kernels(True, {"avx512_bf16"}, mkl, forced="1") == ("forward", "backward")
    assert kernels(False, {"amx_bf16"}, mkl) is None  # VUI_BF16=0, or no bfloat16 at all
    assert kernels(True, {"amx_bf16"}, None) is None  # MKL not installed


def test_sequences_run_in_float32_unless_asked(monkeypatch):
    # gru_sequence takes the bfloat16 kernels only when asked to and they apply; inference never asks
    import tensorflow as tf

    calls = []

    def recording(name, kernel):
        def run(*arrays):
            calls.append(name)
            return kernel(*arrays)
        return run

    float32_forward = gru.forward
    monkeypatch.setattr(gru, "forward", recording("float32", float32_forward))
    monkeypatch.setattr(gru, "bfloat16_kernels", lambda: (recording("bfloat16", float32_forward), None))
    projected, kernel, bias, state = inputs()
    for in_bfloat16, want in [(False, "float32"), (True, "bfloat16")]:
        calls.clear()
        outputs = tf.function(lambda p: gru.gru_sequence(p, kernel, bias, state, in_bfloat16))(projected)
        assert calls == [want]
        np.testing.assert_allclose(outputs.numpy(), reference_outputs(projected, kernel, bias, state), atol=2e-6)
