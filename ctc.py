"""CTC loss and its gradient on a CPU, compiled with numba: the kernel behind ``train_utils.ctc_loss``.

The loss of one clip is -log P(label | logits), summed over all alignments of the label to the frames
(Graves et al. 2006). Each clip is computed in probability space first: the forward (alpha) and
backward (beta) variables are rescaled to sum 1 at every frame, which needs no exp or log per state and
is about 4x faster than the same recursion in log space. Probability space has a narrow range, though: a
model sure of its blanks can leave some states of an alignment more than 1e300 times less likely than
others at the same frame. Where any value needed for the result falls below ``TINY`` the clip is
computed again in log space, which has no such limit, so every loss is exact to float64 rounding.

Shapes: logits (frames, classes) float64, unnormalised (a softmax is taken per frame); label (length,)
integer classes without blanks; grad (frames, classes) filled with d loss / d logits.
"""
import math

import numba
import numpy as np

# Below this a float64 starts losing precision (the smallest normal number is 2.2e-308).
TINY = 1e-300


@numba.njit(cache=True, nogil=True)
def _states(label, blank):
    """The label's CTC states (blank, label[0], blank, label[1], ..., blank) and which frames each may use.

    Returns symbol (states,): each state's class; skip (states,): state s may follow s - 2 directly (a
    label between two blanks, unless it repeats the one before); reach (states,): fewest frames from the
    start up to and including s; need (states,): fewest frames from s to the end, s included. State s
    lies on some complete alignment at frame t (0-based) exactly when reach[s] <= t + 1 and
    need[s] <= frames - t.
    """
    states = 2 * label.shape[0] + 1
    symbol = np.full(states, blank)
    symbol[1::2] = label
    skip = np.zeros(states, np.bool_)
    for s in range(2, states):
        skip[s] = symbol[s] != blank and symbol[s] != symbol[s - 2]
    reach = np.ones(states, np.int64)
    for s in range(2, states):
        reach[s] = 1 + (min(reach[s - 1], reach[s - 2]) if skip[s] else reach[s - 1])
    need = np.ones(states, np.int64)
    for s in range(states - 3, -1, -1):
        need[s] = 1 + (min(need[s + 1], need[s + 2]) if skip[s + 2] else need[s + 1])
    return symbol, skip, reach, need


@numba.njit(cache=True, nogil=True)
def _softmax(logits):
    """Per-frame softmax of (frames, classes) logits, and its logarithm."""
    frames, classes = logits.shape
    log_probs = np.empty((frames, classes))
    for t in range(frames):
        top = logits[t].max()
        total = 0.0
        for k in range(classes):
            total += math.exp(logits[t, k] - top)
        log_probs[t] = logits[t] - (top + math.log(total))
    return np.exp(log_probs), log_probs


@numba.njit(cache=True, nogil=True)
def _live(reach, need, s, t, frames):
    """State s lies on some complete alignment at frame t."""
    return reach[s] <= t + 1 and need[s] <= frames - t


@numba.njit(cache=True, nogil=True)
def _label_end(states, outside, inside):
    """The backward variables at the last frame: ``inside`` for the two states that end the label (the
    last letter, the blank after it), ``outside`` for the others."""
    beta = np.full(states, outside)
    beta[max(states - 2, 0):] = inside
    return beta


@numba.njit(cache=True, nogil=True)
def _scaled(probs, symbol, skip, reach, need, grad):
    """The loss by rescaled probabilities; NaN (grad untouched) where a needed value fell below TINY."""
    frames, states = probs.shape[0], symbol.shape[0]
    alpha = np.zeros((frames, states))
    log_p = 0.0
    for t in range(frames):
        for s in range(states):
            if not _live(reach, need, s, t, frames):
                continue  # stays zero: no complete alignment passes here
            if t == 0:
                a = 1.0
            else:
                a = alpha[t - 1, s] + alpha[t - 1, s - 1] if s >= 1 else alpha[t - 1, s]
                if skip[s]:
                    a += alpha[t - 1, s - 2]
            a *= probs[t, symbol[s]]
            if a < TINY:
                return math.nan
            alpha[t, s] = a
        scale = alpha[t].sum()
        alpha[t] /= scale
        log_p += math.log(scale)
    # the last frame's live states are the two that end the label, so their sum is 1 after rescaling
    beta = _label_end(states, 0.0, 1.0)
    step = np.zeros(states)
    for t in range(frames - 1, -1, -1):
        if t < frames - 1:
            for s in range(states):
                step[s] = 0.0
                if not _live(reach, need, s, t, frames):
                    continue
                b = beta[s] * probs[t + 1, symbol[s]]
                if s + 1 < states:
                    b += beta[s + 1] * probs[t + 1, symbol[s + 1]]
                if s + 2 < states and skip[s + 2]:
                    b += beta[s + 2] * probs[t + 1, symbol[s + 2]]
                if b < TINY:
                    return math.nan
                step[s] = b
            beta[:] = step / step.sum()
        # alpha * beta: the share of all alignments that sit in state s at frame t
        through = alpha[t] * beta
        total = through.sum()
        if total < TINY:
            return math.nan
        grad[t] = probs[t]
        for s in range(states):
            grad[t, symbol[s]] -= through[s] / total
    return -log_p


@numba.njit(cache=True, nogil=True)
def _add_logs(a, b, c):
    """log(exp(a) + exp(b) + exp(c)), safe for -inf."""
    top = max(a, max(b, c))
    if top == -np.inf:
        return top
    return top + math.log(math.exp(a - top) + math.exp(b - top) + math.exp(c - top))


@numba.njit(cache=True, nogil=True)
def _logarithmic(log_probs, symbol, skip, reach, need, grad):
    """The loss by log probabilities: slower, and exact whatever the range of the values."""
    frames, states = log_probs.shape[0], symbol.shape[0]
    none = -np.inf
    alpha = np.full((frames, states), none)
    for t in range(frames):
        for s in range(states):
            if not _live(reach, need, s, t, frames):
                continue
            if t == 0:
                a = 0.0
            else:
                a = _add_logs(alpha[t - 1, s], alpha[t - 1, s - 1] if s >= 1 else none,
                              alpha[t - 1, s - 2] if skip[s] else none)
            alpha[t, s] = a + log_probs[t, symbol[s]]
    log_p = _add_logs(alpha[frames - 1, states - 1], alpha[frames - 1, states - 2] if states > 1 else none, none)
    beta = _label_end(states, none, 0.0)
    step = np.full(states, none)
    for t in range(frames - 1, -1, -1):
        if t < frames - 1:
            for s in range(states):
                step[s] = none
                if _live(reach, need, s, t, frames):
                    step[s] = _add_logs(
                        beta[s] + log_probs[t + 1, symbol[s]],
                        beta[s + 1] + log_probs[t + 1, symbol[s + 1]] if s + 1 < states else none,
                        beta[s + 2] + log_probs[t + 1, symbol[s + 2]] if s + 2 < states and skip[s + 2] else none)
            beta[:] = step
        grad[t] = np.exp(log_probs[t])
        for s in range(states):
            grad[t, symbol[s]] -= math.exp(alpha[t, s] + beta[s] - log_p)
    return -log_p


@numba.njit(cache=True, nogil=True)
def ctc_clip(logits, label, blank, grad):
    """CTC loss of one clip; fills ``grad`` (zeros of the logits' shape) with its gradient.

    Returns inf, and leaves ``grad`` at zero, where the label cannot fit the frames (it needs one frame
    per letter and one more between each pair of repeated letters).
    """
    frames = logits.shape[0]
    symbol, skip, reach, need = _states(label, blank)
    if need[:2].min() > frames:  # no alignment starts at the first blank or letter and ends in time
        return math.inf
    probs, log_probs = _softmax(logits)
    loss = _scaled(probs, symbol, skip, reach, need, grad)
    if math.isnan(loss):
        loss = _logarithmic(log_probs, symbol, skip, reach, need, grad)
    return loss


@numba.njit(cache=True, nogil=True, parallel=True)
def ctc_batch(logits, frames, labels, label_lengths, blank):
    """Per-clip CTC losses (batch,) and their gradients (batch, frames, classes), both float32.

    logits: (batch, frames, classes), any float; frames, label_lengths: (batch,) each clip's own
    lengths; labels: (batch, longest label). Padding frames get a zero gradient. Clips run in parallel.
    """
    losses = np.empty(logits.shape[0], np.float32)
    grads = np.zeros(logits.shape, np.float32)
    for b in numba.prange(logits.shape[0]):
        grad = np.zeros((frames[b], logits.shape[2]))
        losses[b] = ctc_clip(logits[b, :frames[b]].astype(np.float64), labels[b, :label_lengths[b]], blank, grad)
        grads[b, :frames[b]] = grad
    return losses, grads
