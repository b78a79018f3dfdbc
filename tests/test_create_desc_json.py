"""create_desc_json.py's functions on hand-built files: the RIFF header check, what each refused clip or
transcript line is called and how to fix it, and the command's help. Fast: a few tiny files, no corpus."""
import struct

import numpy as np
import pytest
import soundfile as sf

import create_desc_json as cdj
from create_desc_json import Skip, Utterance


def riff(*chunks, kind=b"RIFF", form=b"WAVE", size=None):
    """A RIFF file from (id, declared size, payload) chunks; a payload of odd length gets its pad byte."""
    body = b"".join(chunk_id + struct.pack("<I", declared) + payload + b"\0" * (len(payload) & 1)
                    for chunk_id, declared, payload in chunks)
    return kind + struct.pack("<I", size if size is not None else 4 + len(body)) + form + body


FMT = (b"fmt ", 16, struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16))


@pytest.mark.parametrize("content, truncated", [
    (riff(FMT, (b"data", 8, b"\1" * 8)), False),
    (riff(FMT, (b"data", 0, b"")), False),  # an empty data chunk that ends the file exactly
    (riff(FMT, (b"data", 800, b"\1" * 8)), True),  # promises 800 bytes, holds 8
    (riff(FMT, (b"data", 0x80000000, b"\1" * 8)), True),  # a size past 2 GiB is unsigned, not negative
    (riff(FMT, (b"data", 0xFFFFFFFF, b"\1" * 8)), False),  # size left open by a streaming writer
    (riff(FMT, (b"LIST", 3, b"abc"), (b"data", 8, b"\1" * 8)), False),  # odd chunk, then its pad byte
    (riff(FMT, (b"LIST", 3, b"abc"), (b"data", 80, b"\1" * 8)), True),
    (riff(FMT), True),  # no data chunk at all
    (riff(FMT, (b"data", 800, b"\1" * 8), kind=b"RF64"), False),  # not plain RIFF: libsndfile decides
    (riff(FMT, (b"data", 800, b"\1" * 8), form=b"AVI "), False),
    (b"RIFF", False),
])
def test_wav_is_truncated_reads_the_riff_header(tmp_path, content, truncated):
    path = tmp_path / "clip.wav"
    path.write_bytes(content)
    assert cdj.wav_is_truncated(str(path)) is truncated


def write_wav(path, frames, channels=1):
    sf.write(path, np.full((frames, channels), 0.25), 16000, subtype="PCM_16")
    return str(path)


def test_read_complete_gives_float32_frames_by_channels(tmp_path):
    data, rate = cdj.read_complete(write_wav(tmp_path / "mono.wav", 160))
    assert rate == 16000 and data.shape == (160, 1) and data.dtype == np.float32
    assert cdj.describe_clip(write_wav(tmp_path / "stereo.wav", 800, channels=2)) == pytest.approx(0.05)


def skip_of(path):
    with pytest.raises(Skip) as problem:
        cdj.read_complete(path)
    return problem.value.reason, str(problem.value)


def test_read_complete_names_each_problem_and_its_bucket(tmp_path):
    assert skip_of(str(tmp_path / "gone.wav")) == ("missing clip", f"{tmp_path / 'gone.wav'} does not exist")
    assert skip_of(write_wav(tmp_path / "empty.wav", 0)) == ("unreadable clip", f"{tmp_path / 'empty.wav'} holds "
                                                                                "no audio")
    wav = tmp_path / "cut.wav"
    wav.write_bytes(riff(FMT, (b"data", 3200, b"\0" * 320)))  # libsndfile reads the 160 frames there
    assert skip_of(str(wav)) == ("unreadable clip", f"{wav} does not decode completely, it is truncated (its "
                                                    "data chunk is longer than the file)")
    flac = tmp_path / "cut.flac"
    sf.write(flac, np.random.default_rng(0).normal(0, 0.1, 16000), 16000)
    flac.write_bytes(flac.read_bytes()[:flac.stat().st_size // 2])
    reason, message = skip_of(str(flac))
    assert reason == "unreadable clip" and message.startswith(f"{flac} does not decode completely")


def test_read_transcripts_keeps_id_only_lines_and_undecodable_bytes(tmp_path):
    chapter = tmp_path / "19" / "198"
    chapter.mkdir(parents=True)
    source = chapter / "19-198.trans.txt"
    source.write_bytes(b"19-198-0000 HELLO\n19-198-0001\n\n19-198-0002 CAF\xc9 NOIR\n")
    utterances = cdj.read_transcripts(str(tmp_path))
    assert utterances == [Utterance("19-198-0000", "HELLO\n", str(chapter), str(source)),
                          Utterance("19-198-0001", "", str(chapter), str(source)),
                          Utterance("19-198-0002", "CAF\ufffd NOIR\n", str(chapter), str(source))]


def describe_skip(utt):
    with pytest.raises(Skip) as problem:
        cdj.describe_utterance(utt)
    return problem.value.reason, str(problem.value)


def test_describe_utterance_says_what_to_fix(tmp_path):
    source = str(tmp_path / "19-198.trans.txt")
    reason, message = describe_skip(Utterance("19-198-0001", "", str(tmp_path), source))
    assert reason == "bad transcript" and message == (f"the transcript is empty; fix: edit its line in {source} "
                                                      "(spell out digits, replace accented letters) or delete the line")
    reason, message = describe_skip(Utterance("19-198-0002", "HI", str(tmp_path), source))
    stem = tmp_path / "19-198-0002"
    assert reason == "missing clip" and message.startswith(f"neither {stem}.wav nor {stem}.flac exists")
    (tmp_path / "19-198-0003.wav").write_bytes(riff(FMT, (b"data", 3200, b"\0" * 320)))
    reason, message = describe_skip(Utterance("19-198-0003", "HI", str(tmp_path), source))
    assert reason == "unreadable clip" and message.endswith("; fix: delete it and re-run flac_to_wav.sh")
    (tmp_path / "19-198-0004.flac").write_bytes(b"fLaC not really")
    reason, message = describe_skip(Utterance("19-198-0004", "HI", str(tmp_path), source))
    assert reason == "unreadable clip" and message.endswith("; fix: re-download or delete it")
    write_wav(tmp_path / "19-198-0005.wav", 1600)
    assert cdj.describe_utterance(Utterance("19-198-0005", " HI\tTHERE\n", str(tmp_path), source)) == {
        "key": str(tmp_path / "19-198-0005.wav"), "duration": 0.1, "text": "hi there"}


def test_a_repeated_id_is_skipped_once_and_counted(tmp_path, capsys):
    chapter = tmp_path / "data" / "19" / "198"
    chapter.mkdir(parents=True)
    write_wav(chapter / "19-198-0000.wav", 1600)
    source = chapter / "19-198.trans.txt"
    source.write_text("19-198-0000 HELLO\n19-198-0000 HELLO AGAIN\n19-198-0001\n", encoding="utf-8")
    out = tmp_path / "out.json"
    assert cdj.main([str(tmp_path / "data"), str(out)]) == cdj.EXIT_OK
    captured = capsys.readouterr()
    assert f"19-198-0000: skipped: listed twice; fix: delete the repeat in {source}" in captured.err
    assert "19-198-0001: skipped: the transcript is empty" in captured.err
    assert "skipped 2 (bad transcript: 1, duplicate id: 1)" in captured.out
    assert out.read_text(encoding="utf-8").count("\n") == 1


def test_folder_problems_say_what_to_do(tmp_path, capsys):
    assert cdj.main([str(tmp_path / "nope"), str(tmp_path / "out.json")]) == cdj.EXIT_NO_DATA
    assert cdj.main([str(tmp_path), str(tmp_path / "out.json")]) == cdj.EXIT_NO_DATA
    err = capsys.readouterr().err.splitlines()
    assert err == [f"create_desc_json: {tmp_path / 'nope'} is not a folder; download or build the corpus first",
                   f"create_desc_json: no *.trans.txt transcripts under {tmp_path}; is it a LibriSpeech folder?"]


def test_help_describes_the_command_and_its_arguments(capsys):
    with pytest.raises(SystemExit) as done:
        cdj.main(["--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "data_dir [data_dir ...] out_json" in out
    assert "Describe LibriSpeech-layout folders as one JSON-lines corpus description" in out
    assert "LibriSpeech folders, e.g. LibriSpeech/dev-clean" in out
    assert "where to write the JSON lines, e.g. valid_corpus.json" in out


def test_the_closing_line_says_what_was_written_or_why_nothing_was(tmp_path, capsys):
    good, bad = tmp_path / "good" / "1" / "2", tmp_path / "bad" / "3" / "4"
    for chapter in (good, bad):
        chapter.mkdir(parents=True)
    write_wav(good / "1-2-0000.wav", 1600)
    (good / "1-2.trans.txt").write_text("1-2-0000 HI\n", encoding="utf-8")
    (bad / "3-4.trans.txt").write_text("3-4-0000 NO CLIP\n", encoding="utf-8")
    out = tmp_path / "out.json"
    assert cdj.main([str(tmp_path / "good"), str(out)]) == cdj.EXIT_OK
    assert capsys.readouterr().out == f"create_desc_json: wrote 1 utterances (0.00 h) to {out}; skipped 0\n"
    folders = [str(tmp_path / "bad"), str(tmp_path / "bad" / "3")]
    assert cdj.main([*folders, str(tmp_path / "none.json")]) == cdj.EXIT_NOTHING_USABLE
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"create_desc_json: no usable utterance under {' '.join(folders)}; skipped 2 (duplicate id: 1, missing "
        f"clip: 1); {tmp_path / 'none.json'} not written")
