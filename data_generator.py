"""Batches of normalised features (spectrogram or MFCC) and labels for CTC training, and one clip's features.

A corpus description is a JSON-lines file, one clip per line: ``{"key": path, "duration": s, "text": ...}``
(written by create_desc_json.py). ``AudioGenerator`` reads the training, validation and test
descriptions, computes each clip's features once (they are cached for the life of the process, so every
model trained in one notebook session reuses them), and groups clips of similar length into batches, so
little of each batch is padding. Every clip is visited once per epoch, the last short batch included,
unless ``clips_per_epoch`` caps an epoch of a large training set (then each is visited in turn).
"""
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import utils
from char_map import ALPHABET, text_to_int_sequence
# drawn in plots.py; imported from here by the 2017 notebook's calls, so they stay importable here
from plots import plot_mfcc_feature, plot_raw_audio, plot_spectrogram_feature  # noqa: F401
from utils import AudioError, Features, atomic_write, file_digest

RNG_SEED = 123  # the order of batches and the clips used for normalisation are reproducible
NORMALISE_EPSILON = 1e-14  # added to the standard deviation, so a constant feature divides safely

# SpecAugment-style masking of training clips (Park et al. 2019), sized for clips of a few seconds
FREQ_MASKS = 2          # frequency bands blanked per clip
FREQ_MASK_WIDTH = 0.1   # each band at most this fraction of the feature bins (16 of 161, 800 Hz)
TIME_MASKS = 2          # stretches of time blanked per clip
TIME_MASK_FRAMES = 20   # each at most 20 frames (200 ms) ...
TIME_MASK_SHARE = 0.1   # ... and at most this fraction of the clip

NORM_SUFFIX = ".norm.npz"  # a model's normalisation statistics: results/model_end.h5 -> model_end.norm.npz

SPLITS = ("train", "valid", "test")
SPLIT_NAMES = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}  # 2017 names too

# features of every clip featurized in this process, keyed by file identity and ``Features``
_FEATURE_CACHE = {}


def normalisation_path(model_path):
    """Where a model's normalisation statistics are kept: results/model_end.h5 -> results/model_end.norm.npz."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + NORM_SUFFIX)


def featurize_file(path, features):
    """``features`` (a ``utils.Features``) of one audio file: shape (frames, width). Computed once per
    process, then served from the cache, keyed by the file's path, modification time and size."""
    key = None
    if os.path.exists(path):
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size, features)
        if key in _FEATURE_CACHE:
            return _FEATURE_CACHE[key]
    feature = features.of_audio(utils.load_audio(path), name=path)
    if key is not None:
        _FEATURE_CACHE[key] = feature
    return feature


def spec_augment(feature, rng):
    """A copy of one clip's normalised features, (frames, bins), with random frequency bands and time
    stretches set to 0, the training set's mean: the model cannot lean on any one band or moment."""
    masked = feature.copy()
    frames, bins = masked.shape
    for _ in range(FREQ_MASKS):
        width = rng.integers(0, int(FREQ_MASK_WIDTH * bins) + 1)
        start = rng.integers(0, bins - width + 1)
        masked[:, start:start + width] = 0
    longest = min(TIME_MASK_FRAMES, int(TIME_MASK_SHARE * frames))
    for _ in range(TIME_MASKS):
        width = rng.integers(0, longest + 1)
        start = rng.integers(0, frames - width + 1)
        masked[start:start + width] = 0
    return masked


def ctc_frames_needed(text):
    """The fewest output frames CTC can align ``text`` to: one per character, plus one blank between each
    pair of equal neighbours ("ll" in "hello": 5 + 1 = 6), since a repeated symbol with no blank between
    collapses into one. Fewer frames leave no alignment: the loss is infinite."""
    return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def pack_ctc_targets(labels, output_lengths):
    """Pack a batch's labels for the CTC loss: int32 array, shape (batch, 2 + longest label).

    Column 0 holds each clip's number of model output frames, column 1 its label length, the rest the
    label's character indices padded with zeros. Keras hands the loss one target tensor per batch; this
    layout carries everything the loss needs in it (train_utils.ctc_loss unpacks it).
    """
    width = 2 + max((len(label) for label in labels), default=0)
    packed = np.zeros((len(labels), width), dtype=np.int32)
    for row, (label, frames) in enumerate(zip(labels, output_lengths)):
        packed[row, 0] = frames
        packed[row, 1] = len(label)
        packed[row, 2:2 + len(label)] = label
    return packed


def audio_length(seconds):
    """A length of audio as people say it: "74 minutes", "28.1 hours"."""
    return f"{seconds / 60:.0f} minutes" if seconds < 2 * 3600 else f"{seconds / 3600:.1f} hours"


def split_name(partition):
    """The split a partition name means: 'validation' and 'valid' are the same set."""
    name = SPLIT_NAMES.get(partition)
    if name is None:
        raise ValueError(f"unknown partition {partition!r}: use 'train', 'valid' or 'test'")
    return name


@dataclass
class Clips:
    """The clips of one split, in order: their audio paths, durations (s) and transcripts."""
    paths: list = field(default_factory=list)
    durations: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    COLUMNS = ("paths", "durations", "texts")

    def select(self, indices):
        """Keep only the clips at ``indices``, in that order."""
        for name in self.COLUMNS:
            column = getattr(self, name)
            setattr(self, name, [column[i] for i in indices])

    def __len__(self):
        return len(self.paths)


class _SplitColumn:
    """The 2017 attributes (``train_audio_paths``, ``valid_texts``, ...): one column of one split's Clips."""

    def __init__(self, split, column):
        self.split, self.column = split, column

    def __get__(self, audio_gen, owner=None):
        return self if audio_gen is None else getattr(audio_gen.splits[self.split], self.column)

    def __set__(self, audio_gen, value):
        setattr(audio_gen.splits[self.split], self.column, list(value))


class AudioGenerator:
    """Reads corpus descriptions and yields padded batches of normalised features with their labels."""

    train_audio_paths, train_durations, train_texts = (_SplitColumn("train", c) for c in Clips.COLUMNS)
    valid_audio_paths, valid_durations, valid_texts = (_SplitColumn("valid", c) for c in Clips.COLUMNS)
    test_audio_paths, test_durations, test_texts = (_SplitColumn("test", c) for c in Clips.COLUMNS)

    def __init__(self, step=utils.STEP_MS, window=utils.WINDOW_MS, max_freq=utils.MAX_FREQ, mfcc_dim=utils.MFCC_DIM,
                 minibatch_size=20, desc_file=None, spectrogram=True, max_duration=10.0, sort_by_duration=False,
                 seed=RNG_SEED, augment=False, clips_per_epoch=None, features=None):
        """
        Params:
            step (int): ms between feature frames
            window (int): ms of audio per spectrogram frame
            max_freq (int): highest spectrogram frequency, Hz
            mfcc_dim (int): MFCC coefficients per frame
            minibatch_size (int): clips per batch
            desc_file (str): optional training description to load at once
            spectrogram (bool): spectrogram features if True, else MFCC
            max_duration (float): clips longer than this many seconds are left out
            sort_by_duration (bool): visit clips shortest first, in a fixed order (a curriculum);
                otherwise batches of similar length are visited in a new random order each epoch
            augment (bool): SpecAugment masking (``spec_augment``) of training batches; never of others
            clips_per_epoch (int): train on this many clips per epoch, taken in turn from a seeded
                shuffle of the whole training set (``epoch_clips``), so an epoch costs the same however
                large the set is; None: every clip, every epoch
            features (utils.Features): the features, in place of step, window, max_freq, mfcc_dim and
                spectrogram
        """
        self.features = features or Features.of(spectrogram, mfcc_dim, step, window, max_freq)
        self.feat_dim = self.features.width
        self.feats_mean = np.zeros((self.feat_dim,), dtype=np.float32)
        self.feats_std = np.ones((self.feat_dim,), dtype=np.float32)
        self.rng = random.Random(seed)
        self.augment = augment
        self.seed = seed
        self.clips_per_epoch = clips_per_epoch
        self.mask_rng = np.random.default_rng(seed)
        self.minibatch_size = minibatch_size
        self.max_duration = max_duration
        self.sort_by_duration = sort_by_duration
        self.epochs_served = dict.fromkeys(SPLITS, 0)
        self.train_epochs_begun = 0  # numbers the epochs for epoch_clips; set it to resume mid-run
        # dataset() keeps each padded batch for the next epoch (``epoch(cache=...)``); a subclass whose
        # batch_order draws new groupings of clips every epoch must set this False
        self.reuse_batches = clips_per_epoch is None
        self.splits = {split: Clips() for split in SPLITS}
        if desc_file is not None:
            self.load_metadata_from_desc_file(desc_file, "train")

    # ----------------------------------------------------------------------------- corpus descriptions
    def clips(self, partition):
        """The ``Clips`` of a partition ('train', 'valid' or 'validation', 'test')."""
        return self.splits[split_name(partition)]

    @classmethod
    def for_training(cls, train_json, valid_json, output_length, progress=True, **settings):
        """A generator (``settings``: its arguments) with both descriptions read, the training statistics
        fitted, every clip featurized and the clips a model's ``output_length`` cannot align left out
        (``prepare_to_train``): what both training loops start from."""
        audio_gen = cls(**settings)
        audio_gen.load_train_data(train_json)
        audio_gen.load_validation_data(valid_json)
        for partition, desc_file in (("train", train_json), ("valid", valid_json)):
            audio_gen.prepare_to_train(partition, output_length, desc_file, progress=progress)
        return audio_gen

    def load_train_data(self, desc_file="train_corpus.json"):
        self.load_metadata_from_desc_file(desc_file, "train")
        self.fit_train()
        if self.sort_by_duration:
            self.sort_data_by_duration("train")

    def load_validation_data(self, desc_file="valid_corpus.json"):
        self.load_metadata_from_desc_file(desc_file, "validation")
        if self.sort_by_duration:
            self.sort_data_by_duration("valid")

    def load_test_data(self, desc_file="test_corpus.json"):
        self.load_metadata_from_desc_file(desc_file, "test")

    def load_metadata_from_desc_file(self, desc_file, partition):
        """Read a JSON-lines description; clips over max_duration or with unusable text are left out."""
        if not os.path.exists(desc_file):
            raise FileNotFoundError(f"{desc_file}: corpus description not found; build it with `make corpus` "
                                    "or `python create_desc_json.py LibriSpeech/<set> " + desc_file + "`")
        paths, durations, texts = [], [], []
        too_long = 0
        with open(desc_file, encoding="utf-8") as lines:
            for line_number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    spec = json.loads(line)
                    key, duration, text = spec["key"], float(spec["duration"]), spec["text"]
                except (ValueError, KeyError, TypeError) as err:
                    raise ValueError(f"{desc_file} line {line_number}: not a clip description ({err}); "
                                     "recreate the file with create_desc_json.py") from err
                if duration > self.max_duration:
                    too_long += 1
                    continue
                unknown = sorted(set(text) - set(ALPHABET))
                if unknown:
                    print(f"{desc_file} line {line_number}: {key} left out: characters {unknown} are not in "
                          "the alphabet (recreate the description with create_desc_json.py)")
                    continue
                paths.append(key)
                durations.append(duration)
                texts.append(text)
        if too_long:
            print(f"{desc_file}: {too_long} clips longer than {self.max_duration} s left out")
        self.splits[split_name(partition)] = Clips(paths, durations, texts)

    def drop_unfit(self, partition, output_length):
        """Leave out clips whose transcript needs more output frames than the model gives them
        (``ctc_frames_needed``); CTC cannot align them, and their loss would be infinite.

        ``output_length`` maps feature frames to output frames. Returns the number left out.
        """
        clips = self.clips(partition)
        keep = [i for i, (duration, text) in enumerate(zip(clips.durations, clips.texts))
                if output_length(self.frame_count(duration)) >= ctc_frames_needed(text)]
        dropped = len(clips) - len(keep)
        if dropped:
            clips.select(keep)
        return dropped

    def prepare_to_train(self, partition, output_length, desc_file, progress=True):
        """``prepare`` a partition, then ``drop_unfit`` for a model's ``output_length``, each said on stdout.

        Raises ValueError, naming ``desc_file`` (where the partition came from), when no clip is left.
        """
        self.prepare(partition, progress=progress)
        dropped = self.drop_unfit(partition, output_length)
        if dropped and progress:
            print(f"{partition}: {dropped} clips left out: their transcript needs more output frames than the "
                  "model gives them (one per character, plus one between doubled letters)")
        if not self.clips(partition):
            raise ValueError(f"no usable {partition} clips in {desc_file}")

    def frame_count(self, duration):
        """Feature frames of a clip of ``duration`` seconds."""
        return self.features.frame_count(int(round(duration * utils.SAMPLE_RATE)))

    # ----------------------------------------------------------------------------- features
    def featurize(self, audio_clip):
        """Features of one file: shape (frames, feat_dim); computed once per process, then cached."""
        return featurize_file(audio_clip, self.features)

    def save_normalisation(self, model_path, train_json):
        """Write the statistics beside a model (``normalisation_path``), with the feature kind and the
        training description they came from (its path and SHA-256), in one atomic write."""
        atomic_write(normalisation_path(model_path), lambda temp: np.savez(
            temp, mean=self.feats_mean, std=self.feats_std, features=np.array(self.features.name),
            train_digest=np.array(file_digest(train_json)), train_json=np.array(str(train_json))))

    def load_normalisation(self, model_path):
        """Set the statistics saved beside a model; returns the saved record as a dict of arrays
        (mean, std, features, train_digest, train_json). Raises ValueError, naming the file, where
        it holds statistics of other features."""
        path = normalisation_path(model_path)
        with np.load(path) as saved:
            record = {name: saved[name] for name in saved.files}
        if str(record["features"]) != self.features.name:
            raise ValueError(f"{path} holds the statistics of {record['features']} features, not "
                             f"{self.features.name}; pass the features the model was trained on (--features)")
        self.feats_mean, self.feats_std = record["mean"], record["std"]
        return record

    def normalise(self, feature, eps=NORMALISE_EPSILON):
        """Scale features to zero mean, unit variance with the training set's statistics."""
        return (feature - self.feats_mean) / (self.feats_std + eps)

    def fit_train(self, k_samples=100):
        """Estimate the features' mean and standard deviation from ``k_samples`` training clips."""
        if not self.train_audio_paths:
            raise ValueError("no training clips loaded: call load_train_data() first")
        k_samples = min(k_samples, len(self.train_audio_paths))
        samples = random.Random(RNG_SEED).sample(self.train_audio_paths, k_samples)
        feats = np.vstack([self.featurize(path) for path in samples])
        self.feats_mean = feats.mean(axis=0)
        self.feats_std = feats.std(axis=0)

    def prepare(self, partition, progress=True):
        """Featurize every clip of a partition now; unreadable clips are reported and left out.

        Returns the number left out. Doing this once before training keeps the first epoch as fast
        as the rest and turns a bad file into a message, not a crash in the middle of an epoch.
        """
        clips = self.clips(partition)
        keep, bad = [], []
        for i, path in enumerate(clips.paths):
            try:
                self.featurize(path)
                keep.append(i)
            except AudioError as err:
                bad.append(str(err))
        for message in bad:
            print(f"left out: {message}")
        seconds = sum(clips.durations[i] for i in keep)
        if bad:
            clips.select(keep)
        if progress:
            print(f"{partition}: {len(keep):,} clips, {audio_length(seconds)} of audio")
        return len(bad)

    # ----------------------------------------------------------------------------- batches
    def caps_epoch(self, partition):
        """Whether an epoch of this partition hears only ``clips_per_epoch`` of its clips."""
        n = len(self.clips(partition))
        return (split_name(partition) == "train" and self.clips_per_epoch is not None
                and 0 < self.clips_per_epoch < n)

    def epoch_clips(self, partition):
        """Clip indices of the next epoch: all of them, or ``clips_per_epoch`` training clips.

        Those are consecutive stretches of an endless sequence of shuffles of the training set (shuffle
        r seeded by (seed, r)), so every clip is heard equally often, and epoch e's clips depend only on
        e (``train_epochs_begun``, counted as each epoch starts): a resumed run, with it set to the
        epochs done, hears what the uninterrupted run would have.
        """
        n = len(self.clips(partition))
        if not self.caps_epoch(partition):
            return list(range(n))
        k = self.clips_per_epoch
        start, clips = self.train_epochs_begun * k, []
        while len(clips) < k:
            shuffle, offset = divmod(start + len(clips), n)
            order = np.random.default_rng([self.seed, shuffle]).permutation(n)
            clips.extend(order[offset:offset + k - len(clips)].tolist())
        return clips

    def batch_order(self, partition):
        """Clip indices of each batch for one epoch; each clip of ``epoch_clips`` appears exactly once."""
        durations = self.clips(partition).durations
        by_length = sorted(self.epoch_clips(partition), key=lambda i: (durations[i], i))
        batches = [by_length[i:i + self.minibatch_size] for i in range(0, len(by_length), self.minibatch_size)]
        if not self.sort_by_duration and partition == "train":
            self.rng.shuffle(batches)
        return batches

    def batch_shapes(self, partition):
        """(clips, padded frames) of each batch an epoch over every clip of ``partition`` serves, without
        drawing an order: what ``train_utils.epoch_flops`` counts."""
        by_length = sorted(self.clips(partition).durations)
        return [(len(batch), self.frame_count(batch[-1])) for batch in
                (by_length[i:i + self.minibatch_size] for i in range(0, len(by_length), self.minibatch_size))]

    def batch_order_lengths(self, partition):
        """Clips per batch of one epoch, without drawing a new order."""
        n = self.clips_per_epoch if self.caps_epoch(partition) else len(self.clips(partition))
        return [min(self.minibatch_size, n - i) for i in range(0, n, self.minibatch_size)]

    def get_batch(self, partition, indices=None):
        """One batch as the 2017 code shaped it: (inputs, outputs) dictionaries.

        inputs: ``the_input`` (batch, max frames, feat_dim) float32, zero padded; ``the_labels``
        (batch, longest label) int; ``input_length`` and ``label_length`` (batch,) ints.
        outputs: ``ctc`` zeros of shape (batch,), kept for code written against the 2017 interface.
        Without ``indices`` the first ``minibatch_size`` clips of the partition are used.
        """
        clips = self.clips(partition)
        if indices is None:
            indices = range(min(self.minibatch_size, len(clips)))
        features = [self.normalise(self.featurize(clips.paths[i])) for i in indices]
        if self.augment and split_name(partition) == "train":
            features = [spec_augment(f, self.mask_rng) for f in features]
        labels = [text_to_int_sequence(clips.texts[i]) for i in indices]
        max_frames = max(f.shape[0] for f in features)
        max_label = max(len(label) for label in labels)
        x = np.zeros((len(features), max_frames, self.feat_dim), dtype=np.float32)
        y = np.zeros((len(features), max_label), dtype=np.int32)
        for row, (feature, label) in enumerate(zip(features, labels)):
            x[row, :feature.shape[0]] = feature
            y[row, :len(label)] = label
        inputs = {"the_input": x, "the_labels": y,
                  "input_length": np.array([f.shape[0] for f in features], dtype=np.int32),
                  "label_length": np.array([len(label) for label in labels], dtype=np.int32)}
        return inputs, {"ctc": np.zeros((len(features),), dtype=np.float32)}

    def epoch(self, partition, cache=None):
        """Yield the batches of one pass over a partition (see ``get_batch``).

        With ``cache`` (a dict), a batch of clips built in an earlier pass is served from it again.
        """
        order = self.batch_order(partition)
        if split_name(partition) == "train":
            self.train_epochs_begun += 1
        for indices in order:
            if cache is None:
                yield self.get_batch(partition, indices)
                continue
            key = tuple(indices)
            if key not in cache:
                cache[key] = self.get_batch(partition, indices)
            yield cache[key]
        self.epochs_served[split_name(partition)] += 1

    def _forever(self, partition):
        if not self.clips(partition):
            raise ValueError(f"no {partition} clips loaded")
        while True:
            yield from self.epoch(partition)

    def next_train(self):
        """Endless training batches, epoch after epoch."""
        return self._forever("train")

    def next_valid(self):
        """Endless validation batches."""
        return self._forever("valid")

    def next_test(self):
        """Endless test batches."""
        return self._forever("test")

    def dataset(self, partition, output_length):
        """A tf.data.Dataset of one epoch of (features, packed CTC targets) for Keras ``fit``.

        The time axis is declared ``None`` explicitly: Keras would otherwise fix the shape it sees in
        the first batches and fail on the next length.
        """
        import tensorflow as tf

        # The batches hold the same clips every epoch (only their order changes), so without masking
        # each padded batch is built once and served again: it saves a second of Python per epoch.
        reuse = self.reuse_batches and not (self.augment and split_name(partition) == "train")
        cache = {} if reuse else None

        def batches():
            for inputs, _ in self.epoch(partition, cache):
                frames = [int(output_length(int(n))) for n in inputs["input_length"]]
                labels = [row[:n] for row, n in zip(inputs["the_labels"], inputs["label_length"])]
                yield inputs["the_input"], pack_ctc_targets(labels, frames)

        signature = (tf.TensorSpec(shape=(None, None, self.feat_dim), dtype=tf.float32),
                     tf.TensorSpec(shape=(None, None), dtype=tf.int32))
        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        # a known number of batches per epoch: Keras shows progress and does not warn at each epoch's end
        n_batches = len(self.batch_order_lengths(partition))
        # No autotuning: its background thread made destroying an iterator wait about 2 s, and Keras
        # drops one at every other epoch's start and at each validation (model 0's epochs took 3 and 5 s
        # by turns; without it, 3 s each). A fixed prefetch of two batches needs no tuning.
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
        return dataset.with_options(options)

    # ----------------------------------------------------------------------------- ordering (2017 API)
    def sort_data_by_duration(self, partition):
        """Sort a partition's clips by increasing duration."""
        clips = self.clips(partition)
        clips.select(sorted(range(len(clips)), key=lambda i: (clips.durations[i], i)))


# ------------------------------------------------------------------------------ one clip, for its figures
# The notebook's STEP 1 reads a clip with this and draws it with plots.py's functions.
def vis_train_features(index=0, desc_file="train_corpus.json"):
    """Transcript, raw audio, normalised MFCC and spectrogram, and path of training clip ``index``."""
    audio_gen = AudioGenerator(features=utils.SPECTROGRAM)
    audio_gen.load_train_data(desc_file)
    vis_audio_path = audio_gen.train_audio_paths[index]
    vis_spectrogram_feature = audio_gen.normalise(audio_gen.featurize(vis_audio_path))
    mfcc_gen = AudioGenerator(features=utils.MFCC)
    mfcc_gen.load_train_data(desc_file)
    vis_mfcc_feature = mfcc_gen.normalise(mfcc_gen.featurize(vis_audio_path))
    vis_text = audio_gen.train_texts[index]
    vis_raw_audio = utils.load_audio(vis_audio_path)
    print(f"There are {len(audio_gen.train_audio_paths)} total training examples.")
    return vis_text, vis_raw_audio, vis_mfcc_feature, vis_spectrogram_feature, vis_audio_path
