"""amazon_queen: Flight of the Amazon Queen's archive and script read into clips, on a tiny fake queen.1c
(conftest.py's fake_queen) and, where the Debian package is installed, on the real one."""
import struct

import numpy as np
import pytest

import amazon_queen as aq

# (name, kind, speaker, actor, text, flags) of every clip of the fake archive that the script gives a line
FAKE_CLIPS = [
    ("05001EJ1", "dialogue", "JOE", "Brad Lavelle", "Who are you?", ("duplicate_id",)),  # not "Who's that?"
    ("05001FP1", "dialogue", "SECRETARY", "Jessica Martin", "I'm the secretary, darling.", ()),
    ("050020P2", "dialogue", "SECRETARY", "Jessica Martin", "Now go.", ()),  # "Take this.*GD": nothing said
    ("05SSSSJ1", "dialogue", "JOE", "Brad Lavelle", "Hello there.", ()),  # Joe's opening line, id 0
    ("05SSSSJ2", "dialogue", "JOE", "Brad Lavelle", "Nice office.", ()),
    ("05XXXXJ1", "dialogue", "JOE", "Brad Lavelle", "Yes.", ("one_word",)),  # the repeat visit's greetings
    ("05XXXXP1", "dialogue", "SECRETARY", "Jessica Martin", "Back again?", ()),
    ("120001P1", "dialogue", "ANDERSON", "Enn Reitel", "You couldn't pilot your way out of a paper bag.", ()),
    ("12XXXXP1", "dialogue", "ANDERSON", "Enn Reitel", "You again.", ()),
    ("C6C__012", "cutaway", "JOE", "Brad Lavelle", "Oh it's you again.", ()),  # segment 1: empty, before *FR
    ("C6C__013", "cutaway", "JOE", "Brad Lavelle", "Say, DOC!", ()),
    ("C6C__021", "cutaway", "FRANK", "Bill Hootkins", "I'm Frank.", ("speaker_from_object_name",)),
    ("C6C__031", "cutaway", "NARRATION/TEXT", "", "Meanwhile, in the jungle.", ("speaker_unknown",)),
    ("C6C__041", "cutaway", "?(NOTE)", "", "Dear Joe, wish you were here.", ("speaker_unknown",)),
    ("C6C__061", "cutaway", "NAOMI", "Jessica Martin", "Hi Joe.", ("speaker_from_object_name",)),  # #5: display
    ("JOE00011", "joe_look", "JOE", "Brad Lavelle", "I can't do that.", ()),
    ("JOE00221", "joe_look", "JOE", "Brad Lavelle", "Do you want to RESTART ?", ("ui_string", "bracketed_nonspeech")),
    ("JOE00411", "joe_look", "JOE", "Brad Lavelle", "A left handed can opener.", ()),  # object description 1
    ("JOE00421", "joe_look", "JOE", "Brad Lavelle", "GSRH", ("one_word", "caps_token")),
]


def test_read_clips_gives_each_clip_its_line_speaker_and_actor(fake_queen):
    clips = aq.read_clips(fake_queen)  # not the sound effect 01SSSSSS nor the leftover MIK_0019: no line
    assert [(c.name, c.kind, c.speaker, c.actor, c.text, c.flags) for c in clips] == FAKE_CLIPS
    sources = {c.name: c.source for c in clips}
    assert (sources["05001FP1"], sources["120001P1"], sources["C6C__061"]) == ("SEC1.DOG", "AND1.DOG", "C6C.CUT")
    assert sources["JOE00011"] == "QUEEN2.JAS:response" and sources["JOE00411"] == "QUEEN2.JAS:description"
    assert {c.script for c in clips if c.name == "JOE00221"} == {"Do you want to RESTART (Y/N)?"}


def test_open_archive_reads_the_table(fake_queen):
    archive = aq.open_archive(fake_queen)
    assert archive.version == "CEM10" and len(archive.entries) == 5 + 21  # 2 tables, 2 dialogues, a cut-scene
    assert sorted(archive.entries)[:3] == ["01SSSSSS.SB", "05001EJ1.SB", "05001FP1.SB"]
    offset, size = archive.entries["AND1.DOG"]
    assert archive.read("AND1.DOG") == fake_queen.read_bytes()[offset:offset + size]
    assert archive.read("AND1.DOG", aq.AMBK_HEADER)[:6] == struct.pack(">3h", 2, 0, 12)  # levels, key, talk key


@pytest.mark.parametrize("damage, message", [
    (lambda data: b"RIFF" + data[4:], "not the compressed CD release: no QTBL header; use the queen.1c of the "
                                      "Debian package flight-of-the-amazon-queen"),
    (lambda data: data[:4] + b"PEM10\0" + data[10:], "version PEM10 is not the English CD release"),
    (lambda data: data[:12] + b"\0" + data[13:], "compression 0 is not one soundfile reads"),
    (lambda data: data[:100], "truncated: its table lists 26 entries; reinstall flight-of-the-amazon-queen"),
    (lambda data: b"QTB", "no QTBL header"),
])
def test_a_damaged_or_other_archive_names_the_file_and_the_fix(tmp_path, fake_queen, damage, message):
    path = tmp_path / "queen.1c"
    path.write_bytes(damage(fake_queen.read_bytes()))
    with pytest.raises(aq.ArchiveError) as raised:
        aq.open_archive(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)


def test_a_missing_archive_says_which_package_installs_it(tmp_path):
    with pytest.raises(aq.ArchiveError, match="queen.1c: not found; install it with 'apt-get install "
                                              "flight-of-the-amazon-queen'"):
        aq.read_clips(tmp_path / "queen.1c")


def test_pascal_string_rounds_the_next_offset_up_but_not_after_an_empty_string():
    data = b"\x03abc\x00\x00\x00\x00\x02de"
    assert aq.pascal_string(data, 0, align=4) == ("abc", 4)
    assert aq.pascal_string(data, 0, align=2) == ("abc", 4)
    assert aq.pascal_string(data, 4, align=4) == ("", 5)  # as the engine: an empty string is not padded
    assert aq.pascal_string(data, 8, align=2) == ("de", 12)  # from 8: 1 + 2 bytes, rounded up to 12
    assert aq.pascal_string(data, 8, align=4) == ("de", 12)


@pytest.mark.parametrize("sentence, segments", [
    ("Hello.", [(1, "Hello.", True)]),
    # the example of the engine's own data: the piece before the first direction is segment 1, empty
    ("*FROh it's you again.*15Say, you're one of Doc Ironstein's boys...*16What are you doing in that cage?*03",
     [(1, "", True), (2, "Oh it's you again.", True), (3, "Say, you're one of Doc Ironstein's boys...", True),
      (4, "What are you doing in that cage?", True)]),  # nothing after the last direction: no segment 5
    ("Take this.*GDNow go.", [(1, "Take this.", False), (2, "Now go.", True)]),  # a grab: number used, not said
    ("Wait.*GMThere.*WT", [(1, "Wait.", False), (2, "There.", True)]),
    ("*XY00(237,112)Over here.*WTQuick!", [(1, "", True), (2, "Over here.", True), (3, "Quick!", True)]),
    ("No*AO directions*00 left", [(1, "No", True), (2, " directions", True), (3, " left", True)]),
])
def test_split_segments_at_stage_directions(sentence, segments):
    assert [(s.number, s.text, s.spoken) for s in aq.split_segments(sentence)] == segments


@pytest.mark.parametrize("prefix, segment, name", [
    (" 2  1eJ", 1, "02001EJ1"),  # "%2d%4x": talk key 2, line 0x1e, Joe; spaces become zeros, hex upper case
    ("12  abP", 10, "1200ABPA"),  # segment 10 in hex
    (" 5SSSSJ", 2, "05SSSSJ2"),
    ("JOE0046", 1, "JOE00461"),  # Joe's remark on object description 6 (40 + 6)
    ("C6C__01", 3, "C6C__013"),
])
def test_clip_name(prefix, segment, name):
    assert aq.clip_name(prefix, segment) == name


def test_clip_lines_keep_every_line_of_a_name_in_script_order(fake_queen):
    lines = aq.clip_lines(aq.script_sentences(aq.open_archive(fake_queen)))
    assert [text for text, _ in lines["05001EJ1"]] == ["Who are you?", "Who's that?"]  # the id used twice
    assert [text for text, _ in lines["05SSSSJ1"]] == ["Hello there."]  # id 0 opens only as Joe's first line
    assert "050020P1" not in lines and "C6C__011" not in lines  # said nothing; empty before "*FR"
    assert "C6C__051" not in lines  # "#display only": shown, not said
    assert [text for text, _ in lines["120001P1"]] == ["You couldn't pilot your way out of a paper bag."]


def test_captions_are_spoken_whole_and_spaces_collapsed():
    caption = aq.Sentence("C6C__03", "Meanwhile  back*WT at\tthe hotel.", "TEXT(-2)", "C6C.CUT", segmented=False)
    split = aq.Sentence("C6C__04", "Meanwhile.*WTLater.", "JOE", "C6C.CUT")
    lines = aq.clip_lines([caption, split])
    assert {name: [text for text, _ in found] for name, found in lines.items()} == {
        "C6C__031": ["Meanwhile back*WT at the hotel."], "C6C__041": ["Meanwhile."], "C6C__042": ["Later."]}


def test_a_cutaway_whose_objects_cannot_be_walked_has_no_speakers(fake_queen):
    tables = aq.read_tables(aq.open_archive(fake_queen))
    record = [3, 0, 0, 0, 1, 1] + [0] * 11  # object 3 (Frank) with an animation list to execute
    walked = bytes(12) + struct.pack(">17hh", *record, 0) + struct.pack(">h", 1) + bytes(18) + struct.pack(">h", -2)
    assert aq.cutaway_objects(walked, 1, tables) == [(3, "anim")]
    broken = bytes(12) + struct.pack(">17hh", *record, 0) + struct.pack(">h", aq.ANIM_HEADER_MAX + 1)
    assert aq.cutaway_objects(broken, 1, tables) is None
    assert aq.cutaway_objects(walked[:-2], 1, tables) is None  # the list runs off the end
    assert aq.cutaway_speaker(None, tables) == "?" and aq.character("?", "C1.CUT") == ("?(?)", "speaker_unknown")


@pytest.mark.parametrize("number, anim_list, execute, from_object, kind", [
    (0, 0, 0, 0, "person"),  # Joe without an animation
    (1, 0, 0, 0, "person"),  # object 1's image (-3) says it is a person
    (2, 0, 1, 0, "anim"), (2, 0, 0, 0, "noanim"),  # a prop: animated only when executed
    (1, 0, 0, 5, "noanim"),  # taken from another object
    (-2, 0, 0, 0, "speak"), (-3, 0, 0, 0, "display+speak"), (-4, 1, 1, 0, "display"),
])
def test_cutaway_object_kind(fake_queen, number, anim_list, execute, from_object, kind):
    tables = aq.read_tables(aq.open_archive(fake_queen))
    assert aq.cutaway_object_kind(number, anim_list, execute, from_object, tables) == kind


def test_game_tables(fake_queen):
    tables = aq.read_tables(aq.open_archive(fake_queen))
    assert (tables.object_name(3), tables.object_name(4), tables.object_name(0)) == ("Frank", None, None)
    assert (tables.object_image(1), tables.object_image(9)) == (-3, 0)
    assert tables.descriptions == ("A left handed can opener.", "GSRH") and len(tables.joe_responses) == 40


@pytest.mark.parametrize("speaker, source, expected", [
    ("JOE", "SEC1.DOG", ("JOE", "")), ("SEC", "SEC1.DOG", ("SECRETARY", "")), ("RITA", "RITA.DOG", ("RITA", "")),
    ("JOE", "C1.CUT", ("JOE", "")), ("HUGH", "C1.CUT", ("BIG HUGH", "speaker_from_object_name")),
    ("TEXT(-3)", "C1.CUT", ("NARRATION/TEXT", "speaker_unknown")), ("OBJ12", "C1.CUT", ("?(OBJ12)", "speaker_unknown")),
    ("TELEPHONE", "C1.CUT", ("?(TELEPHONE)", "speaker_unknown")), ("JOE", "QUEEN2.JAS:response", ("JOE", "")),
])
def test_character(speaker, source, expected):
    assert aq.character(speaker, source) == expected


@pytest.mark.parametrize("name, script, flags", [
    ("JOE00221", "Do you want to RESTART (Y/N)?", ["ui_string", "bracketed_nonspeech"]),
    ("JOE00211", "I don't think so.", []),  # response 21 is a line, 22 a menu string
    ("JOE00401", "Close", ["ui_string", "one_word"]), ("JOE00411", "Close", ["one_word"]),  # 41: a description
    ("C49C_011", "<sneeze>", ["bracketed_nonspeech", "one_word"]),
    ("C21K_071", "The 13th of May, 1922, huh?", ["digits"]),
    ("COMIC381", "&#($!!, he got away!", ["symbols"]),
    ("0900B3P1", "Rocket Pack^_!", ["symbols"]),
    ("DEATH011", "C", ["one_word", "caps_token"]), ("COMIC011", "GSRH RH", []),  # a cipher, but two words
])
def test_text_flags(name, script, flags):
    assert aq.text_flags(name, script) == flags


@pytest.mark.parametrize("script, text", [
    ("Rocket Pack^_ and @@Lola@@.", "Rocket Pack and Lola."), ("(sigh) All right.", "All right."),
    ("Ah <koff> ahem.", "Ah ahem."), ("Plain.", "Plain."),
])
def test_spoken_text_drops_glyph_codes_and_noises(script, text):
    assert aq.spoken_text(script) == text


@pytest.mark.parametrize("name, kind", [
    ("01SSSSSS", "sfx"), ("1234BSSS", "sfx"), ("JOE00461", "joe_look"), ("02001EJ1", "dialogue"),
    ("05XXXXP1", "dialogue"), ("05SSSSJ2", "dialogue"), ("C100A042", "cutaway"), ("COMIC381", "cutaway"),
    ("C6C__011", "cutaway"), ("GM___011", "other"), ("MIK_0019", "other"), ("UNTITLED", "other"),
])
def test_clip_kind(name, kind):
    assert aq.clip_kind(name) == kind


def test_decode_gives_the_clips_samples(fake_queen):
    audio, rate = aq.decode(aq.clip_audio(aq.open_archive(fake_queen), "JOE00011"))
    assert rate == 11025 and audio.dtype == np.float32 and audio.shape == (11025,)  # 1 s at 11,025 Hz
    tone = np.sin(2 * np.pi * 300 * np.arange(11025) / 11025) * 0.3
    assert abs(np.abs(audio).max() - 0.3) < 0.05 and np.corrcoef(audio[1000:-1000], tone[1000:-1000])[0, 1] > 0.99


def test_every_credited_actor_has_a_sex():
    actors = {name for label in aq.ACTORS.values() for name in label.rstrip("?").split("/")}
    assert actors == set(aq.ACTOR_SEXES) and len(actors) == 12
    assert sorted(name for name, sex in aq.ACTOR_SEXES.items() if sex == "F") == [
        "Debbie Arnold", "Jessica Martin", "Lisa Valdez", "Penelope Keith", "Regina Reagan"]


@pytest.mark.skipif(not aq.DEFAULT_ARCHIVE.is_file(), reason="Debian package flight-of-the-amazon-queen not installed")
def test_the_debian_package():
    clips = aq.read_clips()
    by_name = {clip.name: clip for clip in clips}
    assert len(clips) == 6587
    assert [sum(c.kind == kind for c in clips) for kind in ("dialogue", "cutaway", "joe_look", "other")] == [
        3983, 2039, 564, 1]
    first = by_name["020001P2"]
    assert (first.speaker, first.actor, first.text) == (
        "ANDERSON", "Enn Reitel", "You couldn't pilot your way out of a paper bag.")
    assert by_name["C100A042"].text == "Oh it's you again." and by_name["C100A043"].speaker == "JOE"
    audio, rate = aq.decode(aq.clip_audio(aq.open_archive(), "020001P2"))
    assert rate == 11025 and abs(len(audio) / rate - 3.50) < 0.01
