"""The word language model on corpora small enough to count by hand: Kneser-Ney values, discounts, states,
ARPA files (plain, gzip, upper case) and how ``load`` tells text, ARPA and KenLM binary files apart.

Fast but for the two tests on the corpus's own LM text (``corpus_lm``), which build the tiny corpus; the
kenlm tests skip where kenlm is not installed."""
import gzip
import math
import sys
from collections import Counter

import numpy as np
import pytest

import language_model as lmod

# three sentences whose order-2 model is worked out by hand in test_kneser_ney_values_counted_by_hand
TINY = [["a", "b"], ["a", "b"], ["b"]]
SENTENCES = ["the cat sat on the mat", "a dog sat on a log", "the cat ate the rat", "a cat is not a dog",
             "the dog ate"]


@pytest.fixture(scope="module")
def small_lm():
    return lmod.NgramLM([s.split() for s in SENTENCES])


def test_kneser_ney_values_counted_by_hand():
    """Bigrams: <s> a 2, a b 2, b </s> 3, <s> b 1; continuation counts: a 1, b 2 (after a and <s>), </s> 1.
    D2 = n1 / (n1 + 2 n2) = 1 / (1 + 2 * 2) = 0.2 and D1 = 2 / (2 + 2 * 1) = 0.5; the unigram level spreads
    its gamma (0.5 * 3 / 4) over a, b, </s> and <unk> (1/4 each)."""
    lm = lmod.NgramLM(TINY, order=2)
    assert lm.discounts == {1: pytest.approx(0.5), 2: pytest.approx(0.2)}
    assert lm.vocabulary == ["a", "b"]
    spread = 0.5 * 3 / 4 * (1 / 4)
    unigrams = {"a": 0.5 / 4 + spread, "b": 1.5 / 4 + spread, lmod.EOS: 0.5 / 4 + spread, lmod.UNK: spread}
    for word, p in unigrams.items():
        assert lm.prob(word) == pytest.approx(p, abs=1e-12), word
    assert lm.prob("b", ("a",)) == pytest.approx(1.8 / 2 + 0.2 * 1 / 2 * unigrams["b"], abs=1e-12)
    assert lm.prob("a", (lmod.BOS,)) == pytest.approx(1.8 / 3 + 0.2 * 2 / 3 * unigrams["a"], abs=1e-12)
    assert lm.prob(lmod.EOS, ("b",)) == pytest.approx(2.8 / 3 + 0.2 / 3 * unigrams[lmod.EOS], abs=1e-12)
    assert lm.prob("a", ("b",)) == pytest.approx(0.2 / 3 * unigrams["a"], abs=1e-12)  # never seen after b
    assert lm.log10_prob("b", ("a",)) == pytest.approx(math.log10(lm.prob("b", ("a",))), abs=1e-12)
    # the decoder interface answers the same numbers, in natural logs
    state, ln_p = lm.score(lm.start(), "a")
    assert state == ("a",) and ln_p == pytest.approx(math.log(lm.prob("a", (lmod.BOS,))), abs=1e-12)
    assert lm.finish(("b",)) == pytest.approx(math.log(lm.prob(lmod.EOS, ("b",))), abs=1e-12)
    assert lm.unigram_log_probs() == pytest.approx({w: math.log(unigrams[w]) for w in ("a", "b", lmod.UNK)})


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("context", [(), ("<s>",), ("the",), ("the", "cat"), ("<s>", "the"), ("zebra", "qux"),
                                     ("a", "cat", "is")])
def test_probabilities_sum_to_one_in_every_context(small_lm, order, context):
    lm = small_lm if order == lmod.ORDER else lmod.NgramLM([s.split() for s in SENTENCES], order=order)
    total = sum(lm.prob(w, context) for w in lm.vocabulary + [lmod.EOS, lmod.UNK])
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("counts, discount", [
    ({"x": 1, "y": 2}, 1 / 3),            # n1 = 1, n2 = 1
    ({"x": 1, "y": 1, "z": 2, "w": 3}, 0.5),  # n1 = 2, n2 = 1
    ({"x": 1, "y": 1, "z": 1, "w": 2}, 0.6),  # n1 = 3, n2 = 1
    ({"x": 2, "y": 3}, lmod.DISCOUNT_FALLBACK),  # nothing seen once: Ney's estimate says nothing
    ({"x": 1, "y": 1, "z": 3}, lmod.DISCOUNT_MAX),  # nothing seen twice: 1, which would empty them; clamped
    ({}, lmod.DISCOUNT_FALLBACK),
])
def test_ney_discount(counts, discount):
    assert lmod._ney_discount(Counter(counts)) == pytest.approx(discount)


def test_order_must_be_positive_and_a_unigram_model_works():
    with pytest.raises(ValueError, match="^order must be at least 1$"):
        lmod.NgramLM(TINY, order=0)
    lm = lmod.NgramLM(TINY, order=1)
    assert lm.start() == () and lm.prob("b", ("a",)) == lm.prob("b")


def test_states_keep_the_last_order_minus_one_words_and_unknown_words_are_unk(small_lm):
    state = small_lm.start()
    assert state == (lmod.BOS,)
    for word in ["the", "zebra", "sat", "on", "the"]:
        state, _ = small_lm.score(state, word)
    assert state == ("sat", "on", "the")
    state, _ = small_lm.score(small_lm.start(), "zebra")
    assert state == (lmod.BOS, lmod.UNK)
    # <s> in a context is the sentence start, not an unknown word
    assert small_lm.prob("the", (lmod.BOS,)) > small_lm.prob("the", (lmod.UNK,))


def test_words_of_and_read_sentences(tmp_path):
    assert lmod.words_of("It's the Cat, 42 caf\u00e9 OK") == ["it's", "the", "ok"]
    text = tmp_path / "lm.txt"
    text.write_text("The cat\n\n   \nsat ON it 99\n", encoding="utf-8")
    assert lmod.read_sentences(text) == [["the", "cat"], ["sat", "on", "it"]]
    assert str(lmod.vocabulary_path("lm/model.bin")) == str(lmod.Path("lm/model.vocab"))


# ------------------------------------------------------------------------------------------ files
def test_load_trains_a_text_file_at_the_order_asked(tmp_path):
    text = tmp_path / "lm.txt"
    text.write_text("\n".join(SENTENCES), encoding="utf-8")
    lm = lmod.load(text, order=2)
    assert isinstance(lm, lmod.NgramLM) and lm.order == 2
    assert lm.prob("sat", ("cat",)) == lmod.NgramLM([s.split() for s in SENTENCES], order=2).prob("sat", ("cat",))
    assert lmod.load(text).order == lmod.ORDER


@pytest.mark.parametrize("name, content, says", [
    ("absent.txt", None, "language model not found"),
    ("empty.txt", b"\n 42 \n", "no words to train a language model on"),
    ("latin1.txt", "caf\u00e9 au lait\n".encode("latin-1"), r"not UTF-8 text \(.*\); pass the LM's training text, an "
                                                            "ARPA file or a KenLM binary model$"),
    ("notes.arpa", b"the cat sat\n", r"no \\1-grams: section found, so it is no ARPA file; pass an ARPA file, a KenLM "
                                     r"binary model, or the LM's training text \(any other file name\)$"),
    ("model.lm", lmod.KENLM_BINARY_MAGIC + b"rest of a binary model", r"a KenLM binary model does not list its words, "
                                                                       r".*, or pass that ARPA file instead$"),
])
def test_unusable_files_are_named_with_the_fix(tmp_path, name, content, says):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(lmod.LMFileError, match=says) as error:
        lmod.load(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["model.bin", "model.binary", "model.klm", "MODEL.BIN"])
def test_a_binary_model_name_is_never_read_as_training_text(tmp_path, name):
    path = tmp_path / name
    path.write_text("the cat sat on the mat\n", encoding="utf-8")  # not a model: must fail, not train on it
    with pytest.raises(lmod.LMFileError, match="ARPA"):
        lmod.load(path)


def test_kenlm_missing_is_explained(tmp_path, small_lm, monkeypatch):
    arpa = small_lm.to_arpa(tmp_path / "small.arpa")
    monkeypatch.setitem(sys.modules, "kenlm", None)  # import kenlm raises ImportError
    with pytest.raises(lmod.LMFileError, match=r"need the kenlm package \(\.venv/bin/pip install kenlm\), "
                                                  r"or pass the LM's training text$"):
        lmod.load(arpa)


def test_a_file_kenlm_cannot_load_is_explained(tmp_path):
    pytest.importorskip("kenlm")
    binary = tmp_path / "model.bin"
    binary.write_bytes(lmod.KENLM_BINARY_MAGIC + b"http://kheafield.com/code format version 5\n\0xx")
    lmod.vocabulary_path(binary).write_text("the cat\n", encoding="utf-8")
    with pytest.raises(lmod.LMFileError, match=r"model.bin: kenlm cannot load it \(.*\); pass an ARPA file, a binary "
                                               r"that KenLM's build_binary wrote, or the LM's training text$"):
        lmod.load(binary)


@pytest.mark.parametrize("words, upper", [("CAT DOG the a", False), ("CAT DOG THE a", True), ("CAT DOG the a rat", False)])
def test_an_arpa_file_is_upper_case_where_most_of_its_words_are(tmp_path, words, upper):
    path = tmp_path / "mixed.arpa"
    path.write_text("\\data\\\n\n\\1-grams:\n" + "".join(f"-1.0\t{w}\n" for w in ["<s>", *words.split()])
                    + "\n\\end\\\n", encoding="utf-8")
    assert lmod._arpa_is_upper_case(path) is upper


def test_arpa_file_layout(tmp_path):
    lines = lmod.NgramLM(TINY, order=2).to_arpa(tmp_path / "tiny.arpa").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == ["", "\\data\\", "ngram 1=5", "ngram 2=4"] and lines[-2:] == ["", "\\end\\"]
    assert f"{lmod.ARPA_NEVER:.7f}\t<s>\t{math.log10(0.2 * 2 / 3):.7f}" in lines  # <s>: never predicted
    assert f"{math.log10(1.8 / 2 + 0.2 / 2 * (1.5 / 4 + 0.09375)):.7f}\ta b" in lines  # top order: no back-off


def test_kenlm_reads_gzip_and_latin1_arpa_files(tmp_path, small_lm):
    pytest.importorskip("kenlm")
    text = small_lm.to_arpa(tmp_path / "small.arpa").read_text(encoding="utf-8")
    packed = tmp_path / "small.arpa.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write(text)
    lm = lmod.load(packed)
    assert isinstance(lm, lmod.KenLMWordLM) and lm.vocabulary == small_lm.vocabulary
    # a word in another encoding is left out of the vocabulary, not a crash
    odd = tmp_path / "odd.arpa"
    odd.write_bytes(text.replace("\t<unk>", "\t<unk>\n-2.0\tcaf\xe9").encode("latin-1"))
    assert lmod.arpa_vocabulary(odd) == ["caf\ufffd"] + small_lm.vocabulary


def test_kenlm_loads_quietly_and_answers_like_the_python_model(tmp_path, small_lm, capfd):
    pytest.importorskip("kenlm")
    arpa = small_lm.to_arpa(tmp_path / "small.arpa")
    capfd.readouterr()
    direct = lmod.KenLMWordLM(arpa)  # lower case by default
    assert "----5---10" not in capfd.readouterr().err  # no progress bar (kenlm's advice to build a binary stays)
    assert direct.order == small_lm.order and not direct.upper_case
    state, ln_p = direct.score(direct.start(), "cat")
    assert ln_p == pytest.approx(small_lm.score(small_lm.start(), "cat")[1], abs=1e-3)
    # a word list given as a file replaces the ARPA file's
    words = tmp_path / "words.txt"
    words.write_text("the cat\nDOG caf\u00e9\n", encoding="utf-8")
    assert lmod.KenLMWordLM(arpa, vocabulary=words).vocabulary == ["cat", "dog", "the"]


def test_an_upper_case_arpa_file_is_looked_up_in_upper_case(tmp_path, small_lm):
    pytest.importorskip("kenlm")
    lower = small_lm.to_arpa(tmp_path / "small.arpa")
    text = lower.read_text(encoding="utf-8")
    upper = tmp_path / "upper.arpa"
    lines = []
    for line in text.splitlines():  # LibriSpeech's published models: every word in capitals
        fields = line.split("\t")
        if len(fields) > 1:
            fields[1] = " ".join(w if w.startswith("<") else w.upper() for w in fields[1].split())
        lines.append("\t".join(fields))
    upper.write_text("\n".join(lines), encoding="utf-8")
    ours, theirs = lmod.load(lower), lmod.load(upper)
    assert theirs.upper_case and not ours.upper_case
    assert theirs.vocabulary == ours.vocabulary == small_lm.vocabulary  # lower case, as the decoder spells
    a, b = ours.start(), theirs.start()
    for word in ["the", "cat", "zebra", "sat"]:
        (a, x), (b, y) = ours.score(a, word), theirs.score(b, word)
        assert x == pytest.approx(y, abs=1e-6), word
    assert ours.finish(a) == pytest.approx(theirs.finish(b), abs=1e-6)
    assert theirs.unigram_log_probs() == pytest.approx(ours.unigram_log_probs(), abs=1e-6)


@pytest.fixture(scope="module")
def corpus_lm(tiny_corpus):
    """The LM of the real LM text (every corpus sentence but the validation ones)."""
    return lmod.NgramLM(lmod.read_sentences(tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"))


@pytest.mark.parametrize("context", [(), ("<s>",), ("the",), ("the", "cat"), ("<s>", "the"), ("zebra", "qux")])
def test_lm_probabilities_sum_to_one(corpus_lm, small_lm, context):
    for lm in (small_lm, corpus_lm):
        total = sum(lm.prob(w, context) for w in lm.vocabulary + [lmod.EOS, lmod.UNK])
        assert total == pytest.approx(1.0, abs=1e-9)


def test_unseen_words_and_contexts_get_back_off_mass(small_lm):
    assert 0 < small_lm.prob("zebra", ("the", "cat")) == small_lm.prob(lmod.UNK, ("the", "cat"))
    assert small_lm.prob("zebra", ()) == small_lm.prob(lmod.UNK, ()) > small_lm.prob("zebra", ("the", "cat"))
    # "rat" never follows "dog": it gets the mass dog's context leaves to the unigrams
    assert 0 < small_lm.prob("rat", ("the", "dog")) < small_lm.prob("ate", ("the", "dog"))
    # a context never seen is no information: the shorter context decides
    assert small_lm.prob("sat", ("zebra", "cat")) == small_lm.prob("sat", ("cat",))
    assert small_lm.prob("sat", ("the", "cat")) > small_lm.prob("sat", ("a", "dog", "the"))


def test_arpa_export_round_trips_through_kenlm(corpus_lm, tmp_path):
    kenlm = pytest.importorskip("kenlm")
    path = corpus_lm.to_arpa(tmp_path / "lm.arpa")
    model = kenlm.Model(str(path))
    for sentence in ["and the lord spake unto moses saying", "a zorbix is a frobnicated thing", "the",
                     "i am what i am and that is all that i am"]:
        context, ours = ("<s>",), []
        for word in sentence.split() + [lmod.EOS]:
            ours.append(corpus_lm.log10_prob(word, context))
            context += (word,)
        theirs = [score for score, _, _ in model.full_scores(sentence)]
        np.testing.assert_allclose(theirs, ours, atol=1e-4)


def test_kenlm_model_answers_like_the_python_model(small_lm, tmp_path):
    pytest.importorskip("kenlm")
    arpa = lmod.load(small_lm.to_arpa(tmp_path / "small.arpa"))
    assert isinstance(arpa, lmod.KenLMWordLM) and arpa.vocabulary == small_lm.vocabulary
    ours, theirs = small_lm.start(), arpa.start()
    for word in ["the", "cat", "zebra", "sat"]:
        (ours, a), (theirs, b) = small_lm.score(ours, word), arpa.score(theirs, word)
        assert a == pytest.approx(b, abs=1e-4 * math.log(10))
    assert small_lm.finish(ours) == pytest.approx(arpa.finish(theirs), abs=1e-4 * math.log(10))
    for word, value in small_lm.unigram_log_probs().items():
        assert arpa.unigram_log_probs()[word] == pytest.approx(value, abs=1e-4 * math.log(10))
