"""Seconds per training epoch of every notebook model on the default corpus, against the 2017 data path.

Run from the project root after `make corpus`:  python -m bench.train_speed [--epochs 5] [--repeats 3]

Each model trains for a few epochs as the notebook calls it (``train_model``, same arguments), all in one
process as in the notebook; the first epoch (graph tracing, feature computation) is the warm-up and the
median of the rest is reported. The 2017 training path recomputes every clip's features for every batch,
visits clips in random order (so batches mix long and short clips and carry much padding), drops the
last partial batch, and computes the CTC loss with TensorFlow's kernel (Keras 2's ctc_batch_cost called
tf.nn.ctc_loss); it is measured on ``--legacy-models`` with the 2017 notebook's batches of 20 clips.
The speed-up compares readings taken under the same conditions: each is made in a fresh process, the
2017 reading and ours alternate (``--repeats`` pairs, first one then the other first), and each pair
gives a ratio; the median ratio of each model counts. To split the speed-up, the same models are also
timed on the 2017 data path with our CTC kernel (what the data path and batch size give alone) and on
our data path with batches of 20 (what the notebook's larger batches give). The 2017 readings run the
GRUs in Keras' own time loop (``VUI_GRU=keras``), ours in ``gru.py``'s compiled one. Each model's
arithmetic per epoch (``train_utils.epoch_flops``) over its seconds gives the rate it trained at, read
against the float32 peak TensorFlow's large matrix product reaches on the same CPU. Prints a table, then
``notebook_train_minutes=`` (20 epochs of models 0-4 and the final model, summed) and
``speedup_vs_2017=`` (the 2017 notebook's seconds per epoch over ours, each with its own data path,
batch size and CTC kernel; mean over the legacy models of their median ratios).
This is a benchmark, not a test: it takes 16 to 22 minutes on 2 cores.
"""
import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import keras

import data_generator
import sample_models as sm
import train_utils
import utils
from utils import MFCC_DIM, SPECTROGRAM_BINS

NOTEBOOK_EPOCHS = 20  # the rubric's epochs for every model
NOTEBOOK_BATCH = 32   # the notebook's BATCH_SIZE
LEGACY_BATCH = 20     # the 2017 notebook's minibatch_size

# (name, builder, train_model keyword arguments): the notebook's own settings
MODELS = [
    ("model_0", lambda: sm.simple_rnn_model(input_dim=SPECTROGRAM_BINS), {}),
    ("model_1", lambda: sm.rnn_model(input_dim=SPECTROGRAM_BINS, units=64, activation="tanh"),
     {"optimizer_factory": lambda: train_utils.default_optimizer(learning_rate=0.01)}),
    ("model_2", lambda: sm.cnn_rnn_model(input_dim=SPECTROGRAM_BINS, filters=200, kernel_size=11, conv_stride=2,
                                         conv_border_mode="valid", units=200, activation="tanh"), {}),
    ("model_3", lambda: sm.deep_rnn_model(input_dim=SPECTROGRAM_BINS, units=64, recur_layers=2),
     {"optimizer_factory": lambda: train_utils.default_optimizer(learning_rate=0.01)}),
    ("model_4", lambda: sm.bidirectional_rnn_model(input_dim=SPECTROGRAM_BINS, units=64), {}),
    ("model_5", lambda: sm.dilated_cnn_model(input_dim=SPECTROGRAM_BINS, filters=128, kernel_size=3), {}),
    ("model_6", lambda: sm.cnn_rnn_model(input_dim=MFCC_DIM, filters=200, kernel_size=11, conv_stride=2,
                                         conv_border_mode="valid", units=200, activation="tanh"),
     {"spectrogram": False}),
    ("model_end", sm.final_model,  # on the larger training set, 6,360 clips an epoch in batches of 64, as the notebook
     {"optimizer_factory": lambda: keras.optimizers.Adam(learning_rate=2.8e-3, clipnorm=5), "spec_augment": True,
      "spectrogram": False, "train_json": "train_corpus_large.json", "clips_per_epoch": 6360, "minibatch_size": 64}),
]
SUMMED = ("model_0", "model_1", "model_2", "model_3", "model_4", "model_end")


class Generator2017(data_generator.AudioGenerator):
    """The 2017 data path: no feature cache, random clip order, last partial batch dropped."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reuse_batches = False  # new groupings every epoch, each batch built from the audio

    def featurize(self, audio_clip):
        return self.features.of_audio(utils.load_audio(audio_clip), name=audio_clip)

    def batch_order(self, partition):
        order = list(range(len(self.clips(partition))))
        if partition == "train":
            self.rng.shuffle(order)
        full = len(order) - len(order) % self.minibatch_size
        return [order[i:i + self.minibatch_size] for i in range(0, full, self.minibatch_size)]

    def batch_order_lengths(self, partition):
        return [self.minibatch_size] * (len(self.clips(partition)) // self.minibatch_size)


def recurrent_steps(generator_class, minibatch_size, draws=20):
    """Time steps a recurrent layer runs in one epoch, training and validation batches together.

    A batch runs as long as its longest clip, so this is the work of a model bound by the fixed cost of
    each step of its time loop (model_0); averaged over ``draws`` epochs' batch orders.
    """
    gen = generator_class(minibatch_size=minibatch_size)
    gen.load_metadata_from_desc_file("train_corpus.json", "train")
    gen.load_metadata_from_desc_file("valid_corpus.json", "valid")
    total = 0
    for _ in range(draws):
        for partition in ("train", "valid"):
            durations = gen.clips(partition).durations
            total += sum(max(gen.frame_count(durations[i]) for i in batch) for batch in gen.batch_order(partition))
    return total / draws


def feature_seconds():
    """Seconds to compute the spectrograms of every training and validation clip: what the 2017 path
    adds to each epoch."""
    gen, paths = Generator2017(), []
    for desc in ("train_corpus.json", "valid_corpus.json"):
        gen.load_metadata_from_desc_file(desc, "train")
        paths += gen.train_audio_paths
    started = time.time()
    for path in paths:
        gen.featurize(path)
    return time.time() - started


def seconds_per_epoch(name, build, kwargs, epochs, generator=None, minibatch_size=NOTEBOOK_BATCH,
                      ctc_kernel="auto"):
    """Median seconds of the epochs after the first, training as the notebook does."""
    keras.backend.clear_session()  # each reading starts from the same state, whatever ran before it
    gc.collect()
    kwargs = {"minibatch_size": minibatch_size, **kwargs}  # a model the notebook batches otherwise keeps its own
    factory = kwargs.pop("optimizer_factory", None)
    if factory:
        kwargs["optimizer"] = factory()
    saved = train_utils.AudioGenerator, train_utils.CTC_KERNEL
    train_utils.CTC_KERNEL = ctc_kernel
    if generator is not None:
        train_utils.AudioGenerator = generator
    try:
        with tempfile.TemporaryDirectory() as results:
            history = train_utils.train_model(build(), f"{name}.pickle", f"{name}.h5", epochs=epochs,
                                              results_dir=results, verbose=0, **kwargs)
    finally:
        train_utils.AudioGenerator, train_utils.CTC_KERNEL = saved
    if history["stopped"]:
        print(f"{name}: {history['stopped']}", file=sys.stderr)
    timed = history["epoch_seconds"][1:] or history["epoch_seconds"] or [float("nan")]
    return statistics.median(timed), history


# how each training path is run: (generator class, clips per batch, CTC kernel, GRU time loop)
PATHS = {
    "ours": (None, NOTEBOOK_BATCH, "auto", "numba"),
    "2017": (Generator2017, LEGACY_BATCH, "tensorflow", "keras"),
    "2017 data": (Generator2017, LEGACY_BATCH, "auto", "keras"),  # the 2017 path with our CTC kernel
    "ours, 20": (None, LEGACY_BATCH, "auto", "numba"),
}


def matmul_peak(size=4096, repeats=5):
    """GFLOP/s of TensorFlow's float32 matrix product of two size x size matrices on this CPU: the
    practical peak the models' arithmetic is read against."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    product = tf.function(lambda m: tf.matmul(m, m))
    product(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product(a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def seconds_on_path(name, path, epochs):
    """Median seconds per epoch of model ``name`` trained on one of ``PATHS``, in this process."""
    _, build, kwargs = next(m for m in MODELS if m[0] == name)
    generator, minibatch_size, kernel, _ = PATHS[path]
    return seconds_per_epoch(name, build, kwargs, epochs, generator=generator, minibatch_size=minibatch_size,
                             ctc_kernel=kernel)[0]


def fresh_reading(name, path, epochs):
    """``seconds_on_path`` in a new Python process: no reading inherits threads, memory or caches from
    the one before it."""
    command = [sys.executable, "-m", "bench.train_speed", "--reading", name, path, "--epochs", str(epochs)]
    environment = dict(os.environ, VUI_GRU=PATHS[path][3])  # read by sample_models as it loads
    done = subprocess.run(command, capture_output=True, text=True, cwd=utils.PROJECT_DIR, env=environment)
    lines = [line for line in done.stdout.splitlines() if line.startswith("READING ")]
    if done.returncode or not lines:
        sys.exit(f"reading {name} on the {path} path failed:\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def paired_ratios(name, epochs, repeats):
    """``repeats`` pairs of fresh readings, 2017 path and ours, alternating which goes first."""
    pairs = []
    for repeat in range(repeats):
        order = ("2017", "ours") if repeat % 2 == 0 else ("ours", "2017")
        seconds = {path: fresh_reading(name, path, epochs) for path in order}
        pairs.append((seconds["2017"], seconds["ours"]))
        print(f"{name}: 2017 path {seconds['2017']:.1f} s, ours {seconds['ours']:.1f} s per epoch, "
              f"ratio {seconds['2017'] / seconds['ours']:.2f}", flush=True)
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per model, the first is warm-up")
    parser.add_argument("--models", nargs="*", default=[m[0] for m in MODELS], help="the notebook models to time")
    parser.add_argument("--legacy-models", nargs="*", default=["model_0", "model_1"], help="the models also timed on the 2017 path")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of readings (2017 path, ours) per legacy model")
    parser.add_argument("--reading", nargs=2, metavar=("MODEL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not os.path.exists("train_corpus.json"):
        sys.exit("train_corpus.json not found: run `make corpus` first, from the project root")
    random.seed(0)
    if args.reading:  # one reading, asked for by fresh_reading
        print(f"READING {seconds_on_path(*args.reading, args.epochs)}", flush=True)
        return
    # what the notebook does: every model in one process shares the feature cache
    chosen = [m for m in MODELS if m[0] in args.models]
    rows, rates = {}, {}
    started = time.time()
    peak = matmul_peak()
    print(f"float32 peak (TensorFlow's 4096 x 4096 matrix product here): {peak:.0f} GFLOP/s", flush=True)
    for name, build, kwargs in chosen:
        rows[name], history = seconds_per_epoch(name, build, kwargs, args.epochs)
        rates[name] = history["epoch_flops"] / rows[name] / 1e9
        print(f"{name:<10} {rows[name]:7.1f} s/epoch  {history['epoch_flops'] / 1e9:8.0f} GFLOP/epoch  "
              f"{rates[name]:6.1f} GFLOP/s ({rates[name] / peak:6.1%} of peak)  loss {history['loss'][-1]:8.2f}  "
              f"val_loss {history['val_loss'][-1]:8.2f}", flush=True)
    pairs, legacy_data, same_batch = {}, {}, {}
    for name in (m[0] for m in chosen if m[0] in args.legacy_models):
        pairs[name] = paired_ratios(name, args.epochs, args.repeats)
        legacy_data[name] = fresh_reading(name, "2017 data", args.epochs)
        same_batch[name] = fresh_reading(name, "ours, 20", args.epochs)
    legacy = {name: statistics.median(old for old, _ in p) for name, p in pairs.items()}
    paired = {name: statistics.median(ours for _, ours in p) for name, p in pairs.items()}
    ratio = {name: statistics.median(old / ours for old, ours in p) for name, p in pairs.items()}
    nan = float("nan")
    print()
    print(f"s/epoch with batches of {NOTEBOOK_BATCH} (the notebook's; the final model's 64), all models in one process; for the "
          f"legacy models, in fresh processes, medians of {args.repeats}: ours again and the 2017 path (batches "
          f"of {LEGACY_BATCH}, TensorFlow's CTC kernel), then once each the 2017 data path with our CTC kernel "
          f"({train_utils.ctc_kernel()}) and our data path with batches of {LEGACY_BATCH}; speedup is the median "
          f"of the pairs' ratios")
    print(f"{'model':<10} {'s/epoch':>8} {'GFLOP/s':>8} {'of peak':>8} {'again':>6} {'2017 path':>10} "
          f"{'2017 data':>10} {'ours, 20':>9} {'speedup':>8} {'data only':>10}")
    for name, seconds in rows.items():
        old, again, ours_20 = legacy.get(name, nan), paired.get(name, nan), same_batch.get(name, nan)
        old_data = legacy_data.get(name, nan)
        print(f"{name:<10} {seconds:8.1f} {rates[name]:8.1f} {rates[name] / peak:8.1%} {again:6.1f} {old:10.1f} "
              f"{old_data:10.1f} {ours_20:9.1f} {ratio.get(name, nan):8.2f} {old_data / again:10.2f}")
    summed = sum(rows[n] * NOTEBOOK_EPOCHS for n in SUMMED if n in rows)
    if legacy:
        ours_steps, old_steps = recurrent_steps(data_generator.AudioGenerator, NOTEBOOK_BATCH), \
            recurrent_steps(Generator2017, LEGACY_BATCH)
        print(f"recurrent time steps per epoch: ours {ours_steps:.0f}, 2017 path {old_steps:.0f} "
              f"({old_steps / ours_steps:.2f}x); the 2017 path's spectrograms: {feature_seconds():.1f} s per epoch")
    print(f"benchmark wall time: {(time.time() - started) / 60:.1f} min")
    print(f"notebook_train_minutes={summed / 60:.1f}")
    ratios = list(ratio.values())
    if ratios:
        data_only = statistics.mean(legacy_data[n] / paired[n] for n in legacy)
        print(f"speed-up of the data path and batch size alone (both on our CTC kernel): {data_only:.2f}")
    print(f"speedup_vs_2017={statistics.mean(ratios):.2f}" if ratios else "speedup_vs_2017=nan")


if __name__ == "__main__":
    main()
