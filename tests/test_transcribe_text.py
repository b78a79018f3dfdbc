"""transcribe.py's pure functions, each against answers worked out by hand: levels and the checks on a clip,
the cut of a long recording, corpus descriptions, error rates, and the tables the notebook prints.

Fast: no model is built or trained, and nothing here imports Keras."""
import json
import math
import os

import numpy as np
import pytest

import transcribe
import utils

RATE = utils.SAMPLE_RATE
HOP = RATE * utils.STEP_MS // 1000  # samples in the 10 ms quiet_cut compares


# ------------------------------------------------------------------------------------------ one clip
@pytest.mark.parametrize("audio, dbfs", [
    ([0.5, -1.0, 0.25], 0.0),
    ([0.1, -0.01], -20.0),
    ([0.0, -0.001, 0.0], -60.0),
    ([0.0, 0.0], -math.inf),
    ([], -math.inf),
])
def test_peak_dbfs(audio, dbfs):
    assert transcribe.peak_dbfs(np.array(audio, dtype=np.float32)) == pytest.approx(dbfs, abs=1e-4)


def test_check_audio_refuses_short_and_silent_clips_and_passes_the_boundaries():
    loud = np.full(1600, 0.5, dtype=np.float32)
    transcribe.check_audio("x.wav", loud, shortest=1600)  # exactly long enough
    with pytest.raises(utils.AudioError, match=r"^x\.wav: 100 ms of audio is too short for this model, which "
                                               r"needs at least 150 ms; record a longer clip$"):
        transcribe.check_audio("x.wav", loud, shortest=2400)
    with pytest.raises(utils.AudioError, match=r"^x\.wav: 1000 ms of audio .* needs at least 1500 ms;"):
        transcribe.check_audio("x.wav", np.full(RATE, 0.5, dtype=np.float32), shortest=3 * RATE // 2)
    # -60 dBFS (a peak of 0.001) is still heard; below it is silence
    transcribe.check_audio("x.wav", np.full(1600, 0.001, dtype=np.float64), shortest=1600)
    with pytest.raises(utils.AudioError, match=r"^x\.wav: the clip is silent \(loudest sample -80 dBFS, below "
                                               r"-60 dBFS\); check the microphone"):
        transcribe.check_audio("x.wav", np.full(1600, 1e-4, dtype=np.float32), shortest=1600)


def test_quiet_cut_finds_the_quietest_10_ms_between_its_bounds():
    rng = np.random.default_rng(0)
    audio = rng.uniform(0.3, 0.5, 40 * HOP).astype(np.float32)
    audio[17 * HOP:18 * HOP] = 0.01  # the pause
    audio[3 * HOP:4 * HOP] = 0.0  # quieter still, but before low
    assert transcribe.quiet_cut(audio, 10 * HOP, 30 * HOP) == 17 * HOP
    # the quietest 10 ms, not the quietest sample
    click = np.full(40 * HOP, 0.5, dtype=np.float32)
    click[25 * HOP + 7] = 0.0
    click[14 * HOP:15 * HOP] = 0.1
    assert transcribe.quiet_cut(click, 10 * HOP, 30 * HOP) == 14 * HOP
    # windows are counted from low, in whole 10 ms steps
    shifted = rng.uniform(0.3, 0.5, 40 * HOP).astype(np.float32)
    shifted[12 * HOP + 40:13 * HOP + 40] = 0.0
    assert transcribe.quiet_cut(shifted, 10 * HOP + 40, 30 * HOP) == 12 * HOP + 40
    assert transcribe.quiet_cut(audio, 20 * HOP, 30 * HOP) != 17 * HOP  # a pause before low is not seen
    late = audio.copy()
    late[17 * HOP:18 * HOP] = 0.4
    late[30 * HOP:31 * HOP] = 0.0  # a pause that starts at high is not seen either
    assert 10 * HOP <= transcribe.quiet_cut(late, 10 * HOP, 30 * HOP) < 30 * HOP


# ------------------------------------------------------------------------------------------ corpora
def test_resolve_clip_path(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    (folder / "clips").mkdir(parents=True)
    (folder / "clips" / "a.wav").write_bytes(b"")
    desc = folder / "valid.json"
    monkeypatch.chdir(tmp_path)
    assert transcribe.resolve_clip_path("/elsewhere/b.wav", desc) == "/elsewhere/b.wav"  # absolute: as written
    assert transcribe.resolve_clip_path("corpus/clips/a.wav", desc) == "corpus/clips/a.wav"  # exists from here
    assert transcribe.resolve_clip_path("clips/a.wav", desc) == str(folder / "clips" / "a.wav")  # beside desc
    assert transcribe.resolve_clip_path("clips/none.wav", desc) == "clips/none.wav"  # nowhere: as written


def test_read_corpus(tmp_path):
    desc = tmp_path / "valid.json"
    with pytest.raises(transcribe.UsageError, match="valid.json: corpus description not found; write one with "
                                                    "create_desc_json.py"):
        transcribe.read_corpus(desc)
    (tmp_path / "a.wav").write_bytes(b"")
    desc.write_text(json.dumps({"key": "a.wav", "duration": 1.0, "text": "a cat"}) + "\n\n  \n"
                    + json.dumps({"key": "/abs/b.wav", "duration": 2.0, "text": "the dog"}) + "\n", encoding="utf-8")
    assert transcribe.read_corpus(desc) == [(str(tmp_path / "a.wav"), "a cat"), ("/abs/b.wav", "the dog")]
    for bad in ["{not json", json.dumps({"key": "a.wav"}), json.dumps(["a.wav", "a cat"])]:
        desc.write_text(json.dumps({"key": "a.wav", "text": "a cat"}) + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(transcribe.UsageError, match=r"valid.json line 2: not a clip description \("):
            transcribe.read_corpus(desc)


# ------------------------------------------------------------------------------------------ scores
@pytest.mark.parametrize("references, hypotheses, wer, cer", [
    (["the cat sat"], ["the bat sat"], 1 / 3, 1 / 11),
    (["a b", "c d e f"], ["a x", "c d e f g"], 2 / 6, 3 / 10),  # pooled over clips, not averaged
])
def test_error_rates_are_wer_then_cer(references, hypotheses, wer, cer):
    assert transcribe.error_rates(references, hypotheses) == pytest.approx((wer, cer))


@pytest.mark.parametrize("references, hypotheses, exact", [
    (["ball", "palm tree", "hat", "cup"], ["bal", "palm  tree", "hat", "cup "], 3 / 4),
    (["palm tree"], ["palmtree"], 0.0),
])
def test_exact_share(references, hypotheses, exact):
    assert transcribe.exact_share(references, hypotheses) == pytest.approx(exact)


def scores():
    result = {"references": ["the cat", "a dog", "on a mat"], "paths": ["/c/19-198-0000.wav", "x/2.flac", "3.wav"],
              "lexicon": {"wer": 0.1, "cer": 0.05, "hypotheses": ["the cat", "a dog", "on the mat"]},
              "greedy": {"wer": 0.25, "cer": 0.125, "hypotheses": ["the kat", "a doc", "on a mat"]}}
    return {"model_end": result, "model_0": {"references": ["x"], "paths": ["x.wav"],
                                             "greedy": {"wer": 1.0, "cer": 0.5, "hypotheses": [""]}}}


def test_score_table_lists_each_model_and_decoder_in_decoder_order():
    assert transcribe.score_table(scores()).splitlines() == [
        "model      decoder    WER %   CER %  clips",
        "model_end  greedy      25.0    12.5      3",
        "model_end  lexicon     10.0     5.0      3",
        "model_0    greedy     100.0    50.0      1",
    ]


def test_side_by_side_shows_truth_then_each_decoder():
    assert transcribe.side_by_side(scores()["model_end"], count=2) == (
        "19-198-0000\ntruth   the cat\ngreedy  the kat\nlexicon the cat\n\n"
        "2\ntruth   a dog\ngreedy  a doc\nlexicon a dog")
    many = {"references": ["a"] * 6, "paths": ["a.wav"] * 6, "greedy": {"hypotheses": ["a"] * 6}}
    assert transcribe.side_by_side(many).count("truth") == 4  # four clips unless asked


def test_voice_table():
    table = {"real words": {"ours, greedy": dict(wer=0.5, cer=0.25, exact=0.125, clips=72),
                            "pocketsphinx": dict(wer=0.2, cer=0.1, exact=0.75, clips=72)},
             "new engine": {"ours, lm": dict(wer=0.034, cer=0.013, exact=0.9, clips=120)}}
    assert transcribe.voice_table(table).splitlines() == [
        "set          system             WER %   CER %  exact %  clips",
        "real words   ours, greedy        50.0    25.0     12.5     72",
        "real words   pocketsphinx        20.0    10.0     75.0     72",
        "new engine   ours, lm             3.4     1.3     90.0    120",
    ]
    # a set's name longer than the column widens it for every row
    table["real sentences"] = {"ours, lm": dict(wer=1.0, cer=0.5, exact=0.0, clips=39)}
    rows = transcribe.voice_table(table).splitlines()
    assert rows[0].startswith("set            system") and rows[1].startswith("real words     ours, greedy")
    assert rows[-1] == "real sentences ours, lm           100.0    50.0      0.0     39"
    # and a system's name longer than its column widens that one
    table["real sentences"]["two averaged, lexicon"] = dict(wer=0.25, cer=0.125, exact=0.5, clips=39)
    rows = transcribe.voice_table(table).splitlines()
    assert rows[0] == "set            system                  WER %   CER %  exact %  clips"
    assert rows[-1] == "real sentences two averaged, lexicon    25.0    12.5     50.0     39"
    assert len({len(row) for row in rows}) == 1


# ------------------------------------------------------------------------------------------ decoders
def spelled(text, padding=""):
    """Per-frame probabilities that spell ``text`` (a blank after each character), then ``padding`` the same
    way: what a padded batch gives for the frames past a clip's end."""
    from char_map import BLANK_INDEX, OUTPUT_DIM, char_map

    rows = []
    for ch in text + padding:
        for index in (char_map[ch], BLANK_INDEX):
            row = np.full(OUTPUT_DIM, 1e-3)
            row[BLANK_INDEX] = 2e-3
            row[index] = 1.0
            rows.append(row / row.sum())
    return np.array(rows, dtype=np.float32)


@pytest.mark.parametrize("name", transcribe.DECODERS)
def test_every_decoder_reads_only_the_real_frames_and_a_single_frame(tmp_path, name):
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("the cat sat\na cat\n", encoding="utf-8")
    decode = transcribe.make_decoder(name, lm_path=lm_text)
    real = len(spelled("the cat"))
    assert decode(spelled("the cat", padding=" sat"), real) == "the cat"
    assert decode(spelled("the cat"), real) == "the cat"
    assert decode(spelled("a")[:1], 1) == "a"  # one frame is a clip too
    if name != "greedy":  # greedy_decode raises on zero frames; check_audio never lets such a clip through
        assert decode(spelled("")[:0], 0) == ""


@pytest.mark.parametrize("name", transcribe.DECODERS)
def test_every_decoder_collapses_a_held_letter_and_keeps_apostrophes(tmp_path, name):
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("it's all the cat\nall cats\n", encoding="utf-8")
    probs = np.repeat(spelled("it's all"), 2, axis=0)  # each character and each blank held for two frames
    assert transcribe.make_decoder(name, lm_path=lm_text)(probs, len(probs)) == "it's all"
