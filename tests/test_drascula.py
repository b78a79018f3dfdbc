"""drascula: Drascula's speech files and subtitles read into clips, on a tiny fake (conftest.py's
fake_drascula) and, where the Debian package is installed, on the real game."""
import struct

import numpy as np
import pytest

import drascula
from conftest import write_fake_drascula


def test_clips_take_the_line_their_file_names(fake_drascula):
    clips = drascula.read_clips(fake_drascula)
    assert [(c.path.name, c.character, c.sex, c.text) for c in clips] == [
        ("1.ALS", "John Hacker", "M", "THAT'S THE SECOND BIGGEST DOOR"),
        ("2.ALS", "John Hacker", "M", "NOT REALLY..."),
        ("3.ALS", "John Hacker", "M", "IT'S 1993"),
        ("BJ2.ALS", "B.J.", "F", "ARE YOU ALL RIGHT?"),  # BJ1's line is empty: not a clip
        ("D1.ALS", "Drascula", "M", "HEY IGOR, HOW IS EVERYTHING GOING?"),
    ]  # 9.ALS has no line, AN7_3.ALG is an animation


def test_a_missing_or_broken_data_file_says_what_to_do(tmp_path):
    with pytest.raises(drascula.DataError, match=r"drascula.dat: not found; .*apt-get install drascula"):
        drascula.read_clips(tmp_path)
    folder = write_fake_drascula(tmp_path / "en")
    data = (folder / "drascula.dat").read_bytes()
    (folder / "drascula.dat").write_bytes(data[:-3])  # a table no longer fills the file
    with pytest.raises(drascula.DataError, match=r"drascula.dat: no text tables .*--reinstall drascula"):
        drascula.read_clips(folder)


def test_a_file_numbered_one_past_its_characters_last_line_is_not_a_clip(tmp_path):
    folder = write_fake_drascula(tmp_path / "en")
    before = drascula.read_clips(folder)
    (folder / "4.ALS").write_bytes((folder / "1.ALS").read_bytes())  # John Hacker's table has lines 0 to 3
    (folder / "D2.ALS").write_bytes((folder / "1.ALS").read_bytes())  # Drascula's, 0 and 1
    assert drascula.read_clips(folder) == before  # skipped, not an IndexError


def test_a_line_with_no_text_reads_as_empty_even_last_in_its_table():
    # A line is its uint32 size and its text; the real drascula.dat has lines that are the size alone (4
    # bytes). Where such a line ends a table, the table must still read, or no text table is found at all.
    def line(text):
        return struct.pack(">I", 4 + len(text)) + text

    def table(lines):  # two languages of the same lines
        records = b"".join(lines)
        return struct.pack(">H", len(lines)) + (struct.pack(">H", 2 + len(records)) + records + bytes(2)) * 2

    data = (b"DRASCULA" + struct.pack(">H", 2) + table([line(b"HELLO\0\0\0"), line(b"")])
            + table([line(b"")]) * (drascula.TEXT_TABLES - 1))
    assert drascula.text_tables(data) == [["HELLO", ""]] + [[""]] * (drascula.TEXT_TABLES - 1)


@pytest.mark.skipif(not (drascula.DEFAULT_DIR / drascula.DATA_FILE).is_file(), reason="Debian's drascula is not installed")
def test_the_installed_game():
    clips = drascula.read_clips()
    assert len(clips) == 742 and len({c.character for c in clips}) == len(drascula.CHARACTERS)
    first = next(c for c in clips if c.path.name == "1.ALS")
    assert first.text == "THAT'S THE SECOND BIGGEST DOOR I'VE SEEN IN MY LIFE"
    assert np.abs(drascula.clip_samples(first.path)).max() <= 1
