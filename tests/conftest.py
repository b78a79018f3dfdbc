"""Shared fixtures: a tiny corpus built the way `make corpus` builds the real one."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
         "--no-real-sentences"], cwd=base)  # its archives come from the network, which tests never use
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
