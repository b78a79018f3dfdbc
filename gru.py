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

    Returns outputs (batch, frames, units): the state after each frame; previous (batch, frames, units):
    the state before it; gates (batch, frames, 4 * units): z, r, c and ``h W_c + b_c`` per frame, which
    ``backward`` needs.
    """
    batch, frames, width = projected.shape
    units = width // 3
    outputs = np.empty((batch, frames, units), F32)
    previous = np.empty((batch, frames, units), F32)
    gates = np.empty((batch, frames, 4 * units), F32)
    h = initial_state.copy()
    for t in range(frames):
        recurrent = h @ recurrent_kernel  # (batch, 3 * units)
        for i in range(batch):
            # short loops over contiguous rows, each touching few arrays, so that each is vectorised
            x, g, gate, state = projected[i, t], recurrent[i], gates[i, t], h[i]
            for j in range(2 * units):  # z, then r
                gate[j] = fast_sigmoid(x[j] + g[j] + recurrent_bias[j])
            for j in range(units):
                gate[3 * units + j] = g[2 * units + j] + recurrent_bias[2 * units + j]
            for j in range(units):
                gate[2 * units + j] = fast_tanh(x[2 * units + j] + gate[units + j] * gate[3 * units + j])
            previous[i, t] = state
            for j in range(units):
                state[j] = gate[j] * state[j] + (ONE - gate[j]) * gate[2 * units + j]
            outputs[i, t] = state
    return outputs, previous, gates


@numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def backward(upstream, previous, gates, recurrent_kernel):
    """Back-propagate d loss / d outputs (batch, frames, units) through the whole sequence.

    Returns the gradients with respect to projected (batch, frames, 3 * units), recurrent_kernel,
    recurrent_bias and initial_state. The kernel's gradient is one product over all frames at the end.
    """
    batch, frames, units = upstream.shape
    kernel_t = np.ascontiguousarray(recurrent_kernel.T)
    d_projected = np.empty((batch, frames, 3 * units), F32)
    d_recurrent = np.empty((batch, frames, 3 * units), F32)  # d loss / d (h W + b) at each frame
    step = np.empty((batch, 3 * units), F32)
    dh = np.zeros((batch, units), F32)
    for t in range(frames - 1, -1, -1):
        for i in range(batch):
            gate, before, up, d_x, d_h, d_step = (gates[i, t], previous[i, t], upstream[i, t],
                                                 d_projected[i, t], dh[i], step[i])
            for j in range(units):
                d_h[j] += up[j]
            for j in range(units):  # the update gate: d h' / d z = h - c
                z = gate[j]
                d_x[j] = d_h[j] * (before[j] - gate[2 * units + j]) * z * (ONE - z)
            for j in range(units):  # the candidate, then the reset gate that scales h W_c + b_c in it
                c, r = gate[2 * units + j], gate[units + j]
                dc = d_h[j] * (ONE - gate[j]) * (ONE - c * c)
                d_x[2 * units + j] = dc
                d_x[units + j] = dc * gate[3 * units + j] * r * (ONE - r)
                d_step[2 * units + j] = dc * r
            for j in range(2 * units):
                d_step[j] = d_x[j]
            for j in range(units):
                d_h[j] *= gate[j]
        d_recurrent[:, t] = step
        dh += step @ kernel_t
    flat = d_recurrent.reshape(batch * frames, 3 * units)
    d_kernel = previous.reshape(batch * frames, units).T @ flat
    d_bias = flat.sum(axis=0)
    return d_projected, d_kernel, d_bias, dh


def gru_sequence(projected, recurrent_kernel, recurrent_bias, initial_state):
    """The GRU's outputs (batch, frames, units) as a TensorFlow op with its gradient (graph mode, CPU)."""

    @tf.custom_gradient
    def run(projected, recurrent_kernel, recurrent_bias, initial_state):
        outputs, previous, gates = tf.numpy_function(
            forward, [projected, recurrent_kernel, recurrent_bias, initial_state],
            [tf.float32, tf.float32, tf.float32], stateful=False)
        units = recurrent_kernel.shape[0]
        state_shape = projected.shape[:2] + (units,)
        outputs.set_shape(state_shape)
        previous.set_shape(state_shape)
        gates.set_shape(projected.shape[:2] + (4 * units,))

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
