"""Describe LibriSpeech-layout folders as one JSON-lines corpus description (flac_to_wav.sh converts FLAC to WAV).

Usage (from the project root):

    python create_desc_json.py LibriSpeech/dev-clean valid_corpus.json
    python create_desc_json.py LibriSpeech/train-clean-100 LibriSpeech/train-clean-360 train_corpus.json

Several folders make one description (LibriSpeech's training sets come in parts).

Each output line is ``{"key": <audio path>, "duration": <seconds>, "text": <lower-case transcript>}``,
sorted by key. Keys are DATA_DIR joined with the path below it, so the file works from where it was
made. An utterance whose clip is missing, unreadable or truncated, or whose transcript has characters
outside ``char_map.ALPHABET``, is reported on stderr by its utterance id and skipped.

``convert_many`` is the decoder behind ``flac_to_wav.sh``: both share ``read_complete`` so a clip
that does not decode completely is refused in the same way everywhere.

Exit status: 0 when at least one utterance was written, 1 when none was usable (nothing is written),
2 when a DATA_DIR does not exist or holds no transcripts (or the command line is wrong).
"""

import argparse
import collections
import json
import os
import struct
import sys

import numpy as np
import soundfile as sf

from char_map import text_to_int_sequence
from utils import atomic_write

TARGET_SAMPLE_RATE = 16000  # Hz: what the feature pipeline expects from flac_to_wav.sh
PCM16_FULL_SCALE = 32768  # libsndfile reads int16 v as v / 32768, so this scale round-trips exactly
TRANSCRIPT_SUFFIX = ".trans.txt"
AUDIO_EXTENSIONS = (".wav", ".flac")  # preference order: a converted wav wins over its flac
# Typographic apostrophes that stand for ' in every position; the left quote is left out because it
# usually opens a quotation, and mapping it would invent apostrophes.
APOSTROPHE_VARIANTS = {"\u2019": "'", "\u02bc": "'"}  # right single quote, modifier letter apostrophe
RIFF_HEADER_BYTES = 12  # "RIFF" <size> "WAVE"
CHUNK_HEADER_BYTES = 8  # <id> <size>
UNKNOWN_CHUNK_SIZE = 0xFFFFFFFF  # streamed / RF64 writers leave the size open

EXIT_OK = 0
EXIT_NOTHING_USABLE = 1
EXIT_NO_DATA = 2

Utterance = collections.namedtuple("Utterance", "utt_id text chapter_dir source")


class Skip(Exception):
    """An utterance or clip that cannot be used; ``reason`` names its bucket in the summary."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def wav_is_truncated(path):
    """True if a RIFF/WAVE file's data chunk promises more bytes than the file holds.

    libsndfile quietly shortens such a file to what is there, so the header is checked directly.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        riff = f.read(RIFF_HEADER_BYTES)
        if len(riff) < RIFF_HEADER_BYTES or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return False  # not plain RIFF (e.g. RF64): leave it to libsndfile
        offset = RIFF_HEADER_BYTES
        while offset + CHUNK_HEADER_BYTES <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(CHUNK_HEADER_BYTES))
            offset += CHUNK_HEADER_BYTES
            if chunk_id == b"data":
                return chunk_size != UNKNOWN_CHUNK_SIZE and offset + chunk_size > size
            offset += chunk_size + (chunk_size & 1)  # chunks are padded to even length
    return True  # no data chunk before the end of the file


def read_complete(path):
    """Decode a whole clip as (frames x channels, sample rate); raise Skip unless every frame decodes."""
    if not os.path.exists(path):
        raise Skip("missing clip", f"{path} does not exist")
    try:
        expected = sf.info(path).frames
        data, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, OSError) as error:
        raise Skip("unreadable clip", f"{path} does not decode completely, it is truncated or "
                                      f"corrupt (libsndfile: {error})") from error
    # A truncated download can still open: its header promises frames that are not there.
    if len(data) != expected:
        raise Skip("unreadable clip",
                   f"{path} does not decode completely, it is truncated (its header promises "
                   f"{expected} frames, {len(data)} decoded)")
    if path.lower().endswith(".wav") and wav_is_truncated(path):
        raise Skip("unreadable clip", f"{path} does not decode completely, it is truncated (its "
                                      "data chunk is longer than the file)")
    if len(data) == 0:
        raise Skip("unreadable clip", f"{path} holds no audio")
    return data, sample_rate


def describe_clip(path):
    """Duration of a complete clip in seconds; raise Skip if it is missing, unreadable or truncated."""
    data, sample_rate = read_complete(path)
    return len(data) / sample_rate


def to_pcm16_mono(data, sample_rate):
    """Down-mix, resample to TARGET_SAMPLE_RATE and quantise float frames to int16 samples."""
    mono = data.mean(axis=1)  # the mean, not the sum, so a stereo clip cannot clip
    if sample_rate != TARGET_SAMPLE_RATE:
        import soxr  # only needed for the occasional clip that is not 16 kHz already
        mono = soxr.resample(mono, sample_rate, TARGET_SAMPLE_RATE)
    scaled = np.round(np.asarray(mono, dtype=np.float64) * PCM16_FULL_SCALE)
    return np.clip(scaled, -PCM16_FULL_SCALE, PCM16_FULL_SCALE - 1).astype(np.int16)


def convert_to_wav(flac_path):
    """Write ``<name>.wav`` beside a flac as 16 kHz mono PCM_16; raise Skip if the flac is incomplete."""
    wav_path = os.path.splitext(flac_path)[0] + ".wav"
    data, sample_rate = read_complete(flac_path)
    samples = to_pcm16_mono(data, sample_rate)
    atomic_write(wav_path, lambda temp: sf.write(
        temp, samples, TARGET_SAMPLE_RATE, format="WAV", subtype="PCM_16"))
    return wav_path


def convert_many(flac_paths, err=sys.stderr):
    """Convert each flac, reporting unreadable ones on ``err``; return (converted, failed) counts."""
    converted = failed = 0
    for flac_path in flac_paths:
        try:
            convert_to_wav(flac_path)
            converted += 1
        except Skip as problem:
            failed += 1
            # A wav left from an earlier flac no longer matches this one, so it must not be used.
            stale = os.path.splitext(flac_path)[0] + ".wav"
            removed = ""
            if os.path.exists(stale):
                os.remove(stale)
                removed = " (removed its out-of-date wav)"
            print(f"flac_to_wav: {problem}{removed}; re-download or delete it", file=err)
    return converted, failed


def normalise_transcript(text):
    """Lower-case a transcript and tidy what is safe to tidy; raise ValueError if it stays unusable."""
    for variant, apostrophe in APOSTROPHE_VARIANTS.items():
        text = text.replace(variant, apostrophe)
    text = " ".join(text.lower().split())  # tabs, repeated and non-breaking spaces
    if not text:
        raise ValueError("the transcript is empty")
    text_to_int_sequence(text)  # raises ValueError naming any character outside the alphabet
    return text


def read_transcripts(data_dir):
    """Every line of every ``*.trans.txt`` below data_dir, as Utterances in path order."""
    utterances = []
    for root, dirs, files in os.walk(data_dir):
        dirs.sort()  # walk in a fixed order so reports come out the same on every run
        for name in sorted(files):
            if not name.endswith(TRANSCRIPT_SUFFIX):
                continue
            source = os.path.join(root, name)
            # Undecodable bytes become U+FFFD, which the alphabet check then reports per utterance.
            with open(source, encoding="utf-8", errors="replace") as f:
                for line in f:
                    fields = line.split(None, 1)  # "UTTID TEXT", any whitespace between
                    if fields:
                        text = fields[1] if len(fields) > 1 else ""
                        utterances.append(Utterance(fields[0], text, root, source))
    return utterances


def find_audio(chapter_dir, utt_id):
    """Path of the utterance's clip, preferring wav over flac; None if neither exists."""
    for extension in AUDIO_EXTENSIONS:
        path = os.path.normpath(os.path.join(chapter_dir, utt_id + extension))
        if os.path.exists(path):
            return path
    return None


def describe_utterance(utt):
    """The JSON entry for one utterance; raise Skip saying what is wrong and how to fix it."""
    try:
        text = normalise_transcript(utt.text)
    except ValueError as error:
        raise Skip("bad transcript",
                   f"{error}; fix: edit its line in {utt.source} (spell out digits, "
                   "replace accented letters) or delete the line") from error
    path = find_audio(utt.chapter_dir, utt.utt_id)
    if path is None:
        stem = os.path.join(utt.chapter_dir, utt.utt_id)
        raise Skip("missing clip", f"neither {stem}.wav nor {stem}.flac exists; fix: restore the "
                                   f"clip or delete its line from {utt.source}")
    try:
        duration = describe_clip(path)
    except Skip as problem:
        fix = ("delete it and re-run flac_to_wav.sh" if path.endswith(".wav")
               else "re-download or delete it")
        raise Skip(problem.reason, f"{problem}; fix: {fix}") from problem
    return {"key": path, "duration": duration, "text": text}


def write_json_lines(entries, out_path):
    """Write one JSON object per line, sorted by key, atomically."""
    lines = [json.dumps(entry) + "\n" for entry in sorted(entries, key=lambda e: e["key"])]

    def write(temp):
        with open(temp, "w", encoding="utf-8") as f:
            f.writelines(lines)

    atomic_write(out_path, write)


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("data_dir", nargs="+", help="LibriSpeech folders, e.g. LibriSpeech/dev-clean")
    parser.add_argument("out_json", help="where to write the JSON lines, e.g. valid_corpus.json")
    args = parser.parse_args(argv)

    utterances = []
    for data_dir in args.data_dir:
        if not os.path.isdir(data_dir):
            print(f"create_desc_json: {data_dir} is not a folder; download or build the corpus "
                  "first", file=sys.stderr)
            return EXIT_NO_DATA
        found = read_transcripts(data_dir)
        if not found:
            print(f"create_desc_json: no *{TRANSCRIPT_SUFFIX} transcripts under {data_dir}; is it "
                  "a LibriSpeech folder?", file=sys.stderr)
            return EXIT_NO_DATA
        utterances += found

    entries, skipped, seen = [], collections.Counter(), set()
    for utt in utterances:
        try:
            if (utt.chapter_dir, utt.utt_id) in seen:
                raise Skip("duplicate id", f"listed twice; fix: delete the repeat in {utt.source}")
            seen.add((utt.chapter_dir, utt.utt_id))
            entries.append(describe_utterance(utt))
        except Skip as problem:
            skipped[problem.reason] += 1
            print(f"create_desc_json: {utt.utt_id}: skipped: {problem}", file=sys.stderr)

    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
    summary = f"skipped {sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
    if not entries:
        print(f"create_desc_json: no usable utterance under {' '.join(args.data_dir)}; {summary}; "
              f"{args.out_json} not written", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    write_json_lines(entries, args.out_json)
    hours = sum(entry["duration"] for entry in entries) / 3600
    print(f"create_desc_json: wrote {len(entries)} utterances ({hours:.2f} h) to {args.out_json}; "
          f"{summary}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
