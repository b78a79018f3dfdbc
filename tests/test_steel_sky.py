"""steel_sky: Beneath a Steel Sky's speech and Huffman-coded subtitles read into clips, on a tiny fake
(conftest.py's fake_steel_sky) and, where the Debian package is installed, on the real game."""
import struct

import numpy as np
import propack
import pytest

import steel_sky
from conftest import STEEL_SKY_LINES, huffman_tree, steel_sky_section, write_fake_steel_sky


def test_every_spoken_line_with_text_is_a_clip(fake_steel_sky):
    game = steel_sky.open_game(*fake_steel_sky)
    clips = steel_sky.read_clips(game)
    assert [(c.number, c.section, c.text) for c in clips] == [
        (50000, 0, "I had to INSPECT it."), (50001, 0, "Hey!"), (50003, 0, "What's LINC for?"),
        (50004, 0, "`DANGEROUS BIKES MONTHLY' - a magazine!"), (50005, 0, "It's a 30 millimetre wrench..."),
        (50038, 0, "No HARM done..."),  # in the second block, after a line that skips in 16-bit units
        (50600, 1, "Come on, Joey.")]  # 50601's line (a tab) is not a subtitle


def test_speech_packed_or_stored_reads_as_the_same_samples(fake_steel_sky):
    game = steel_sky.open_game(*fake_steel_sky)
    packed, stored = steel_sky.read_clips(game)[:2]
    assert not game.disk.index[packed.number][2] and game.disk.index[stored.number][2]
    samples = steel_sky.clip_samples(game, packed)
    assert samples.dtype == np.float32 and samples.shape == (6615,)  # 0.6 s at 11,025 Hz, the header left out
    np.testing.assert_array_equal(samples, steel_sky.clip_samples(game, stored))
    tone = np.round(128 + 127 * 0.3 * np.sin(2 * np.pi * 300 * np.arange(6615) / 11025))
    np.testing.assert_array_equal(samples, (tone - 128) / 128)


def test_the_tree_that_fits_the_text_is_chosen_among_others(fake_steel_sky):
    folder, program = fake_steel_sky
    trees = steel_sky.huffman_trees(program.read_bytes())
    game = steel_sky.open_game(folder, program)
    assert len(trees) == 2 and game.tree == trees[1]
    # a tree that codes one letter as another symbol decodes as far, but to fewer letters: it loses the tie
    swapped = tuple((l, r, {ord("H"): ord("]"), ord("]"): ord("H")}.get(v, v)) for l, r, v in game.tree)
    section = steel_sky.read_file(game.disk, steel_sky.TEXT_FIRST_FILE)
    lines = range(len(STEEL_SKY_LINES[0]))
    assert steel_sky.game_tree([swapped, game.tree], section, lines) == game.tree
    assert steel_sky.game_tree([trees[0]], section, lines) is None


def test_tree_walk_rejects_what_is_not_a_tree():
    tree, _ = huffman_tree({byte: 1 for byte in range(128)})
    data = bytes(b for node in tree for b in node)
    assert steel_sky.tree_at(data, 0) == tree
    assert steel_sky.tree_at(data[:-3], 0) is None  # the last leaf cut off
    looped = bytearray(data)
    looped[3 * 5] = 1  # node 5 points back at node 1
    assert steel_sky.tree_at(bytes(looped), 0) is None
    small, _ = huffman_tree({byte: 1 for byte in range(40)})
    assert steel_sky.tree_at(bytes(b for node in small for b in node), 0) is None  # too few nodes for text


def test_line_offsets_follow_blocks_and_long_skips():
    tree, codes = huffman_tree({byte: 1 for byte in range(128)})  # 7 bits a byte: easy arithmetic
    lines = ["ab", "x" * 40, "c"] + ["d"] * 30 + ["e"]
    section = steel_sky_section(lines, codes)
    assert steel_sky.line_bit_offset(section, 0) == 8 * (4 + 4 + 64)
    assert steel_sky.line_bit_offset(section, 1) - steel_sky.line_bit_offset(section, 0) == 22  # 21 bits, even
    assert steel_sky.line_bit_offset(section, 2) - steel_sky.line_bit_offset(section, 1) == 288  # 287, to 16s
    assert [steel_sky.decode_line(section, n, tree).decode() for n in (0, 1, 2, 32, 33)] == [
        "ab", "x" * 40, "c", "d", "e"]


def test_missing_files_name_the_package_to_install(tmp_path):
    folder, program = write_fake_steel_sky(tmp_path / "game")
    with pytest.raises(steel_sky.DataError, match=r"no/scummvm: not found; .*apt-get install scummvm"):
        steel_sky.open_game(folder, tmp_path / "no" / "scummvm")
    with pytest.raises(steel_sky.DataError, match=r"sky.dnr: not found; .*apt-get install beneath-a-steel-sky"):
        steel_sky.open_game(tmp_path, program)


def test_a_program_without_the_tree_or_a_broken_index_says_what_to_do(tmp_path):
    folder, program = write_fake_steel_sky(tmp_path / "game")
    data = program.read_bytes()
    program.write_bytes(data[:-3 * 150])  # the game's tree cut short: only the other one is left
    with pytest.raises(steel_sky.DataError, match=r"no Huffman tree in it decodes .*apt-get install scummvm"):
        steel_sky.open_game(folder, program)
    (folder / "sky.dnr").write_bytes((folder / "sky.dnr").read_bytes()[:30])
    with pytest.raises(steel_sky.DataError, match=r"sky.dnr: not the game's index .*--reinstall beneath-a-steel-sky"):
        steel_sky.open_game(folder, program)


def test_a_packed_clip_that_does_not_unpack_names_the_file(tmp_path):
    folder, program = write_fake_steel_sky(tmp_path / "game")
    game = steel_sky.open_game(folder, program)
    offset, size, _ = game.disk.index[50000]  # the clip packed with RNC ProPack
    disk = bytearray((folder / "sky.dsk").read_bytes())
    disk[offset + size - 8] ^= 0xFF  # one byte of its packed data: the checksum no longer matches
    (folder / "sky.dsk").write_bytes(bytes(disk))
    clip = steel_sky.read_clips(game)[0]
    with pytest.raises(steel_sky.DataError, match=r"sky.dsk: file 50000 does not unpack .*--reinstall"):
        steel_sky.clip_samples(game, clip)


@pytest.mark.skipif(not (steel_sky.DEFAULT_DIR / steel_sky.INDEX_FILE).is_file()
                    or not steel_sky.INTERPRETER.is_file(), reason="Debian's beneath-a-steel-sky is not installed")
def test_the_installed_game():
    game = steel_sky.open_game()
    clips = steel_sky.read_clips(game)
    assert len(clips) == 3491 and {c.section for c in clips} == set(range(steel_sky.TEXT_SECTIONS))
    by_number = {c.number: c.text for c in clips}
    assert by_number[50007] == "I had to INSPECT it." and by_number[50116] == "I MIGHT be able to FIX them, though..."
    samples = steel_sky.clip_samples(game, clips[0])
    assert 0.5 < len(samples) / steel_sky.SAMPLE_RATE_HZ < 2 and np.abs(samples).max() <= 1


def test_an_index_too_short_for_its_count_says_so():
    # sky.dnr's count and its length disagree: the message gives both, rather than a struct error from
    # deep inside the reader or a silently short index (whose speech would then be missing or misplaced).
    with pytest.raises(steel_sky.DataError, match=r"^sky.dnr lists 3 files but is 20 bytes long$"):
        steel_sky.read_index(struct.pack("<I", 3) + bytes(16))
    # a count with its top bit set is read unsigned, and is no index either
    with pytest.raises(steel_sky.DataError, match=r"^sky.dnr lists 4294967295 files but is 12 bytes long$"):
        steel_sky.read_index(b"\xff\xff\xff\xff" + bytes(8))


def open_game_error(folder, program):
    """The whole message of the DataError that ``open_game`` raises on the game in ``folder``."""
    with pytest.raises(steel_sky.DataError) as caught:
        steel_sky.open_game(folder, program)
    return str(caught.value)


def test_a_truncated_index_names_the_file_the_problem_and_the_fix(tmp_path):
    folder, program = write_fake_steel_sky(tmp_path / "game")
    (folder / "sky.dnr").write_bytes((folder / "sky.dnr").read_bytes()[:30])  # 10 files listed, 3 whole
    assert open_game_error(folder, program) == (
        f"{folder / 'sky.dnr'}: not the game's index (sky.dnr lists 10 files but is 30 bytes long); "
        "reinstall beneath-a-steel-sky (apt-get install --reinstall beneath-a-steel-sky)")


def test_read_file_reads_its_own_bytes_and_unpacks_only_rnc_data(tmp_path):
    # A file not stored as is has a header; only when RNC ProPack data follows it is it unpacked (the
    # format also allows the bytes after the header to be plain). And a file is its stored size, not the
    # rest of sky.dsk: reading to the end would hand every clip the whole disk after it.
    header = struct.pack("<11H", *([0] * 6), steel_sky.HEADER_BYTES + 5, *([0] * 4))
    plain, packed = header + b"hello", header + propack.pack(b"hello")
    (tmp_path / steel_sky.DISK_FILE).write_bytes(b"SKY!" + plain + packed + b"the rest of the disk")
    disk = steel_sky.Disk(tmp_path, {1: (4, len(plain), False), 2: (4 + len(plain), len(packed), False),
                                     3: (4 + len(plain), len(packed), True)})
    assert steel_sky.read_file(disk, 1) == plain
    assert steel_sky.read_file(disk, 2) == header + b"hello"
    assert steel_sky.read_file(disk, 3) == packed  # stored as is: never unpacked, even where it looks packed


def test_clip_samples_end_where_the_header_says_even_past_32_kib(tmp_path):
    # The header's size of header and samples is an unsigned 16-bit field: 414 of the real game's clips are
    # over 32 KiB (about 3 s), and read signed they would lose their end. Bytes past that size are not speech.
    samples = (np.arange(40_000) % 256).astype(np.uint8).tobytes()
    header = struct.pack("<11H", *([0] * 6), steel_sky.HEADER_BYTES + len(samples), *([0] * 4))
    (tmp_path / steel_sky.DISK_FILE).write_bytes(header + samples + b"\x00" * 10)
    game = steel_sky.Game(steel_sky.Disk(tmp_path, {50000: (0, len(header + samples) + 10, True)}), ())
    got = steel_sky.clip_samples(game, steel_sky.Clip(50000, 0, "a long line"))
    assert got.shape == (40_000,)
    np.testing.assert_array_equal(got, (np.arange(40_000) % 256 - 128) / 128)


def test_a_tree_is_kept_only_where_nine_tenths_of_the_lines_fit():
    tree, codes = huffman_tree({byte: 1 for byte in range(128)})
    # one block of 32 lines, three of them not text; the block's last line (31) is never scored, as the
    # next line's offset that would check it lies in the next block's header
    lines = [f"Line number {n}." for n in range(32)]
    for n in (2, 12, 22):
        lines[n] = "..."
    section = steel_sky_section(lines, codes)
    assert steel_sky.game_tree([tree], section, range(32)) == tree  # 28 of lines 0 to 30 fit: 90.3%
    assert steel_sky.game_tree([tree], section, range(10)) == tree  # 9 of 10: exactly nine tenths
    assert steel_sky.game_tree([tree], section, [0, 1, 2, 12, 22]) is None  # 2 of 5, however many letters
    assert steel_sky.game_tree([], section, range(10)) is None  # no tree at all


def test_a_line_fits_only_where_the_next_one_starts_within_16_bits():
    tree, codes = huffman_tree({byte: 1 for byte in range(128)})  # 7 bits a byte
    section = bytearray(steel_sky_section(["abc", "d"], codes))  # "abc" and its end: 28 bits, no padding
    skip = 4 + 2  # line 0's skip byte, after the header of one block
    assert section[skip] == 14
    section[skip] = 14 + 7  # the next line 14 bits after its end: padding, as before a long line
    assert steel_sky.fitting_text(bytes(section), 0, tree) == b"abc"
    section[skip] = 14 + 8  # 16 bits after it: no padding is that long, so a wrong tree's code ended here
    assert steel_sky.fitting_text(bytes(section), 0, tree) is None


def rewrite_index(folder, keep):
    """Rewrite the fake's sky.dnr with only the files ``keep(number)`` accepts."""
    data = (folder / "sky.dnr").read_bytes()
    entries = [data[4 + 8 * i:12 + 8 * i] for i in range(struct.unpack_from("<I", data)[0])]
    entries = [e for e in entries if keep(struct.unpack_from("<H", e)[0])]
    (folder / "sky.dnr").write_bytes(struct.pack("<I", len(entries)) + b"".join(entries))


@pytest.mark.parametrize("keep", [lambda n: n >= steel_sky.TEXT_FIRST_FILE,  # the floppy release: no speech
                                  lambda n: n != steel_sky.TEXT_FIRST_FILE])  # speech, no English text
def test_a_game_without_speech_or_english_text_asks_for_the_cd_release(tmp_path, keep):
    folder, program = write_fake_steel_sky(tmp_path / "game")
    rewrite_index(folder, keep)
    assert open_game_error(folder, program) == (
        f"{folder / 'sky.dnr'}: no speech or no English text; the CD release is needed "
        "(apt-get install beneath-a-steel-sky)")


def test_a_program_with_no_tree_at_all_says_what_to_do(tmp_path):
    folder, _ = write_fake_steel_sky(tmp_path / "game")
    program = tmp_path / "scummvm"
    program.write_bytes(b"\x7fELF" + bytes(range(256)) * 3)  # another program: no Huffman tree in it
    with pytest.raises(steel_sky.DataError, match=r"scummvm: no Huffman tree in it decodes .*apt-get install scummvm"):
        steel_sky.open_game(folder, program)


def test_the_tree_is_chosen_on_the_first_sections_spoken_lines(tmp_path):
    # The game's tree is told from the other by the English text of section 0 and the lines spoken from it;
    # the other sections' spoken lines number other lines. With section 1 silent, the choice is the same.
    folder, program = write_fake_steel_sky(tmp_path / "game")
    rewrite_index(folder, lambda n: not 50600 <= n < 60000)
    game = steel_sky.open_game(folder, program)
    assert game.tree == steel_sky.huffman_trees(program.read_bytes())[1]
    assert [c.text for c in steel_sky.read_clips(game)][:2] == ["I had to INSPECT it.", "Hey!"]


def test_clips_without_a_line_or_a_text_section_are_left_out_and_the_rest_kept(fake_steel_sky):
    game = steel_sky.open_game(*fake_steel_sky)
    index = dict(game.disk.index)
    # Section 0 has 39 lines: a clip past its end has no subtitle (the real game has a few), and is skipped
    # without losing the clips after it. read_clips reads only the text files, so the entry can be any.
    index[50500] = index[50000]
    clips = steel_sky.read_clips(steel_sky.Game(steel_sky.Disk(game.disk.folder, index), game.tree))
    assert [c.number for c in clips] == [50000, 50001, 50003, 50004, 50005, 50038, 50600]
    del index[steel_sky.TEXT_FIRST_FILE + 1]  # section 1's text missing: its clips have no subtitle
    clips = steel_sky.read_clips(steel_sky.Game(steel_sky.Disk(game.disk.folder, index), game.tree))
    assert [c.number for c in clips] == [50000, 50001, 50003, 50004, 50005, 50038]
