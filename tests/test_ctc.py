"""The fewest output frames a transcript needs, and ctc.py's kernel at exactly that many."""
import numpy as np
import pytest

import ctc
from char_map import BLANK_INDEX, text_to_int_sequence
from data_generator import ctc_frames_needed


@pytest.mark.parametrize("text, needed", [("a", 1), ("cat", 3), ("hello", 6), ("aaa", 5), ("see all", 9),
                                          ("", 0)])
def test_frames_needed_counts_a_blank_between_doubled_letters(text, needed):
    assert ctc_frames_needed(text) == needed


@pytest.mark.parametrize("text", ["hello", "bookkeeper", "a cat"])
def test_the_kernel_has_an_alignment_at_exactly_the_frames_needed_and_none_below(text):
    label = np.array(text_to_int_sequence(text), dtype=np.int64)
    logits = np.random.default_rng(0).normal(size=(ctc_frames_needed(text), 29))
    grad = np.zeros_like(logits)
    assert np.isfinite(ctc.ctc_clip(logits, label, BLANK_INDEX, grad))
    short = logits[:-1]
    assert ctc.ctc_clip(short, label, BLANK_INDEX, np.zeros_like(short)) == np.inf

