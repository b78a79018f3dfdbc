"""Word n-gram language models for decoding: an interpolated Kneser-Ney model trained here, or an ARPA/binary
model loaded through ``kenlm``; both answer the same four questions.

The interface the decoder uses (``decoding.SpellingLM``):
- ``start()``: the state before the first word of a sentence (a hashable value);
- ``score(state, word)``: ``(next_state, ln P(word | state))``; a word outside the vocabulary is scored as
  ``<unk>``;
- ``finish(state)``: ``ln P(</s> | state)``, the sentence ending there;
- ``vocabulary`` (words, without ``<s>``, ``</s>``, ``<unk>``) and ``unigram_log_probs()``:
  ``{word: ln P(word)}`` with no context, ``<unk>`` included; the decoder spreads each word's probability
  over its spelling with them.
Probabilities are natural logs (the acoustic model's scale); ARPA files hold log10.

Smoothing (``NgramLM``): interpolated Kneser-Ney with one discount per order, the way KenLM's ``lmplz``
counts: the highest order uses raw counts, lower orders the number of distinct words seen to the left
("continuation counts"), except n-grams that begin with ``<s>``, which nothing can precede (raw counts).
    P(w | h) = max(a(h w) - D, 0) / a(h .) + gamma(h) P(w | h minus its first word)
    gamma(h) = D * (distinct words after h) / a(h .)
and at the bottom the discounted unigram mass is spread evenly over the vocabulary, ``</s>`` and ``<unk>``:
so every word, never seen or not, gets some probability, and they sum to one in every context.
D = n1 / (n1 + 2 n2) for each order (Ney's estimate from the numbers of n-grams counted once and twice).
"""
import gzip
import math
from collections import Counter, defaultdict
from pathlib import Path

from char_map import ALPHABET

ORDER = 4  # 4-gram: on 200 training clips held out of the corpus text (bench/tune_lm.py's held-out LM,
#            the final model before the 60-epoch one), WER 16.8% against 17.0% for a trigram on the same
#            text; it trains in about 5 s on its 660k words
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LN10 = math.log(10.0)
DISCOUNT_FALLBACK = 0.5  # used where an order has too few n-grams for Ney's estimate
DISCOUNT_MAX = 0.95  # a discount of 1 would take all mass from n-grams seen once
ARPA_NEVER = -99.0  # log10 "probability" of <s>, which is only ever a context
WORD_CHARS = set(ALPHABET) - {" "}


def words_of(line):
    """Lower-case words of one line of text; words with characters outside the alphabet are dropped."""
    return [w for w in line.lower().split() if set(w) <= WORD_CHARS]


def read_sentences(path):
    """One list of words per non-empty line of a text file (e.g. LibriSpeech/synth-lm-text.txt)."""
    with open(path, encoding="utf-8") as lines:
        return [words for words in map(words_of, lines) if words]


def package_sentences():
    """The default corpus' language model text, built from the text packages requirements.txt installs and
    WordNet's examples where Debian's wordnet-base is installed: one list of words per line, as
    ``build_corpus.py`` with its default arguments writes ``synth-lm-text.txt`` (every clean sentence but
    the validation set's, then WordNet's) before the game lines it adds there from Debian's game data; it
    also keeps the few WordNet lines that the corpus' held-out sets say, which the build leaves out. A few
    seconds."""
    import build_corpus

    defaults = build_corpus.parse_args([])
    valid, _, _ = build_corpus.assign_sentences(
        build_corpus.load_sentences(), defaults.seed, defaults.valid_speakers * defaults.valid_utts,
        defaults.train_speakers * defaults.train_utts, defaults.max_words,
        defaults.more_speakers * defaults.more_utts)
    examples = build_corpus.wordnet_sentences(build_corpus.WORDNET_DIR)
    text = build_corpus.lm_text(build_corpus.clean_sentences() + tuple(examples), valid)
    return [words for words in map(words_of, text.splitlines()) if words]


def _ney_discount(counts):
    """D = n1 / (n1 + 2 n2) from a Counter of (adjusted) counts; clamped to a usable range."""
    histogram = Counter(counts.values())
    n1, n2 = histogram.get(1, 0), histogram.get(2, 0)
    if n1 == 0 or n1 + 2 * n2 == 0:
        return DISCOUNT_FALLBACK
    return min(n1 / (n1 + 2 * n2), DISCOUNT_MAX)


def _adjusted_counts(sentences, order):
    """Counters of n-grams for n = 1..order: raw counts at the top order and for n-grams starting with <s>,
    continuation counts (distinct left neighbours) below."""
    top = Counter()
    for words in sentences:
        padded = [BOS] + list(words) + [EOS]
        for i in range(1, len(padded)):
            top[tuple(padded[max(0, i - order + 1):i + 1])] += 1
    counts = {n: Counter() for n in range(1, order + 1)}
    for gram, count in top.items():
        # a sentence shorter than the order gives n-grams that begin with <s> at lower orders
        counts[len(gram)][gram] += count
    for n in range(order, 1, -1):
        for gram in counts[n]:
            suffix = gram[1:]
            if suffix[0] != BOS:  # suffixes starting with <s> keep the raw counts added above
                counts[n - 1][suffix] += 1
    return counts


class NgramLM:
    """Interpolated Kneser-Ney word n-gram model (see the module docstring); states are tuples of words."""

    def __init__(self, sentences, order=ORDER):
        """``sentences``: lists of words. Counts them and fixes every probability; about 2 s for 350k words."""
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order = order
        counts = _adjusted_counts(sentences, order)
        self.discounts = {n: _ney_discount(counts[n]) for n in counts}
        # per context: {word: discounted probability}, and the mass gamma left to the shorter context
        self._discounted = {}
        self._gamma = {}
        followers = defaultdict(dict)
        for n, grams in counts.items():
            for gram, count in grams.items():
                followers[gram[:-1]][gram[-1]] = count
        for context, words in followers.items():
            d = self.discounts[len(context) + 1]
            total = sum(words.values())
            self._discounted[context] = {w: max(c - d, 0.0) / total for w, c in words.items()}
            self._gamma[context] = d * len(words) / total
        self.vocabulary = sorted(w for (w,) in counts[1] if w not in (BOS, EOS, UNK))
        self._known = set(self.vocabulary)
        # the bottom of the recursion: evenly over everything that can be predicted
        self._uniform = 1.0 / (len(self.vocabulary) + 2)  # + </s> and <unk>

    # ----------------------------------------------------------------------------- probabilities
    def prob(self, word, context=()):
        """P(word | context): context a tuple of words, its last ``order - 1`` used; OOV words are <unk>."""
        context = tuple(w if w == BOS else self._token(w) for w in context)
        return self._prob(self._token(word), self._truncate(context))

    def _truncate(self, context):
        return context[max(0, len(context) - (self.order - 1)):]

    def _prob(self, word, context):
        if context not in self._gamma:  # never seen as a context: nothing to interpolate at this order
            return self._prob(word, context[1:]) if context else self._uniform
        lower = self._prob(word, context[1:]) if context else self._uniform
        return self._discounted[context].get(word, 0.0) + self._gamma[context] * lower

    def _token(self, word):
        return word if word in self._known or word in (EOS, UNK) else UNK

    def log10_prob(self, word, context=()):
        return math.log10(self.prob(word, context))

    # ----------------------------------------------------------------------------- decoder interface
    def start(self):
        """State at the start of a sentence: the context (<s>,)."""
        return self._truncate((BOS,))

    def score(self, state, word):
        """(next state, ln P(word | state)); an out-of-vocabulary word is <unk> in the next state too."""
        token = self._token(word)
        p = self._prob(token, state)
        return self._truncate(state + (token,)), math.log(p)

    def finish(self, state):
        return math.log(self._prob(EOS, state))

    def unigram_log_probs(self):
        """{word: ln P(word)} with no context, for the vocabulary and <unk>."""
        return {w: math.log(self._prob(w, ())) for w in self.vocabulary + [UNK]}

    # ----------------------------------------------------------------------------- ARPA export
    def to_arpa(self, path):
        """Write the model as an ARPA file (log10 probabilities and back-off weights) that kenlm loads.

        Every n-gram seen in training is listed with its interpolated probability, and every context with
        its gamma as the back-off weight: for an unlisted n-gram, ARPA's back-off rule
        P(w | h) = backoff(h) * P(w | h minus its first word) is exactly the interpolation above, so the
        file describes the same model. <unk> is a unigram with the mass interpolation leaves it.
        """
        by_order = defaultdict(list)
        for context, words in self._discounted.items():
            for word in words:
                by_order[len(context) + 1].append(context + (word,))
        unigrams = {g for g in by_order[1]} | {(UNK,), (BOS,)}
        by_order[1] = sorted(unigrams)
        lines = ["", "\\data\\"]
        lines += [f"ngram {n}={len(by_order[n])}" for n in range(1, self.order + 1)]
        for n in range(1, self.order + 1):
            lines += ["", f"\\{n}-grams:"]
            for gram in sorted(by_order[n]):
                logp = ARPA_NEVER if gram == (BOS,) else math.log10(self._prob(gram[-1], gram[:-1]))
                entry = f"{logp:.7f}\t{' '.join(gram)}"
                if n < self.order and gram in self._gamma:
                    entry += f"\t{math.log10(self._gamma[gram]):.7f}"
                lines.append(entry)
        lines += ["", "\\end\\", ""]
        Path(path).write_text("\n".join(lines), encoding="utf-8")
        return path


def _arpa_unigrams(path, limit=None):
    """The words of an ARPA file's unigram section (plain or .gz) as written, <s> </s> <unk> left out."""
    opener = gzip.open if str(path).endswith(".gz") else open
    words, inside = [], False
    with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.strip()
            if line == "\\1-grams:":
                inside = True
            elif inside and (line.startswith("\\") or (limit and len(words) >= limit)):
                break
            elif inside and line:
                word = line.split()[1]
                if word not in (BOS, EOS, UNK):
                    words.append(word)
    if not words:
        raise LMFileError(f"{path}: no \\1-grams: section found, so it is no ARPA file; pass an ARPA file, a "
                          "KenLM binary model, or the LM's training text (any other file name)")
    return words


def arpa_vocabulary(path):
    """The lower-case words of an ARPA file's unigram section."""
    return [w.lower() for w in _arpa_unigrams(path)]


def _arpa_is_upper_case(path, sample=200):
    """True where most of an ARPA file's words are upper case (LibriSpeech's published models)."""
    words = _arpa_unigrams(path, limit=sample)
    return sum(w.isupper() for w in words) > len(words) / 2


class LMFileError(ValueError):
    """A language model file that cannot be used; the message names the file and the fix."""


KENLM_BINARY_MAGIC = b"mmap lm "  # how every file KenLM's build_binary writes begins


def is_kenlm_binary(path):
    """True where ``path`` starts as KenLM's binary format does (whatever its name ends with)."""
    with open(path, "rb") as f:
        return f.read(len(KENLM_BINARY_MAGIC)) == KENLM_BINARY_MAGIC


def vocabulary_path(path):
    """Where the word list of a KenLM binary model is looked for: ``lm/model.bin`` -> ``lm/model.vocab``."""
    return Path(path).with_suffix(".vocab")


class KenLMWordLM:
    """An ARPA or KenLM binary model through ``kenlm``, with NgramLM's decoder interface.

    kenlm cannot list a model's words, so the vocabulary comes from the ARPA file's unigrams or, for a
    binary model, from ``vocabulary`` (a list, or a text file of words separated by white space;
    default ``vocabulary_path(path)``). Words are looked up in the case given: LibriSpeech's published
    models are upper case, so ``upper_case=True`` for them. Raises ``LMFileError`` for a file kenlm
    cannot load or a binary model without its word list.
    """

    def __init__(self, path, vocabulary=None, upper_case=False):
        if vocabulary is None and is_kenlm_binary(path):
            vocabulary = vocabulary_path(path)
            if not vocabulary.exists():
                raise LMFileError(f"{path}: a KenLM binary model does not list its words, and the decoder needs "
                                  f"them; write them one a line to {vocabulary} (the unigrams of the ARPA file "
                                  "it was built from), or pass that ARPA file instead")
        elif vocabulary is None:
            vocabulary = arpa_vocabulary(path)
        if isinstance(vocabulary, (str, Path)):
            vocabulary = Path(vocabulary).read_text(encoding="utf-8").split()
        self.vocabulary = sorted({w.lower() for w in vocabulary if set(w.lower()) <= WORD_CHARS})
        try:
            import kenlm
        except ImportError as err:
            raise LMFileError(f"{path}: ARPA and KenLM binary models need the kenlm package "
                              "(.venv/bin/pip install kenlm), or pass the LM's training text") from err
        self._kenlm = kenlm
        config = kenlm.Config()
        config.show_progress = False  # its progress bar on stderr says nothing a user needs
        try:
            self.model = kenlm.Model(str(path), config)
        except OSError as err:  # kenlm's only error type: unreadable, truncated, or not a model at all
            raise LMFileError(f"{path}: kenlm cannot load it ({err}); pass an ARPA file, a binary that "
                              "KenLM's build_binary wrote, or the LM's training text") from err
        self.order = self.model.order
        self.upper_case = upper_case

    def _key(self, word):
        return word.upper() if self.upper_case and word not in (BOS, EOS, UNK) else word

    def start(self):
        state = self._kenlm.State()
        self.model.BeginSentenceWrite(state)
        return state

    def score(self, state, word):
        out = self._kenlm.State()
        log10p = self.model.BaseScore(state, self._key(word), out)
        return out, log10p * LN10

    def finish(self, state):
        return self.model.BaseScore(state, EOS, self._kenlm.State()) * LN10

    def unigram_log_probs(self):
        empty, out = self._kenlm.State(), self._kenlm.State()
        self.model.NullContextWrite(empty)
        return {w: self.model.BaseScore(empty, self._key(w), out) * LN10 for w in self.vocabulary + [UNK]}


def load(path, order=ORDER):
    """A language model from a file: ``.arpa``/``.arpa.gz``, or a KenLM binary (by its first bytes, or named
    ``.bin``/``.binary``/``.klm``), through kenlm; any other file as training text for ``NgramLM``.

    Raises ``LMFileError``, naming the file and the fix, for a missing or unusable file.
    """
    name = str(path).lower()
    if not Path(path).is_file():
        raise LMFileError(f"{path}: language model not found; pass --lm with its training text or an ARPA file")
    if name.endswith((".arpa", ".arpa.gz")):
        return KenLMWordLM(path, upper_case=_arpa_is_upper_case(path))
    if name.endswith((".bin", ".binary", ".klm")) or is_kenlm_binary(path):
        return KenLMWordLM(path)
    try:
        sentences = read_sentences(path)
    except UnicodeDecodeError as err:
        raise LMFileError(f"{path}: not UTF-8 text ({err}); pass the LM's training text, an ARPA file or a "
                          "KenLM binary model") from err
    if not sentences:
        raise LMFileError(f"{path}: no words to train a language model on; pass the LM's training text")
    return NgramLM(sentences, order=order)

