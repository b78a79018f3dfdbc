"""Read the speech of Beneath a Steel Sky, and the subtitle each clip speaks.

Beneath a Steel Sky (1994, Revolution Software; freeware, Debian package beneath-a-steel-sky) is an
adventure game whose CD release has every line spoken by its cast: about 3,500 clips, 1.9 hours, some
thirty characters. The game's disk file holds the subtitles, and a clip's number says which line it speaks,
so each clip's transcript is the game's own text:

    game = open_game()                         # reads the index; finds the subtitles' Huffman tree
    clips = read_clips(game)                   # [Clip], every clip with an English subtitle
    samples = clip_samples(game, clips[0])     # float32 at SAMPLE_RATE_HZ

The format (worked out from the files themselves, with ScummVM's engines/sky as the reference; this is our
own code):

- sky.dnr indexes sky.dsk: a little-endian uint32 count, then per file a uint16 number, a 24-bit offset
  (bit 23: in units of 16 bytes) and 24-bit flags (bits 0-21 the stored size; bit 23 set: stored as is).
  A file not stored as is starts with a 22-byte header and then RNC ProPack data (PyPI ``propack``).
- Speech: files SPEECH_FIRST_FILE + n, unsigned 8-bit mono at 11,025 Hz after the header.
- Text: file TEXT_FIRST_FILE + section (English). A subtitle's number is section << 12 | line; the speech
  file of a line is SPEECH_FIRST_FILE + SPEECH_SECTION_START[section] + line. Each section is
  Huffman-coded by a tree the game's executable carries, which is not part of the package. ScummVM, the
  interpreter the package depends on, carries the trees of every release; ``huffman_trees`` finds them in
  its program file by their shape (a binary tree of 3-byte nodes), and ``open_game`` keeps the one under
  which the subtitles decode to text.
"""

import dataclasses
import struct
from pathlib import Path

import numpy as np

from utils import unsigned_8bit_samples

DEFAULT_DIR = Path("/usr/share/scummvm/beneath-a-steel-sky")  # Debian's install path of the CD release
PACKAGE = "beneath-a-steel-sky"  # the Debian package that installs DEFAULT_DIR
INTERPRETER = Path("/usr/games/scummvm")  # the program that carries the subtitles' Huffman trees
INTERPRETER_PACKAGE = "scummvm"
INDEX_FILE, DISK_FILE = "sky.dnr", "sky.dsk"
SAMPLE_RATE_HZ = 11_025  # the speech clips' rate
HEADER_BYTES = 22  # header of a file not stored as is: 11 little-endian uint16
SPEECH_FIRST_FILE = 50_000
SPEECH_LAST_FILE = 59_999
TEXT_FIRST_FILE = 60_600  # English; other languages follow, TEXT_SECTIONS files each
TEXT_SECTIONS = 8
SPEECH_SECTION_START = (0, 600, 1100, 2430, 3380, 4530, 5080, 5230)  # first speech file of each section, less
LINES_PER_BLOCK = 32  # a section's lines come in blocks, whose bit lengths the section's header lists
MIN_TREE_NODES = 101  # fewer nodes cannot code the game's letters, digits and punctuation
MIN_READABLE = 0.9  # share of those that must decode to text for a tree to be the game's

_SIZE_MASK = (1 << 22) - 1
_PRINTABLE = frozenset(range(32, 127))


class DataError(ValueError):
    """The files are not Beneath a Steel Sky's CD release, or no tree decodes its subtitles."""


@dataclasses.dataclass(frozen=True)
class Clip:
    number: int  # the speech file's number in sky.dsk
    section: int  # the part of the game whose text holds its subtitle
    text: str  # the subtitle, as the game writes it (capitals for stress, ` for quotes)


@dataclasses.dataclass(frozen=True)
class Disk:
    folder: Path  # holds INDEX_FILE and DISK_FILE
    index: dict  # {file number: (byte offset in sky.dsk, stored size, stored as is)}


@dataclasses.dataclass(frozen=True)
class Game:
    disk: Disk
    tree: tuple  # ((left, right, byte)) Huffman nodes; a node with no children is a leaf; byte 0 ends a line


def read_index(data):
    """{file number: (offset, size, stored as is)} of sky.dnr's bytes ``data``."""
    (count,) = struct.unpack_from("<I", data)
    if len(data) < 4 + 8 * count:
        raise DataError(f"{INDEX_FILE} lists {count} files but is {len(data)} bytes long")
    index = {}
    for i in range(count):
        entry = data[4 + 8 * i:12 + 8 * i]
        offset, flags = int.from_bytes(entry[2:5], "little"), int.from_bytes(entry[5:8], "little")
        if offset >> 23 & 1:
            offset = (offset & 0x7FFFFF) << 4
        index[struct.unpack_from("<H", entry)[0]] = (offset, flags & _SIZE_MASK, bool(flags >> 23 & 1))
    return index


def speech_numbers(index):
    """The numbers of the speech files in ``index`` (``read_index``), in order."""
    return sorted(n for n in index if SPEECH_FIRST_FILE <= n <= SPEECH_LAST_FILE)


def read_file(disk, number):
    """The bytes of file ``number`` of ``disk`` (a Disk), unpacked (header and data)."""
    import propack  # only this game's files use it

    offset, size, as_is = disk.index[number]
    with open(disk.folder / DISK_FILE, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    if as_is or data[HEADER_BYTES:HEADER_BYTES + 3] != b"RNC":
        return data
    try:
        return data[:HEADER_BYTES] + propack.unpack(data[HEADER_BYTES:])
    except ValueError as err:  # a bad header, a checksum that does not match, data that ends too soon
        raise DataError(f"{disk.folder / DISK_FILE}: file {number} does not unpack ({err}); reinstall {PACKAGE} "
                        f"(apt-get install --reinstall {PACKAGE})") from err


def tree_at(data, start):
    """The Huffman tree whose root is the 3-byte node at ``data[start]``, or None where the bytes there are
    not one: every inner node's children come after it with a zero byte, each node is reached once, the
    nodes are contiguous, no two leaves hold one byte, and there are at least MIN_TREE_NODES."""
    seen, leaves, stack = set(), set(), [0]
    while stack:
        node = stack.pop()
        at = start + 3 * node
        if node in seen or at + 3 > len(data):
            return None
        seen.add(node)
        left, right, byte = data[at:at + 3]
        if left == right == 0:
            if byte in leaves:
                return None
            leaves.add(byte)
        elif left <= node or right <= node or byte:
            return None
        else:
            stack += (left, right)
    if len(seen) < MIN_TREE_NODES or max(seen) + 1 != len(seen):
        return None
    return tuple(tuple(data[start + 3 * node:start + 3 * node + 3]) for node in range(len(seen)))


def huffman_trees(data):
    """Every Huffman tree (``tree_at``) in the bytes ``data`` of a program, in the order they lie. A tree's
    root is (1, n, 0) and its first child (2, m, 0), which screens the candidates before the walk."""
    raw = np.frombuffer(data, dtype=np.uint8)
    n = len(raw) - 6
    starts = np.flatnonzero((raw[:n] == 1) & (raw[1:n + 1] > 2) & (raw[2:n + 2] == 0)
                            & (raw[3:n + 3] == 2) & (raw[5:n + 5] == 0))
    trees = (tree_at(data, int(start)) for start in starts)
    return [tree for tree in trees if tree is not None]


def line_bit_offset(section, line):
    """The bit offset of line ``line``'s code in a text section's bytes ``section``."""
    skips_at, bits_at = struct.unpack_from("<HH", section)
    block, in_block = divmod(line, LINES_PER_BLOCK)
    offset = sum(struct.unpack_from(f"<{block}H", section, 4))
    skips = skips_at + block * LINES_PER_BLOCK
    for skip in section[skips:skips + in_block]:
        offset += (skip & 0x7F) << 3 if skip & 0x80 else skip
    # the offset counts quarter-bytes from bits_at; each line starts on an even bit
    return 8 * (bits_at + (offset >> 2)) + 2 * (offset & 3)


def decode_at(section, bit, tree):
    """(bytes, bit after their end) of the line whose code starts at bit ``bit`` of a text section's bytes
    ``section``, Huffman-decoded with ``tree``. IndexError where the code runs past the section."""
    out = bytearray()
    while True:
        node = 0
        while tree[node][0] or tree[node][1]:
            node = tree[node][(section[bit >> 3] >> (7 - (bit & 7))) & 1]
            bit += 1
        if tree[node][2] == 0:
            return bytes(out), bit
        out.append(tree[node][2])


def decode_line(section, line, tree):
    """Line ``line`` of a text section's bytes ``section`` (bytes), Huffman-decoded with ``tree``."""
    return decode_at(section, line_bit_offset(section, line), tree)[0]


def fitting_text(section, line, tree):
    """Line ``line`` decoded under ``tree`` if it is text whose code ends where the next line's starts, but for
    padding (under 16 bits: long lines start on a 16-bit boundary); else None. A wrong tree's codes end at
    random places."""
    if line % LINES_PER_BLOCK == LINES_PER_BLOCK - 1:  # the next line's offset needs the next block's
        return None
    try:
        text, end = decode_at(section, line_bit_offset(section, line), tree)
    except IndexError:
        return None
    return text if is_text(text) and 0 <= line_bit_offset(section, line + 1) - end < 16 else None


def speech_line(number):
    """(section, line) of the subtitle speech file ``number`` speaks."""
    clip = number - SPEECH_FIRST_FILE
    section = max(s for s, start in enumerate(SPEECH_SECTION_START) if start <= clip)
    return section, clip - SPEECH_SECTION_START[section]


def is_text(line):
    """Whether decoded bytes ``line`` read as a subtitle: printable ASCII with a letter."""
    return bool(line) and _PRINTABLE.issuperset(line) and any(chr(c).isalpha() for c in line)


def game_tree(trees, section, lines):
    """The tree of ``trees`` under which most of ``lines`` of text section ``section`` fit (``fitting_text``),
    ties going to the most letters (another release's tree may code a letter or two as other symbols), if
    MIN_READABLE of them fit; else None."""
    lines = [line for line in lines if line % LINES_PER_BLOCK != LINES_PER_BLOCK - 1]

    def score(tree):
        texts = [text for text in (fitting_text(section, line, tree) for line in lines) if text is not None]
        return len(texts), sum(chr(c).isalpha() for text in texts for c in text)

    scores = [score(tree) for tree in trees]
    best = max(range(len(trees)), key=scores.__getitem__, default=None)
    return trees[best] if best is not None and scores[best][0] >= MIN_READABLE * len(lines) else None


def open_game(folder=DEFAULT_DIR, interpreter=INTERPRETER):
    """The Game in ``folder``, its subtitles' tree found in the program file ``interpreter``. DataError naming
    the file and the fix where either is missing or is not what this module reads."""
    folder = Path(folder)
    for path, package in ((folder / INDEX_FILE, PACKAGE), (folder / DISK_FILE, PACKAGE),
                          (Path(interpreter), INTERPRETER_PACKAGE)):
        if not path.is_file():
            raise DataError(f"{path}: not found; install Debian's {package} package (apt-get install {package})")
    try:
        disk = Disk(folder, read_index((folder / INDEX_FILE).read_bytes()))
    except (DataError, struct.error) as err:
        raise DataError(f"{folder / INDEX_FILE}: not the game's index ({err}); reinstall {PACKAGE} "
                        f"(apt-get install --reinstall {PACKAGE})") from err
    numbers = speech_numbers(disk.index)
    if not numbers or TEXT_FIRST_FILE not in disk.index:
        raise DataError(f"{folder / INDEX_FILE}: no speech or no English text; the CD release is needed "
                        f"(apt-get install {PACKAGE})")
    section = read_file(disk, TEXT_FIRST_FILE)
    lines = [line for s, line in map(speech_line, numbers) if s == 0]
    tree = game_tree(huffman_trees(Path(interpreter).read_bytes()), section, lines)
    if tree is None:
        raise DataError(f"{interpreter}: no Huffman tree in it decodes {folder / DISK_FILE}'s subtitles; "
                        f"install Debian's {INTERPRETER_PACKAGE} package (apt-get install {INTERPRETER_PACKAGE})")
    return Game(disk, tree)


def read_clips(game):
    """[Clip] of every speech file of ``game`` whose subtitle decodes to text, in file order."""
    sections, clips = {}, []
    for number in speech_numbers(game.disk.index):
        section, line = speech_line(number)
        if section not in sections:
            text_file = TEXT_FIRST_FILE + section
            sections[section] = read_file(game.disk, text_file) if text_file in game.disk.index else b""
        try:
            text = decode_line(sections[section], line, game.tree)
        except (IndexError, struct.error):  # a few clips have no line in their section
            continue
        if is_text(text):
            clips.append(Clip(number, section, text.decode("ascii").strip()))
    return clips


def clip_samples(game, clip):
    """The samples of ``clip`` (a Clip): float32 in [-1, 1), shape (n,), at SAMPLE_RATE_HZ."""
    data = read_file(game.disk, clip.number)
    end = struct.unpack_from("<11H", data)[6]  # the header's size of header and samples
    return unsigned_8bit_samples(data[HEADER_BYTES:end])
