"""The CTC loss: ctc.py's kernel and TensorFlow's behind train_utils.ctc_loss, and the fewest output frames a
transcript needs."""
import math

import numpy as np
import pytest

import ctc
import train_utils
from char_map import BLANK_INDEX, text_to_int_sequence
from data_generator import ctc_frames_needed, pack_ctc_targets
from train_utils import ctc_loss


@pytest.mark.parametrize("text, needed", [("a", 1), ("cat", 3), ("hello", 6), ("aaa", 5), ("see all", 9),
                                          ("", 0)])
def test_frames_needed_counts_a_blank_between_doubled_letters(text, needed):
    assert ctc_frames_needed(text) == needed


@pytest.mark.parametrize("text", ["hello", "bookkeeper", "a cat"])
def test_the_kernel_has_an_alignment_at_exactly_the_frames_needed_and_none_below(text):
    label = np.array(text_to_int_sequence(text), dtype=np.int64)
    logits = np.random.default_rng(0).normal(size=(ctc_frames_needed(text), 29))
    grad = np.zeros_like(logits)
    assert np.isfinite(ctc.ctc_clip(logits, label, BLANK_INDEX, grad))
    short = logits[:-1]
    assert ctc.ctc_clip(short, label, BLANK_INDEX, np.zeros_like(short)) == np.inf


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
