"""The output alphabet of every acoustic model: 28 characters plus the CTC blank.

Index 0 is the apostrophe, 1 is the space, 2..27 are 'a'..'z'; index 28 (``BLANK_INDEX``) is the CTC
blank and never stands for a character. ``text_to_int_sequence`` and ``int_sequence_to_text`` are exact
inverses on any text drawn from ``ALPHABET``.
"""

ALPHABET = "' abcdefghijklmnopqrstuvwxyz"
BLANK_INDEX = len(ALPHABET)  # 28
OUTPUT_DIM = len(ALPHABET) + 1  # 29: the characters and the blank

char_map = {ch: i for i, ch in enumerate(ALPHABET)}
index_map = {i: ch for i, ch in enumerate(ALPHABET)}


def text_to_int_sequence(text):
    """Map lower-case text to a list of indices; raises ValueError naming any character outside ALPHABET."""
    unknown = sorted(set(text) - set(ALPHABET))
    if unknown:
        raise ValueError(f"characters outside the alphabet {ALPHABET!r}: {unknown!r} in {text!r}")
    return [char_map[ch] for ch in text]


def int_sequence_to_text(int_sequence):
    """Map a sequence of indices back to text; the blank (28) is dropped."""
    return "".join(index_map[int(i)] for i in int_sequence if int(i) != BLANK_INDEX)
