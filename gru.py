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
import ctypes
import functools
import glob
import os
import sys

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


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags as Linux lists them; empty where there is no ``cpuinfo`` to read."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as info:
            return set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))
    except OSError:
        return set()


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True where Linux says the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX)."""
    return bool(cpu_flags(cpuinfo) & set(BFLOAT16_CPU_FLAGS))


def bfloat16_setting(value):
    """Whether large input products run in bfloat16, from ``VUI_BF16``: "auto" (where the CPU has native
    support), "1" (always, emulated where it has none: slow) or "0" (never)."""
    if value not in ("auto", "0", "1"):
        raise ValueError(f"VUI_BF16={value!r}: use auto, 0 or 1")
    return cpu_has_bfloat16() if value == "auto" else value == "1"


BFLOAT16_SETTING = os.environ.get("VUI_BF16", "auto")
BFLOAT16 = bfloat16_setting(BFLOAT16_SETTING)


def trains_in_bfloat16(kernel, training):
    """Whether a layer with this input ``kernel`` (inputs, 3 * units) runs its products in bfloat16: in
    training, with ``BFLOAT16`` on, for kernels of at least BFLOAT16_MIN_WEIGHTS weights. Inference stays
    float32, so a trained model transcribes the same on every CPU."""
    return bool(training) and BFLOAT16 and kernel.shape[0] * kernel.shape[1] >= BFLOAT16_MIN_WEIGHTS


def input_product(sequences, kernel, in_bfloat16=False):
    """sequences (batch, frames, inputs) @ kernel (inputs, 3 * units) as float32, computed in bfloat16 when
    ``in_bfloat16``. The gradient's two products follow the same type (TensorFlow casts the upstream
    gradient)."""
    if in_bfloat16:
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


# The per-step products with the recurrent kernel, done one of two ways. Each way is four functions that
# ``compile_kernels`` builds the forward and backward loops around:
#   prepare(matrix, batch)       the kernel in the form ``multiply`` takes, once per call
#   new_scratch(units, batch)    the work arrays the other two use
#   multiply(prepared, m, k, b, out, scratch)   out (m, batch) = matrix (m, k) @ b (k, batch)
#   add_outer(a, b, out, scratch)               out (m, k) += a (m, batch) @ b (k, batch).T
# float32 through numba's np.dot (OpenBLAS), or bfloat16 through Intel MKL, below.


@numba.njit(inline="always", cache=True)
def float32_prepare(matrix, batch):
    return matrix


@numba.njit(inline="always", cache=True)
def float32_scratch(units, batch):
    return np.empty((batch, units), F32), np.empty((3 * units, units), F32)


@numba.njit(inline="always", cache=True)
def float32_multiply(prepared, m, k, b, out, scratch):
    np.dot(prepared, b, out)


@numba.njit(inline="always", fastmath=True, error_model="numpy", cache=True)
def float32_add_outer(a, b, out, scratch):
    b_t, product = scratch
    b_t[:, :] = b.T
    np.dot(a, b_t, product)
    out_flat, product_flat = out.reshape(out.size), product.reshape(product.size)
    for k in range(out.size):
        out_flat[k] += product_flat[k]


def compile_kernels(prepare, new_scratch, multiply, add_outer, cache):
    """The GRU's forward and backward loops, compiled around one way of doing the per-step products."""

    @numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=cache)
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
        kernel_t = prepare(np.ascontiguousarray(recurrent_kernel.T), batch)  # W^T, (3 * units, units)
        scratch = new_scratch(units, batch)
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
            multiply(kernel_t, width, units, h, recurrent, scratch)
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

    @numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=cache)
    def backward(upstream, previous, gates, recurrent_kernel):
        """Back-propagate d loss / d outputs (batch, frames, units) through the whole sequence.

        Returns the gradients with respect to projected (batch, frames, 3 * units), recurrent_kernel,
        recurrent_bias and initial_state. Steps run in ``forward``'s (units, batch) blocks.
        """
        batch, frames, units = upstream.shape
        n = units * batch
        kernel = prepare(np.ascontiguousarray(recurrent_kernel), batch)  # W, (units, 3 * units)
        scratch = new_scratch(units, batch)
        d_projected = np.empty((batch, frames, 3 * units), F32)
        up = np.empty((units, batch), F32)  # this frame's upstream gradient
        d_x = np.empty((3 * units, batch), F32)  # d loss / d projected at this frame
        step = np.empty((3 * units, batch), F32)  # d loss / d (W^T h + b) at this frame
        dh = np.zeros((units, batch), F32)
        through_kernel = np.empty((units, batch), F32)  # W step
        d_kernel_t = np.zeros((3 * units, units), F32)
        d_bias = np.zeros((3 * units, batch), F32)
        up_flat, dx, s, dh_flat, w_flat = (up.reshape(n), d_x.reshape(3 * n), step.reshape(3 * n), dh.reshape(n),
                                           through_kernel.reshape(n))
        db_flat = d_bias.reshape(3 * n)
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
            multiply(kernel, units, 3 * units, step, through_kernel, scratch)
            for k in range(n):
                dh_flat[k] += w_flat[k]
            add_outer(step, previous[t], d_kernel_t, scratch)
            for k in range(3 * n):
                db_flat[k] += s[k]
            d_projected[:, t] = d_x.T
        return d_projected, np.ascontiguousarray(d_kernel_t.T), d_bias.sum(axis=1), np.ascontiguousarray(dh.T)

    return forward, backward


forward, backward = compile_kernels(float32_prepare, float32_scratch, float32_multiply, float32_add_outer,
                                    cache=True)


# The per-step products in bfloat16, through Intel MKL (the optional ``mkl`` wheel) on a CPU with AMX: the
# recurrent kernel packed once per call into the layout MKL's AMX code reads, each step's state rounded to
# bfloat16, products summed in float32. The final model's kernel (64 clips, 138 frames, 128 units) took
# 40 ms forward and backward in float32 and 20 ms this way, its training step 20% less (EXPERIMENTS.md).
# Used in training only, where ``input_product`` runs in bfloat16 too; inference stays float32.
RECURRENT_BFLOAT16_CPU_FLAGS = ("amx_bf16",)  # where MKL's bfloat16 products were measured to pay
MKL_SEQUENTIAL = 1  # mkl_set_threading_layer: one thread, inside whichever TensorFlow thread calls it
CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, CBLAS_PACKED, CBLAS_A_MATRIX = 101, 111, 112, 151, 161


def load_mkl(prefix=sys.prefix):
    """MKL's single dynamic library from the ``mkl`` wheel in this environment, set to one thread; None where
    the wheel is not installed or will not load."""
    for path in sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        library.MKL_Set_Threading_Layer(MKL_SEQUENTIAL)
        return library
    return None


def bfloat16_product_kernels(library):
    """``forward`` and ``backward`` with their per-step products in bfloat16 through ``library`` (MKL)."""
    integer, pointer, real = ctypes.c_int, ctypes.c_void_p, ctypes.c_float
    pack_size = library.cblas_gemm_bf16bf16f32_pack_get_size
    pack_size.argtypes, pack_size.restype = [integer] * 4, ctypes.c_size_t
    pack = library.cblas_gemm_bf16bf16f32_pack
    pack.argtypes, pack.restype = [integer] * 6 + [pointer, integer, pointer], None
    compute = library.cblas_gemm_bf16bf16f32_compute
    compute.argtypes, compute.restype = [integer] * 6 + [real, pointer, integer, pointer, integer, real, pointer,
                                                         integer], None
    gemm = library.cblas_gemm_bf16bf16f32
    gemm.argtypes, gemm.restype = [integer] * 6 + [real, pointer, integer, pointer, integer, real, pointer,
                                                   integer], None

    @numba.njit(inline="always", fastmath=True, error_model="numpy")
    def round_to_bfloat16(values, out):
        """float32 values (contiguous) to bfloat16 bit patterns in out (uint16), rounded to nearest even."""
        bits = values.reshape(values.size).view(np.uint32)
        for k in range(bits.size):
            u = bits[k]
            out[k] = np.uint16((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))

    @numba.njit(inline="always")
    def prepare(matrix, batch):
        m, k = matrix.shape
        rounded = np.empty(m * k, np.uint16)
        round_to_bfloat16(matrix, rounded)
        packed = np.empty((pack_size(CBLAS_A_MATRIX, m, batch, k) + 1) // 2, np.uint16)
        pack(CBLAS_ROW_MAJOR, CBLAS_A_MATRIX, CBLAS_NO_TRANS, m, batch, k, rounded.ctypes.data, k,
             packed.ctypes.data)
        return packed

    @numba.njit(inline="always")
    def new_scratch(units, batch):
        return np.empty(3 * units * batch, np.uint16), np.empty(units * batch, np.uint16)

    @numba.njit(inline="always")
    def multiply(prepared, m, k, b, out, scratch):
        batch = b.shape[1]
        rounded = scratch[0][:k * batch]
        round_to_bfloat16(b, rounded)
        compute(CBLAS_ROW_MAJOR, CBLAS_PACKED, CBLAS_NO_TRANS, m, batch, k, 1.0, prepared.ctypes.data, k,
                rounded.ctypes.data, batch, 0.0, out.ctypes.data, batch)

    @numba.njit(inline="always")
    def add_outer(a, b, out, scratch):
        (m, batch), k = a.shape, b.shape[0]
        rounded_a, rounded_b = scratch[0][:m * batch], scratch[1][:k * batch]
        round_to_bfloat16(a, rounded_a)
        round_to_bfloat16(b, rounded_b)
        gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, m, k, batch, 1.0, rounded_a.ctypes.data, batch,
             rounded_b.ctypes.data, batch, 1.0, out.ctypes.data, k)

    # not cached: the compiled code holds the addresses of this process's MKL functions
    return compile_kernels(prepare, new_scratch, multiply, add_outer, cache=False)


@functools.cache
def bfloat16_kernels():
    """(forward, backward) with bfloat16 per-step products, compiled on first use; None where they do not
    apply: ``BFLOAT16`` off, a CPU without AMX (unless ``VUI_BF16=1``), or no MKL to load."""
    forced = BFLOAT16_SETTING == "1"
    if not BFLOAT16 or not (forced or cpu_flags() & set(RECURRENT_BFLOAT16_CPU_FLAGS)):
        return None
    library = load_mkl()
    return None if library is None else bfloat16_product_kernels(library)


def gru_sequence(projected, recurrent_kernel, recurrent_bias, initial_state, in_bfloat16=False):
    """The GRU's outputs (batch, frames, units) as a TensorFlow op with its gradient (graph mode, CPU); the
    per-step products in bfloat16 when ``in_bfloat16`` and ``bfloat16_kernels`` applies here."""
    run_forward, run_backward = (in_bfloat16 and bfloat16_kernels()) or (forward, backward)

    @tf.custom_gradient
    def run(projected, recurrent_kernel, recurrent_bias, initial_state):
        outputs, previous, gates = tf.numpy_function(
            run_forward, [projected, recurrent_kernel, recurrent_bias, initial_state],
            [tf.float32, tf.float32, tf.float32], stateful=False)
        batch, frames, units = projected.shape[0], projected.shape[1], recurrent_kernel.shape[0]
        outputs.set_shape((batch, frames, units))
        previous.set_shape((frames, units, batch))
        gates.set_shape((frames, 4 * units, batch))

        def gradient(upstream):
            grads = tf.numpy_function(
                lambda u, p, g, k: run_backward(np.ascontiguousarray(u), p, g, k),
                [upstream, previous, gates, recurrent_kernel], [tf.float32] * 4, stateful=False)
            for grad, like in zip(grads, (projected, recurrent_kernel, recurrent_bias, initial_state)):
                grad.set_shape(like.shape)
            return grads

        return outputs, gradient

    return run(*(tf.convert_to_tensor(value, tf.float32)
                 for value in (projected, recurrent_kernel, recurrent_bias, initial_state)))
