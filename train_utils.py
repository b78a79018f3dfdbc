"""Train an acoustic model with CTC loss, one line per epoch, resumable, results written atomically.

``train_model`` writes two files under the results folder after every epoch:
- ``<pickle_path>``: a dict with ``loss`` and ``val_loss`` (one float per epoch), ``build`` (the
  sample_models call that rebuilds the architecture), ``features``, ``train_json`` (the training
  description, whose statistics normalise the features), ``epoch_seconds``, ``learning_rate`` (the
  rate each epoch ended with), ``optimizer`` (Keras' serialized optimizer, as it was given) and
  ``stopped`` (None, or why training stopped early);
- ``<save_model_path>``: the whole model (legacy HDF5), so ``load_weights`` on a freshly built model of
  the same architecture reproduces the trained one;
- ``<model>.norm.npz`` beside it (``data_generator.normalisation_path``): the mean and standard deviation
  its input features were scaled by, which belong to the model as its weights do (transcribe.py reads
  them, whatever corpus is on disk later).
An interrupted run picks up at the last finished epoch when it is started again with the same call.

From the command line it trains a model again the way a history says another was trained
(``train_like``), e.g. a second final model to average with the first (transcribe.py --model twice):

    .venv/bin/python train_utils.py --like results/model_end.h5 --save results/second/model_end.h5 --set dropout=0.0
"""
import argparse
import ast
import contextlib
import math
import os
import pickle
import time
from pathlib import Path

import utils  # first: it quiets TensorFlow's loading before anything imports it
import numpy as np
import tensorflow as tf
import keras

import ctc
from char_map import BLANK_INDEX
from data_generator import AudioGenerator, normalisation_path
# drawn in plots.py; imported from here by the notebook's calls, so it stays importable here
from plots import plot_histories  # noqa: F401
from utils import Features, atomic_write

RESULTS_DIR = os.environ.get("VUI_RESULTS_DIR", "results")
LOG_EPSILON = 1e-7  # floor under the softmax output before the log, as Keras 2's ctc_batch_cost did
NAN_ADVICE = ("Try a smaller learning rate or a tighter gradient clip (the optimizer's clipnorm), tanh "
              "instead of relu in recurrent layers, or GRU/LSTM cells instead of SimpleRNN.")

# What the notebook may change once for every later call (corpus, results folder, epochs).
DEFAULTS = {"train_json": "train_corpus.json", "valid_json": "valid_corpus.json", "epochs": 20,
            "minibatch_size": 20, "results_dir": RESULTS_DIR}


def set_defaults(**values):
    """Change the defaults of ``train_model`` (train_json, valid_json, epochs, minibatch_size, results_dir)."""
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown defaults {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    DEFAULTS.update(values)
    return dict(DEFAULTS)


def hold_then_cosine(peak, total_epochs, hold_fraction=0.5, floor_fraction=0.02):
    """A callback that sets the learning rate by epoch number: ``peak`` for the first ``hold_fraction``
    of ``total_epochs``, then a cosine fall to ``floor_fraction * peak`` at the last epoch.

    It follows the epoch number rather than the validation loss, so a resumed run gets the rate it
    would have had, and it still lowers the rate when every epoch hears fresh clips and the loss
    never stalls long enough for ``ReduceLROnPlateau`` to act.
    """
    hold = max(1, int(round(hold_fraction * total_epochs)))
    floor = floor_fraction * peak

    def rate(epoch, _current=None):
        if epoch < hold:
            return float(peak)
        progress = min(1.0, (epoch + 1 - hold) / max(1, total_epochs - hold))  # the floor past the end
        return float(floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    return keras.callbacks.LearningRateScheduler(rate)


def default_optimizer(learning_rate=0.02):
    """The 2017 notebook's optimizer: SGD, Nesterov momentum 0.9, gradients clipped to 5, and its learning
    rate 0.02 unless ``learning_rate`` says otherwise (the notebook's model 3 trains at 0.01)."""
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=True, clipnorm=5)


# ------------------------------------------------------------------------------------------ CTC loss
# Which kernel computes the CTC loss and its gradient. On a CPU ctc.py's numba kernel is several times
# faster than TensorFlow's C++ one (a batch of 32 clips of up to 400 frames: 7.4 ms against 25 ms), and
# the CTC loss was half of a small model's training step. On a GPU TensorFlow's kernel keeps the data on
# the device. VUI_CTC=tensorflow or VUI_CTC=numba forces one.
CTC_KERNEL = os.environ.get("VUI_CTC", "auto")


def _ctc_numba(log_probs, targets):
    """CTC loss through ``ctc.ctc_batch`` as a TensorFlow op with its gradient (graph mode, CPU)."""

    @tf.custom_gradient
    def loss(log_probs):
        values, grads = tf.numpy_function(
            lambda x, y: ctc.ctc_batch(x, y[:, 0].astype(np.int64), y[:, 2:].astype(np.int64),
                                       y[:, 1].astype(np.int64), BLANK_INDEX),
            [log_probs, targets], [tf.float32, tf.float32], stateful=False)
        values.set_shape(log_probs.shape[:1])
        grads.set_shape(log_probs.shape)
        return values, lambda upstream: upstream[:, None, None] * grads

    return loss(log_probs)


def _ctc_tensorflow(log_probs, targets):
    """CTC loss through TensorFlow's C++ kernel; sparse labels select it (the dense path is many times
    slower on a CPU, as is keras.ops.ctc_loss)."""
    labels = targets[:, 2:]
    mask = tf.sequence_mask(targets[:, 1], maxlen=tf.shape(labels)[1])
    indices = tf.where(mask)
    sparse_labels = tf.SparseTensor(indices, tf.gather_nd(labels, indices), tf.shape(labels, out_type=tf.int64))
    return tf.nn.ctc_loss(labels=sparse_labels, logits=log_probs, label_length=None, logit_length=targets[:, 0],
                          logits_time_major=False, blank_index=BLANK_INDEX)


def ctc_kernel():
    """'numba' or 'tensorflow': the kernel ``ctc_loss`` uses here (``CTC_KERNEL``, or by device when 'auto')."""
    if CTC_KERNEL in ("numba", "tensorflow"):
        return CTC_KERNEL
    if CTC_KERNEL != "auto":
        raise ValueError(f"VUI_CTC={CTC_KERNEL!r}: use numba, tensorflow or auto")
    return "tensorflow" if tf.config.list_logical_devices("GPU") else "numba"


def ctc_loss(y_true, y_pred):
    """Per-clip CTC loss (negative log-likelihood, summed over the clip).

    y_true: int targets packed by ``data_generator.pack_ctc_targets``: (batch, 2 + longest label),
    column 0 output frames, column 1 label length, then the label. y_pred: softmax output
    (batch, frames, 29). Both kernels give the same values (to float32 rounding).
    """
    targets = tf.cast(y_true, tf.int32)
    log_probs = tf.math.log(tf.cast(y_pred, tf.float32) + LOG_EPSILON)
    if ctc_kernel() == "numba":
        return _ctc_numba(log_probs, targets)
    return _ctc_tensorflow(log_probs, targets)


# ------------------------------------------------------------------------------------------ files
def save_history(history, path):
    def write(tmp):
        with open(tmp, "wb") as f:
            pickle.dump(history, f)

    atomic_write(path, write)


def load_history(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def trained_on(model_path):
    """The training description a model's history names (its features were normalised with that set's
    statistics), or None where the pickle beside the model is missing or older than that record."""
    try:
        return load_history(Path(model_path).with_suffix(".pickle")).get("train_json")
    except (OSError, pickle.UnpicklingError, EOFError):
        return None


def save_model_file(model, path):
    # Keras 3 wants a file name ending in .h5 for the legacy format; the temporary name keeps it
    atomic_write(path, lambda tmp: model.save(tmp, include_optimizer=False))


def _optimizer_state_path(model_path):
    return Path(model_path).with_suffix(".resume.npz")


def save_optimizer_state(optimizer, path):
    arrays = {f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def restore_optimizer_state(optimizer, model, path):
    """Load optimizer variables saved by ``save_optimizer_state``; False where they do not fit."""
    if not os.path.exists(path):
        return False
    optimizer.build(model.trainable_variables)
    with np.load(path) as saved:
        values = [saved[f"v{i}"] for i in range(len(saved.files))]
    if len(values) != len(optimizer.variables) or any(
            v.shape != tuple(var.shape) for v, var in zip(values, optimizer.variables)):
        return False
    for value, variable in zip(values, optimizer.variables):
        variable.assign(value)
    return True


# ------------------------------------------------------------------------------------------ training
class EpochLog(keras.callbacks.Callback):
    """After each epoch: append the losses, write the weights and the history, print one line."""

    def __init__(self, history, pickle_file, model_file, total_epochs, verbose, audio_gen=None, train_json=None):
        super().__init__()
        self.audio_gen, self.train_json = audio_gen, train_json  # whose statistics go beside the weights
        self.history_dict = history
        self.pickle_file = pickle_file
        self.model_file = model_file
        self.total_epochs = total_epochs
        self.verbose = verbose
        self.started = time.time()
        self.bad_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad_batch = batch
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss, val_loss = logs.get("loss"), logs.get("val_loss")
        seconds = time.time() - self.started
        finite = all(v is not None and math.isfinite(float(v)) for v in (loss, val_loss))
        if self.bad_batch is not None or not finite:
            # keep the weights of the last good epoch on disk: these ones are broken
            self.history_dict["stopped"] = undefined_loss(epoch, self.bad_batch)
            self.model.stop_training = True
            print(stopped_line(epoch, self.total_epochs, self.history_dict["stopped"], self.model_file))
            save_history(self.history_dict, self.pickle_file)
            return
        self.history_dict["loss"].append(float(loss))
        self.history_dict["val_loss"].append(float(val_loss))
        self.history_dict["epoch_seconds"].append(round(seconds, 2))
        rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)  # a MirroredVariable too
        self.history_dict.setdefault("learning_rate", []).append(float(rate))
        save_model_file(self.model, self.model_file)
        if self.audio_gen is not None:
            self.audio_gen.save_normalisation(self.model_file, self.train_json)
        save_optimizer_state(self.model.optimizer, _optimizer_state_path(self.model_file))
        save_history(self.history_dict, self.pickle_file)  # last: it marks the epoch as done
        if self.verbose:
            print(epoch_line(epoch, self.total_epochs, seconds, loss, val_loss), flush=True)


# ------------------------------------------------------------------------------------------ arithmetic
def _layer_flops(layer, frames):
    """(floating-point operations of one clip's forward pass through ``layer``, frames it passes on).

    Counts the matrix products (a multiply and an add per weight per frame), which are nearly all of the
    work; batch norm, activations and the gates' element-wise work are left out.
    """
    if isinstance(layer, keras.layers.Bidirectional):
        inner, frames = _layer_flops(layer.forward_layer, frames)
        return 2 * inner, frames
    if isinstance(layer, keras.layers.Conv1D):
        out = layer.compute_output_shape((1, frames, layer.kernel.shape[1]))[1]
        return 2 * out * int(np.prod(layer.kernel.shape)), out
    if isinstance(layer, (keras.layers.GRU, keras.layers.SimpleRNN)):  # the input and recurrent products
        cell = layer.cell
        return 2 * frames * (int(np.prod(cell.kernel.shape)) + int(np.prod(cell.recurrent_kernel.shape))), frames
    if isinstance(layer, keras.layers.Dense):
        return 2 * frames * int(np.prod(layer.kernel.shape)), frames
    return 0, frames


def clip_flops(model, frames):
    """Floating-point operations of one clip of ``frames`` input frames through ``model``, forward.

    Training costs about three times this: the backward pass does two products for each one forward
    (with respect to the inputs and to the weights). The models here are chains of layers.
    """
    total = 0
    for layer in model.layers:
        flops, frames = _layer_flops(layer, frames)
        total += flops
    return total


def epoch_flops(model, audio_gen):
    """Floating-point operations of one epoch: the training batches forward and backward (3x), the
    validation batches forward, each batch as long as its longest clip (padding costs what a clip does).
    An epoch of ``clips_per_epoch`` clips costs that share of the whole training set's batches."""
    train = sum(clips * clip_flops(model, frames) for clips, frames in audio_gen.batch_shapes("train"))
    if audio_gen.caps_epoch("train"):
        train = train * audio_gen.clips_per_epoch / len(audio_gen.clips("train"))
    valid = sum(clips * clip_flops(model, frames) for clips, frames in audio_gen.batch_shapes("valid"))
    return int(3 * train + valid)


# ------------------------------------------------------------------------------------------ shared by both loops
# (this module's train_model, distributed.train_multi_worker)
def undefined_loss(epoch, bad_batch=None):
    """Why training stopped at a NaN or infinite loss in ``epoch`` (from 0), at ``bad_batch`` if known."""
    where = f"batch {bad_batch + 1} of " if bad_batch is not None else ""
    return f"undefined loss (NaN or inf) in {where}epoch {epoch + 1}"


def stopped_line(epoch, total_epochs, stopped, model_file):
    """The line printed when training stops at an undefined loss: the last good weights stay on disk."""
    return (f"Epoch {epoch + 1}/{total_epochs}: {stopped}; training stopped and the weights of epoch {epoch} "
            f"kept in {model_file}. {NAN_ADVICE}")


def epoch_line(epoch, total_epochs, seconds, loss, val_loss):
    """The line printed after each epoch."""
    return f"Epoch {epoch + 1}/{total_epochs} - {seconds:.0f}s - loss: {loss:.4f} - val_loss: {val_loss:.4f}"


def check_features(model, features):
    """ValueError, naming the fix, where ``model`` does not read ``features``' width (a ``utils.Features``)."""
    if model.input_shape[-1] != features.width:
        raise ValueError(f"the model takes {model.input_shape[-1]} features per frame but spectrogram="
                         f"{features.spectrogram} gives {features.width}: build it with input_dim={features.width}")


def new_history(build, features, epochs, train_json, **settings):
    """The history a training run starts: losses, seconds a epoch, why it stopped (None), the model's
    ``build`` spec, its ``features``' record, the epochs planned, the training description, and
    ``settings`` (what else the run was given)."""
    return {"loss": [], "val_loss": [], "epoch_seconds": [], "stopped": None, "build": build,
            "features": features.record(), "epochs_planned": epochs, "train_json": str(train_json), **settings}


def plain(value):
    """Keras wraps dicts and lists set on models in tracking types; the pickle gets plain ones."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value) if isinstance(value, tuple) else [plain(v) for v in value]
    return value


def _resume_point(pickle_file, model_file, build, features, train_json, epochs, clips_per_epoch=None):
    """The saved history to continue from, or None to start afresh (another model, features or data)."""
    if not (os.path.exists(pickle_file) and os.path.exists(model_file)):
        return None
    try:
        history = load_history(pickle_file)
    except Exception as err:  # a damaged pickle: say so and start again rather than crash
        print(f"{pickle_file} cannot be read ({err}); training from scratch")
        return None
    if history.get("build") != build or history.get("features") != features:
        print(f"{pickle_file} holds another model or feature setting; training from scratch")
        return None
    if history.get("train_json") != train_json:  # its record would name the wrong set from here on
        print(f"{pickle_file} was trained on {history.get('train_json')}, not {train_json}; "
              "training from scratch")
        return None
    if history.get("stopped"):
        print(f"{pickle_file}: the last run stopped ({history['stopped']}); training from scratch")
        return None
    done = len(history.get("loss", []))
    if done == 0 or done > epochs:
        return None
    saved_cap = history.get("clips_per_epoch")
    if saved_cap != clips_per_epoch and done < epochs:  # the same model and data: going on is sound
        print(f"{pickle_file} was trained with clips_per_epoch={saved_cap}; its remaining epochs hear "
              f"clips_per_epoch={clips_per_epoch} (pass the earlier value to go on as it was)")
    return history


def train_model(input_to_softmax, pickle_path, save_model_path, train_json=None, valid_json=None,
                minibatch_size=None, spectrogram=True, mfcc_dim=utils.MFCC_DIM, optimizer=None, epochs=None, verbose=1,
                sort_by_duration=False, max_duration=10.0, strategy=None, resume=True, callbacks=(),
                results_dir=None, spec_augment=False, clips_per_epoch=None):
    """Train ``input_to_softmax`` with CTC loss; write its history and weights under the results folder.

    Params (2017 names and defaults; None means the value set by ``set_defaults``):
        input_to_softmax: a model from sample_models (it must carry ``output_length``)
        pickle_path, save_model_path: file names for the loss history and the model, in results/
        train_json, valid_json: corpus descriptions (train_corpus.json, valid_corpus.json)
        minibatch_size: clips per batch (20); spectrogram: spectrogram (True) or MFCC (False) features
        mfcc_dim: MFCC coefficients; optimizer: a Keras optimizer (default ``default_optimizer()``)
        epochs: total epochs (20); verbose: 1 prints a line per epoch, 0 nothing
        sort_by_duration: shortest clips first in a fixed order; max_duration: longest clip in seconds
        strategy: a tf.distribute strategy to train under (e.g. MirroredStrategy over several GPUs)
        resume: continue an interrupted run of the same model from its last finished epoch
        callbacks: extra Keras callbacks
        spec_augment: mask random frequency bands and time stretches of each training clip
            (``data_generator.spec_augment``), a regulariser against over-fitting few speakers
        clips_per_epoch: train on this many clips per epoch, in turn from the whole training set, so a
            larger set brings more variety at the same cost per epoch (None: every clip, every epoch)
    Returns the history dict that is also pickled.
    """
    train_json = train_json or DEFAULTS["train_json"]
    valid_json = valid_json or DEFAULTS["valid_json"]
    epochs = epochs or DEFAULTS["epochs"]
    minibatch_size = minibatch_size or DEFAULTS["minibatch_size"]
    results = Path(results_dir or DEFAULTS["results_dir"])
    pickle_file, model_file = results / pickle_path, results / save_model_path
    if not hasattr(input_to_softmax, "output_length"):
        raise AttributeError("the model has no output_length: set model.output_length = lambda x: x "
                             "(or cnn_output_length for a convolutional front end)")
    features = Features.of(spectrogram, mfcc_dim)
    check_features(input_to_softmax, features)
    utils.quiet_logging()

    audio_gen = AudioGenerator.for_training(
        train_json, valid_json, input_to_softmax.output_length, progress=bool(verbose), features=features,
        minibatch_size=minibatch_size, sort_by_duration=sort_by_duration, max_duration=max_duration,
        augment=spec_augment, clips_per_epoch=clips_per_epoch)

    build = plain(getattr(input_to_softmax, "build_spec", None))
    history = (_resume_point(pickle_file, model_file, build, features.record(), str(train_json), epochs,
                             clips_per_epoch) if resume else None)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        # an optimizer belongs to the strategy it was made under: make (or remake) it inside the scope
        if optimizer is None:
            optimizer = default_optimizer()
        elif strategy is not None:
            optimizer = optimizer.__class__.from_config(optimizer.get_config())
        model = input_to_softmax
        if strategy is not None and build is not None:
            import sample_models  # the model must own its variables inside the strategy's scope

            model = sample_models.build_from_spec(build)
            model.set_weights(input_to_softmax.get_weights())
        model.compile(optimizer=optimizer, loss=ctc_loss, jit_compile=False)
        initial_epoch = 0
        if history is not None:
            model.load_weights(model_file)
            if normalisation_path(model_file).exists():  # go on with the statistics it was trained with
                audio_gen.load_normalisation(model_file)
            restored = restore_optimizer_state(model.optimizer, model, _optimizer_state_path(model_file))
            initial_epoch = len(history["loss"])
            print(f"resuming {save_model_path} after epoch {initial_epoch} of {epochs}"
                  + ("" if restored else " (optimizer state not found: it starts afresh)"))
        else:
            history = new_history(build, features, epochs, train_json, minibatch_size=minibatch_size,
                                  spec_augment=bool(spec_augment), clips_per_epoch=clips_per_epoch,
                                  optimizer=plain(keras.optimizers.serialize(optimizer)))
    if initial_epoch >= epochs:
        print(f"{save_model_path} already holds {initial_epoch} trained epochs (pass resume=False to retrain)")
        return history

    output_length = model.output_length if hasattr(model, "output_length") else input_to_softmax.output_length
    audio_gen.train_epochs_begun = initial_epoch  # which clips an epoch hears depends on its number
    if verbose:
        n_train = len(audio_gen.train_audio_paths)
        heard = (f"{clips_per_epoch} of {n_train} clips per epoch" if audio_gen.caps_epoch("train")
                 else f"{n_train} clips")
        print(f"training {heard}, validating on {len(audio_gen.valid_audio_paths)}, "
              f"batches of {minibatch_size}")
    history["epoch_flops"] = epoch_flops(model, audio_gen)
    log = EpochLog(history, pickle_file, model_file, epochs, verbose, audio_gen, train_json)
    model.fit(audio_gen.dataset("train", output_length), validation_data=audio_gen.dataset("valid", output_length),
              epochs=epochs, initial_epoch=initial_epoch, verbose=0, shuffle=False, callbacks=[log, *callbacks])
    if model is not input_to_softmax:
        input_to_softmax.set_weights(model.get_weights())
    elif history["stopped"] and os.path.exists(model_file):
        model.load_weights(model_file)  # leave the caller the last good weights, not the broken ones
    # the optimizer state stays beside the weights after the last epoch too: a later call with more
    # epochs then goes on with Adam's moments and the learning rate a schedule had reached
    return history


# ------------------------------------------------------------------------------------------ comparing runs
def load_histories(results_dir=None):
    """Every ``results/*.pickle`` as {model name: history}, in model order (model_0, ..., model_end)."""
    results = Path(results_dir or DEFAULTS["results_dir"])

    def order(path):
        suffix = path.stem.split("_", 1)[-1]
        return (0, int(suffix), "") if suffix.isdigit() else (1, 0, suffix)

    return {path.stem: load_history(path) for path in sorted(results.glob("*.pickle"), key=order)}


def training_speed(history):
    """(median seconds per epoch, GFLOP/s it did then) of a history; GFLOP/s is NaN where the history
    predates the count of its arithmetic."""
    seconds = history.get("epoch_seconds") or []
    if not seconds:
        return float("nan"), float("nan")
    median = float(np.median(seconds[1:] or seconds))  # the first epoch also traces the graph
    flops = history.get("epoch_flops")
    return median, (flops / median / 1e9 if flops else float("nan"))


def summarize_histories(histories):
    """One line per model: epochs, final and best validation loss (with its epoch), last training loss,
    and the speed it trained at (median seconds per epoch, GFLOP/s)."""
    lines = [f"{'model':<10} {'epochs':>6} {'final val':>10} {'best val':>9} {'@epoch':>6} {'final train':>11}"
             f" {'s/epoch':>8} {'GFLOP/s':>8}  features"]
    for name, h in histories.items():
        val = h["val_loss"]
        best = int(np.argmin(val)) if val else -1
        kind = Features.from_record(h.get("features")).label
        stopped = f"  (stopped: {h['stopped']})" if h.get("stopped") else ""
        seconds, rate = training_speed(h)
        lines.append(f"{name:<10} {len(val):>6} {val[-1] if val else float('nan'):>10.2f} "
                     f"{val[best] if val else float('nan'):>9.2f} {best + 1:>6} "
                     f"{h['loss'][-1] if h['loss'] else float('nan'):>11.2f} "
                     f"{seconds:>8.1f} {rate:>8.1f}  {kind}{stopped}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ training again
def train_like(like_model, save_model, overrides=None, optimizer=None, verbose=1):
    """Train a new model as the history of ``like_model`` (its .pickle) says that one was trained.

    The same architecture (the history's ``build``, its arguments changed by ``overrides``, a dict),
    features, training description, batch size, SpecAugment, clips per epoch and epochs, and the
    learning rate each of its epochs had, epoch by epoch. ``optimizer``: the one to use where the history
    does not record its own (one trained before histories kept it). The weights start from a fresh
    random draw, so the new model is a second opinion, not a copy. ``save_model``: the new .h5, its
    history and statistics written beside it; an interrupted run goes on where it stopped.
    Returns the new history.
    """
    import sample_models

    like_pickle = Path(like_model).with_suffix(".pickle")
    if not like_pickle.exists():
        raise ValueError(f"{like_pickle}: not found; it is written beside the model's weights as it trains")
    like = load_history(like_pickle)
    unknown = set(overrides or {}) - set(like["build"]["kwargs"])
    if unknown:
        raise ValueError(f"{like['build']['function']} has no argument {', '.join(sorted(unknown))}; its "
                         f"arguments: {', '.join(like['build']['kwargs'])}")
    rates = like.get("learning_rate") or []
    epochs = like.get("epochs_planned") or len(like["loss"])
    if len(rates) < epochs:
        raise ValueError(f"{like_model}: its history records the learning rate of {len(rates)} of {epochs} "
                         "epochs, so its schedule cannot be followed; train it to the end first")
    if like.get("optimizer") is not None:
        optimizer = keras.optimizers.deserialize(like["optimizer"])
    elif optimizer is None:
        raise ValueError(f"{like_pickle} does not record its optimizer: name it "
                         "(on the command line --adam-clipnorm, for Adam)")
    build = dict(like["build"], kwargs={**like["build"]["kwargs"], **(overrides or {})})
    features = Features.from_record(like.get("features"))
    save_model = Path(save_model)
    save_model.parent.mkdir(parents=True, exist_ok=True)
    return train_model(sample_models.build_from_spec(build), save_model.with_suffix(".pickle").name,
                       save_model.name, train_json=like["train_json"], minibatch_size=like.get("minibatch_size"),
                       spectrogram=features.spectrogram, mfcc_dim=features.mfcc_dim or utils.MFCC_DIM,
                       optimizer=optimizer, epochs=epochs, verbose=verbose, results_dir=save_model.parent,
                       spec_augment=like.get("spec_augment", False), clips_per_epoch=like.get("clips_per_epoch"),
                       callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, _rate: float(rates[epoch]))])


def parse_override(text):
    """'name=value' -> (name, value), the value read as a Python literal (0.0, 128, 'relu', None)."""
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=VALUE, e.g. dropout=0.0")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value  # a bare word: a string


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train a model again as another model's history says it "
                                                 "was trained (train_like).")
    parser.add_argument("--like", required=True, help="the trained model to follow (its .pickle beside it)")
    parser.add_argument("--save", required=True, help="the new model's .h5; its history and statistics go beside it")
    parser.add_argument("--set", type=parse_override, action="append", default=[], metavar="NAME=VALUE",
                        help="change one argument of the model function, e.g. dropout=0.0")
    parser.add_argument("--adam-clipnorm", type=float, metavar="NORM",
                        help="where the history does not record its optimizer: Adam, gradients clipped to "
                             "this norm (the notebook's final model: 5)")
    args = parser.parse_args(argv)
    optimizer = keras.optimizers.Adam(clipnorm=args.adam_clipnorm) if args.adam_clipnorm else None
    try:
        history = train_like(args.like, args.save, dict(args.set), optimizer)
    except (OSError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    return 1 if history.get("stopped") else 0


if __name__ == "__main__":
    raise SystemExit(main())
