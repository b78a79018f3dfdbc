"""The GRU recurrence on a CPU, compiled with numba: the kernel behind ``sample_models.ProjectedGRU``.

A GRU layer's time loop, run by TensorFlow, pays a fixed cost for every operation at every time step
(about a dozen operations forward, twice as many backward). For the small layers of this project that
cost, not arithmetic, sets the speed: a training step of a 29-unit GRU over a batch of 32 clips of 330
frames took 45-48 ms in Keras' loop, 24 ms with this one. Here the whole loop, forward and backward, is
one compiled call each, so a step costs its arithmetic: one small matrix product with the recurrent
kernel and the gates' element-wise work.

The input's product with the kernel does not depend on the state; the caller does it for the whole clip
at once (one large matrix product) and passes it in as ``projected``. The gates follow Keras' GRU with
``reset_after=True`` (its default, and cuDNN's):

    z = sigmoid(x_z + h W_z + b_z)       update gate
    r = sigmoid(x_r + h W_r + b_r)       reset gate
    c = tanh(x_c + r * (h W_c + b_c))    candidate
    h' = z * h + (1 - z) * c

where ``x`` is the projected input (its own bias included) and ``W``, ``b`` the recurrent kernel and
bias. Shapes: projected (batch, frames, 3 * units) float32; recurrent_kernel (units, 3 * units);
recurrent_bias (3 * units,); initial_state (batch, units). tanh and the sigmoid use a rational
approximation (Eigen's, good to 3e-7 absolute) that the compiler vectorises, where the exact functions
would run one number at a time.
"""
import os

import numba
import numpy as np
import tensorflow as tf

F32 = np.float32
ONE, HALF = F32(1.0), F32(0.5)
# Beyond this |x| tanh rounds to +-1 in float32; the approximation is clamped there.
TANH_CLAMP = F32(7.90531110763549805)
# tanh(x) ~ x * P(x^2) / Q(x^2), coefficients from the highest power down
TANH_P = (F32(-2.76076847742355e-16), F32(2.00018790482477e-13), F32(-8.60467152213735e-11),
          F32(5.12229709037114e-08), F32(1.48572235717979e-05), F32(6.37261928875436e-04),
          F32(4.89352455891786e-03))
TANH_Q = (F32(1.19825839466702e-06), F32(1.18534705686654e-04), F32(2.26843463243900e-03),
          F32(4.89352518554385e-03))


# The input product in training, in bfloat16: 8 bits of mantissa instead of 24, products summed in float32
# by oneDNN. On a CPU that multiplies bfloat16 natively the final model's training step takes 15% less time,
# at the same losses (EXPERIMENTS.md); for smaller kernels the casts cost what the product saves.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 products
BFLOAT16_MIN_WEIGHTS = 65_536  # inputs x 3 * units: the final model's layers (73,728 and 98,304), no rubric model's


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True where Linux says the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX); False elsewhere,
    including where there is no ``cpuinfo`` to read."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def bfloat16_setting(value):
    """Whether large input products run in bfloat16, from ``VUI_BF16``: "auto" (where the CPU has native
    support), "1" (always, emulated where it has none: slow) or "0" (never)."""
    if value not in ("auto", "0", "1"):
        raise ValueError(f"VUI_BF16={value!r}: use auto, 0 or 1")
    return cpu_has_bfloat16() if value == "auto" else value == "1"


BFLOAT16 = bfloat16_setting(os.environ.get("VUI_BF16", "auto"))


def input_product(sequences, kernel, training=False):
    """sequences (batch, frames, inputs) @ kernel (inputs, 3 * units) as float32: in bfloat16 when
    ``training``, ``BFLOAT16`` is on and the kernel has at least BFLOAT16_MIN_WEIGHTS weights, else in
    float32. The gradient's two products follow the same type (TensorFlow casts the upstream gradient).
    Inference stays float32, so a trained model transcribes the same on every CPU."""
    if training and BFLOAT16 and kernel.shape[0] * kernel.shape[1] >= BFLOAT16_MIN_WEIGHTS:
        product = tf.matmul(tf.cast(sequences, tf.bfloat16), tf.cast(kernel, tf.bfloat16))
        return tf.cast(product, tf.float32)
    return tf.matmul(sequences, kernel)


@numba.njit(inline="always", fastmath=True, error_model="numpy", cache=True)
def fast_tanh(x):
    """tanh of a float32, to 3e-7 absolute, in a form the compiler vectorises."""
    x = min(max(x, -TANH_CLAMP), TANH_CLAMP)
    x2 = x * x
    p = TANH_P[0]
    for coefficient in TANH_P[1:]:
        p = p * x2 + coefficient
    q = TANH_Q[0]
    for coefficient in TANH_Q[1:]:
        q = q * x2 + coefficient
    return x * p / q


@numba.njit(inline="always", fastmath=True, error_model="numpy", cache=True)
def fast_sigmoid(x):
    """The logistic function through tanh: sigmoid(x) = (1 + tanh(x / 2)) / 2."""
    return HALF + HALF * fast_tanh(HALF * x)


@numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def forward(projected, recurrent_kernel, recurrent_bias, initial_state):
    """Run the GRU over every frame.

    Returns outputs (batch, frames, units): the state after each frame; and, for ``backward``, previous
    (frames, units, batch): the state before each frame, and gates (frames, 4 * units, batch): z, r, c
    and ``h W_c + b_c``. Inside the loop a step's arrays are (units, batch) blocks, the batch varying
    fastest, so each gate is one flat loop over units * batch numbers: one loop per clip and gate ran
    over 29 to 128 numbers at a time, too few for the compiler's vector loops to pay.
    """
    batch, frames, width = projected.shape
    units = width // 3
    n = units * batch
    kernel_t = np.ascontiguousarray(recurrent_kernel.T)  # (3 * units, units)
    bias = np.empty((width, batch), F32)  # the recurrent bias, one column per clip
    for j in range(width):
        bias[j, :] = recurrent_bias[j]
    outputs = np.empty((batch, frames, units), F32)
    previous = np.empty((frames, units, batch), F32)
    gates = np.empty((frames, 4 * units, batch), F32)
    h = np.ascontiguousarray(initial_state.T)  # (units, batch)
    x = np.empty((width, batch), F32)  # this frame's projected input
    recurrent = np.empty((width, batch), F32)  # W^T h
    h_flat, x_flat, r_flat, b_flat = h.reshape(n), x.reshape(3 * n), recurrent.reshape(3 * n), bias.reshape(3 * n)
    for t in range(frames):
        x[:, :] = projected[:, t].T
        np.dot(kernel_t, h, recurrent)
        g, before = gates[t].reshape(4 * n), previous[t].reshape(n)
        for k in range(2 * n):  # z, then r
            g[k] = fast_sigmoid(x_flat[k] + r_flat[k] + b_flat[k])
        for k in range(2 * n, 3 * n):  # h W_c + b_c
            g[n + k] = r_flat[k] + b_flat[k]
        for k in range(n):  # the candidate c
            g[2 * n + k] = fast_tanh(x_flat[2 * n + k] + g[n + k] * g[3 * n + k])
        for k in range(n):
            before[k] = h_flat[k]
            h_flat[k] = g[k] * h_flat[k] + (ONE - g[k]) * g[2 * n + k]
        outputs[:, t] = h.T
    return outputs, previous, gates


@numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def backward(upstream, previous, gates, recurrent_kernel):
    """Back-propagate d loss / d outputs (batch, frames, units) through the whole sequence.

    Returns the gradients with respect to projected (batch, frames, 3 * units), recurrent_kernel,
    recurrent_bias and initial_state. Steps run in ``forward``'s (units, batch) blocks.
    """
    batch, frames, units = upstream.shape
    n = units * batch
    d_projected = np.empty((batch, frames, 3 * units), F32)
    up = np.empty((units, batch), F32)  # this frame's upstream gradient
    d_x = np.empty((3 * units, batch), F32)  # d loss / d projected at this frame
    step = np.empty((3 * units, batch), F32)  # d loss / d (W^T h + b) at this frame
    dh = np.zeros((units, batch), F32)
    through_kernel = np.empty((units, batch), F32)  # W step
    before_t = np.empty((batch, units), F32)
    d_kernel_t = np.zeros((3 * units, units), F32)
    d_kernel_step = np.empty((3 * units, units), F32)
    d_bias = np.zeros((3 * units, batch), F32)
    up_flat, dx, s, dh_flat, w_flat = (up.reshape(n), d_x.reshape(3 * n), step.reshape(3 * n), dh.reshape(n),
                                       through_kernel.reshape(n))
    dk_flat, dks_flat, db_flat = d_kernel_t.reshape(3 * units * units), d_kernel_step.reshape(3 * units * units), \
        d_bias.reshape(3 * n)
    for t in range(frames - 1, -1, -1):
        up[:, :] = upstream[:, t].T
        g, before = gates[t].reshape(4 * n), previous[t].reshape(n)
        for k in range(n):
            dh_flat[k] += up_flat[k]
        for k in range(n):  # the update gate: d h' / d z = h - c
            z = g[k]
            dx[k] = dh_flat[k] * (before[k] - g[2 * n + k]) * z * (ONE - z)
            s[k] = dx[k]
        for k in range(n):  # the candidate, then the reset gate that scales h W_c + b_c in it
            c, r = g[2 * n + k], g[n + k]
            dc = dh_flat[k] * (ONE - g[k]) * (ONE - c * c)
            dx[2 * n + k] = dc
            dx[n + k] = dc * g[3 * n + k] * r * (ONE - r)
            s[n + k] = dx[n + k]
            s[2 * n + k] = dc * r
        for k in range(n):
            dh_flat[k] *= g[k]
        np.dot(recurrent_kernel, step, through_kernel)
        for k in range(n):
            dh_flat[k] += w_flat[k]
        before_t[:, :] = previous[t].T
        np.dot(step, before_t, d_kernel_step)
        for k in range(3 * units * units):
            dk_flat[k] += dks_flat[k]
        for k in range(3 * n):
            db_flat[k] += s[k]
        d_projected[:, t] = d_x.T
    return d_projected, np.ascontiguousarray(d_kernel_t.T), d_bias.sum(axis=1), np.ascontiguousarray(dh.T)


def gru_sequence(projected, recurrent_kernel, recurrent_bias, initial_state):
    """The GRU's outputs (batch, frames, units) as a TensorFlow op with its gradient (graph mode, CPU)."""

    @tf.custom_gradient
    def run(projected, recurrent_kernel, recurrent_bias, initial_state):
        outputs, previous, gates = tf.numpy_function(
            forward, [projected, recurrent_kernel, recurrent_bias, initial_state],
            [tf.float32, tf.float32, tf.float32], stateful=False)
        batch, frames, units = projected.shape[0], projected.shape[1], recurrent_kernel.shape[0]
        outputs.set_shape((batch, frames, units))
        previous.set_shape((frames, units, batch))
        gates.set_shape((frames, 4 * units, batch))

        def gradient(upstream):
            grads = tf.numpy_function(
                lambda u, p, g, k: backward(np.ascontiguousarray(u), p, g, k),
                [upstream, previous, gates, recurrent_kernel], [tf.float32] * 4, stateful=False)
            for grad, like in zip(grads, (projected, recurrent_kernel, recurrent_bias, initial_state)):
                grad.set_shape(like.shape)
            return grads

        return outputs, gradient

    return run(*(tf.convert_to_tensor(value, tf.float32)
                 for value in (projected, recurrent_kernel, recurrent_bias, initial_state)))
