"""drascula: Drascula's speech files and subtitles read into clips, on a tiny fake (conftest.py's
fake_drascula) and, where the Debian package is installed, on the real game."""
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


@pytest.mark.skipif(not (drascula.DEFAULT_DIR / drascula.DATA_FILE).is_file(), reason="Debian's drascula is not installed")
def test_the_installed_game():
    clips = drascula.read_clips()
    assert len(clips) == 742 and len({c.character for c in clips}) == len(drascula.CHARACTERS)
    first = next(c for c in clips if c.path.name == "1.ALS")
    assert first.text == "THAT'S THE SECOND BIGGEST DOOR I'VE SEEN IN MY LIFE"
    assert np.abs(drascula.clip_samples(first.path)).max() <= 1
