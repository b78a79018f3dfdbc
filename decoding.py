"""From per-frame character probabilities to text. (Running a model on a clip is transcribe.py's job;
``get_predictions``, the notebook's clip viewer, stays importable from here and runs it there.)

Four decoders, from fastest to best (how their settings were chosen: EXPERIMENTS.md, "Decoder tuning"):
- ``greedy_decode``: the best character of every frame, repeats collapsed, blanks dropped;
- ``BeamDecoder()``: CTC prefix beam search with no language model (flashlight-text's lexicon-free
  decoder with its zero LM): the transcript most probable over all alignments, not the best single path;
- ``BeamDecoder(word_lm)``: the same search scored by a word n-gram language model
  (``language_model.NgramLM`` trained on text, or an ARPA model through kenlm);
- ``LexiconDecoder(word_lm)``: beam search that spells only the LM's words (flashlight's lexicon decoder).

How a word LM scores a character-by-character search (``SpellingLM``): the decoder proposes one
character at a time, so each word's probability is spread over its spelling. A letter ``c`` after the
partial word ``p`` scores ln M(p + c) - ln M(p), where M(p) is the unigram probability of every word that
begins with ``p`` (plus the share of unknown words spelled that way); the space that ends the word scores
ln P(p | previous words) - ln M(p). The increments add up to exactly ln P(word | previous words), so a
finished sentence gets its true LM score, while the letters on the way already tell the search which
spellings lead to words. A word outside the vocabulary is ``<unk>``, spelled by a character bigram model of
the vocabulary's words: it stays possible, at the price the LM gives unknown words.
"""
import math
from bisect import bisect_left

import numpy as np
from flashlight.lib.text import decoder as fl

from char_map import ALPHABET, BLANK_INDEX, OUTPUT_DIM, char_map, int_sequence_to_text
from language_model import UNK

SPACE_INDEX = char_map[" "]
LOG_FLOOR = 1e-7  # probabilities below this count as this before the log (as in the training loss)

# Beam search settings, chosen with bench/tune_lm.py on 200 training clips (its LM leaves out those clips'
# sentences, as the LM text leaves out the validation ones) and checked again with every new final model;
# the grids are in EXPERIMENTS.md, "Decoder tuning".
BEAM_SIZE = 64  # hypotheses kept per frame: twice the time of 32 for one point of WER; 128 gains less
BEAM_SIZE_TOKEN = 8  # characters tried per frame: 12 changed nothing, the rest hold almost no probability
BEAM_THRESHOLD = 25.0  # hypotheses this far (ln) below the best are dropped
LM_WEIGHT = 0.5  # alpha, the LM's ln probability against the acoustic model's: best or within 0.2 points
                 # in every grid since the LM became a 4-gram
WORD_BONUS = -1.0  # beta, added per word, against the LM's preference for fewer, longer words (same grids)
UNK_SCORE = 0.0  # added (ln) to a word read as an unknown spelling: 0 to 10 changed nothing, 15 and up hurt
# The lexicon decoder (LexiconDecoder), tuned the same way (bench/tune_lm.py --decoder lexicon); the
# lexicon-free search above stays the default decoder because it spells words the LM never saw.
LEXICON_LM_WEIGHT = 0.8  # alpha: best, or within 0.4 points, in every grid since the 11,460-clip model
LEXICON_WORD_SCORE = -1.0  # ln, per word: a small penalty (the measured optimum), against splitting words
LEXICON_BEAM_SIZE = 256  # a clip takes about twice as long as the lexicon-free search at 64


def greedy_decode(probs, output_length=None):
    """Best character per frame, repeats collapsed, blanks dropped: (frames, 29) array -> text.

    ``output_length`` limits decoding to the clip's real frames when ``probs`` is padded.
    """
    probs = np.asarray(probs)
    if output_length is not None:
        probs = probs[:output_length]
    best = probs.argmax(axis=-1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return int_sequence_to_text(best[keep & (best != BLANK_INDEX)])


def _path_to_text(tokens):
    """Text of a CTC path (one token per frame): repeats collapsed, blanks dropped, spaces tidied."""
    tokens = np.asarray(tokens)
    keep = np.ones(len(tokens), dtype=bool)
    keep[1:] = tokens[1:] != tokens[:-1]
    return " ".join(int_sequence_to_text(tokens[keep & (tokens >= 0)]).split())


def log_emissions(probs, output_length=None):
    """ln of softmax outputs, floored, as the float32 C-contiguous (frames, 29) array the decoder reads."""
    probs = np.asarray(probs)
    if output_length is not None:
        probs = probs[:output_length]
    return np.ascontiguousarray(np.log(np.maximum(probs, LOG_FLOOR)), dtype=np.float32)


class CharBigram:
    """Spellings of unknown words: P(c1..cn) = q(c1 | start) q(c2 | c1) ... q(end | cn), add-one smoothed.

    Trained on the vocabulary's words (types, not running text: unknown words are rare words).
    """

    def __init__(self, words):
        symbols = [ch for ch in ALPHABET if ch != " "] + ["$"]  # "$" ends a word
        counts = {prev: dict.fromkeys(symbols, 1.0) for prev in ["^"] + symbols[:-1]}  # "^" starts one
        for word in words:
            for prev, ch in zip("^" + word, word + "$"):
                counts[prev][ch] += 1
        self._ln_q = {prev: {ch: math.log(n / sum(row.values())) for ch, n in row.items()}
                      for prev, row in counts.items()}

    def ln_prefix(self, prefix):
        """ln probability that a spelling begins with ``prefix``."""
        return sum(self._ln_q[prev][ch] for prev, ch in zip("^" + prefix, prefix))

    def ln_word(self, word):
        """ln probability of exactly the spelling ``word``."""
        return self.ln_prefix(word) + self._ln_q[word[-1] if word else "^"]["$"]


class _MemoLM(fl.LM):
    """A flashlight LM whose decoder states map to hashable keys, with each (key, token) step computed once.

    Subclasses give the key at the start of a transcript (``_start_key``) and one step
    (``_step(key, token)`` -> (next key, score)); the same step recurs across the beam's hypotheses, so
    it is cached. ``finish`` is theirs.
    """

    def __init__(self, word_lm):
        super().__init__()
        self.word_lm = word_lm
        self._steps = {}  # (key, token) -> (next key, score)
        self._keys = {}  # decoder state -> key

    def start(self, start_with_nothing=False):
        self._keys.clear()
        if len(self._steps) > 2_000_000:  # bound the memory a long corpus could take
            self._steps.clear()
        root = fl.LMState()
        self._keys[root] = self._start_key()
        return root

    def score(self, state, token):
        key = self._keys[state]
        step = self._steps.get((key, token))
        if step is None:
            step = self._steps[(key, token)] = self._step(key, token)
        child = state.child(token)
        self._keys[child] = step[0]
        return child, step[1]


class SpellingLM(_MemoLM):
    """A word LM (``language_model`` interface) as the character-level LM flashlight's decoder calls.

    Decoder states stand for a transcript so far (one per distinct prefix, so identical transcripts reached
    by different alignments merge and their probabilities add); each maps to (word LM state, partial word).
    Scores returned already carry the LM weight and the word bonus.
    """

    def __init__(self, word_lm, lm_weight=LM_WEIGHT, word_bonus=WORD_BONUS, unk_score=UNK_SCORE):
        super().__init__(word_lm)
        self.lm_weight, self.word_bonus, self.unk_score = lm_weight, word_bonus, unk_score
        self._words = sorted(word_lm.vocabulary)
        self._known = set(self._words)
        unigram = word_lm.unigram_log_probs()
        self._cumulative = np.concatenate([[0.0], np.cumsum(np.exp([unigram[w] for w in self._words]))])
        self._p_unk = math.exp(unigram[UNK])
        self._speller = CharBigram(self._words)
        self._ln_mass_cache = {"": 0.0}  # the first letter of a word starts from probability one

    # ----------------------------------------------------------------------------- word LM over spellings
    def _ln_mass(self, prefix):
        """ln M(prefix): unigram probability of the words that begin with ``prefix``, unknown ones included."""
        cached = self._ln_mass_cache.get(prefix)
        if cached is None:
            lo = bisect_left(self._words, prefix)
            hi = bisect_left(self._words, prefix + "\x7f", lo)  # every character of ALPHABET sorts below it
            known = self._cumulative[hi] - self._cumulative[lo]
            cached = math.log(known + self._p_unk * math.exp(self._speller.ln_prefix(prefix)))
            self._ln_mass_cache[prefix] = cached
        return cached

    def _end_word(self, state, word):
        """(next word LM state, ln P(word | state)), the word read as itself or as an unknown spelling."""
        unk_state, ln_unk = self.word_lm.score(state, UNK)
        ln_spelled = ln_unk + self._speller.ln_word(word) + self.unk_score
        if word not in self._known:
            return unk_state, ln_spelled
        next_state, ln_word = self.word_lm.score(state, word)
        return next_state, float(np.logaddexp(ln_word, ln_spelled))

    def _step(self, key, token):
        """(next key, weighted score) for one more character after ``key``."""
        state, prefix = key
        if token != SPACE_INDEX:
            longer = prefix + ALPHABET[token]
            return (state, longer), self.lm_weight * (self._ln_mass(longer) - self._ln_mass(prefix))
        if not prefix:  # a second space between words changes nothing
            return key, 0.0
        next_state, ln_p = self._end_word(state, prefix)
        return (next_state, ""), self.lm_weight * (ln_p - self._ln_mass(prefix)) + self.word_bonus

    # ----------------------------------------------------------------------------- flashlight's LM interface
    def _start_key(self):
        return self.word_lm.start(), ""  # (word LM state, partial word)

    def finish(self, state):
        key, score = self._keys[state], 0.0
        if key[1]:
            key, score = self._step(key, SPACE_INDEX)
        return state, score + self.lm_weight * self.word_lm.finish(key[0])


class BeamDecoder:
    """CTC beam search, with a word LM (``word_lm``) or without one; call it on one clip's probabilities."""

    def __init__(self, word_lm=None, lm_weight=LM_WEIGHT, word_bonus=WORD_BONUS, beam_size=BEAM_SIZE,
                 beam_size_token=BEAM_SIZE_TOKEN, beam_threshold=BEAM_THRESHOLD, unk_score=UNK_SCORE):
        self.lm = fl.ZeroLM() if word_lm is None else SpellingLM(word_lm, lm_weight, word_bonus, unk_score)
        options = fl.LexiconFreeDecoderOptions(
            beam_size=beam_size, beam_size_token=beam_size_token, beam_threshold=beam_threshold,
            lm_weight=1.0,  # SpellingLM weighs its own scores
            sil_score=0.0,  # flashlight adds this on every frame of space, not once per word: unused
            log_add=True, criterion_type=fl.CriterionType.CTC)
        self.decoder = fl.LexiconFreeDecoder(options, self.lm, SPACE_INDEX, BLANK_INDEX, [])

    def __call__(self, probs, output_length=None):
        """Most probable transcript of one clip: ``probs`` (frames, 29) softmax outputs -> text."""
        emissions = log_emissions(probs, output_length)
        if len(emissions) == 0:
            return ""
        results = self.decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        return _path_to_text(results[0].tokens) if results else ""


class WordIndexLM(_MemoLM):
    """A word LM (``language_model`` interface) as flashlight's lexicon decoder calls it: by word index.

    ``words[i]`` is the word of index i. Decoder states stand for word histories; each maps to the word
    LM's state. Scores are plain ln probabilities: the decoder applies the LM weight itself.
    """

    def __init__(self, word_lm, words):
        super().__init__(word_lm)
        self.words = words

    def _start_key(self):
        return self.word_lm.start()

    def _step(self, state, word_index):
        return self.word_lm.score(state, self.words[word_index])

    def finish(self, state):
        return state, self.word_lm.finish(self._keys[state])


class LexiconDecoder:
    """CTC beam search that spells only words of the LM's vocabulary, scored by the word LM.

    The search walks a trie of the vocabulary's spellings: every partial word is the beginning of a real
    word, and each trie node carries the best unigram score of the words below it (flashlight's "smearing"),
    so the LM guides the spelling before a word is finished. The price: a word the LM never saw cannot be
    written at all. Call it on one clip's probabilities.
    """

    def __init__(self, word_lm, lm_weight=LEXICON_LM_WEIGHT, word_score=LEXICON_WORD_SCORE,
                 beam_size=LEXICON_BEAM_SIZE, beam_size_token=BEAM_SIZE_TOKEN, beam_threshold=BEAM_THRESHOLD):
        self.words = list(word_lm.vocabulary)
        self.lm = WordIndexLM(word_lm, self.words + [UNK])
        trie = fl.Trie(OUTPUT_DIM, SPACE_INDEX)
        start = self.lm.start(False)
        for index, word in enumerate(self.words):
            trie.insert([char_map[ch] for ch in word], index, self.lm.score(start, index)[1])
        trie.smear(fl.SmearingMode.MAX)
        options = fl.LexiconDecoderOptions(
            beam_size=beam_size, beam_size_token=beam_size_token, beam_threshold=beam_threshold,
            lm_weight=lm_weight, word_score=word_score, unk_score=-math.inf, sil_score=0.0,
            log_add=True, criterion_type=fl.CriterionType.CTC)
        self.decoder = fl.LexiconDecoder(options, trie, self.lm, SPACE_INDEX, BLANK_INDEX, len(self.words),
                                         [], False)

    def __call__(self, probs, output_length=None):
        """Most probable transcript of one clip in the vocabulary's words: (frames, 29) softmax outputs -> text."""
        emissions = log_emissions(probs, output_length)
        if len(emissions) == 0:
            return ""
        results = self.decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        if not results:
            return ""
        return " ".join(self.words[i] for i in results[0].words if 0 <= i < len(self.words))


def get_predictions(index, partition, input_to_softmax, model_path, train_json=None, valid_json=None):
    """The notebook's clip viewer, kept here under its 2017 name: ``transcribe.get_predictions``, which runs
    the model on the clip as transcribe.py runs it on any clip (its saved statistics, its features)."""
    import transcribe

    return transcribe.get_predictions(index, partition, input_to_softmax, model_path, train_json, valid_json)
