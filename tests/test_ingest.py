"""Corpus ingestion: flac_to_wav.sh and create_desc_json.py on a tiny LibriSpeech-layout tree."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import create_desc_json  # noqa: E402
from create_desc_json import describe_clip, main, normalise_transcript, read_transcripts  # noqa: E402

SCRIPT = ROOT / "flac_to_wav.sh"
TARGET_RATE = 16000  # Hz
DURATION_TOLERANCE = 1e-3  # s
SPLIT = "dev clean"  # a folder name with a space, to catch unquoted paths


def clip(seconds, rate, channels=1, seed=0):
    """Speech-like test audio: a tone plus a little noise, well inside full scale."""
    t = np.arange(int(round(seconds * rate))) / rate
    noise = np.random.default_rng(seed).normal(0, 0.05, (len(t), channels))
    return 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + noise


def write_clip(path, seconds, rate=TARGET_RATE, channels=1, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, clip(seconds, rate, channels), rate, **kwargs)
    return path


def truncate(path):
    """Cut a file's bytes in half, as an interrupted download would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_transcript(chapter_dir, lines):
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    path = chapter_dir / f"{speaker}-{chapter}.trans.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run_script(cwd, *args):
    env = dict(os.environ, VUI_PYTHON=sys.executable)
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def leftovers(tree):
    return sorted(str(p) for p in Path(tree).rglob("*.partial*"))


@pytest.fixture
def flac_tree(tmp_path):
    """LibriSpeech/<SPLIT>/ with a 16 kHz mono clip, a 22.05 kHz stereo clip and a 24-bit clip."""
    chapter = tmp_path / "LibriSpeech" / SPLIT / "19" / "198"
    write_clip(chapter / "19-198-0000.flac", 1.0)
    write_clip(chapter / "19-198-0001.flac", 0.5, rate=22050, channels=2)
    write_clip(chapter / "19-198-0002.flac", 0.75, subtype="PCM_24")
    return tmp_path / "LibriSpeech"


# --- flac_to_wav.sh ---

def test_converts_every_flac_to_16k_mono_pcm16(flac_tree):
    result = run_script(flac_tree)
    assert result.returncode == 0, result.stderr
    assert "converted 3, skipped 0" in result.stdout
    for flac, seconds in [("0000", 1.0), ("0001", 0.5), ("0002", 0.75)]:
        wav = flac_tree / SPLIT / "19" / "198" / f"19-198-{flac}.wav"
        info = sf.info(wav)
        assert (info.format, info.subtype) == ("WAV", "PCM_16")
        assert (info.samplerate, info.channels) == (TARGET_RATE, 1)
        assert abs(info.duration - seconds) < DURATION_TOLERANCE
    assert leftovers(flac_tree) == []


def test_16k_mono_pcm16_is_copied_bit_exactly(flac_tree):
    assert run_script(flac_tree).returncode == 0
    stem = flac_tree / SPLIT / "19" / "198" / "19-198-0000"
    original, _ = sf.read(f"{stem}.flac", dtype="int16")
    converted, _ = sf.read(f"{stem}.wav", dtype="int16")
    np.testing.assert_array_equal(original, converted)


def test_resampled_audio_keeps_its_level(flac_tree):
    assert run_script(flac_tree).returncode == 0
    wav, _ = sf.read(flac_tree / SPLIT / "19" / "198" / "19-198-0001.wav")
    # Both channels carry the same 0.3-amplitude tone (RMS 0.21), so the down-mix must keep it.
    assert 0.19 < np.sqrt(np.mean(wav ** 2)) < 0.24


def test_directory_argument(flac_tree):
    result = run_script(flac_tree.parent, "LibriSpeech")
    assert result.returncode == 0, result.stderr
    assert len(list(flac_tree.rglob("*.wav"))) == 3


def test_rerun_is_a_no_op(flac_tree):
    assert run_script(flac_tree).returncode == 0
    wavs = sorted(flac_tree.rglob("*.wav"))
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    result = run_script(flac_tree)
    assert result.returncode == 0
    assert "converted 0, skipped 3" in result.stdout
    assert [w.stat().st_mtime_ns for w in wavs] == mtimes


def test_wav_older_than_its_flac_is_redone(flac_tree):
    assert run_script(flac_tree).returncode == 0
    wav = flac_tree / SPLIT / "19" / "198" / "19-198-0000.wav"
    os.utime(wav, (1, 1))  # as if the flac had been replaced after converting
    result = run_script(flac_tree)
    assert "converted 1, skipped 2" in result.stdout
    assert wav.stat().st_mtime > 1


def test_truncated_flac_is_reported_and_gets_no_wav(flac_tree):
    bad = flac_tree / SPLIT / "19" / "198" / "19-198-0000.flac"
    write_clip(bad, 3.0)
    truncate(bad)
    result = run_script(flac_tree)
    assert result.returncode == 1
    assert str(bad.name) in result.stderr and "re-download or delete it" in result.stderr
    assert "converted 2, skipped 0 (wav up to date), failed 1" in result.stdout
    assert not bad.with_suffix(".wav").exists()
    assert len(list(flac_tree.rglob("*.wav"))) == 2
    assert leftovers(flac_tree) == []


def test_truncated_flac_loses_its_stale_wav(flac_tree):
    assert run_script(flac_tree).returncode == 0
    bad = flac_tree / SPLIT / "19" / "198" / "19-198-0001.flac"
    truncate(bad)  # rewrites the flac, so it is now newer than its wav
    result = run_script(flac_tree)
    assert result.returncode == 1
    assert not bad.with_suffix(".wav").exists()


def test_missing_directory_is_a_usage_error(tmp_path):
    result = run_script(tmp_path, "no-such-dir")
    assert result.returncode == 2
    assert "no-such-dir" in result.stderr


# --- create_desc_json.py ---

@pytest.mark.parametrize("raw, expected", [
    ("HELLO WORLD", "hello world"),
    ("IT\u2019S  A\tTEST ", "it's a test"),
    ("DON'T\u00a0STOP", "don't stop"),
])
def test_normalise_transcript(raw, expected):
    assert normalise_transcript(raw) == expected


@pytest.mark.parametrize("raw", ["CAF\u00c9 NOIR", "ROOM 101", "WELL-KNOWN", "  "])
def test_normalise_transcript_refuses_what_is_not_safe_to_fix(raw):
    with pytest.raises(ValueError):
        normalise_transcript(raw)


def test_describe_clip_refuses_truncated_wav_and_flac(tmp_path):
    for name in ["a.wav", "a.flac"]:
        path = write_clip(tmp_path / name, 3.0)
        assert abs(describe_clip(str(path)) - 3.0) < DURATION_TOLERANCE
        truncate(path)
        with pytest.raises(create_desc_json.Skip, match="a\\.(wav|flac)"):
            describe_clip(str(path))


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A converted split plus every kind of problem; the cwd is the would-be project root."""
    monkeypatch.chdir(tmp_path)
    chapter = tmp_path / "LibriSpeech" / SPLIT / "19" / "198"
    write_clip(chapter / "19-198-0000.wav", 1.0)
    write_clip(chapter / "19-198-0000.flac", 1.0)  # the wav beside it wins
    write_clip(chapter / "19-198-0001.flac", 0.5, rate=22050, channels=2)  # not converted yet
    write_clip(chapter / "19-198-0002.wav", 0.25)
    write_clip(chapter / "19-198-0003.wav", 0.25)
    write_clip(chapter / "19-198-0005.flac", 2.0)
    truncate(chapter / "19-198-0005.flac")
    write_transcript(chapter, [
        "19-198-0000 HELLO  WORLD",
        "19-198-0001 IT\u2019S\tFINE",
        "19-198-0002 A CAF\u00c9",
        "19-198-0003 ROOM 101",
        "19-198-0004 NO AUDIO FOR THIS ONE",
        "19-198-0005 TRUNCATED DOWNLOAD",
    ])
    other = tmp_path / "LibriSpeech" / SPLIT / "20" / "7"
    write_clip(other / "20-7-0000.wav", 0.3)
    write_transcript(other, ["20-7-0000 SECOND SPEAKER"])
    return tmp_path


def test_json_lines_keep_the_good_and_report_the_rest(corpus, capsys):
    out = corpus / "valid_corpus.json"
    assert main([f"LibriSpeech/{SPLIT}", str(out)]) == 0
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    prefix = f"LibriSpeech/{SPLIT}"
    assert [e["key"] for e in entries] == [
        f"{prefix}/19/198/19-198-0000.wav",
        f"{prefix}/19/198/19-198-0001.flac",
        f"{prefix}/20/7/20-7-0000.wav",
    ]
    assert [e["text"] for e in entries] == ["hello world", "it's fine", "second speaker"]
    for entry, seconds in zip(entries, [1.0, 0.5, 0.3]):
        assert abs(entry["duration"] - seconds) < DURATION_TOLERANCE
        assert os.path.exists(entry["key"])  # keys work from the project root

    captured = capsys.readouterr()
    for utt_id, words in [("19-198-0002", "outside the alphabet"),
                          ("19-198-0003", "outside the alphabet"),
                          ("19-198-0004", "19-198-0004.flac exists"),
                          ("19-198-0005", "19-198-0005.flac does not decode completely")]:
        line = next(line for line in captured.err.splitlines() if f" {utt_id}: " in line)
        assert words in line and "fix:" in line
    assert "re-download or delete it" in captured.err
    assert "wrote 3 utterances" in captured.out
    assert "skipped 4 (bad transcript: 2, missing clip: 1, unreadable clip: 1)" in captured.out
    assert leftovers(corpus) == []


def test_output_is_replaced_atomically(corpus):
    out = corpus / "valid_corpus.json"
    out.write_text("old\n")
    assert main([f"LibriSpeech/{SPLIT}", str(out)]) == 0
    assert "old" not in out.read_text()
    assert sorted(p.name for p in corpus.iterdir()) == ["LibriSpeech", "valid_corpus.json"]


def test_subprocess_and_flac_to_wav_together(corpus):
    """The documented pipeline: convert, then describe; every key is then a wav."""
    assert run_script(corpus / "LibriSpeech").returncode == 1  # the truncated flac
    result = subprocess.run([sys.executable, str(ROOT / "create_desc_json.py"),
                             f"LibriSpeech/{SPLIT}", "train_corpus.json"],
                            cwd=corpus, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    keys = [json.loads(line)["key"] for line in (corpus / "train_corpus.json").open()]
    assert len(keys) == 3 and all(key.endswith(".wav") for key in keys)


def test_read_transcripts_finds_every_line(corpus):
    utterances = read_transcripts(f"LibriSpeech/{SPLIT}")
    assert [u.utt_id for u in utterances][:2] == ["19-198-0000", "19-198-0001"]
    assert len(utterances) == 7


def test_several_folders_make_one_description(corpus, capsys):
    extra = corpus / "LibriSpeech" / "extra" / "7" / "70"
    write_clip(extra / "7-70-0000.wav", 0.4)
    write_transcript(extra, ["7-70-0000 FROM THE OTHER PART"])
    out = corpus / "both.json"
    assert main([f"LibriSpeech/{SPLIT}", "LibriSpeech/extra", str(out)]) == 0
    texts = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert len(texts) == 4 and "from the other part" in texts and "hello world" in texts
    # one missing folder stops it, naming that folder, and writes nothing
    assert main([f"LibriSpeech/{SPLIT}", "LibriSpeech/nope", str(corpus / "none.json")]) == 2
    assert "LibriSpeech/nope is not a folder" in capsys.readouterr().err
    assert not (corpus / "none.json").exists()


def test_missing_or_empty_data_dir_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), str(tmp_path / "out.json")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "out.json")]) == 2
    assert "no *.trans.txt transcripts" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_nothing_usable_exits_1_and_writes_nothing(tmp_path, capsys):
    chapter = tmp_path / "LibriSpeech" / "x" / "1" / "2"
    chapter.mkdir(parents=True)
    write_transcript(chapter, ["1-2-0000 NO CLIP"])
    out = tmp_path / "out.json"
    assert main([str(tmp_path / "LibriSpeech"), str(out)]) == 1
    assert not out.exists()
    assert "1-2-0000" in capsys.readouterr().err
