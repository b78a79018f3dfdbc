"""Read the speech of Drascula: The Vampire Strikes Back, and the subtitle each clip speaks.

Drascula (1996, Alcachofa Soft; freeware, Debian main package drascula) is an adventure game whose English
release has its characters' lines spoken by voice actors: about 780 clips, 0.8 hours, ten characters. The
engine's data file holds the subtitles, and a clip's file name says whose line it is and which, so each
clip's transcript is the game's own text:

    clips = read_clips()                      # [Clip], every clip with an English subtitle
    samples = clip_samples(clips[0].path)     # float32 at SAMPLE_RATE_HZ

The format (worked out from the files themselves, with ScummVM's engines/drascula as the reference; this is
our own code):

- speech: ``<prefix><n>.ALS``, bare unsigned 8-bit mono samples at 11,025 Hz. The prefix names the
  character (CHARACTERS), ``n`` the line in that character's subtitle table.
- drascula.dat, ScummVM's data file for the game, ends with its text: a big-endian uint16 count of
  languages, then TEXT_TABLES tables, each a uint16 count of lines and then, per language (English first),
  a uint16 byte size (itself included), the lines, and two bytes of padding. A line is a uint32 byte size
  (itself included) and its text, NUL padded. The first ten tables are the characters' lines, in
  CHARACTERS' order; the rest are menus, verbs and the intro's captions.
"""

import dataclasses
import re
import struct
from pathlib import Path

from utils import unsigned_8bit_samples

DEFAULT_DIR = Path("/usr/share/scummvm/drascula/en")  # Debian's install path of the English release
PACKAGE = "drascula"  # the Debian package that installs DEFAULT_DIR
DATA_FILE = "drascula.dat"
SPEECH_SUFFIX = ".ALS"
SAMPLE_RATE_HZ = 11_025  # the speech clips' rate
TEXT_TABLES = 15  # tables at the end of DATA_FILE
MAX_LANGUAGES = 16  # a language count above this is not the start of the text

# speech file prefix -> (character, sex), in the order of their subtitle tables
CHARACTERS = {"": ("John Hacker", "M"), "D": ("Drascula", "M"), "B": ("the drunk", "M"), "BJ": ("B.J.", "F"),
              "E": ("character E", "M"), "I": ("Igor", "M"), "L": ("the werewolf", "M"),
              "P": ("the pianist", "M"), "T": ("the bartender", "M"), "VB": ("Von Braun", "M")}

_SPEECH_RE = re.compile(r"([A-Z]*)(\d+)" + re.escape(SPEECH_SUFFIX), re.IGNORECASE)
U16, U32 = struct.Struct(">H"), struct.Struct(">I")


class DataError(ValueError):
    """The files are not Drascula's English release as this module reads it."""


@dataclasses.dataclass(frozen=True)
class Clip:
    path: Path  # the .ALS file
    character: str  # a value's first item of CHARACTERS
    sex: str  # "F" or "M"
    text: str  # the subtitle, as the game writes it (upper case, punctuated)


def _table(data, offset, languages):
    """(English lines, offset after the table) of the text table at ``offset``; DataError where the sizes
    do not add up, struct.error where it runs past the data's end."""
    (count,), offset = U16.unpack_from(data, offset), offset + 2
    english = None
    for _ in range(languages):
        end = offset + U16.unpack_from(data, offset)[0]
        offset, lines = offset + 2, []
        for _ in range(count):
            size = U32.unpack_from(data, offset)[0] if offset + 4 <= end else 0
            if size < 4 or offset + size > end:
                raise DataError("a line overruns its table")
            lines.append(data[offset + 4:offset + size].split(b"\0", 1)[0].decode("latin-1"))
            offset += size
        if offset != end:
            raise DataError("a table's lines do not fill it")
        english = lines if english is None else english
        offset += 2  # padding
    return english, offset


def _tables_at(data, offset):
    """The TEXT_TABLES tables' English lines if they start at ``offset`` and end the data exactly, else None."""
    languages = U16.unpack_from(data, offset)[0]
    if not 1 <= languages <= MAX_LANGUAGES:
        return None
    tables, offset = [], offset + 2
    try:
        for _ in range(TEXT_TABLES):
            lines, offset = _table(data, offset, languages)
            tables.append(lines)
    except (DataError, struct.error):
        return None
    return tables if offset == len(data) else None


def text_tables(data):
    """The English lines of the TEXT_TABLES text tables that end ``data`` (drascula.dat's bytes): a list of
    lists of str. Found as the one offset from which the tables read to the file's end with every size
    consistent; DataError where there is none."""
    for offset in range(len(data) - 1):
        tables = _tables_at(data, offset)
        if tables is not None:
            return tables
    raise DataError(f"no text tables in {DATA_FILE}")


def read_clips(folder=DEFAULT_DIR):
    """[Clip] of every speech file in ``folder`` whose line has an English subtitle, by file name.
    DataError naming the file and the fix where the folder is not the game's English release."""
    folder = Path(folder)
    data_path = folder / DATA_FILE
    if not data_path.is_file():
        raise DataError(f"{data_path}: not found; install Debian's {PACKAGE} package (apt-get install {PACKAGE})")
    try:
        tables = text_tables(data_path.read_bytes())
    except DataError as err:
        raise DataError(f"{data_path}: {err}; reinstall {PACKAGE} (apt-get install --reinstall {PACKAGE})") from err
    lines = dict(zip(CHARACTERS, tables))
    clips = []
    for path in sorted(folder.iterdir()):
        match = _SPEECH_RE.fullmatch(path.name)
        if not match or match.group(1).upper() not in lines:
            continue
        prefix, number = match.group(1).upper(), int(match.group(2))
        table = lines[prefix]
        if number < len(table) and table[number].strip():
            clips.append(Clip(path, *CHARACTERS[prefix], table[number].strip()))
    return clips


def clip_samples(path):
    """The samples of one speech file: float32 in [-1, 1), shape (n,), at SAMPLE_RATE_HZ."""
    return unsigned_8bit_samples(Path(path).read_bytes())
