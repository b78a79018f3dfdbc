import pytest

from char_map import ALPHABET, BLANK_INDEX, OUTPUT_DIM, int_sequence_to_text, text_to_int_sequence


def test_alphabet_layout():
    assert len(ALPHABET) == 28 and BLANK_INDEX == 28 and OUTPUT_DIM == 29
    assert text_to_int_sequence("' a") == [0, 1, 2]
    assert text_to_int_sequence("z") == [27]


def test_exact_inverses():
    text = "it's a far far better thing that i do"
    assert int_sequence_to_text(text_to_int_sequence(text)) == text
    every = list(range(28))
    assert text_to_int_sequence(int_sequence_to_text(every)) == every


def test_blank_is_dropped_when_decoding():
    assert int_sequence_to_text([9, BLANK_INDEX, 10]) == "hi"


@pytest.mark.parametrize("text", ["caf\u00e9", "route 66", "Upper"])
def test_characters_outside_the_alphabet_are_named(text):
    with pytest.raises(ValueError, match="outside the alphabet"):
        text_to_int_sequence(text)
