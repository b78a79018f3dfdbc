"""steel_sky: Beneath a Steel Sky's speech and Huffman-coded subtitles read into clips, on a tiny fake
(conftest.py's fake_steel_sky) and, where the Debian package is installed, on the real game."""
import numpy as np
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
