"""Acoustic models: audio features in, per-frame character probabilities (29 = 28 characters + blank) out.

Every function builds a Keras model whose input is ``(batch, frames, input_dim)`` and whose output is
``(batch, output_length(frames), output_dim)`` after a softmax, prints its summary and returns it with:
- ``model.output_length``: maps input frames to output frames (CTC needs it for each clip);
- ``model.build_spec``: the call that rebuilds the same architecture, stored with the training history
  so that saved weights can always be loaded into a freshly built model.

The per-timestep Dense layers of the 2017 notebook were wrapped in ``TimeDistributed``. A Keras 3
``Dense`` applied to a (batch, time, features) tensor already acts on every time step with shared
weights, which is what that wrapper meant; the wrapper itself mis-infers shapes when the sequence length
changes from batch to batch in Keras 3.15, so these models use ``Dense`` directly.
"""
import functools
import inspect
import os

import utils  # noqa: F401  (sets TensorFlow's log level before Keras loads it)
import gru
import keras
import tensorflow as tf
from keras import layers, ops

from char_map import OUTPUT_DIM

# How ProjectedGRU runs its time loop on a CPU: "numba" (gru.py, the default) or "keras" (Keras' own
# loop, as the 2017 notebook's GRU ran; the training-speed benchmark compares the two).
GRU_KERNEL = os.environ.get("VUI_GRU", "numba")
if GRU_KERNEL not in ("numba", "keras"):
    raise ValueError(f"VUI_GRU={GRU_KERNEL!r}: use numba or keras")


def _recorded(builder):
    """Attach ``build_spec`` (function name and the arguments it was called with) to the built model."""
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        model = builder(*args, **kwargs)
        model.build_spec = {"function": builder.__name__, "kwargs": dict(bound.arguments)}
        return model

    return build


# Each model function prints its summary, as in 2017. ``build_from_spec`` turns that off while it rebuilds
# a saved model: redirecting stdout is not enough, since in Jupyter Keras' summary goes straight to the
# notebook's display.
_PRINT_SUMMARIES = True


def _finish(inputs, outputs, name, output_length=lambda x: x, verbose=True):
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    model.output_length = output_length
    if verbose and _PRINT_SUMMARIES:
        model.summary()
    return model


def _softmax_head(x, output_dim, name="time_dense"):
    """A Dense layer at every time step, then the softmax over characters."""
    x = layers.Dense(output_dim, name=name)(x)
    return layers.Activation("softmax", name="softmax")(x)


@keras.saving.register_keras_serializable("vui")
class ProjectedGRU(layers.GRU):
    """``keras.layers.GRU``, faster on a CPU: same weights, same outputs.

    At every step a GRU multiplies the input frame by its kernel and the previous state by its recurrent
    kernel. The first product does not depend on the state, so here it is one matrix product over the
    whole sequence before the loop (as cuDNN does), and the loop itself runs, forward and backward, in
    ``gru.py``'s numba kernel instead of as a dozen TensorFlow operations per time step. A training step
    of a 29-unit GRU over 32 clips of 330 frames took 24 ms against 48 for Keras' loop, of the final
    model 150 ms against 190 for a TensorFlow scan of the recurrent product alone. With a GPU, with
    masks or dropout inside the GRU, or with ``VUI_GRU=keras`` in the environment, the layer runs as
    ``keras.layers.GRU`` (cuDNN where it applies). On a CPU that multiplies bfloat16 natively, training
    runs the input products of large layers (the final model's) in bfloat16 (``gru.input_product``), and
    with AMX and Intel MKL installed their per-step products too (``gru.bfloat16_kernels``);
    ``VUI_BF16=0`` keeps float32.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if (GRU_KERNEL == "keras" or mask is not None
                or (training and (cell.dropout or cell.recurrent_dropout))
                or not (cell.reset_after and cell.use_bias) or tf.config.list_logical_devices("GPU")):
            return super().inner_loop(sequences, initial_state, mask, training)
        state = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        in_bfloat16 = gru.trains_in_bfloat16(cell.kernel, training)
        projected = gru.input_product(sequences, cell.kernel, in_bfloat16) + cell.bias[0]  # (batch, frames, 3 * units)
        if self.go_backwards:
            projected = ops.flip(projected, axis=1)
        outputs = gru.gru_sequence(projected, cell.recurrent_kernel, cell.bias[1], state, in_bfloat16)
        last = outputs[:, -1]
        return last, outputs if self.return_sequences else last, [last]


@keras.saving.register_keras_serializable("vui")
class BatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization``, faster in training on TensorFlow: same weights, same outputs.

    Keras normalises a batch in about ten TensorFlow operations (the moments, then the normalisation,
    each a pass over the batch, and as many again backward); TensorFlow's fused batch norm does the
    forward in one operation and the backward in another. For the final model's (64, 138, 256) batches
    a layer's forward and backward took 14.3 ms against 4.6 ms. Only the training pass of the plain
    case (normalised over every axis but the last, with scale and offset, no mask) takes the fused
    operation; inference and every other case run Keras' own code.
    """

    def call(self, inputs, training=None, mask=None):
        channels = inputs.shape[-1]
        if not (training and self.trainable and mask is None and self.center and self.scale
                and not self.renorm and self.axis in (-1, len(inputs.shape) - 1) and channels is not None
                and inputs.dtype == "float32" and keras.backend.backend() == "tensorflow"):
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance, *_ = tf.compat.v1.nn.fused_batch_norm(
            tf.reshape(inputs, (-1, 1, 1, channels)), self.gamma, self.beta, epsilon=self.epsilon,
            is_training=True)
        # the fused operation returns the unbiased variance (n / (n - 1) times the one it divided by);
        # Keras keeps the biased one in its moving average
        count = tf.cast(tf.size(inputs) // channels, tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.reshape(outputs, tf.shape(inputs))


@keras.saving.register_keras_serializable("vui")
class Dropout(layers.Dropout):
    """``keras.layers.Dropout`` with its mask drawn as one uniform tensor and a select, in training.

    Keras' TensorFlow backend builds the mask with ``tf.nn.experimental.stateless_dropout``: 6.7 ms
    forward for a (64, 138, 256) batch, against 1.9 ms for one ``keras.random.uniform`` draw (from the
    layer's own seed generator, as Keras draws it) and a select. The same dropout: each value is kept
    with probability ``1 - rate`` and scaled by ``1 / (1 - rate)``; only the random stream differs.
    """

    def call(self, inputs, training=False):
        if not (training and 0 < self.rate < 1 and self.noise_shape is None):
            return super().call(inputs, training=training)
        draw = keras.random.uniform(ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator)
        return ops.where(draw >= self.rate, inputs / (1.0 - self.rate), ops.zeros_like(inputs))


@_recorded
def simple_rnn_model(input_dim, output_dim=OUTPUT_DIM):
    """Model 0: one GRU layer whose 29 units are the character scores."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = ProjectedGRU(output_dim, return_sequences=True, name="rnn")(inputs)
    outputs = layers.Activation("softmax", name="softmax")(x)
    return _finish(inputs, outputs, "simple_rnn_model")


@_recorded
def rnn_model(input_dim, units, activation, output_dim=OUTPUT_DIM):
    """Model 1: GRU, batch normalisation, then a Dense layer at every time step."""
    ### BEGIN SOLUTION
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = ProjectedGRU(units, activation=activation, return_sequences=True, name="rnn")(inputs)
    x = BatchNormalization(name="bn_rnn")(x)
    return _finish(inputs, _softmax_head(x, output_dim), "rnn_model")
    ### END SOLUTION


def cnn_output_length(input_length, filter_size, border_mode, stride, dilation=1):
    """Frames out of a 1-D convolution: ``input_length`` frames in, ``border_mode`` 'same' or 'valid'."""
    if input_length is None:
        return None
    if border_mode not in ("same", "valid"):
        raise ValueError(f"border_mode must be 'same' or 'valid', not {border_mode!r}")
    dilated_filter_size = filter_size + (filter_size - 1) * (dilation - 1)
    if border_mode == "same":
        output_length = input_length
    else:
        output_length = input_length - dilated_filter_size + 1
    return max(0, (output_length + stride - 1) // stride)


@_recorded
def cnn_rnn_model(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                  output_dim=OUTPUT_DIM, activation="relu"):
    """Model 2: Conv1D, batch norm, SimpleRNN, batch norm, Dense at every time step.

    The strided convolution shortens the sequence the RNN has to run over by ``conv_stride``. The
    SimpleRNN's ``activation`` is relu as in 2017; with plain SGD its outputs can grow without bound
    (the loss becomes NaN), and tanh, which is bounded, trains steadily.
    """
    ### BEGIN SOLUTION
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding=conv_border_mode,
                      activation="relu", name="conv1d")(inputs)
    x = BatchNormalization(name="bn_conv_1d")(x)
    x = layers.SimpleRNN(units, activation=activation, return_sequences=True, name="rnn")(x)
    x = BatchNormalization(name="bn_rnn")(x)
    return _finish(inputs, _softmax_head(x, output_dim), "cnn_rnn_model",
                   lambda n: cnn_output_length(n, kernel_size, conv_border_mode, conv_stride))
    ### END SOLUTION


@_recorded
def deep_rnn_model(input_dim, units, recur_layers, output_dim=OUTPUT_DIM, activation="tanh"):
    """Model 3: ``recur_layers`` x (GRU + batch norm), then a Dense layer at every time step.

    With ``recur_layers=1`` this is model 1 with the same activation.
    """
    ### BEGIN SOLUTION
    if recur_layers < 1:
        raise ValueError("recur_layers must be at least 1")
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = inputs
    for i in range(recur_layers):
        suffix = "" if recur_layers == 1 else f"_{i + 1}"
        x = ProjectedGRU(units, activation=activation, return_sequences=True, name=f"rnn{suffix}")(x)
        x = BatchNormalization(name=f"bn_rnn{suffix}")(x)
    return _finish(inputs, _softmax_head(x, output_dim), "deep_rnn_model")
    ### END SOLUTION


@_recorded
def bidirectional_rnn_model(input_dim, units, output_dim=OUTPUT_DIM):
    """Model 4: a bidirectional GRU (forward and backward outputs concatenated), then Dense per step."""
    ### BEGIN SOLUTION
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Bidirectional(ProjectedGRU(units, return_sequences=True), merge_mode="concat",
                             name="bidir_rnn")(inputs)
    return _finish(inputs, _softmax_head(x, output_dim), "bidirectional_rnn_model")
    ### END SOLUTION


@_recorded
def dilated_cnn_model(input_dim, filters, kernel_size, dilations=(1, 2, 4, 8), output_dim=OUTPUT_DIM):
    """Model 5: a stack of dilated 1-D convolutions ('same' padding), no recurrence at all.

    Each layer doubles how far it sees: with kernel 3 and dilations 1, 2, 4, 8 an output frame depends
    on 31 input frames (0.31 s), enough for a few characters, with every frame computed in parallel.
    """
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = inputs
    for dilation in dilations:
        x = layers.Conv1D(filters, kernel_size, padding="same", dilation_rate=dilation, activation="relu",
                          name=f"conv_d{dilation}")(x)
        x = BatchNormalization(name=f"bn_conv_d{dilation}")(x)
    return _finish(inputs, _softmax_head(x, output_dim), "dilated_cnn_model")


@_recorded
def final_model(input_dim=13, filters=192, kernel_size=11, conv_stride=3, units=128, recur_layers=3,
                dropout=0.1, output_dim=OUTPUT_DIM):
    """The final model: strided Conv1D front end, stacked bidirectional GRUs, batch norm and dropout.

    It takes 13 MFCCs per frame by default (train it with ``spectrogram=False``): on this corpus they
    gave a lower validation loss than the 161-bin spectrogram, for less time per epoch.
    - Conv1D (kernel 11 = 110 ms, stride 3): learns local spectral patterns and cuts the frame rate to
      one output every 30 ms, so each recurrent layer (and the CTC loss) runs over a third as many steps;
      30 ms still leaves about twice as many frames as characters in read speech;
    - ``recur_layers`` bidirectional GRUs (``ProjectedGRU``: a GRU, faster on a CPU), each followed by
      batch norm: context from both sides of every frame, several levels deep;
    - dropout after the convolution and each recurrent layer against over-fitting (0.1: with over
      11,000 clips 0.2 held it back, EXPERIMENTS.md);
    - a Dense layer at every time step and the softmax.
    """
    ### BEGIN SOLUTION
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding="same", activation="relu",
                      name="conv1d")(inputs)
    x = BatchNormalization(name="bn_conv_1d")(x)
    x = Dropout(dropout, name="drop_conv")(x)
    for i in range(recur_layers):
        x = layers.Bidirectional(ProjectedGRU(units, return_sequences=True), merge_mode="concat",
                                 name=f"bidir_rnn_{i + 1}")(x)
        x = BatchNormalization(name=f"bn_rnn_{i + 1}")(x)
        x = Dropout(dropout, name=f"drop_rnn_{i + 1}")(x)
    return _finish(inputs, _softmax_head(x, output_dim), "final_model",
                   lambda n: cnn_output_length(n, kernel_size, "same", conv_stride))
    ### END SOLUTION


def build_from_spec(build_spec, verbose=False):
    """Rebuild the architecture a ``build_spec`` describes (the spec of a model built here)."""
    builder = globals().get(build_spec["function"])
    if builder is None or not callable(builder):
        raise ValueError(f"sample_models has no model function {build_spec['function']!r}")
    global _PRINT_SUMMARIES
    if verbose:
        return builder(**build_spec["kwargs"])
    _PRINT_SUMMARIES = False
    try:
        return builder(**build_spec["kwargs"])
    finally:
        _PRINT_SUMMARIES = True
