"""Transcribe audio files with a trained acoustic model, or measure it on a whole corpus description.

    python transcribe.py AUDIO...                     one line per file: the file, a tab, the transcript
    python transcribe.py --corpus valid_corpus.json   the same for every clip, then one line with WER and CER

Any format soundfile reads, any sample rate or channel count. Options:
    --model results/model_end.h5    the trained model; the .pickle beside it names its architecture and features
    --features spectrogram|mfcc     override the pickle's feature kind
    --decoder greedy|beam|lm|lexicon  default lm (beam search with the word language model, free to spell
                                    words it never saw), or beam where the LM text is missing; lexicon: the
                                    same LM, writing only its words
    --lm PATH                       LM training text (default LibriSpeech/synth-lm-text.txt), or an ARPA /
                                    KenLM binary model (.arpa, .arpa.gz, .bin), loaded through kenlm
    --train-json PATH               the training corpus, for the normalisation statistics (see below;
                                    default: the one the model's pickle names, else train_corpus.json)
A file that cannot be transcribed (missing, unreadable, empty, silent, too short) gets a message on stderr
naming it and what to do; the other files still print. Exit status 1 if any file failed, else 0.

Normalisation: the model was trained on features scaled by the training set's mean and standard deviation
(``AudioGenerator.load_train_data``, on the description its pickle names), so every clip here is scaled
by the same numbers.
They are computed from ``--train-json`` when it exists and cached beside the model
(``results/model_end.norm.npz``), so a copy with only the committed results still transcribes.
"""
import argparse
import contextlib
import hashlib
import json
import math
import os
import pickle
import sys
import time
from pathlib import Path

import utils  # first: it sets TensorFlow's log level before Keras loads
import numpy as np

from utils import AudioError, atomic_write

DEFAULT_MODEL = "results/model_end.h5"
DEFAULT_LM = "LibriSpeech/synth-lm-text.txt"
DEFAULT_TRAIN_JSON = "train_corpus.json"
SILENCE_DBFS = -60.0  # dB re full scale: a clip whose loudest sample is quieter holds nothing to transcribe
SPECTROGRAM_WINDOW_MS, MFCC_WINDOW_MS = 20, 25  # one analysis window: the shortest clip with a feature frame
DECODERS = ("greedy", "beam", "lm", "lexicon")


class UsageError(Exception):
    """A problem with the command's arguments or files that stops every transcription (exit status 2)."""


# ------------------------------------------------------------------------------------------ the model
def load_acoustic_model(model_path, features=None):
    """The trained model, its feature settings and its training description:
    (model, spectrogram: bool, mfcc_dim, train_json or None where the pickle predates that record).

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
    with open(pickle_path, "rb") as f:
        history = pickle.load(f)
    import sample_models

    model = sample_models.build_from_spec(history["build"])
    model.load_weights(model_path)
    saved = history.get("features") or {"spectrogram": True, "mfcc_dim": None}
    spectrogram = saved["spectrogram"] if features is None else features == "spectrogram"
    mfcc_dim = saved.get("mfcc_dim") or utils.MFCC_DIM
    expected = utils.calc_feat_dim(utils.WINDOW_MS, utils.MAX_FREQ) if spectrogram else mfcc_dim
    if model.input_shape[-1] != expected:
        given, other = ("a spectrogram", "mfcc") if spectrogram else (f"{mfcc_dim} MFCCs", "spectrogram")
        raise UsageError(f"{model_path} takes {model.input_shape[-1]} features per frame, not {given} "
                         f"({expected}): use --features {other}")
    return model, spectrogram, int(mfcc_dim), history.get("train_json")


def norm_cache_path(model_path):
    """Where a model's normalisation statistics are cached: results/model_end.h5 -> results/model_end.norm.npz."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".norm.npz")


def _feature_key(spectrogram, mfcc_dim):
    return "spectrogram" if spectrogram else f"mfcc{mfcc_dim}"


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
    audio_gen.train_audio_paths = [resolve_clip_path(p, train_json) for p in audio_gen.train_audio_paths]
    audio_gen.fit_train()
    return audio_gen.feats_mean, audio_gen.feats_std


def load_normalisation(audio_gen, model_path, train_json=DEFAULT_TRAIN_JSON, spectrogram=True, mfcc_dim=13):
    """Set ``audio_gen``'s statistics from the cache beside the model, or from ``train_json`` (and cache them).

    The cache is used while it was made from the same training description (same SHA-256) and feature
    kind; with no training description at hand any cache of the right feature kind is used.
    """
    cache = norm_cache_path(model_path)
    kind = _feature_key(spectrogram, mfcc_dim)
    digest = hashlib.sha256(Path(train_json).read_bytes()).hexdigest() if Path(train_json).exists() else None
    if cache.exists():
        with np.load(cache) as saved:
            if str(saved["features"]) == kind and (digest is None or str(saved["train_digest"]) == digest):
                audio_gen.feats_mean, audio_gen.feats_std = saved["mean"], saved["std"]
                return "cache"
    if digest is None:
        raise UsageError(f"no normalisation statistics for {model_path}: {cache} is missing (or is for other "
                         f"features) and the training description {train_json} is not there; pass "
                         "--train-json with the corpus the model was trained on")
    try:
        mean, std = fit_normalisation(audio_gen, train_json)
    except (AudioError, ValueError) as err:
        raise UsageError(f"cannot compute the normalisation statistics from {train_json}: {err}") from err
    try:
        atomic_write(cache, lambda temp: np.savez(temp, mean=mean, std=std, features=np.array(kind),
                                                  train_digest=np.array(digest), train_json=np.array(str(train_json))))
    except OSError as err:  # a read-only results folder: transcribe anyway, just without the cache
        print(f"note: could not cache the normalisation statistics in {cache} ({err})", file=sys.stderr)
    return "computed"


def load_transcriber(model_path, train_json=None, features=None):
    """The trained model and an ``AudioGenerator`` that featurizes and normalises clips as its training
    did: (model, audio_gen). See ``load_acoustic_model`` and ``load_normalisation``; ``train_json``
    defaults to the training description the model's history names."""
    from data_generator import AudioGenerator

    model, spectrogram, mfcc_dim, trained_on = load_acoustic_model(model_path, features)
    train_json = train_json or trained_on or DEFAULT_TRAIN_JSON
    audio_gen = AudioGenerator(spectrogram=spectrogram, mfcc_dim=mfcc_dim)
    load_normalisation(audio_gen, model_path, train_json, spectrogram, mfcc_dim)
    return model, audio_gen


# ------------------------------------------------------------------------------------------ one clip
def check_clip(path, spectrogram=True):
    """Raise AudioError, naming the file and the fix, for a clip with nothing to transcribe."""
    audio = utils.load_audio(path)  # missing, undecodable or empty files raise here
    window_ms = SPECTROGRAM_WINDOW_MS if spectrogram else MFCC_WINDOW_MS
    if len(audio) < utils.SAMPLE_RATE * window_ms / 1000:
        raise AudioError(f"{path}: {1000 * len(audio) / utils.SAMPLE_RATE:.1f} ms of audio is shorter than one "
                         f"{window_ms} ms analysis window; record at least a second of speech")
    peak = float(np.max(np.abs(audio)))
    level = 20 * math.log10(peak) if peak > 0 else -math.inf
    if level < SILENCE_DBFS:
        raise AudioError(f"{path}: the clip is silent (loudest sample {level:.0f} dBFS, below "
                         f"{SILENCE_DBFS:.0f} dBFS); check the microphone or the recording level")


def clip_probabilities(model, audio_gen, path):
    """The model's per-frame character probabilities for one file: (output frames, 29) array."""
    check_clip(path, audio_gen.spectrogram)
    features = audio_gen.normalize(audio_gen.featurize(path)).astype(np.float32)
    frames = model.output_length(features.shape[0])
    if frames is None or frames < 1:
        seconds = features.shape[0] * audio_gen.step / 1000
        raise AudioError(f"{path}: {seconds:.2f} s of audio is too short for this model ({features.shape[0]} "
                         "feature frames give no output frame); record a longer clip")
    # one clip at a time, unpadded: padding would change what the backward recurrent layers see
    probs = np.asarray(_forward(model)(features[None]))[0]
    return probs[:frames]


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
def make_decoder(name, lm_path=DEFAULT_LM):
    """A function (probs, output_length) -> text for 'greedy', 'beam', 'lm' or 'lexicon'."""
    import decoding

    if name == "greedy":
        # spaces tidied as the beam decoders tidy them: a stray double space is not a transcription error
        return lambda probs, output_length=None: " ".join(decoding.greedy_decode(probs, output_length).split())
    if name == "beam":
        return decoding.BeamDecoder()
    if not Path(lm_path).exists():
        raise UsageError(f"{lm_path}: language model not found; build the corpus (`make corpus`) for its "
                         "text, pass --lm PATH (text, or an ARPA model), or use --decoder beam")
    import language_model

    word_lm = language_model.load(lm_path)
    return decoding.LexiconDecoder(word_lm) if name == "lexicon" else decoding.BeamDecoder(word_lm)


def default_decoder(lm_path):
    """The best decoder available: 'lm' where the LM exists, else 'beam' (said on stderr).

    'lm' rather than 'lexicon': on the training clips bench/tune_lm.py tunes on, with the final model
    trained on 4,800 clips (the last one both were tuned with), it had the lower WER (12.5% against
    13.7%, each at its best weights), and it can write words the LM never saw.
    """
    if Path(lm_path).exists():
        return "lm"
    print(f"note: {lm_path} not found: decoding without a language model (--decoder beam)", file=sys.stderr)
    return "beam"


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
            probs = clip_probabilities(model, audio_gen, path)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            continue
        done[path] = decode(probs, len(probs))
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


def score_corpus(model, audio_gen, desc_file, decoders=("greedy",), lm_path=DEFAULT_LM, name="the model"):
    """``evaluate_model`` with the model already loaded (``load_transcriber``): score several corpora with
    one load. ``name`` is how an error message calls the model."""
    decode = {decoder: make_decoder(decoder, lm_path) for decoder in decoders}
    scores = {"references": [], "paths": [], **{decoder: {"hypotheses": []} for decoder in decoders}}
    for path, text in read_corpus(desc_file):
        try:
            probs = clip_probabilities(model, audio_gen, path)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            continue
        scores["references"].append(text)
        scores["paths"].append(path)
        for decoder in decoders:
            scores[decoder]["hypotheses"].append(decode[decoder](probs, len(probs)))
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


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="*", help="audio files to transcribe")
    parser.add_argument("--corpus", help="a JSON-lines corpus description: decode it all, then WER and CER")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--features", choices=("spectrogram", "mfcc"))
    parser.add_argument("--decoder", choices=DECODERS)
    parser.add_argument("--lm", default=DEFAULT_LM, help="LM text, or an ARPA / KenLM binary model")
    parser.add_argument("--train-json", help="default: the one the model's pickle names, else train_corpus.json")
    args = parser.parse_args(argv)
    if not args.audio and not args.corpus:
        parser.error("give audio files, or --corpus DESCRIPTION.json")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        model, audio_gen = load_transcriber(args.model, args.train_json, args.features)
        decoder_name = args.decoder or default_decoder(args.lm)
        decode = make_decoder(decoder_name, args.lm)
        clips = read_corpus(args.corpus) if args.corpus else []
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = list(args.audio) + [path for path, _ in clips]
    started = time.time()
    done = transcribe_all(paths, model, audio_gen, decode)
    if clips:
        scored = [(text, done[path]) for path, text in clips if path in done]
        if scored:
            wer, cer = error_rates([r for r, _ in scored], [h for _, h in scored])
            print(f"WER {wer:.4f}\tCER {cer:.4f}\tclips {len(scored)}\tfailed {len(clips) - len(scored)}\t"
                  f"decoder {decoder_name}\tseconds {time.time() - started:.1f}")
    return 0 if len(done) == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
