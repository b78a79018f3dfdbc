"""Read Flight of the Amazon Queen's speech archive and script into clips with speaker, actor and text.

Flight of the Amazon Queen (1995, John Passfield and Steven Stamatiadis; freeware, Debian main package
flight-of-the-amazon-queen) is an adventure game whose CD release has every line of its script spoken by
professional voice actors: about 6,700 clips, 4.6 hours. The script itself says which clip speaks which text,
so every clip's transcript is the game's own, nothing is aligned or guessed:

    clips = read_clips()                     # [Clip], the clips the script gives a text, by name
    samples, rate = decode(clip_audio(open_archive(), clip.name))

The format (worked out with ScummVM's engines/queen as the reference; this is our own code):

queen.1c, the CD data "rebuilt" by scummvm-tools' compress_queen: "QTBL", a version (CEM10: CD, English),
a compression byte (1: MP3), an entry count, then a table of (name, bundle, offset, size) entries. Speech
clips, NAME.SB, are bare MP3 streams (MPEG 2.5 layer III, 11,025 Hz mono, 16 kbit/s). The script is in
QUEEN2.JAS (lines: object descriptions, names, ..., Joe's 40 stock responses), QUEEN.JAS (the object table),
*.DOG (dialogue trees: Joe's lines and the other person's) and *.CUT (cut-scenes: one sentence per object).

A sentence is split at its stage directions ("*FL" face left, "*WT" wait, "*03" an animation, "*XY00(x,y)"
walk) into segments, each its own clip: clip name = a prefix saying where the sentence is + the segment's
number in hex. Dialogue: talk key and line id ("02001EJ1": file key 2, line 0x1E, Joe, segment 1); Joe's
remarks: "JOE" and the response number ("JOE00461"); cut-scenes: the file name padded with "_" and the
object's index ("C100A042").
"""

import dataclasses
import io
import re
import struct
from pathlib import Path

import soundfile as sf

DEFAULT_ARCHIVE = Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")  # Debian's install path
PACKAGE = "flight-of-the-amazon-queen"  # the Debian package that installs DEFAULT_ARCHIVE

# queen.1c's header: magic, version string (NUL padded), 2 bytes, compression byte, u16be entry count
TABLE_MAGIC = b"QTBL"
HEADER = struct.Struct(">4s6s2xBH")
ENTRY = struct.Struct(">12sBII")  # name (NUL padded), bundle, offset (absolute in queen.1c), size: bytes
CD_ENGLISH = "CE"  # version prefix of the English CD release, the one whose script names the clips
# compression byte -> the clips' codec, each one soundfile reads; 0 (none) keeps the original SB headers, which
# soundfile cannot read
COMPRESSIONS = {1: "MP3", 2: "Ogg Vorbis", 3: "FLAC"}
SPEECH_SUFFIX = ".SB"

# the script's resources
AMBK_HEADER = 20  # bytes before the data of QUEEN.JAS, *.DOG and *.CUT (an Amiga "AmBk" bank header)
GAME_TABLES, SCRIPT_LINES = "QUEEN.JAS", "QUEEN2.JAS"
OBJECT_RECORD = struct.Struct(">hHHHhHHh")  # name, x, y, description, entry object, room, state, image
VERBS = 12  # lines of QUEEN2.JAS between the room names and Joe's responses
JOE_RESPONSES = 40  # Joe's stock responses, JOE0001..JOE0040; object description k is JOE(40 + k)
PERSON_IMAGES = (-3, -4)  # an object image that says the object is a person (so it talks, not animates)

# dialogue (.DOG) layout, offsets in bytes after the AmBk header
DIALOGUE_NODE = 6 * 16  # bytes of one level of the dialogue tree
DIALOGUE_LINES = 32  # where Joe's lines start, after the tree
# cut-scene (.CUT) layout
CUTAWAY_OBJECTS = 12  # where the object records start
CUTAWAY_RECORD = struct.Struct(">17h")  # object, move x/y, bank, anim list, execute, limits, ..., from object
ANIM_FRAME_BYTES = 18  # 9 int16: frame, speed, bank, mx, my, cx, cy, scale, song
ANIM_END = -2  # ends an object's animation frames
ANIM_HEADER_MAX = 1000  # an animation header above this means the walk went wrong
JOE_OBJECT, ROOM_FADE = 0, -1  # cut-scene object numbers: Joe; a room fade (also Joe's)
SPEAK, DISPLAY_SPEAK, DISPLAY = -2, -3, -4  # cut-scene "objects" that are captions: spoken whole, not split
CUTAWAY_NAME = 5  # characters of a cut-scene's file name in its clip names, padded with "_"

# stage directions: "*" and two letters; "*XY" also a position "00(237,112)", 11 characters
DIRECTION, WALK_TO, WALK_TO_ARGUMENT = "*", "XY", 11
GRABS = ("GD", "GM")  # grab directions: they use up a segment number, but nothing is said

# speakers: who says a .DOG file's lines (its name without digits), when the name is not the character's
DOG_CHARACTERS = {
    "AND": "ANDERSON", "BOB": "TRADER BOB", "PRIN": "PRINCESS AZURA", "SEC": "SECRETARY",
    "SHOWERAM": "SHOWERING AMAZON", "TALLPYG": "TALL PYGMY", "WEDGE": "WEDGEWOOD", "WITCH": "WITCH DOCTOR",
    "DOG": "GUARD DOG", "DEATH": "CHARON (DEATH)", "MAN": "PRISONER", "CHIEF": "PYGMY CHIEF",
    "JIM": "JIMMY", "TAM": "MARY-LOU", "LARIS": "BELLBOY", "ZOMBIE": "ZOMBIE WOMAN",  # from their own lines
}
# a cut-scene speaker's name comes from its object, and the game copies and re-uses objects as it runs: only
# Joe (object 0) is sure; these objects are props, so who speaks is not known at all
PROPS = frozenset({"NOTE", "PATH", "SMOKE", "TORCH", "ROCK", "DOOR", "TELEPHONE", "LILY PAD", "BUTTONS",
                   "AZURA OBJ"})
OBJECT_CHARACTERS = {"JOE KING": "JOE", "HUGH": "BIG HUGH", "MARY-LOU": "MARY-LOU", "GUARDIAN": "TEMPLE GUARDIAN",
                     "FERRYMAN": "CHARON (DEATH)", "WITCH DOCTOR": "WITCH DOCTOR", "CHIEF": "PYGMY CHIEF"}
JOE = "JOE"
CAPTION_SPEAKER = "NARRATION/TEXT"  # a caption read aloud, mostly in Joe's voice, but not known to be
# character -> voice actor, from the game's own end credits (CREDIT2.CRD in queen.1c); "?" where a guess,
# two names where the credits give a role to both
ACTORS = {
    JOE: "Brad Lavelle",
    "SPARKY": "Tom Hill", "JIMMY": "Tom Hill", "GORILLA": "Tom Hill", "APE": "Tom Hill?",
    "SKIP": "Tom Hill", "WEDGEWOOD": "Tom Hill", "GUARD DOG": "Tom Hill", "EDDY": "Tom Hill",
    "RICO": "Tom Hill/Enn Reitel",
    "FRANK": "Bill Hootkins", "BELLBOY": "Bill Hootkins", "BUD": "Bill Hootkins", "JOHN": "Bill Hootkins",
    "CHEF": "Bill Hootkins",
    "ANDERSON": "Enn Reitel", "KLUNK": "Enn Reitel/Mike Hurley", "HENRY": "Enn Reitel", "CHARON (DEATH)": "Enn Reitel",
    "TEMPLE GUARDIAN": "Penelope Keith", "TRADER BOB": "Jon Coleman",
    "PRINCESS AZURA": "Debbie Arnold", "LOLA": "Debbie Arnold/Regina Reagan", "SHOWERING AMAZON": "Debbie Arnold",
    "IAN": "Barry James", "PYGMY CHIEF": "Barry James",
    "FAYE": "Lisa Valdez", "RITA": "Lisa Valdez",
    "NAOMI": "Jessica Martin", "SECRETARY": "Jessica Martin", "ZOMBIE WOMAN": "Jessica Martin",
    "MARY-LOU": "Regina Reagan", "WITCH DOCTOR": "Regina Reagan",
    "BIG HUGH": "Mike Hurley",
}
# each credited voice actor's sex (their roles in the credits: Debbie Arnold plays Princess Azura, ...)
ACTOR_SEXES = {"Brad Lavelle": "M", "Tom Hill": "M", "Bill Hootkins": "M", "Enn Reitel": "M", "Jon Coleman": "M",
               "Barry James": "M", "Mike Hurley": "M", "Penelope Keith": "F", "Debbie Arnold": "F",
               "Lisa Valdez": "F", "Jessica Martin": "F", "Regina Reagan": "F"}

# flags: why a clip's text may not say what is heard, or its speaker may be wrong
FROM_OBJECT = "speaker_from_object_name"
UNKNOWN_SPEAKER = "speaker_unknown"
UI_STRING = "ui_string"
BRACKETED = "bracketed_nonspeech"
DIGITS = "digits"
SYMBOLS = "symbols"
ONE_WORD = "one_word"
CAPS_TOKEN = "caps_token"
DUPLICATE_ID = "duplicate_id"
UI_RESPONSES = frozenset([22, 23, *range(30, 41)])  # Joe's "responses" that are menu strings ("Restart (Y/N)?")
GLYPHS = ("^_", "@@")  # font codes: the trademark sign, a heart
_BRACKETED_RE = re.compile(r"[<(][^>)]*[>)]")  # "(sigh)", "<sneeze>": noises, not words
_SYMBOL_RE = re.compile(r"[@^_&#$]")  # glyph codes and a censored swear, "&#($!!"
_CAPS_TOKEN_RE = re.compile(r"[A-Z]{1,8}")  # a whole text of capitals: a spelled letter or a cipher word
_JOE_REMARK_RE = re.compile(r"JOE(\d{4})\d")

# clip kinds, by clip name
DIALOGUE, CUTAWAY, JOE_REMARK, SOUND_EFFECT, OTHER = "dialogue", "cutaway", "joe_look", "sfx", "other"
_SOUND_EFFECT_RE = re.compile(r"\d{1,4}[A-C]?S+")
_DIALOGUE_RE = re.compile(r"\d\d([0-9A-F]{4}|SSSS|XXXX)[JP][0-9A-F]")
# note: "GM___011" (a cut-scene's one line, "Ungh!") fits neither, so it is OTHER
_CUTAWAY_RE = re.compile(r"C[0-9A-Z_]{4}\d\d[0-9A-F]|[A-Z]{5}\d\d[0-9A-F]")


class ArchiveError(ValueError):
    """queen.1c is missing, not the compressed English CD release, or damaged."""


@dataclasses.dataclass(frozen=True)
class Archive:
    """queen.1c: its path, version ("CEM10") and table {resource name: (offset, size) in bytes}."""
    path: Path
    version: str
    entries: dict

    def read(self, name, skip=0):
        """The bytes of resource ``name`` (upper case, e.g. "AND1.DOG"), without its first ``skip`` bytes."""
        offset, size = self.entries[name]
        with open(self.path, "rb") as f:
            f.seek(offset + skip)
            return f.read(size - skip)


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One line of the script: where it is (``prefix`` of its clip names), its text with stage directions,
    who says it (the script's name for them), its file, and whether it is split at its directions."""
    prefix: str
    text: str
    speaker: str
    source: str
    segmented: bool = True


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a sentence between stage directions: its number (from 1), its text, whether it is said."""
    number: int
    text: str
    spoken: bool


@dataclasses.dataclass(frozen=True)
class Clip:
    """A speech clip of queen.1c and what the script says about it. ``name``: the resource without ".SB";
    ``kind``: DIALOGUE, CUTAWAY, JOE_REMARK or OTHER; ``speaker``: the character; ``actor``: the voice actor
    ("" if the credits do not say); ``script``: the line as written, spaces collapsed; ``text``: the line
    without glyph codes and bracketed noises; ``flags``: reasons to doubt the text or speaker."""
    name: str
    kind: str
    speaker: str
    actor: str
    source: str
    script: str
    text: str
    flags: tuple


@dataclasses.dataclass(frozen=True)
class GameTables:
    """What QUEEN.JAS and QUEEN2.JAS say that names clips and speakers: per object (from 1) its name index and
    image, and the line lists."""
    object_names: tuple  # name index into ``names``, from 1 (0: none); negative for hidden objects
    object_images: tuple
    names: tuple
    descriptions: tuple
    joe_responses: tuple

    def object_name(self, number):
        """Object ``number``'s name, or None when it has none."""
        if not 0 < number <= len(self.object_names):
            return None
        index = abs(self.object_names[number - 1])
        return self.names[index - 1] if 0 < index <= len(self.names) else None

    def object_image(self, number):
        """Object ``number``'s image (0 if there is no such object)."""
        return self.object_images[number - 1] if 0 < number <= len(self.object_images) else 0


# --------------------------------------------------------------------------------------------- archive

def open_archive(path=DEFAULT_ARCHIVE):
    """The Archive at ``path``; ArchiveError when it is missing or not the compressed English CD release."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"{path}: not found; install it with 'apt-get install {PACKAGE}'")
    with open(path, "rb") as f:
        header = f.read(HEADER.size)
        if len(header) < HEADER.size or not header.startswith(TABLE_MAGIC):
            raise ArchiveError(f"{path}: not the compressed CD release: no {TABLE_MAGIC.decode()} header; use "
                               f"the queen.1c of the Debian package {PACKAGE}")
        _, version, compression, count = HEADER.unpack(header)
        version = version.rstrip(b"\0").decode("ascii", "replace")
        if not version.startswith(CD_ENGLISH):
            raise ArchiveError(f"{path}: version {version} is not the English CD release ({CD_ENGLISH}...), whose "
                               f"script names the speech clips; use the queen.1c of the Debian package {PACKAGE}")
        if compression not in COMPRESSIONS:
            raise ArchiveError(f"{path}: compression {compression} is not one soundfile reads ({COMPRESSIONS}); "
                               "rebuild it with scummvm-tools' compress_queen --mp3")
        table = f.read(count * ENTRY.size)
    if len(table) < count * ENTRY.size:
        raise ArchiveError(f"{path}: truncated: its table lists {count} entries; reinstall {PACKAGE}")
    entries = {}
    for name, _bundle, offset, size in ENTRY.iter_unpack(table):
        entries[name.rstrip(b"\0").decode("ascii")] = (offset, size)
    return Archive(path, version, entries)


def clip_audio(archive, name):
    """The compressed bytes of clip ``name`` (without ".SB")."""
    return archive.read(name + SPEECH_SUFFIX)


def decode(data):
    """A clip's samples, float32 mono, and their rate in Hz (11,025 in the Debian package)."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


# ---------------------------------------------------------------------------------------------- script

def int16(data, offset):
    """The signed big-endian 16-bit number at ``offset``."""
    return struct.unpack_from(">h", data, offset)[0]


def uint16(data, offset):
    """The unsigned big-endian 16-bit number at ``offset``."""
    return struct.unpack_from(">H", data, offset)[0]


def pascal_string(data, offset, align=2):
    """(text, offset after it) of the length-prefixed string at ``offset``; the next offset is rounded up to
    a multiple of ``align``, but not after an empty string (as the engine's Talk::getString)."""
    length = data[offset]
    offset += 1
    if length == 0:
        return "", offset
    text = data[offset:offset + length].decode("latin-1")
    return text, (offset + length + align - 1) & ~(align - 1)


def split_segments(sentence):
    """[Segment] of a sentence split at its stage directions, as the engine's Talk::speak does: the piece
    before each direction is a segment (possibly empty), and so is a non-empty rest after the last one."""
    segments = []
    start = i = 0
    while i < len(sentence):
        if sentence[i] != DIRECTION:
            i += 1
            continue
        code = sentence[i + 1:i + 3]
        segments.append(Segment(len(segments) + 1, sentence[start:i], code not in GRABS))
        i += 3 + (WALK_TO_ARGUMENT if code == WALK_TO else 0)
        start = i
    if start < len(sentence):
        segments.append(Segment(len(segments) + 1, sentence[start:], True))
    return segments


def clip_name(prefix, segment):
    """The clip name (without ".SB") of segment number ``segment`` of the sentence with ``prefix``: the
    engine writes numbers space-padded and names the file with zeros."""
    return f"{prefix}{segment:x}".replace(" ", "0").upper()


def read_tables(archive):
    """The GameTables of ``archive``."""
    jas = archive.read(GAME_TABLES, AMBK_HEADER)
    rooms, names, objects, descriptions = struct.unpack_from(">4H", jas, 0)
    records = [OBJECT_RECORD.unpack_from(jas, 8 + i * OBJECT_RECORD.size) for i in range(objects)]
    lines = archive.read(SCRIPT_LINES).decode("latin-1").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    responses = descriptions + names + rooms + VERBS
    return GameTables(tuple(r[0] for r in records), tuple(r[7] for r in records),
                      tuple(lines[descriptions:descriptions + names]), tuple(lines[:descriptions]),
                      tuple(lines[responses:responses + JOE_RESPONSES]))


def joe_sentences(tables):
    """[Sentence] of Joe's stock responses and his look remarks (the object descriptions)."""
    responses = [Sentence(f"JOE{i:04d}", text, JOE, f"{SCRIPT_LINES}:response")
                 for i, text in enumerate(tables.joe_responses, 1)]
    return responses + [Sentence(f"JOE{i + JOE_RESPONSES:04d}", text, JOE, f"{SCRIPT_LINES}:description")
                        for i, text in enumerate(tables.descriptions, 1)]


def dialogue_lines(data, offset, count):
    """[(line id, text)] of ``count`` lines from ``offset`` of a .DOG file: 2 bytes, an id, a string."""
    lines = []
    for _ in range(count):
        line_id = int16(data, offset + 2)
        text, offset = pascal_string(data, offset + 4, align=4)
        lines.append((line_id, text))
    return lines


def dialogue_sentences(archive, name):
    """[Sentence] of dialogue file ``name`` ("AND1.DOG"): Joe's lines, the other person's, and the two
    greetings of a repeat visit. Its key and a line's id name the clips ("%2d%4x" then J or P)."""
    data = archive.read(name, AMBK_HEADER)
    levels, talk_key = abs(int16(data, 0)), int16(data, 4)
    joe_count, person_count = int16(data, 6), int16(data, 8)
    person_lines, greetings = uint16(data, 22), uint16(data, 26)
    person = re.sub(r"\d+$", "", name[:-len(".DOG")])  # BOB1.DOG: BOB
    sentences = []
    for k, (line_id, text) in enumerate(dialogue_lines(data, DIALOGUE_LINES + levels * DIALOGUE_NODE, joe_count)):
        if k == 0 and line_id == 0:  # Joe's opening line
            sentences.append(Sentence(f"{talk_key:2d}SSSSJ", text, JOE, name))
        elif line_id > 0:
            sentences.append(Sentence(f"{talk_key:2d}{line_id:4x}J", text, JOE, name))
    sentences += [Sentence(f"{talk_key:2d}{line_id:4x}P", text, person, name)
                  for line_id, text in dialogue_lines(data, person_lines, person_count) if line_id > 0]
    person_greeting, offset = pascal_string(data, greetings)
    joe_greeting, _ = pascal_string(data, offset)
    return sentences + [Sentence(f"{talk_key:2d}XXXXP", person_greeting, person, name),
                        Sentence(f"{talk_key:2d}XXXXJ", joe_greeting, JOE, name)]


def cutaway_object_kind(number, anim_list, execute, from_object, tables):
    """What a cut-scene object does, as the engine's Cutaway::getObjectType decides: "person", "anim",
    "noanim", "speak", "display+speak" or "display"."""
    kind = "anim"
    if number > 0:
        if not anim_list and tables.object_image(number) in PERSON_IMAGES:
            kind = "person"
    elif number == JOE_OBJECT and not anim_list:
        kind = "person"
    if from_object > 0:
        kind = "noanim"
    kind = {SPEAK: "speak", DISPLAY_SPEAK: "display+speak", DISPLAY: "display"}.get(number, kind)
    return "noanim" if kind == "anim" and not execute else kind


def cutaway_objects(data, count, tables):
    """[(object number, kind)] of a cut-scene's ``count`` object records, or None when they cannot be walked
    (an animation list that does not end where it should). Joe's room fade counts as Joe."""
    objects = []
    offset = CUTAWAY_OBJECTS
    try:
        for _ in range(count):
            record = CUTAWAY_RECORD.unpack_from(data, offset)
            offset += CUTAWAY_RECORD.size
            offset += 2 + 2 * max(int16(data, offset), 0)  # the people in the scene
            number = JOE_OBJECT if record[0] == ROOM_FADE else record[0]
            kind = cutaway_object_kind(number, record[4], record[5], record[12], tables)
            while kind == "anim":
                header = int16(data, offset)
                offset += 2
                if header == ANIM_END:
                    break
                if header > ANIM_HEADER_MAX:
                    return None
                offset += ANIM_FRAME_BYTES
            objects.append((number, kind))
    except (struct.error, IndexError):
        return None
    return objects


def cutaway_speaker(number, tables):
    """The script's name for who says a cut-scene object's sentence: JOE, the object's name, "TEXT(-2)" for
    a caption, "?" when not known."""
    if number == JOE_OBJECT:
        return JOE
    if number is not None and number > 0:
        return (tables.object_name(number) or f"OBJ{number}").upper()
    if number in (SPEAK, DISPLAY_SPEAK):
        return f"TEXT({number})"
    return "?"


def cutaway_sentences(archive, tables, name):
    """[Sentence] of cut-scene file ``name`` ("C100A.CUT"): object i's sentence is named by the file name
    padded with "_" and "%02d" of i. Captions are spoken whole; empty and "*" or "#" sentences are not spoken."""
    data = archive.read(name, AMBK_HEADER)
    count = abs(int16(data, 2))
    _, offset = pascal_string(data, uint16(data, 8))  # the "entry string" (e.g. "*FL") comes before them
    texts = []
    for _ in range(count):
        text, offset = pascal_string(data, offset)
        texts.append(text)
    objects = cutaway_objects(data, count, tables) or [(None, "?")] * count
    stem = name[:-len(".CUT")][:CUTAWAY_NAME].ljust(CUTAWAY_NAME, "_")
    return [Sentence(f"{stem}{index:02d}"[:CUTAWAY_NAME + 2], text, cutaway_speaker(number, tables), name,
                     segmented=kind not in ("speak", "display+speak"))
            for index, (text, (number, kind)) in enumerate(zip(texts, objects), 1)
            if text and text != "*" and not text.startswith("#")]


def script_sentences(archive):
    """[Sentence] of the whole script: Joe's responses and remarks, then the .DOG and .CUT files by name."""
    tables = read_tables(archive)
    sentences = joe_sentences(tables)
    for name in sorted(archive.entries):
        if name.endswith(".DOG"):
            sentences += dialogue_sentences(archive, name)
        elif name.endswith(".CUT"):
            sentences += cutaway_sentences(archive, tables, name)
    return sentences


def clip_lines(sentences):
    """{clip name: [(text, sentence)]} of every spoken, non-blank segment, texts with spaces collapsed, in
    script order; a name can have several (a line id used twice)."""
    lines = {}
    for sentence in sentences:
        segments = split_segments(sentence.text) if sentence.segmented else [Segment(1, sentence.text, True)]
        for segment in segments:
            if segment.spoken and segment.text.strip():
                lines.setdefault(clip_name(sentence.prefix, segment.number), []).append(
                    (" ".join(segment.text.split()), sentence))
    return lines


# -------------------------------------------------------------------------------------- clips and flags

def character(speaker, source):
    """(character, flag) of the script's name for a speaker in file ``source``: the flag says when the
    character is only a guess (FROM_OBJECT) or not known (UNKNOWN_SPEAKER)."""
    if source.endswith(".DOG") and speaker != JOE:
        return DOG_CHARACTERS.get(speaker, speaker), ""
    if source.endswith(".CUT") and speaker != JOE:
        if speaker.startswith("TEXT("):
            return CAPTION_SPEAKER, UNKNOWN_SPEAKER
        if speaker in PROPS or speaker.startswith("OBJ") or speaker == "?":
            return f"?({speaker})", UNKNOWN_SPEAKER
        return OBJECT_CHARACTERS.get(speaker, speaker), FROM_OBJECT
    return speaker, ""


def text_flags(name, script):
    """[flag] of what in a clip's script line may not be said as written."""
    remark = _JOE_REMARK_RE.fullmatch(name)
    checks = ((UI_STRING, remark and int(remark.group(1)) in UI_RESPONSES),
              (BRACKETED, _BRACKETED_RE.search(script)),
              (DIGITS, re.search(r"\d", script)),
              (SYMBOLS, _SYMBOL_RE.search(script)),
              (ONE_WORD, len(script.split()) == 1),
              (CAPS_TOKEN, _CAPS_TOKEN_RE.fullmatch(script.strip())))
    return [flag for flag, found in checks if found]


def spoken_text(script):
    """A script line without its glyph codes and bracketed noises, spaces collapsed."""
    for glyph in GLYPHS:
        script = script.replace(glyph, "")
    return " ".join(_BRACKETED_RE.sub(" ", script).split())


def clip_kind(name):
    """DIALOGUE, CUTAWAY, JOE_REMARK, SOUND_EFFECT or OTHER, from a clip's name."""
    if _SOUND_EFFECT_RE.fullmatch(name):
        return SOUND_EFFECT
    if name.startswith(JOE):
        return JOE_REMARK
    if _DIALOGUE_RE.fullmatch(name):
        return DIALOGUE
    return CUTAWAY if _CUTAWAY_RE.fullmatch(name) else OTHER


def make_clip(name, lines):
    """The Clip ``name`` from its [(text, Sentence)]: the first line, as the engine's findDialogueString
    finds it, flagged DUPLICATE_ID when another line with another text has the same name."""
    script, sentence = lines[0]
    speaker, speaker_flag = character(sentence.speaker, sentence.source)
    flags = ([speaker_flag] if speaker_flag else []) + text_flags(name, script)
    if len({text for text, _ in lines}) > 1:
        flags.append(DUPLICATE_ID)
    return Clip(name, clip_kind(name), speaker, ACTORS.get(speaker, ""), sentence.source, script,
                spoken_text(script), tuple(flags))


def read_clips(path=DEFAULT_ARCHIVE):
    """[Clip] of every speech clip in the archive at ``path`` that the script gives a line, by name (of the
    Debian package's 6,745 clips, all but its sound effects and 22 studio leftovers)."""
    archive = open_archive(path)
    lines = clip_lines(script_sentences(archive))
    names = sorted(name[:-len(SPEECH_SUFFIX)] for name in archive.entries if name.endswith(SPEECH_SUFFIX))
    return [make_clip(name, lines[name]) for name in names if name in lines]
