"""Shared fixtures: a tiny corpus built the way `make corpus` builds the real one."""
import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import utils  # noqa: F401  (first: it sets the environment TensorFlow, Keras and matplotlib load with)

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")  # the tests draw figures without a display


def run(cmd, cwd):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A few real TTS clips through build_corpus.py, flac_to_wav.sh and create_desc_json.py.

    Returns the folder holding LibriSpeech/, train_corpus.json, valid_corpus.json and
    train_corpus_large.json (synth-train, synth-train-more and synth-train-extra), valid_new_engine_corpus.json
    and real_words_corpus.json.
    """
    base = tmp_path_factory.mktemp("corpus")
    run([sys.executable, str(ROOT / "build_corpus.py"), "--out", "LibriSpeech", "--train-speakers", "2",
         "--valid-speakers", "2", "--train-utts", "7", "--valid-utts", "2", "--more-speakers", "1",
         "--more-utts", "2", "--extra-speakers", "1", "--extra-utts", "2", "--seed", "3",
         "--real-prompts", str(base / "no-prompts"),  # 416 real clips would only slow the tests
         "--no-real-sentences", "--kokoro-speakers", "0",  # their archives come from the network, which tests never use
         "--real-dialogue", str(base / "no-dialogue"), "--real-drascula", str(base / "no-drascula"),
         "--real-steel-sky", str(base / "no-steel-sky")], cwd=base)  # thousands of real clips, as prompts
    run(["bash", str(ROOT / "flac_to_wav.sh")], cwd=base / "LibriSpeech")
    # absolute folders give absolute keys, so the descriptions work from any working directory
    for name in ("train", "valid"):
        run([sys.executable, str(ROOT / "create_desc_json.py"), str(base / f"LibriSpeech/synth-{name}"),
             f"{name}_corpus.json"], cwd=base)
    run([sys.executable, str(ROOT / "create_desc_json.py"), str(base / "LibriSpeech/synth-train"),
         str(base / "LibriSpeech/synth-train-more"), str(base / "LibriSpeech/synth-train-extra"),
         "train_corpus_large.json"], cwd=base)
    for name, set_dir in (("valid_new_engine", "synth-valid-new-engine"), ("real_words", "real-words")):
        run([sys.executable, str(ROOT / "create_desc_json.py"), str(base / "LibriSpeech" / set_dir),
             f"{name}_corpus.json"], cwd=base)
    return base


@pytest.fixture
def in_corpus(tiny_corpus, monkeypatch):
    """Run the test from inside the tiny corpus folder, where the descriptions are."""
    monkeypatch.chdir(tiny_corpus)
    return tiny_corpus


# ------------------------------------------------------------ a fake Flight of the Amazon Queen (amazon_queen.py)

def pascal(text, offset, align=2):
    """A length-prefixed string written at ``offset``, padded so that what follows starts at a multiple of
    ``align``."""
    data = bytes([len(text)]) + text.encode("latin-1")
    return data + bytes(-(offset + len(data)) % align)


def fake_dog(talk_key, joe_lines, person_lines, greetings, levels=1):
    """A .DOG file: its 20-byte bank header, the counts and offsets, an empty dialogue tree of ``levels``,
    Joe's and the person's lines [(id, text)], the two greetings of a repeat visit (the person's, Joe's)."""
    body = bytearray(32 + levels * 96)
    struct.pack_into(">5h", body, 0, levels, 0, talk_key, len(joe_lines), len(person_lines))
    for lines, offset_field in ((joe_lines, 22), (person_lines, 26)):
        for line_id, text in lines:
            body += struct.pack(">hh", 0, line_id)
            body += pascal(text, len(body), align=4)
        struct.pack_into(">H", body, offset_field, len(body))  # where the next part starts
    for text in greetings:
        body += pascal(text, len(body))
    return bytes(20) + bytes(body)


def fake_cut(objects, sentences):
    """A .CUT file: object records (number, anim list, execute, from object, animation list), the list's
    frame headers each followed by 18 bytes, but its end, -2; then the entry string and one sentence per object."""
    body = bytearray(12)
    struct.pack_into(">hh", body, 0, 0, len(objects))
    for number, anim_list, execute, from_object, frames in objects:
        record = [0] * 17
        record[0], record[4], record[5], record[12] = number, anim_list, execute, from_object
        body += struct.pack(">17hh", *record, 0)  # and no people
        for header in frames:
            body += struct.pack(">h", header) + (bytes(18) if header != -2 else b"")
    struct.pack_into(">H", body, 8, len(body))
    for text in ("*FL", *sentences):
        body += pascal(text, len(body))
    return bytes(20) + bytes(body)


def mp3_tone(seconds=1.0, rate=11025, peak=0.3):
    """An MP3 (MPEG 2.5 layer III) of a 300 Hz tone, as the game's clips are coded."""
    buffer = io.BytesIO()
    tone = np.sin(2 * np.pi * 300 * np.arange(round(seconds * rate)) / rate) * peak
    sf.write(buffer, tone.astype(np.float32), rate, format="MP3", subtype="MPEG_LAYER_III")
    return buffer.getvalue()


QUEEN_RESPONSES = ["I can't do that."] + ["0"] * 20 + ["Do you want to RESTART (Y/N)?"] + ["0"] * 18
QUEEN2_LINES = (["A left handed can opener.", "GSRH"]  # object descriptions
                + ["Naomi", "Note", "Frank"] + ["Jungle"]  # object names, room names
                + ["Open"] * 12 + QUEEN_RESPONSES + ["JOE_ANIM"])  # verbs, Joe's responses, what follows
# the speech clips: Joe's remarks, a secretary's dialogue (talk key 5), Anderson's (talk key 12), a cut-scene
# (C6C: Joe, Frank, a caption, a note, a display-only object, Naomi), a sound effect and a studio leftover
QUEEN_CLIPS = ("JOE00011", "JOE00221", "JOE00411", "JOE00421",
               "05SSSSJ1", "05SSSSJ2", "05001EJ1", "05001FP1", "050020P2", "05XXXXP1", "05XXXXJ1",
               "120001P1", "12XXXXP1",
               "C6C__012", "C6C__013", "C6C__021", "C6C__031", "C6C__041", "C6C__061",
               "01SSSSSS", "MIK_0019")


def fake_queen_resources():
    """{resource name: bytes} of a tiny queen.1c (see QUEEN_CLIPS)."""
    objects = [(1, -3), (2, 0), (3, 0)]  # (name index, image): Naomi a person, a note, Frank
    jas = struct.pack(">4H", 1, 3, len(objects), 2) + b"".join(
        struct.pack(">hHHHhHHh", name, 0, 0, 0, 0, 0, 0, image) for name, image in objects)
    secretary = fake_dog(5, [(0, "Hello there.*FLNice office."), (0x1E, "Who are you?"), (0x1E, "Who's that?"),
                             (0, "Not an opening line: never said.")],
                         [(0x1F, "I'm the secretary, darling."), (0x20, "Take this.*GDNow go.")],
                         ("Back again?", "Yes."))
    anderson = fake_dog(12, [(0xAB, "Anderson?")], [(1, "You couldn't pilot your way out of a paper bag.")],
                        ("You again.", "Me again."), levels=2)
    cut = fake_cut([(0, 0, 1, 0, []), (3, 1, 1, 0, [1, -2]), (-2, 0, 0, 0, []), (2, 0, 0, 0, []),
                    (-4, 0, 0, 0, []), (1, 0, 0, 0, [])],
                   ["*FROh it's you again.*15Say, DOC!*16", "I'm Frank.", "Meanwhile, in the jungle.",
                    "Dear Joe, wish you were here.", "#display only", "Hi Joe."])
    resources = {"QUEEN.JAS": bytes(20) + jas, "QUEEN2.JAS": "\r\n".join(QUEEN2_LINES).encode("latin-1"),
                 "SEC1.DOG": secretary, "AND1.DOG": anderson, "C6C.CUT": cut}
    resources.update((f"{name}.SB", mp3_tone()) for name in QUEEN_CLIPS)
    return resources


def write_fake_queen(path, resources, version=b"CEM10", compression=1):
    """Write ``resources`` as queen.1c at ``path``: the QTBL header and table, then the data. Returns path."""
    names = sorted(resources)
    header = struct.pack(">4s6s2xBH", b"QTBL", version, compression, len(names))
    offset, table = len(header) + 21 * len(names), b""
    for name in names:
        table += struct.pack(">12sBII", name.encode("ascii"), 1, offset, len(resources[name]))
        offset += len(resources[name])
    path.write_bytes(header + table + b"".join(resources[name] for name in names))
    return path


@pytest.fixture(scope="session")
def fake_queen(tmp_path_factory):
    """The path of a tiny fake queen.1c (fake_queen_resources)."""
    return write_fake_queen(tmp_path_factory.mktemp("queen") / "queen.1c", fake_queen_resources())


def drascula_table(languages):
    """One text table of drascula.dat: ``languages`` lists of lines, English first, all of one length."""
    table = struct.pack(">H", len(languages[0]))
    for lines in languages:
        records = b""
        for line in lines:
            text = line.encode("latin-1") + b"\0"
            text += bytes(-len(text) % 4)  # NUL padded to whole words
            records += struct.pack(">I", 4 + len(text)) + text
        table += struct.pack(">H", 2 + len(records)) + records + bytes(2)
    return table


# (file, English subtitle table of its character, line): what the fake Drascula folder speaks
DRASCULA_LINES = {"": ["", "THAT'S THE SECOND BIGGEST DOOR", "NOT REALLY...", "IT'S 1993"],
                  "D": ["", "HEY IGOR, HOW IS EVERYTHING GOING?"], "BJ": ["", "", "ARE YOU ALL RIGHT?"]}
DRASCULA_SPEECH = ("1.ALS", "2.ALS", "3.ALS", "D1.ALS", "BJ1.ALS", "BJ2.ALS", "9.ALS", "AN7_3.ALG")


def write_fake_drascula(folder):
    """A tiny fake of Debian's Drascula folder: drascula.dat (other data, then two languages of text tables:
    the characters' lines of DRASCULA_LINES, empty ones, and five tables of menus) and the speech files of
    DRASCULA_SPEECH, each a 0.6 s 300 Hz tone of unsigned 8-bit samples at 11,025 Hz. Returns the folder."""
    import drascula

    folder.mkdir(parents=True, exist_ok=True)
    tables = [DRASCULA_LINES.get(prefix, [""]) for prefix in drascula.CHARACTERS] + [["MENU"]] * 5
    text = struct.pack(">H", 2) + b"".join(
        drascula_table([lines, [line.lower() for line in lines]]) for lines in tables)
    (folder / "drascula.dat").write_bytes(b"DRASCULA" + bytes(range(7)) * 9 + text)
    tone = np.sin(2 * np.pi * 300 * np.arange(6615) / 11025) * 0.3
    for name in DRASCULA_SPEECH:
        (folder / name).write_bytes(np.round(128 + 127 * tone).astype(np.uint8).tobytes())
    return folder


@pytest.fixture(scope="session")
def fake_drascula(tmp_path_factory):
    """The folder of a tiny fake Drascula (write_fake_drascula)."""
    return write_fake_drascula(tmp_path_factory.mktemp("drascula") / "en")


# ------------------------------------------------------------ a fake Beneath a Steel Sky (steel_sky.py)

# {text section: [line]}: the fake game's English subtitles; STEEL_SKY_SPOKEN: (section, line) of each speech
# file. Section 0 has two blocks of lines; its line 2 is long enough that the next one starts on a 16-bit
# boundary (a skip byte with its high bit set).
STEEL_SKY_LINES = {
    0: ["I had to INSPECT it.", "Hey!",
        "This line runs on and on, far longer than the others, so its code takes more than thirty-two bytes.",
        "What's LINC for?", "`DANGEROUS BIKES MONTHLY' - a magazine!", "It's a 30 millimetre wrench...",
        *(f"Something else, {'and so ' * (i % 3)}on." for i in range(6, 38)), "No HARM done..."],
    1: ["Come on, Joey.", "\tnot a subtitle"],
}
STEEL_SKY_SPOKEN = ((0, 0), (0, 1), (0, 3), (0, 4), (0, 5), (0, 38), (1, 0), (1, 1))


def huffman_tree(weights):
    """A Huffman tree of steel_sky.py's form, nodes in preorder (a node's left child follows it), for
    {byte: weight}: ((left, right, byte)), and {byte: code as a str of 0s and 1s}."""
    import heapq
    import itertools

    order = itertools.count()
    heap = [(weight, next(order), byte) for byte, weight in sorted(weights.items())]
    heapq.heapify(heap)
    while len(heap) > 1:
        (w1, _, a), (w2, _, b) = heapq.heappop(heap), heapq.heappop(heap)
        heapq.heappush(heap, (w1 + w2, next(order), (a, b)))
    nodes, codes = [], {}

    def put(subtree, code):
        at = len(nodes)
        nodes.append(None)
        if isinstance(subtree, tuple):
            left = put(subtree[0], code + "0")
            nodes[at] = (left, put(subtree[1], code + "1"), 0)
        else:
            nodes[at], codes[subtree] = (0, 0, subtree), code
        return at

    put(heap[0][2], "")
    return tuple(nodes), codes


def steel_sky_section(lines, codes):
    """A text section's bytes: ``lines`` Huffman-coded with ``codes``, in steel_sky.py's layout."""
    import steel_sky

    bits, lengths = "", []  # each line's length in the format's 2-bit units
    for line in lines:
        code = "".join(codes[c] for c in line.encode("ascii")) + codes[0]
        units = -(-len(code) // 2)
        if units >= 128:  # a long line: its length counts 16-bit units in a skip byte with the high bit set
            units = -(-units // 8) * 8
        bits += code.ljust(2 * units, "0")
        lengths.append(units)
    blocks = -(-len(lines) // steel_sky.LINES_PER_BLOCK)
    skips = bytes(0x80 | units >> 3 if units >= 128 else units for units in lengths)
    skips += bytes(blocks * steel_sky.LINES_PER_BLOCK - len(lines))
    block_units = [sum(lengths[b * steel_sky.LINES_PER_BLOCK:(b + 1) * steel_sky.LINES_PER_BLOCK])
                   for b in range(blocks)]
    skips_at = 4 + 2 * blocks
    bits += "0" * (-len(bits) % 8 + 64)  # room for a wrong tree to read on
    return (struct.pack(f"<HH{blocks}H", skips_at, skips_at + len(skips), *block_units) + skips
            + int(bits, 2).to_bytes(len(bits) // 8, "big"))


def write_fake_steel_sky(folder):
    """A tiny fake of Debian's Beneath a Steel Sky folder (sky.dnr, sky.dsk: STEEL_SKY_LINES, and a 0.6 s
    300 Hz tone of unsigned 8-bit samples for each of STEEL_SKY_SPOKEN, the first packed with RNC ProPack),
    and beside it a fake ScummVM program carrying another tree and then the game's. Returns (folder,
    program)."""
    import propack

    import steel_sky

    text = "".join(line for lines in STEEL_SKY_LINES.values() for line in lines).encode("ascii")
    weights = {byte: 1 + text.count(byte) for byte in range(32, 127)} | {0: 40, 9: 1}
    tree, codes = huffman_tree(weights)
    other_tree, _ = huffman_tree({byte: 1 + (byte * 7919) % 97 for byte in weights})
    files = {steel_sky.TEXT_FIRST_FILE + section: steel_sky_section(lines, codes)
             for section, lines in STEEL_SKY_LINES.items()}
    tone = np.round(128 + 127 * 0.3 * np.sin(2 * np.pi * 300 * np.arange(6615) / 11025)).astype(np.uint8).tobytes()
    packed = {}
    for i, (section, line) in enumerate(STEEL_SKY_SPOKEN):
        header = struct.pack("<11H", *([0] * 6), steel_sky.HEADER_BYTES + len(tone), *([0] * 4))
        number = steel_sky.SPEECH_FIRST_FILE + steel_sky.SPEECH_SECTION_START[section] + line
        files[number] = header + (propack.pack(tone) if i == 0 else tone)
        packed[number] = i == 0
    disk, index = bytearray(b"SKY!"), b""
    for number, data in files.items():  # offsets in 16-byte units for odd files, in bytes for the others
        disk += bytes(-len(disk) % 16)
        offset = len(disk) >> 4 | 1 << 23 if number % 2 else len(disk)
        flags = len(data) | (0 if packed.get(number) else 1 << 23)
        index += struct.pack("<H", number) + offset.to_bytes(3, "little") + flags.to_bytes(3, "little")
        disk += data
    folder.mkdir(parents=True, exist_ok=True)
    (folder / steel_sky.INDEX_FILE).write_bytes(struct.pack("<I", len(files)) + index)
    (folder / steel_sky.DISK_FILE).write_bytes(bytes(disk))
    program = folder.parent / "scummvm"
    program.write_bytes(b"\x7fELF" + bytes(range(256)) * 3 + bytes(b for node in other_tree for b in node)
                        + b"\x01\x02" + bytes(b for node in tree for b in node) + bytes(99))
    return folder, program


@pytest.fixture(scope="session")
def fake_steel_sky(tmp_path_factory):
    """(folder, ScummVM program) of a tiny fake Beneath a Steel Sky (write_fake_steel_sky)."""
    return write_fake_steel_sky(tmp_path_factory.mktemp("steel-sky") / "beneath-a-steel-sky")
