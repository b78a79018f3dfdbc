"""Where the held-out error comes from: new voices, new sentences, or a new recording of either.

Run from the project root after `make all`:  python -m bench.held_out_gap [--clips 100]

The final model's greedy CER is lower on its training clips than on the validation set. This splits
that gap by rendering the corpus's sentences again with build_corpus.py's own pipeline (the same TTS
voice, pseudo-speakers and degradations) in new combinations, and decoding each set greedily:

    training clips          the files it trained on, as built
    rendered anew           the same speakers and sentences, synthesised again with other random draws
                            (rate and pitch jitter, noise, room, band limit, edge silence)
    new sentences           training speakers reading validation sentences
    new voices              validation speakers reading training sentences
    validation clips        the validation files, as built
    validation, clean       validation speakers and sentences with no degradation
    validation, degraded    the same, every clip degraded (noise, room and/or band limit)

Prints WER and CER per set and each set's CER as a ratio of the training clips'. It needs the corpus
(its TTS packages too) and takes a few minutes; it is a diagnostic, not a test.
"""
import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

import build_corpus as bc
import transcribe
from train_utils import load_history

SETS = {bc.TRAIN_SET: bc.TRAIN_FIRST_SPEAKER, bc.MORE_SET: bc.MORE_FIRST_SPEAKER,
        bc.EXTRA_SET: bc.EXTRA_FIRST_SPEAKER, bc.KOKORO_SET: bc.KOKORO_FIRST_SPEAKER,
        bc.VALID_SET: bc.VALID_FIRST_SPEAKER, bc.NEW_ENGINE_SET: bc.NEW_ENGINE_FIRST_SPEAKER}
RENDER_SEED = 99  # any seed but the corpus's: every rendering here is new


def read_description(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


@functools.lru_cache(maxsize=None)  # once per corpus, not once per clip
def kokoro_layout(corpus_dir):
    """(speakers, shifts) of a corpus's Kokoro set (--kokoro-speakers, --kokoro-shifts), counted in its
    SPEAKERS.TXT, where a shifted copy's name ends "from <its source's id>"."""
    names = [name for _, subset, name in bc.listed_speakers(Path(corpus_dir)).values() if subset == bc.KOKORO_SET]
    sources = sum(" from " not in name for name in names)
    return sources, (len(names) - sources) // max(sources, 1)


def speaker_of(key, seed):
    """The build_corpus Speaker who spoke a corpus clip, from its LibriSpeech path (and, for a shifted copy
    of a Kokoro speaker, the corpus's SPEAKERS.TXT)."""
    subset, speaker_id = Path(key).parts[-4], int(Path(key).parts[-3])
    first = SETS[subset]
    if subset == bc.KOKORO_SET:
        n_sources, shifts = kokoro_layout(Path(key).parents[3])
        if speaker_id >= first + n_sources:
            sources = bc.speaker_plan(subset, n_sources, first, seed)
            return bc.shifted_copies(sources, shifts, first + n_sources, seed)[speaker_id - first - n_sources]
    return bc.speaker_plan(subset, speaker_id - first + 1, first, seed)[-1]


def repeated(items, n):
    """n items, going round ``items`` again as often as needed."""
    return [items[i % len(items)] for i in range(n)]


def write_set(out, name, pairs, voice, degrade_prob=bc.DEGRADE_PROB):
    """Render (Speaker, Sentence) pairs to wavs under ``out`` and a description; returns its path."""
    desc = out / f"{name}.json"
    with open(desc, "w", encoding="utf-8") as lines:
        for i, (speaker, sentence) in enumerate(pairs):
            rng = np.random.default_rng([RENDER_SEED, bc.stream_id(name), i])
            audio = bc.render(voice, sentence, speaker, rng, degrade_prob)
            wav = out / f"{name}-{i:04d}.wav"
            soundfile.write(wav, audio, bc.SAMPLE_RATE)
            lines.write(json.dumps({"key": str(wav), "duration": len(audio) / bc.SAMPLE_RATE,
                                    "text": sentence.transcript}) + "\n")
    return desc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=transcribe.DEFAULT_MODEL, help="the trained model")
    parser.add_argument("--valid-json", default="valid_corpus.json", help="the validation description")
    parser.add_argument("--clips", type=int, default=100, help="clips per set")
    parser.add_argument("--seed", type=int, default=0, help="the corpus's build_corpus --seed")
    parser.add_argument("--out", help="folder for the rendered sets (default: a temporary one)")
    parser.add_argument("--downloads", default=f"LibriSpeech/{bc.DOWNLOADS_NAME}",
                        help="the corpus's downloads folder, which holds Kokoro's voices")
    args = parser.parse_args(argv)

    model, audio_gen = transcribe.load_transcriber(args.model)  # loaded once, for every set below
    train_json = load_history(Path(args.model).with_suffix(".pickle")).get("train_json")
    # the synthetic clips: a recorded person's has no speaker to render anew
    train = [clip for clip in read_description(train_json or transcribe.DEFAULT_TRAIN_JSON)
             if Path(clip["key"]).parts[-4] in SETS]
    valid = read_description(args.valid_json)
    pick = np.random.default_rng(args.seed).choice(len(train), min(args.clips, len(train)), replace=False)
    train = [train[i] for i in pick]
    valid = valid[::max(1, len(valid) // args.clips)][:args.clips]
    sentences = {s.transcript: s for s in bc.load_sentences()}
    train_speakers = [speaker_of(c["key"], args.seed) for c in train]
    valid_speakers = [speaker_of(c["key"], args.seed) for c in valid]
    voice = bc.Synthesizer(Path(args.downloads))

    with tempfile.TemporaryDirectory() as temp:
        out = Path(args.out or temp)
        out.mkdir(parents=True, exist_ok=True)
        as_built = {}
        for name, clips in (("training clips", train), ("validation clips", valid)):
            as_built[name] = out / f"{name.split()[0]}-as-built.json"
            as_built[name].write_text("".join(json.dumps(c) + "\n" for c in clips), encoding="utf-8")
        train_text = [sentences[c["text"]] for c in train]
        valid_text = [sentences[c["text"]] for c in valid]
        sets = {
            "training clips": as_built["training clips"],
            "rendered anew": write_set(out, "anew", zip(train_speakers, train_text), voice),
            "new sentences": write_set(out, "new-sentences",
                                       zip(repeated(train_speakers, len(valid_text)), valid_text), voice),
            "new voices": write_set(out, "new-voices",
                                    zip(repeated(valid_speakers, len(train_text)), train_text), voice),
            "validation clips": as_built["validation clips"],
            "validation, clean": write_set(out, "clean", zip(valid_speakers, valid_text), voice,
                                           degrade_prob=0.0),
            "validation, degraded": write_set(out, "degraded", zip(valid_speakers, valid_text), voice,
                                              degrade_prob=1.0),
        }
        print(f"{'set':<22} {'clips':>5} {'WER':>7} {'CER':>7} {'CER / training':>15}")
        base = None
        for name, desc in sets.items():
            scores = transcribe.score_corpus(model, audio_gen, desc, name=args.model)["greedy"]
            if base is None:  # the training clips, listed first
                base = scores["cer"]
            ratio = scores["cer"] / base if base else float("nan")
            print(f"{name:<22} {len(scores['hypotheses']):>5} {scores['wer']:>7.1%} {scores['cer']:>7.1%} "
                  f"{ratio:>15.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
