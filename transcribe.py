"""Transcribe audio files with a trained acoustic model, or measure it on a whole corpus description.

    .venv/bin/python transcribe.py AUDIO...                     one line per file: the file, a tab, the transcript
    .venv/bin/python transcribe.py --corpus valid_corpus.json   the same for every clip, then WER and CER

Any format soundfile reads, any sample rate or channel count, any length: a recording longer than the
training clips (``MAX_WINDOW_S``) is cut at its quietest moments into windows no longer than they were,
read as a stream, and the windows' transcripts are joined. Run it from any folder. ``--model`` given twice
or more averages the models' character probabilities frame by frame (``AveragedModel``); without it, the
project's final model ``results/model_end.h5`` is averaged with the second one trained the same way
(``results/second/model_end.h5``, ``make second-model``) where that is there, and used alone where not.

The default decoder, lm, needs the word language model's text. Where ``--lm`` is not given and the corpus'
``LibriSpeech/synth-lm-text.txt`` is not there, the same text is built from the two text packages
requirements.txt installs and Debian's WordNet (``language_model.package_sentences``, a few seconds),
rather than shipped under results/: it is the text the default corpus build writes, up to the game lines
it adds from Debian's game data (and a few WordNet lines it leaves out because a held-out set says them);
it stays in step with build_corpus.py, and it adds no megabytes to the repository.

Normalisation: the model was trained on features scaled by its training set's mean and standard
deviation; they are saved beside it when it is trained (``results/model_end.norm.npz``) and used as they
are. A corpus on disk whose description differs from the one they came from is reported, never used
to refit them, and nothing under results/ is written.

A file that cannot be transcribed (missing, empty, undecodable, silent, too short) gets a message on
stderr naming it and what to do; the other files still print. Exit status 1 if any file failed, 2 for
a problem with the model, the language model or the corpus description, else 0.
"""
import argparse
import contextlib
import json
import math
import multiprocessing
import os
import pickle
import sys
import time
from pathlib import Path

import utils  # first: it quiets TensorFlow's loading before anything imports it
import numpy as np

from utils import AudioError, Features

DEFAULT_MODEL = str(utils.PROJECT_DIR / "results" / "model_end.h5")
SECOND_MODEL = str(utils.PROJECT_DIR / "results" / "second" / "model_end.h5")  # averaged with it by default
DEFAULT_LM = str(utils.PROJECT_DIR / "LibriSpeech" / "synth-lm-text.txt")
DEFAULT_TRAIN_JSON = "train_corpus.json"
SILENCE_DBFS = -60.0  # dB re full scale: a clip whose loudest sample is quieter holds nothing to transcribe
MAX_WINDOW_S = 10.0  # s: the longest training clip (build_corpus.MAX_CLIP_S), so the longest window decoded
MIN_CUT_S = 5.0  # s: a long recording is cut at its quietest 10 ms between this and MAX_WINDOW_S into a window
PROBABILITY_FLOOR = 1e-7  # under a probability before its log, when models are averaged: one model's zero is no veto
MAX_FRAMES_CHECKED = 1 + int(2 * MAX_WINDOW_S * 1000 / utils.STEP_MS)  # feature frames over which averaged models
# must agree on their output length: those of twice the longest window
DECODERS = ("greedy", "beam", "lm", "lexicon")
POCKETSPHINX = "pocketsphinx"  # the off-the-shelf recogniser our model is compared with
PCM_SCALE = 32767  # float samples in [-1, 1] -> 16-bit integers, what PocketSphinx reads


def default_models():
    """The models ``--model`` stands for when not given: the final model, and the second one where it exists."""
    return [DEFAULT_MODEL] + [SECOND_MODEL] * Path(SECOND_MODEL).exists()


class UsageError(Exception):
    """A problem with the command's arguments or files that stops every transcription (exit status 2)."""


# ------------------------------------------------------------------------------------------ the model
def load_acoustic_model(model_path, features=None):
    """The trained model, its features and its training description:
    (model, ``utils.Features``, train_json or None where the pickle predates that record).

    The architecture comes from the pickle beside the weights (``train_utils`` writes both);
    ``features`` ('spectrogram' or 'mfcc') overrides the pickle's feature kind.
    """
    model_path = Path(model_path)
    pickle_path = model_path.with_suffix(".pickle")
    if not model_path.exists():
        raise UsageError(f"{model_path}: model not found; train it with the notebook (`make all`) or pass "
                         "--model PATH")
    if not pickle_path.exists():
        raise UsageError(f"{pickle_path}: not found; it says how to rebuild {model_path.name} (train_utils "
                         "writes it beside the weights): copy it next to the model")
    try:
        with open(pickle_path, "rb") as f:
            history = pickle.load(f)
        build = history["build"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(f"{pickle_path}: cannot read the model's history ({err!r}); restore it from the "
                         "repository, or retrain the model") from err
    import sample_models

    model = sample_models.build_from_spec(build)
    model.load_weights(model_path)
    saved = history.get("features") or {}
    if features is not None:  # the kind named on the command line, MFCCs of the number the pickle gives
        saved = dict(saved, spectrogram=features == "spectrogram")
    chosen = Features.from_record(saved)
    if model.input_shape[-1] != chosen.width:
        given, other = ("a spectrogram", "mfcc") if chosen.spectrogram else (f"{chosen.mfcc_dim} MFCCs", "spectrogram")
        raise UsageError(f"{model_path} takes {model.input_shape[-1]} features per frame, not {given} "
                         f"({chosen.width}): use --features {other}")
    return model, chosen, history.get("train_json")


def resolve_clip_path(key, desc_file):
    """A corpus key as a usable path: as written, or relative to the description's folder."""
    if os.path.isabs(key) or os.path.exists(key):
        return key
    beside = Path(desc_file).resolve().parent / key
    return str(beside) if beside.exists() else key


def fit_normalisation(audio_gen, train_json):
    """Mean and standard deviation of the features, exactly as training computed them (``fit_train``)."""
    # the generator prints notes (clips left out) meant for training: keep stdout for transcripts
    with contextlib.redirect_stdout(sys.stderr):
        audio_gen.load_metadata_from_desc_file(str(train_json), "train")
    clips = audio_gen.clips("train")
    clips.paths = [resolve_clip_path(p, train_json) for p in clips.paths]
    audio_gen.fit_train()
    return audio_gen.feats_mean, audio_gen.feats_std


def load_normalisation(audio_gen, model_path, train_json=DEFAULT_TRAIN_JSON):
    """Set ``audio_gen``'s statistics to the model's own (``data_generator.normalisation_path``): "saved".

    A training description on disk that differs from the one they came from (SHA-256) is reported on
    stderr, and the saved statistics are used all the same: they are what the model learnt with. Only a
    model trained before its statistics were saved with it has them computed from ``train_json``, in
    memory ("computed"). Nothing is written.
    """
    from data_generator import file_digest, normalisation_path

    saved = normalisation_path(model_path)
    if saved.exists():
        try:
            record = audio_gen.load_normalisation(model_path)
        except (ValueError, KeyError, OSError) as err:
            raise UsageError(f"{saved}: unusable normalisation statistics ({err}); restore the file from the "
                             "repository (git checkout) or retrain the model") from err
        if Path(train_json).is_file() and file_digest(train_json) != str(record["train_digest"]):
            print(f"note: {train_json} differs from the corpus description {Path(model_path).name} was trained "
                  f"on ({record['train_json']}, SHA-256 {str(record['train_digest'])[:12]}...: another corpus, or "
                  f"one built elsewhere); its saved statistics ({saved}) are used", file=sys.stderr)
        return "saved"
    if not Path(train_json).is_file():
        raise UsageError(f"no normalisation statistics for {model_path}: {saved} is missing and the training "
                         f"description {train_json} is not there; pass --train-json with the corpus the "
                         "model was trained on")
    try:
        fit_normalisation(audio_gen, train_json)
    except (AudioError, ValueError) as err:
        raise UsageError(f"cannot compute the normalisation statistics from {train_json}: {err}") from err
    print(f"note: {saved} not found (train_utils writes it as it trains a model): statistics computed from "
          f"{train_json}", file=sys.stderr)
    return "computed"


def load_transcriber(model_path, train_json=None, features=None):
    """The trained model and an ``AudioGenerator`` that featurizes and normalises clips as its training
    did: (model, audio_gen). See ``load_acoustic_model`` and ``load_normalisation``; ``train_json``
    defaults to the training description the model's history names.

    ``model_path`` may also be a list of several models' paths: they are loaded one by one and
    averaged (``AveragedModel``), and the AudioGenerator is the first one's.
    """
    from data_generator import AudioGenerator

    if not isinstance(model_path, (str, os.PathLike)):
        paths = list(model_path)
        if len(paths) != 1:
            return average_models(paths, [load_transcriber(path, train_json, features) for path in paths])
        model_path = paths[0]
    model, chosen, trained_on = load_acoustic_model(model_path, features)
    if train_json is None:  # the name the history records, in this folder or else in the project's
        name = trained_on or DEFAULT_TRAIN_JSON
        train_json = name if Path(name).exists() else str(utils.PROJECT_DIR / name)
    audio_gen = AudioGenerator(features=chosen)
    load_normalisation(audio_gen, model_path, train_json)
    return model, audio_gen


class AveragedModel:
    """Several trained models heard as one: per output frame, the geometric mean of their character
    probabilities, scaled to sum to 1 (the softmax of the mean log-probability).

    Called on features normalised by the first model's statistics, it hands each model the same
    features normalised by its own (an exact affine map a model), so models trained on different
    corpora can be averaged. The geometric mean keeps a character likely only where the models agree
    on it; on this project's sets it gave a slightly lower error than the arithmetic mean (EXPERIMENTS.md).
    It has what the transcription functions ask of a model: ``input_shape``, ``output_length``, and a
    call (features (batch, frames, width) -> probabilities (batch, output frames, 29)).
    """

    def __init__(self, members, scales, shifts):
        self.members = list(members)
        self.scales = [np.asarray(s, dtype=np.float32) for s in scales]
        self.shifts = [np.asarray(s, dtype=np.float32) for s in shifts]
        self.input_shape = self.members[0].input_shape
        self.output_length = self.members[0].output_length

    def __call__(self, features, training=False):
        from keras import ops

        logs = [ops.log(ops.maximum(model(features * scale + shift, training=training), PROBABILITY_FLOOR))
                for model, scale, shift in zip(self.members, self.scales, self.shifts)]
        return ops.softmax(ops.mean(ops.stack(logs), axis=0), axis=-1)


def average_models(paths, loaded):
    """``load_transcriber``'s result for several models: (``AveragedModel``, the first's AudioGenerator).

    ``loaded``: each model's (model, audio_gen), in the order of ``paths`` (their files, for messages).
    UsageError where they read different features or give different numbers of output frames.
    """
    from data_generator import NORMALISE_EPSILON

    (first, first_gen), first_path = loaded[0], paths[0]
    for path, (model, audio_gen) in zip(paths[1:], loaded[1:]):
        if audio_gen.features != first_gen.features:
            raise UsageError(f"{path} reads {audio_gen.features.label} and {first_path} "
                             f"{first_gen.features.label}: models to average must read the same features")
        if any(model.output_length(n) != first.output_length(n) for n in range(1, MAX_FRAMES_CHECKED)):
            raise UsageError(f"{path} and {first_path} give different numbers of output frames for the same "
                             "clip (another stride or padding): models to average must agree on it")
    first_std = first_gen.feats_std + NORMALISE_EPSILON
    scales, shifts = [], []
    for _, audio_gen in loaded:  # first's normalised features -> raw -> this model's normalised features
        std = audio_gen.feats_std + NORMALISE_EPSILON
        scales.append(first_std / std)
        shifts.append((first_gen.feats_mean - audio_gen.feats_mean) / std)
    return AveragedModel([model for model, _ in loaded], scales, shifts), first_gen


# ------------------------------------------------------------------------------------------ one clip
def shortest_clip_samples(model, audio_gen):
    """The fewest samples (at ``utils.SAMPLE_RATE``) of a clip this model can transcribe.

    One output frame is the least a transcript needs, and it should come from a whole input window
    of the model's first layer, not from padding: ``receptive`` feature frames (the first convolution's
    kernel, 1 for a recurrent model), and the audio those frames span. For the final model (kernel 11,
    MFCCs of 25 ms every 10 ms) that is 0.125 s.
    """
    if isinstance(model, AveragedModel):  # the clip must do for every member
        return max(shortest_clip_samples(member, audio_gen) for member in model.members)
    spec = getattr(model, "build_spec", None) or {}
    receptive = max(1, int(spec.get("kwargs", {}).get("kernel_size", 1)))
    if model.output_length(receptive) < 1:  # a model that strides past its kernel: ask it for one frame
        receptive = next(n for n in range(receptive, 10 * receptive + 100) if model.output_length(n) >= 1)
    features = audio_gen.features
    return utils.ms_to_samples(features.window_ms + (receptive - 1) * features.step_ms)


def peak_dbfs(audio):
    """The loudest sample's level in dB re full scale (-inf for digital silence)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def check_audio(path, audio, shortest):
    """Raise AudioError, naming the file and the fix, for audio with nothing to transcribe: shorter than
    ``shortest`` samples, or silent (below SILENCE_DBFS)."""
    if len(audio) < shortest:
        raise AudioError(f"{path}: {1000 * len(audio) / utils.SAMPLE_RATE:.0f} ms of audio is too short for "
                         f"this model, which needs at least {1000 * shortest / utils.SAMPLE_RATE:.0f} ms; "
                         "record a longer clip")
    level = peak_dbfs(audio)
    if level < SILENCE_DBFS:
        raise AudioError(f"{path}: the clip is silent (loudest sample {level:.0f} dBFS, below "
                         f"{SILENCE_DBFS:.0f} dBFS); check the microphone or the recording level")


def audio_probabilities(model, audio_gen, audio, name):
    """The model's per-frame character probabilities for mono samples: (output frames, 29) array."""
    features = audio_gen.normalise(audio_gen.features.of_audio(audio, name=name)).astype(np.float32)
    frames = model.output_length(features.shape[0])
    # one clip at a time, unpadded: padding would change what the backward recurrent layers see
    probs = np.asarray(_forward(model)(features[None]))[0]
    return probs[:frames]


def clip_probabilities(model, audio_gen, path):
    """The model's per-frame character probabilities for one whole file (a training-length clip):
    (output frames, 29) array. AudioError for a file with nothing to transcribe."""
    audio = utils.load_audio(path)  # missing, empty or undecodable files raise here
    check_audio(path, audio, shortest_clip_samples(model, audio_gen))
    return audio_probabilities(model, audio_gen, audio, path)


def get_predictions(index, partition, input_to_softmax, model_path, train_json=None, valid_json=None):
    """Print the true and the predicted (greedy) transcript of one clip of a corpus, and play it in a
    notebook: the notebook's clip viewer (``decoding.get_predictions`` is this one).

    Params:
        index (int): which clip of the partition, as training reads the description
        partition (str): 'train' or 'validation'
        input_to_softmax (Model): the acoustic model (built with the same architecture as the weights)
        model_path (str): the trained model's file, e.g. 'results/model_end.h5'; its normalisation
            statistics (``load_normalisation``) scale the features
        train_json, valid_json: the descriptions (None: the one the model's history names, and
            ``train_utils.DEFAULTS``)
    Returns (true transcript, predicted transcript).
    """
    from IPython.display import Audio, display

    import decoding
    import train_utils
    from data_generator import AudioGenerator

    if partition not in ("train", "validation"):
        raise ValueError(f"invalid partition {partition!r}: must be 'train' or 'validation'")
    train_json = train_json or train_utils.trained_on(model_path) or train_utils.DEFAULTS["train_json"]
    desc_file = train_json if partition == "train" else valid_json or train_utils.DEFAULTS["valid_json"]
    audio_gen = AudioGenerator(features=Features.of_width(input_to_softmax.input_shape[-1]))
    audio_gen.load_metadata_from_desc_file(desc_file, partition)
    clips = audio_gen.clips(partition)
    transcript, audio_path = clips.texts[index], clips.paths[index]
    load_normalisation(audio_gen, model_path, train_json)
    input_to_softmax.load_weights(model_path)
    probs = clip_probabilities(input_to_softmax, audio_gen, audio_path)
    predicted = decoding.greedy_decode(probs, len(probs))
    print("-" * 80)
    display(Audio(audio_path))
    print(f"True transcription:\n\n{transcript}")
    print("-" * 80)
    print(f"Predicted transcription:\n\n{predicted}")
    print("-" * 80)
    return transcript, predicted


def quiet_cut(audio, low, high):
    """The sample index in [low, high) at the start of the quietest 10 ms (lowest energy) there."""
    hop = utils.HOP_LENGTH
    frames = (high - low) // hop
    energy = np.square(audio[low:low + frames * hop].reshape(frames, hop)).sum(axis=1)
    return low + hop * int(np.argmin(energy))


def windows(path, max_seconds=MAX_WINDOW_S, min_seconds=MIN_CUT_S):
    """The audio of a file in windows of at most ``max_seconds``, each cut at the quietest 10 ms between
    ``min_seconds`` and ``max_seconds`` from its start (a pause between words, where there is one).
    A file no longer than ``max_seconds`` is one window, read as training read it (``utils.load_audio``);
    a longer one is read as a stream (``utils.audio_blocks``), so memory stays bounded."""
    with utils.open_audio(path) as sound:
        seconds = sound.frames / sound.samplerate
    if seconds <= max_seconds:
        yield utils.load_audio(path)
        return
    longest, shortest = int(max_seconds * utils.SAMPLE_RATE), int(min_seconds * utils.SAMPLE_RATE)
    buffer = np.zeros(0, dtype=np.float32)
    for block in utils.audio_blocks(path, block_seconds=max_seconds):
        buffer = np.concatenate([buffer, block])
        while len(buffer) > longest:
            cut = quiet_cut(buffer, shortest, longest)
            yield buffer[:cut]
            buffer = buffer[cut:]
    if len(buffer):
        yield buffer


def transcribe_clip(model, audio_gen, path, decode):
    """The transcript of one file of any length: its ``windows`` decoded one by one and joined; silent
    windows and a too-short last window are passed over. AudioError where nothing can be transcribed."""
    shortest = shortest_clip_samples(model, audio_gen)
    texts, total, loudest = [], 0, -math.inf
    for window in windows(path):
        total += len(window)
        loudest = max(loudest, peak_dbfs(window))
        if len(window) < shortest or peak_dbfs(window) < SILENCE_DBFS:
            continue
        probs = audio_probabilities(model, audio_gen, window, path)
        texts.append(decode(probs, len(probs)))
    if not texts:  # nothing decoded: say why for the whole file
        check_audio(path, np.full(total, 10 ** (loudest / 20), dtype=np.float32), shortest)
    return " ".join(text for text in texts if text)


_FORWARD = {}  # id(model) -> (model, compiled forward pass)


def _forward(model):
    """The model's forward pass as one graph for any clip length: 60 ms a clip where calling the model
    eagerly takes 1.8 s and ``predict`` 0.2 s (rnn_model, 3 s clips, 2 busy cores)."""
    if id(model) not in _FORWARD:
        import tensorflow as tf

        spec = tf.TensorSpec((None, None, model.input_shape[-1]), tf.float32)
        _FORWARD[id(model)] = (model, tf.function(lambda x: model(x, training=False), input_signature=[spec]))
    return _FORWARD[id(model)][1]


# ------------------------------------------------------------------------------------------ decoders
def load_word_lm(lm_path=DEFAULT_LM):
    """The word language model for the lm and lexicon decoders, from ``lm_path`` (``language_model.load``);
    for the default path, when the corpus is not built, from the text packages
    (``language_model.package_sentences``). UsageError, naming the file and the fix, where it fails."""
    import language_model

    if str(lm_path) == DEFAULT_LM and not Path(lm_path).exists():
        return language_model.NgramLM(language_model.package_sentences())
    try:
        return language_model.load(lm_path)
    except language_model.LMFileError as err:
        raise UsageError(f"{err}; or decode without it: --decoder beam") from err


LM_DECODERS = ("lm", "lexicon")  # the decoders that read the word language model


def make_decoder(name, lm_path=DEFAULT_LM, word_lm=None):
    """A function (probs, output_length) -> text for 'greedy', 'beam', 'lm' or 'lexicon'. The last two
    use ``word_lm`` when given (an LM already loaded), else load it from ``lm_path``."""
    import decoding

    if name == "greedy":
        # spaces tidied as the beam decoders tidy them: a stray double space is not a transcription error
        return lambda probs, output_length=None: " ".join(decoding.greedy_decode(probs, output_length).split())
    if name == "beam":
        return decoding.BeamDecoder()
    word_lm = load_word_lm(lm_path) if word_lm is None else word_lm
    return decoding.LexiconDecoder(word_lm) if name == "lexicon" else decoding.BeamDecoder(word_lm)


def make_decoders(names, lm_path=DEFAULT_LM):
    """{name: decoder} for several decoders, loading the word LM once for all that read it (3 s each
    for the default LM)."""
    word_lm = load_word_lm(lm_path) if set(names) & set(LM_DECODERS) else None
    return {name: make_decoder(name, lm_path, word_lm) for name in names}


# 'lm' rather than 'lexicon': on the training clips bench/tune_lm.py tunes on, it had the lower WER (12.5%
# against 13.7%, each at its best weights), and it can write words the LM never saw.
DEFAULT_DECODER = "lm"


# ------------------------------------------------------------------------------------------ commands
def read_corpus(desc_file):
    """(path, reference text) of every clip of a JSON-lines corpus description."""
    if not Path(desc_file).exists():
        raise UsageError(f"{desc_file}: corpus description not found; write one with create_desc_json.py")
    clips = []
    with open(desc_file, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    spec = json.loads(line)
                    clips.append((resolve_clip_path(spec["key"], desc_file), spec["text"]))
                except (ValueError, KeyError, TypeError) as err:
                    raise UsageError(f"{desc_file} line {number}: not a clip description ({err})") from err
    return clips


def error_rates(references, hypotheses):
    """(WER, CER) over a set of clips, with jiwer: errors over all reference words / characters."""
    import jiwer

    return jiwer.wer(references, hypotheses), jiwer.cer(references, hypotheses)


def transcribe_all(paths, model, audio_gen, decode, out=None):
    """Print "path<TAB>transcript" for each file; return {path: transcript} of those that worked."""
    done = {}
    for path in paths:
        try:
            done[path] = transcribe_clip(model, audio_gen, path, decode)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            continue
        print(f"{path}\t{done[path]}", file=out or sys.stdout, flush=True)
    return done


def evaluate_model(model_path, desc_file, decoders=("greedy",), lm_path=DEFAULT_LM, train_json=None):
    """Decode every clip of a corpus with one trained model and score each decoder.

    The model's probabilities are computed once per clip and shared by the decoders. Returns
    {"references": [text], "paths": [path], decoder: {"wer", "cer", "hypotheses": [text]}} over the clips
    that could be transcribed (a clip that fails is reported on stderr and left out of every score).
    """
    model, audio_gen = load_transcriber(model_path, train_json)
    return score_corpus(model, audio_gen, desc_file, decoders, lm_path, name=model_path)


def decoded_clips(model, audio_gen, clips, decode):
    """(path, reference, {name: transcript}) for each of ``clips`` ([(path, reference)]) that the model can
    transcribe, with every decoder of ``decode`` ({name: decoder}) on one computation of its
    probabilities; a clip that fails is reported on stderr and left out."""
    for path, text in clips:
        try:
            probs = clip_probabilities(model, audio_gen, path)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            continue
        yield path, text, {name: decoder(probs, len(probs)) for name, decoder in decode.items()}


def score_corpus(model, audio_gen, desc_file, decoders=("greedy",), lm_path=DEFAULT_LM, name="the model"):
    """``evaluate_model`` with the model already loaded (``load_transcriber``): score several corpora with
    one load. ``name`` is how an error message calls the model."""
    decode = make_decoders(decoders, lm_path)
    scores = {"references": [], "paths": [], **{decoder: {"hypotheses": []} for decoder in decoders}}
    for path, text, transcripts in decoded_clips(model, audio_gen, read_corpus(desc_file), decode):
        scores["references"].append(text)
        scores["paths"].append(path)
        for decoder in decoders:
            scores[decoder]["hypotheses"].append(transcripts[decoder])
    if not scores["references"]:
        raise UsageError(f"{desc_file}: no clip could be transcribed by {name}")
    for decoder in decoders:
        result = scores[decoder]
        result["wer"], result["cer"] = error_rates(scores["references"], result["hypotheses"])
    return scores


def compare_models(results_dir, desc_file, lm_model="model_end", lm_path=DEFAULT_LM, train_json=None):
    """Score every trained model in ``results_dir`` on a corpus: greedy for all, and both language-model
    decoders for ``lm_model`` (when its LM text exists). Returns {model name: ``evaluate_model`` result}."""
    import train_utils

    scores = {}
    for name in train_utils.load_histories(results_dir):
        model_path = Path(results_dir) / f"{name}.h5"
        if not model_path.exists():
            continue
        decoders = ("greedy", "lm", "lexicon") if name == lm_model and Path(lm_path).exists() else ("greedy",)
        with contextlib.redirect_stdout(sys.stderr):  # model summaries and notes: not part of the table
            scores[name] = evaluate_model(model_path, desc_file, decoders, lm_path, train_json)
    return scores


def score_table(scores):
    """The scores of ``compare_models`` as a text table: one row per model and decoder."""
    lines = [f"{'model':<10} {'decoder':<8} {'WER %':>7} {'CER %':>7} {'clips':>6}"]
    for name, result in scores.items():
        for decoder in DECODERS:
            if decoder in result:
                lines.append(f"{name:<10} {decoder:<8} {100 * result[decoder]['wer']:7.1f} "
                             f"{100 * result[decoder]['cer']:7.1f} {len(result['references']):6d}")
    return "\n".join(lines)


def side_by_side(result, count=4):
    """The first ``count`` clips of one model's ``evaluate_model`` result: truth, then each decoder."""
    decoders = [d for d in DECODERS if d in result]
    blocks = []
    for i, truth in enumerate(result["references"][:count]):
        rows = [f"{'truth':<7} {truth}"] + [f"{d:<7} {result[d]['hypotheses'][i]}" for d in decoders]
        blocks.append(f"{Path(result['paths'][i]).stem}\n" + "\n".join(rows))
    return "\n\n".join(blocks)


# ------------------------------------------------------------------------------------------ other voices
def pocketsphinx_transcriber():
    """A function path -> transcript by CMU PocketSphinx 5 (the ``pocketsphinx`` wheel, offline, its own US
    English acoustic model, 3-gram LM and dictionary, trained on real speech), in our alphabet."""
    from pocketsphinx import Decoder
    from char_map import ALPHABET

    decoder = Decoder(samprate=utils.SAMPLE_RATE, loglevel="FATAL")

    def transcribe_one(path):
        pcm = (np.clip(utils.load_audio(path), -1.0, 1.0) * PCM_SCALE).astype("<i2").tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        words = hypothesis.hypstr.lower().split() if hypothesis is not None else []
        words = ("".join(ch for ch in word if ch in ALPHABET) for word in words if not word.startswith("<"))
        return " ".join(word for word in words if word)

    return transcribe_one


def pocketsphinx_transcripts(paths):
    """PocketSphinx's transcript of each of ``paths`` in order; None for a clip it cannot read."""
    transcribe_one = pocketsphinx_transcriber()
    transcripts = []
    for path in paths:
        try:
            transcripts.append(transcribe_one(path))
        except AudioError:
            transcripts.append(None)
    return transcripts


def exact_share(references, hypotheses):
    """Share of clips whose transcript has exactly the reference's words: for one-word clips, the word
    accuracy."""
    return float(np.mean([ref.split() == hyp.split() for ref, hyp in zip(references, hypotheses)]))


def score_voices(model, audio_gen, sets, decoders=("greedy", "lm", "lexicon"), lm_path=DEFAULT_LM,
                 baseline=True, label="ours"):
    """Score one loaded model (``load_transcriber``) on several sets of clips, and PocketSphinx beside it.

    ``sets``: {set name: [(path, reference)]} (``read_corpus``). ``baseline``: the names of the sets
    PocketSphinx also transcribes (it takes 0.5-2 s a clip), or True for all of them, False for none.
    Returns {set name: {system: {"wer", "cer", "exact", "clips"}}}, systems "<label>, <decoder>" and
    "pocketsphinx". A clip our model cannot transcribe is reported on stderr and left out for every system.
    """
    baseline_sets = set(sets) if baseline is True else set(baseline or ())
    if baseline_sets - set(sets):
        raise UsageError("PocketSphinx asked for sets that are not scored: "
                         f"{', '.join(sorted(baseline_sets - set(sets)))}")
    decode = make_decoders(decoders, lm_path)
    with _pocketsphinx_beside(sets, baseline_sets) as sphinx_sets:
        table = {}
        for name, clips in sets.items():
            paths, references, hypotheses = [], [], {f"{label}, {d}": [] for d in decoders}
            for path, text, transcripts in decoded_clips(model, audio_gen, clips, decode):
                paths.append(path)
                references.append(text)
                for decoder in decoders:
                    hypotheses[f"{label}, {decoder}"].append(transcripts[decoder])
            if not references:
                raise UsageError(f"set {name}: no clip could be transcribed")
            if name in sphinx_sets:
                sphinx = dict(zip((path for path, _ in clips), sphinx_sets[name].get()))
                hypotheses[POCKETSPHINX] = [sphinx[path] or "" for path in paths]
            table[name] = {}
            for system, texts in hypotheses.items():
                wer, cer = error_rates(references, texts)
                table[name][system] = dict(wer=wer, cer=cer, exact=exact_share(references, texts),
                                           clips=len(references))
    return table


@contextlib.contextmanager
def _pocketsphinx_beside(sets, names):
    """{set name: pending ``pocketsphinx_transcripts`` of its clips} for the sets named, worked through in
    a process of its own while the caller decodes: PocketSphinx is single-threaded C and our decoders
    mostly Python, so on two cores the two run side by side rather than one after the other."""
    if not names:
        yield {}
        return
    # spawn, not fork: a fork of a process running TensorFlow's threads can deadlock. Leaving the pool
    # terminates its process, so an error or an interrupt does not leave it working on
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        yield {name: pool.apply_async(pocketsphinx_transcripts, ([path for path, _ in clips],))
               for name, clips in sets.items() if name in names}


def voice_table(table):
    """``score_voices``'s result as text: one row per set and system, WER, CER and exact share in %."""
    width = max([12, *map(len, table)])  # an empty table is just the header
    system_width = max([16, *(len(system) for systems in table.values() for system in systems)])
    lines = [f"{'set':<{width}} {'system':<{system_width}} {'WER %':>7} {'CER %':>7} {'exact %':>8} {'clips':>6}"]
    for name, systems in table.items():
        for system, s in systems.items():
            lines.append(f"{name:<{width}} {system:<{system_width}} {100 * s['wer']:7.1f} {100 * s['cer']:7.1f} "
                         f"{100 * s['exact']:8.1f} {s['clips']:6d}")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("audio", nargs="*", help="audio files to transcribe (any length, format, rate)")
    parser.add_argument("--corpus", help="a JSON-lines corpus description: decode it all, then WER and CER")
    parser.add_argument("--model", action="append", default=argparse.SUPPRESS, metavar="MODEL",
                        help="the trained model; the .pickle beside it names its architecture and features, "
                             "the .norm.npz its normalisation statistics. Given more than once, the models' "
                             "character probabilities are averaged frame by frame (default: "
                             f"{' averaged with '.join(default_models())})")
    parser.add_argument("--features", choices=("spectrogram", "mfcc"),
                        help="override the feature kind the model's pickle names")
    parser.add_argument("--decoder", choices=DECODERS, default=DEFAULT_DECODER,
                        help="lm: beam search with the word language model, free to spell words it never "
                             "saw; lexicon: the same, writing only the LM's words; beam: no LM; greedy: "
                             "best character per frame")
    parser.add_argument("--lm", default=DEFAULT_LM,
                        help="LM training text, or an ARPA (.arpa, .arpa.gz) or KenLM binary model (its words "
                             "one a line in a .vocab file beside it); without the default file, its text is "
                             "built from the installed text packages")
    parser.add_argument("--train-json", default=None,
                        help="the training corpus description, to report a corpus that differs from the "
                             "model's (None: the one the model's pickle names)")
    args = parser.parse_args(argv)
    if not args.audio and not args.corpus:
        parser.error("give audio files, or --corpus DESCRIPTION.json")
    args.model = getattr(args, "model", None) or default_models()
    return args


def main(argv=None):
    args = parse_args(argv)
    utils.quiet_logging()
    try:
        model, audio_gen = load_transcriber(args.model, args.train_json, args.features)
        decode = make_decoder(args.decoder, args.lm)
        clips = read_corpus(args.corpus) if args.corpus else []
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = list(args.audio) + [path for path, _ in clips]
    started = time.time()
    done = transcribe_all(paths, model, audio_gen, decode)
    if clips:
        scored = [(text, done[path]) for path, text in clips if path in done]
        if not scored:
            print(f"error: {args.corpus}: no clip could be transcribed (each is named above); check that "
                  "its clips are where its keys say", file=sys.stderr)
            return 1
        wer, cer = error_rates([r for r, _ in scored], [h for _, h in scored])
        print(f"WER {wer:.4f}\tCER {cer:.4f}\tclips {len(scored)}\tfailed {len(clips) - len(scored)}\t"
              f"decoder {args.decoder}\tseconds {time.time() - started:.1f}")
    return 0 if len(done) == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
