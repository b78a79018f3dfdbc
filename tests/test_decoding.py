"""Decoders: greedy CTC decoding on hand-made matrices, and beam search that a language model steers toward
in-vocabulary sentences (the language model itself: test_language_model.py)."""

import numpy as np
import pytest

import decoding
import language_model as lmod
from char_map import BLANK_INDEX, OUTPUT_DIM, char_map

SENTENCES = ["the cat sat on the mat", "a dog sat on a log", "the cat ate the rat", "a cat is not a dog",
             "the dog ate"]


def frames(*columns, floor=1e-3):
    """A probability matrix, one row per column spec: a character (or '_' for blank) with probability
    about one, or a dict {char: probability} for an ambiguous frame. Every other class gets ``floor``,
    the blank a little more, as trained models give it (and so it is among the few classes tried)."""
    rows = []
    for column in columns:
        row = np.full(OUTPUT_DIM, float(floor))
        row[BLANK_INDEX] = 2 * floor
        for ch, p in ({column: 1.0} if isinstance(column, str) else column).items():
            row[BLANK_INDEX if ch == "_" else char_map[ch]] = p
        rows.append(row / row.sum())
    return np.array(rows, dtype=np.float32)


def spelled(text, ambiguous=None):
    """Frames that spell ``text``, a blank after every character; ``ambiguous`` {position: {char: p}}."""
    columns = []
    for i, ch in enumerate(text):
        columns += [(ambiguous or {}).get(i, ch), "_"]
    return frames(*columns)


@pytest.fixture(scope="module")
def small_lm():
    return lmod.NgramLM([s.split() for s in SENTENCES])


@pytest.fixture(scope="module")
def corpus_lm(tiny_corpus):
    """The LM of the real LM text (every corpus sentence but the validation ones)."""
    return lmod.NgramLM(lmod.read_sentences(tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"))


# ------------------------------------------------------------------------------------------ greedy
def test_greedy_collapses_repeats_and_drops_blanks():
    assert decoding.greedy_decode(frames("c", "c", "_", "a", "a", "a", "t", "_", "_")) == "cat"


def test_greedy_keeps_a_doubled_letter_separated_by_a_blank():
    assert decoding.greedy_decode(frames("s", "e", "e", "_", "e", "n")) == "seen"
    assert decoding.greedy_decode(frames("s", "e", "e", "e", "n")) == "sen"


def test_greedy_reads_only_the_real_frames_of_a_padded_clip():
    probs = frames("o", "_", "k", "x", "x")
    assert decoding.greedy_decode(probs, output_length=3) == "ok"


def test_beam_search_sums_alignments_where_the_best_path_misleads():
    # best single path: blank, blank (0.36); but "a" through a_, _a, aa has 0.64
    probs = frames({"a": 0.4, "_": 0.6}, {"a": 0.4, "_": 0.6}, floor=0)
    assert decoding.greedy_decode(probs) == ""
    assert decoding.BeamDecoder()(probs) == "a"


# ------------------------------------------------------------------------------------------ the LM
# ------------------------------------------------------------------------------------------ LM decoding
def test_the_lm_fixes_an_ambiguous_letter_that_greedy_gets_wrong(small_lm, tmp_path):
    # the acoustic model slightly prefers "d" for the "s" of "sat"
    probs = spelled("the cat sat on the mat", {8: {"d": 0.6, "s": 0.4}})
    assert decoding.greedy_decode(probs) == "the cat dat on the mat"
    assert decoding.BeamDecoder()(probs) == "the cat dat on the mat"
    assert decoding.BeamDecoder(small_lm)(probs) == "the cat sat on the mat"
    kenlm_lm = lmod.load(small_lm.to_arpa(tmp_path / "small.arpa"))
    assert decoding.BeamDecoder(kenlm_lm)(probs) == "the cat sat on the mat"


def test_the_lm_fixes_a_word_boundary(corpus_lm):
    # "in the beginning" with a frame between "begin" and "ning" that may be a space or nothing (blank)
    probs = spelled("in the begin ning", {12: {" ": 0.55, "_": 0.45}})
    assert decoding.greedy_decode(probs) == "in the begin ning"
    assert decoding.BeamDecoder(corpus_lm)(probs) == "in the beginning"


def test_out_of_vocabulary_words_stay_possible(small_lm):
    probs = spelled("the zorbix sat on the mat")
    assert "zorbix" not in small_lm.vocabulary
    assert decoding.BeamDecoder(small_lm)(probs) == "the zorbix sat on the mat"


def test_spelling_scores_add_up_to_the_word_lm(small_lm):
    # letter by letter, then the space: the increments sum to ln P(word | context) (weight 1, no bonus)
    lm = decoding.SpellingLM(small_lm, lm_weight=1.0, word_bonus=0.0)
    state, total = lm.start(), 0.0
    for ch in "cat ":
        state, score = lm.score(state, char_map[ch])
        total += score
    _, expected = small_lm.score(small_lm.start(), "cat")
    spelled_as_unknown = small_lm.score(small_lm.start(), lmod.UNK)[1] + lm._speller.ln_word("cat")
    assert total == pytest.approx(np.logaddexp(expected, spelled_as_unknown), abs=1e-9)


# ------------------------------------------------------------------------------------------ lexicon decoding
def test_the_lexicon_decoder_spells_only_known_words(small_lm):
    # "mot" is no word: the lexicon-free search keeps what it hears, the lexicon search finds "mat"
    probs = spelled("the cat sat on the mot")
    assert decoding.BeamDecoder(small_lm)(probs) == "the cat sat on the mot"
    assert decoding.LexiconDecoder(small_lm)(probs) == "the cat sat on the mat"
    # an unknown word cannot be written at all; every word it does write is in the vocabulary
    words = decoding.LexiconDecoder(small_lm)(spelled("the zorbix sat on the mat")).split()
    assert "zorbix" not in words and set(words) <= set(small_lm.vocabulary)


def test_the_lexicon_decoder_fixes_an_ambiguous_letter_and_the_last_word(small_lm, tmp_path):
    probs = spelled("the cat sat on the mat", {8: {"d": 0.6, "s": 0.4}})
    assert decoding.LexiconDecoder(small_lm)(probs) == "the cat sat on the mat"
    assert decoding.LexiconDecoder(small_lm)(spelled("a dog")) == "a dog"  # no space after the last word
    kenlm_lm = lmod.load(small_lm.to_arpa(tmp_path / "small.arpa"))
    assert decoding.LexiconDecoder(kenlm_lm)(probs) == "the cat sat on the mat"
    assert decoding.LexiconDecoder(small_lm)(np.zeros((0, OUTPUT_DIM), np.float32)) == ""


def test_word_index_lm_scores_like_the_word_lm(small_lm):
    words = small_lm.vocabulary + [lmod.UNK]
    lm = decoding.WordIndexLM(small_lm, words)
    state, ours = small_lm.start(), lm.start(False)
    for word in ["the", "cat", "sat"]:
        (state, expected), (ours, got) = small_lm.score(state, word), lm.score(ours, words.index(word))
        assert got == pytest.approx(expected)
    assert lm.finish(ours)[1] == pytest.approx(small_lm.finish(state))
