"""transcribe.py on real clips of the tiny corpus with a model trained one epoch: the output format, the
WER/CER line, the normalisation cache, and a clear message for each file that cannot be transcribed."""
import math
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import language_model
import sample_models as sm
import transcribe
from data_generator import AudioGenerator, normalisation_path
from train_utils import train_model
from utils import Features

ROOT = Path(__file__).resolve().parents[1]
RESULT_LINE = re.compile(r"^WER (\d+\.\d{4})\tCER (\d+\.\d{4})\tclips (\d+)\tfailed (\d+)\tdecoder (\w+)\t")


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    """A small model trained one epoch on the tiny corpus: the path of its .h5 (pickle beside it)."""
    results = tmp_path_factory.mktemp("results")
    model = sm.rnn_model(input_dim=161, units=16, activation="tanh")
    train_model(model, "model_end.pickle", "model_end.h5", train_json=str(tiny_corpus / "train_corpus.json"),
                valid_json=str(tiny_corpus / "valid_corpus.json"), epochs=1, verbose=0, results_dir=results)
    return results / "model_end.h5"


@pytest.fixture
def clips(tiny_corpus):
    """Paths of the tiny corpus' validation clips (absolute)."""
    return [line.split('"key": "')[1].split('"')[0]
            for line in (tiny_corpus / "valid_corpus.json").read_text().splitlines()]


def args(trained, tiny_corpus, *rest):
    return ["--model", str(trained), "--train-json", str(tiny_corpus / "train_corpus.json"),
            "--lm", str(tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"), *rest]


def test_files_print_one_line_each_and_bad_files_are_explained(trained, tiny_corpus, clips, tmp_path, capsys):
    audio, rate = soundfile.read(clips[0], dtype="float32")
    stereo_44k = tmp_path / "stereo 44k.flac"  # another format, rate and channel count
    import soxr

    soundfile.write(stereo_44k, np.stack([soxr.resample(audio, rate, 44100)] * 2, axis=1), 44100)
    empty, silent, short = tmp_path / "empty.wav", tmp_path / "silent.wav", tmp_path / "short.wav"
    soundfile.write(empty, np.zeros(0, dtype="float32"), 16000)
    soundfile.write(silent, np.zeros(16000, dtype="float32"), 16000)
    soundfile.write(short, audio[:160], rate)  # 10 ms: shorter than one 20 ms window
    zero_bytes, garbage = tmp_path / "zero.wav", tmp_path / "garbage.wav"
    zero_bytes.write_bytes(b"")
    garbage.write_bytes(b"RIFF not really a wave file")
    missing = tmp_path / "missing.wav"
    files = [clips[0], str(missing), str(empty), str(stereo_44k), str(silent), str(short), str(zero_bytes),
             str(garbage), clips[1]]

    status = transcribe.main(args(trained, tiny_corpus, *files))

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [clips[0], str(stereo_44k), clips[1]]
    assert all(len(line.split("\t")) == 2 and set(line.split("\t")[1]) <= set(" 'abcdefghijklmnopqrstuvwxyz")
               for line in lines)
    assert status == 1
    messages = err.splitlines()
    for path, reason in [(missing, "file not found; check the path"), (empty, "holds no audio (0 samples)"),
                         (silent, "the clip is silent"), (short, "10 ms of audio is too short for this model, "
                                                                  "which needs at least 20 ms"),
                         (zero_bytes, "the file is empty (0 bytes)"), (garbage, "cannot decode audio")]:
        assert sum(str(path) + ":" in m and reason in m for m in messages) == 1, (path, err)
    assert len(messages) == 6 and "create_desc_json" not in err and "Traceback" not in err


def test_corpus_mode_ends_with_wer_and_cer(trained, tiny_corpus, clips, capsys):
    status = transcribe.main(args(trained, tiny_corpus, "--corpus", str(tiny_corpus / "valid_corpus.json"),
                                  "--decoder", "greedy"))
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [line.split("\t")[0] for line in lines[:-1]] == clips
    wer, cer, n, failed, decoder = RESULT_LINE.match(lines[-1]).groups()
    references = [line.split('"text": "')[1].split('"')[0]
                  for line in (tiny_corpus / "valid_corpus.json").read_text().splitlines()]
    hypotheses = [line.split("\t")[1] for line in lines[:-1]]
    expected = transcribe.error_rates(references, hypotheses)  # pinned to hand-counted values below
    assert (float(wer), float(cer)) == pytest.approx(expected, abs=5e-5)
    assert int(n) == len(clips) and failed == "0" and decoder == "greedy"


@pytest.mark.parametrize("references, hypotheses, wer, cer", [
    (["the cat sat"], ["the cat sat"], 0, 0),
    (["the cat sat"], ["the bat sat"], 1 / 3, 1 / 11),             # one word, one letter of 11 characters
    (["the cat sat"], ["the cat"], 1 / 3, 4 / 11),                 # a word and its space deleted
    (["a b", "c d e f"], ["a x", "c d e f g"], 2 / 6, 3 / 10),     # pooled over clips, not averaged
    (["hello world"], ["hello there world"], 1 / 2, 6 / 11),       # an inserted word counts against WER
])
def test_error_rates_against_hand_counted_answers(references, hypotheses, wer, cer):
    assert transcribe.error_rates(references, hypotheses) == pytest.approx((wer, cer))


def test_without_a_second_model_the_final_model_is_the_default_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(transcribe, "SECOND_MODEL", str(tmp_path / "second" / "model_end.h5"))
    assert transcribe.parse_args(["a.wav"]).model == [transcribe.DEFAULT_MODEL]


def test_the_default_decoder_is_lm_and_its_text_comes_from_the_packages_without_the_corpus(tmp_path,
                                                                                      monkeypatch):
    assert transcribe.parse_args(["a.wav"]).decoder == "lm" == transcribe.DEFAULT_DECODER
    assert Path(transcribe.DEFAULT_MODEL) == ROOT / "results" / "model_end.h5"  # whatever the cwd
    # the final model averaged with the committed second one, by default
    assert transcribe.parse_args(["a.wav"]).model == [transcribe.DEFAULT_MODEL, transcribe.SECOND_MODEL]
    assert Path(transcribe.SECOND_MODEL).exists()
    assert transcribe.parse_args(["a.wav", "--model", "b.h5"]).model == ["b.h5"]
    monkeypatch.setattr(transcribe, "DEFAULT_LM", str(tmp_path / "not built" / "synth-lm-text.txt"))
    monkeypatch.setattr(language_model, "package_sentences", lambda: [["the", "cat", "sat"]])
    word_lm = transcribe.load_word_lm(transcribe.DEFAULT_LM)
    assert word_lm.vocabulary == ["cat", "sat", "the"]
    with pytest.raises(transcribe.UsageError, match="elsewhere.txt: language model not found"):
        transcribe.load_word_lm(tmp_path / "elsewhere.txt")  # a file the user named is never replaced


def test_package_sentences_leave_out_the_validation_sentences():
    import build_corpus

    defaults = build_corpus.parse_args([])
    valid, train, _ = build_corpus.assign_sentences(
        build_corpus.load_sentences(), defaults.seed, defaults.valid_speakers * defaults.valid_utts,
        defaults.train_speakers * defaults.train_utts, defaults.max_words, defaults.more_speakers * defaults.more_utts)
    lines = {" ".join(words) for words in language_model.package_sentences()}
    assert not lines & {s.transcript for s in valid}
    assert {s.transcript for s in train} <= lines
    examples = build_corpus.wordnet_sentences(build_corpus.WORDNET_DIR)  # where wordnet-base is installed
    assert {s.transcript for s in examples} <= lines
    assert len(lines) == len(build_corpus.clean_sentences() + tuple(examples)) - len(valid)


def _copy_model(trained, folder, suffixes=(".h5", ".pickle", ".norm.npz")):
    folder.mkdir(exist_ok=True)
    for suffix in suffixes:
        (folder / f"model_end{suffix}").write_bytes(trained.with_name("model_end" + suffix).read_bytes())
    return folder / "model_end.h5"


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_the_models_own_statistics_are_used_and_never_rewritten(trained, tiny_corpus, tmp_path, capsys):
    model_path = _copy_model(trained, tmp_path / "results")
    before = _snapshot(model_path.parent)
    reference = AudioGenerator()
    reference.load_train_data(str(tiny_corpus / "train_corpus.json"))  # the statistics training computed
    with np.load(normalisation_path(model_path)) as saved:
        np.testing.assert_array_equal(saved["mean"], reference.feats_mean)
    # a corpus on disk that differs from the model's: reported, not used
    other = tmp_path / "other_corpus.json"
    other.write_text((tiny_corpus / "valid_corpus.json").read_text())
    audio_gen = AudioGenerator()
    assert transcribe.load_normalisation(audio_gen, model_path, other) == "saved"
    np.testing.assert_array_equal(audio_gen.feats_mean, reference.feats_mean)
    np.testing.assert_array_equal(audio_gen.feats_std, reference.feats_std)
    note = capsys.readouterr().err
    assert f"{other} differs from the corpus description model_end.h5 was trained on" in note
    with np.load(normalisation_path(model_path)) as saved:
        assert f"SHA-256 {str(saved['train_digest'])[:12]}..." in note
    assert transcribe.main(args(model_path, tiny_corpus, "--decoder", "greedy",
                                "--train-json", str(other), str(tiny_corpus / "LibriSpeech" / "x.wav"))) == 1
    assert _snapshot(model_path.parent) == before  # nothing under results/ written
    # the same corpus: no note
    capsys.readouterr()
    assert transcribe.load_normalisation(AudioGenerator(), model_path, tiny_corpus / "train_corpus.json") == "saved"
    assert capsys.readouterr().err == ""


def test_a_model_without_saved_statistics_has_them_computed_in_memory(trained, tiny_corpus, tmp_path, capsys):
    model_path = _copy_model(trained, tmp_path / "old", (".h5", ".pickle"))
    before = _snapshot(model_path.parent)
    reference = AudioGenerator()
    reference.load_train_data(str(tiny_corpus / "train_corpus.json"))
    audio_gen = AudioGenerator()
    assert transcribe.load_normalisation(audio_gen, model_path, tiny_corpus / "train_corpus.json") == "computed"
    np.testing.assert_array_equal(audio_gen.feats_std, reference.feats_std)
    assert "model_end.norm.npz not found" in capsys.readouterr().err
    assert _snapshot(model_path.parent) == before
    with pytest.raises(transcribe.UsageError, match="--train-json"):
        transcribe.load_normalisation(AudioGenerator(), model_path, tmp_path / "none.json")
    # statistics of other features: named, with the fix
    spectrogram_stats = _copy_model(trained, tmp_path / "mfcc")
    with pytest.raises(transcribe.UsageError, match="holds the statistics of spectrogram features, not mfcc13"):
        transcribe.load_normalisation(AudioGenerator(spectrogram=False), spectrogram_stats)


def test_every_committed_model_has_its_statistics():
    for model_path in sorted((ROOT / "results").rglob("*.h5")):  # results/second/ too
        history = pickle.loads(model_path.with_suffix(".pickle").read_bytes())
        features = Features.from_record(history.get("features"))
        with np.load(normalisation_path(model_path)) as saved:
            assert str(saved["features"]) == features.name, model_path
            assert saved["mean"].shape == saved["std"].shape == (features.width,)
            assert np.all(saved["std"] > 0) and str(saved["train_json"]) == history["train_json"]


def test_command_line(trained, tiny_corpus, clips):
    done = subprocess.run([sys.executable, str(ROOT / "transcribe.py"), *args(trained, tiny_corpus, clips[0])],
                          capture_output=True, text=True, cwd=tiny_corpus)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith(clips[0] + "\t")
    missing = subprocess.run([sys.executable, str(ROOT / "transcribe.py"), "--model", "nowhere.h5", clips[0]],
                             capture_output=True, text=True, cwd=tiny_corpus)
    assert missing.returncode == 2 and "nowhere.h5: model not found" in missing.stderr


def test_evaluate_model_scores_every_decoder_on_the_same_clips(trained, tiny_corpus):
    lm_text = tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"
    scores = transcribe.evaluate_model(trained, tiny_corpus / "valid_corpus.json", ("greedy", "lm", "lexicon"),
                                       lm_path=lm_text, train_json=tiny_corpus / "train_corpus.json")
    references = [line.split('"text": "')[1].split('"')[0]
                  for line in (tiny_corpus / "valid_corpus.json").read_text().splitlines()]
    assert scores["references"] == references
    vocabulary = set(language_model.NgramLM(language_model.read_sentences(lm_text)).vocabulary)
    assert all(set(text.split()) <= vocabulary for text in scores["lexicon"]["hypotheses"])
    for decoder in ("greedy", "lm", "lexicon"):
        hypotheses = scores[decoder]["hypotheses"]
        assert len(hypotheses) == len(references)
        # the scores are jiwer's over exactly these transcripts
        assert (scores[decoder]["wer"], scores[decoder]["cer"]) == transcribe.error_rates(references, hypotheses)
    # one epoch on a few clips transcribes almost nothing right
    assert scores["greedy"]["cer"] > 0.3


def test_compare_models_table_and_examples(trained, tiny_corpus, tmp_path):
    import shutil

    results = tmp_path / "results"
    results.mkdir()
    for name in ("model_1", "model_end"):  # two trained models; the LM only for the final one
        for suffix in (".h5", ".pickle"):
            shutil.copy(trained.with_suffix(suffix), results / f"{name}{suffix}")
    lm = tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"
    scores = transcribe.compare_models(results, tiny_corpus / "valid_corpus.json", lm_path=lm,
                                       train_json=tiny_corpus / "train_corpus.json")
    assert list(scores) == ["model_1", "model_end"]
    assert "lm" not in scores["model_1"] and "lm" in scores["model_end"]
    # the same weights give the same greedy scores
    assert scores["model_1"]["greedy"]["cer"] == scores["model_end"]["greedy"]["cer"]
    table = transcribe.score_table(scores).splitlines()
    assert table[0].split() == ["model", "decoder", "WER", "%", "CER", "%", "clips"]
    assert [row.split()[:2] for row in table[1:]] == [["model_1", "greedy"], ["model_end", "greedy"],
                                                     ["model_end", "lm"], ["model_end", "lexicon"]]
    wer = float(table[3].split()[2])
    assert wer == pytest.approx(100 * scores["model_end"]["lm"]["wer"], abs=0.05)
    examples = transcribe.side_by_side(scores["model_end"], count=1).splitlines()
    assert examples[1] == f"truth   {scores['model_end']['references'][0]}"
    assert examples[2].startswith("greedy ") and examples[3].startswith("lm ") and examples[4].startswith("lexicon ")


def test_normalisation_follows_the_training_description_the_history_names(trained, tiny_corpus, tmp_path,
                                                                            monkeypatch):
    # a copy without its statistics, run from a folder with no train_corpus.json: only the description
    # recorded in the pickle can give them
    model_path = _copy_model(trained, tmp_path / "copy", (".h5", ".pickle"))
    monkeypatch.chdir(tmp_path)
    _, audio_gen = transcribe.load_transcriber(model_path)
    with np.load(normalisation_path(trained)) as saved:
        np.testing.assert_array_equal(saved["mean"], audio_gen.feats_mean)
    assert not normalisation_path(model_path).exists()


def _main(capsys, *argv):
    status = transcribe.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_each_problem_with_the_model_or_its_files_is_named_with_its_fix(trained, tiny_corpus, clips, tmp_path,
                                                                        capsys):
    no_pickle = _copy_model(trained, tmp_path / "no_pickle", (".h5", ".norm.npz"))
    status, _, err = _main(capsys, *args(no_pickle, tiny_corpus, clips[0]))
    assert status == 2 and f"{no_pickle.with_suffix('.pickle')}: not found" in err
    broken = _copy_model(trained, tmp_path / "broken")
    broken.with_suffix(".pickle").write_bytes(b"not a pickle")
    status, _, err = _main(capsys, *args(broken, tiny_corpus, clips[0]))
    assert status == 2 and "model_end.pickle: cannot read the model's history" in err
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--features", "mfcc", clips[0]))
    assert status == 2 and "takes 161 features per frame, not 13 MFCCs (13): use --features spectrogram" in err
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--lm", tmp_path / "no_lm.txt", clips[0]))
    assert status == 2 and "no_lm.txt: language model not found" in err and "--decoder beam" in err


def test_a_kenlm_binary_works_with_its_word_list_or_fails_with_a_message(trained, tiny_corpus, clips, tmp_path,
                                                                         capsys):
    pytest.importorskip("kenlm")
    binary = tmp_path / "model.bin"
    binary.write_bytes(language_model.KENLM_BINARY_MAGIC + b"http://kheafield.com/code format version 5\n\0xx")
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--lm", binary, clips[0]))
    assert status == 2 and f"{binary}: a KenLM binary model does not list its words" in err
    assert str(tmp_path / "model.vocab") in err
    (tmp_path / "model.vocab").write_text("the\ncat\n")
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--lm", binary, clips[0]))
    assert status == 2 and f"{binary}: kenlm cannot load it" in err
    # a binary KenLM loads: the word list comes from the .vocab file (kenlm here cannot write a binary, so an
    # ARPA file stands in for the model and is read through the binary's path)
    small = language_model.NgramLM([["the", "cat", "sat"], ["a", "cat"]])
    arpa = small.to_arpa(tmp_path / "small.arpa")
    word_lm = language_model.KenLMWordLM(arpa, vocabulary=tmp_path / "model.vocab")
    assert word_lm.vocabulary == ["cat", "the"]
    assert word_lm.score(word_lm.start(), "cat")[1] == pytest.approx(math.log(small.prob("cat", ("<s>",))),
                                                                      abs=1e-4)


def test_a_corpus_whose_lines_or_clips_fail_is_explained(trained, tiny_corpus, tmp_path, capsys):
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"key": "a.wav", "duration": 1.0, "text": "a"}\nnot json\n')
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--corpus", malformed))
    assert status == 2 and f"{malformed} line 2: not a clip description" in err
    status, _, err = _main(capsys, *args(trained, tiny_corpus, "--corpus", tmp_path / "absent.json"))
    assert status == 2 and "absent.json: corpus description not found" in err
    gone = tmp_path / "gone.json"
    gone.write_text('{"key": "gone1.wav", "duration": 1.0, "text": "a"}\n'
                    '{"key": "gone2.wav", "duration": 1.0, "text": "b"}\n')
    status, out, err = _main(capsys, *args(trained, tiny_corpus, "--decoder", "greedy", "--corpus", gone))
    assert status == 1 and out == ""
    assert "gone1.wav: file not found" in err and "gone2.wav: file not found" in err
    assert f"{gone}: no clip could be transcribed" in err


def test_a_long_recording_is_cut_at_pauses_into_training_length_windows(trained, tiny_corpus, clips, tmp_path,
                                                                        capsys):
    pieces = [soundfile.read(clip, dtype="float32")[0] for clip in clips]
    pause = np.zeros(8000, dtype=np.float32)  # 0.5 s
    audio = np.concatenate([np.concatenate([p, pause]) for p in pieces * 8])[:16000 * 25]
    long_clip = tmp_path / "long.wav"
    soundfile.write(long_clip, audio, 16000)
    cuts = [len(w) for w in transcribe.windows(str(long_clip))]
    assert sum(cuts) == len(audio) and max(cuts) <= 16000 * transcribe.MAX_WINDOW_S and len(cuts) >= 3
    for end in np.cumsum(cuts)[:-1]:  # each cut in a quiet stretch
        assert np.abs(audio[end:end + 160]).max() < 0.01
    status, out, _ = _main(capsys, *args(trained, tiny_corpus, "--decoder", "greedy", long_clip))
    assert status == 0 and out.startswith(f"{long_clip}\t")


def test_the_shortest_clip_follows_from_the_models_first_layer():
    import sample_models as sm

    audio_gen = AudioGenerator(spectrogram=False)
    final = sm.final_model(input_dim=13, filters=8, kernel_size=11, conv_stride=3, units=8, recur_layers=1)
    assert transcribe.shortest_clip_samples(final, audio_gen) == 16000 * 125 // 1000  # 11 frames of 25 ms/10 ms
    rnn = sm.rnn_model(input_dim=161, units=8, activation="tanh")
    assert transcribe.shortest_clip_samples(rnn, AudioGenerator()) == 320  # one 20 ms window


@pytest.mark.parametrize("references, hypotheses, exact", [
    (["ball"], ["ball"], 1.0),
    (["ball", "palm tree", "hat"], ["bal", "palm  tree", "hat"], 2 / 3),  # spacing is not an error
    (["palm tree", "sphinx"], ["palmtree", "the sphinx"], 0.0),  # a word split wrong or added is
])
def test_exact_share_counts_clips_with_exactly_the_reference_words(references, hypotheses, exact):
    assert transcribe.exact_share(references, hypotheses) == pytest.approx(exact)


def test_pocketsphinx_transcribes_speech_into_our_alphabet(clips):
    """The baseline hears the corpus's clear piper speech: most characters right, only our symbols."""
    transcribe_one = transcribe.pocketsphinx_transcriber()
    texts = [transcribe_one(path) for path in clips]
    assert all(re.fullmatch(r"[a-z' ]*", text) for text in texts)
    assert sum(len(text) for text in texts) > 10


def test_score_voices_scores_each_set_and_system_on_the_same_clips(trained, tiny_corpus, clips, tmp_path,
                                                                  capsys):
    model, audio_gen = transcribe.load_transcriber(trained, tiny_corpus / "train_corpus.json")
    valid = transcribe.read_corpus(tiny_corpus / "valid_corpus.json")
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(16000), 16000)
    sets = {"validation": valid, "two": [(str(silent), "nothing")] + valid[:1]}
    lm_text = tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"
    table = transcribe.score_voices(model, audio_gen, sets, ("greedy", "lm"), lm_text)
    assert "silent.wav" in capsys.readouterr().err  # reported, and left out for every system
    assert list(table) == ["validation", "two"]
    assert list(table["two"]) == ["ours, greedy", "ours, lm", transcribe.POCKETSPHINX]
    assert {s["clips"] for s in table["validation"].values()} == {len(valid)}
    assert {s["clips"] for s in table["two"].values()} == {1}
    # the same clip and decoder score the same in both sets; and as score_corpus scores it
    first = transcribe.score_corpus(model, audio_gen, tiny_corpus / "valid_corpus.json", ("greedy",))
    greedy = transcribe.make_decoder("greedy")
    probs = transcribe.clip_probabilities(model, audio_gen, valid[0][0])
    wer, cer = transcribe.error_rates([valid[0][1]], [greedy(probs, len(probs))])
    assert (table["two"]["ours, greedy"]["wer"], table["two"]["ours, greedy"]["cer"]) == (wer, cer)
    assert table["validation"]["ours, greedy"]["cer"] == first["greedy"]["cer"]
    # PocketSphinx, run in a process of its own, scores each set's clips as it does one by one here, the
    # clip our model could not read left out
    sphinx = transcribe.pocketsphinx_transcriber()
    for name, clips in (("validation", valid), ("two", valid[:1])):
        texts = [sphinx(path) for path, _ in clips]
        wer, cer = transcribe.error_rates([text for _, text in clips], texts)
        scored = table[name][transcribe.POCKETSPHINX]
        assert (scored["wer"], scored["cer"]) == (wer, cer)
    rows = transcribe.voice_table(table).splitlines()
    assert rows[0].split() == ["set", "system", "WER", "%", "CER", "%", "exact", "%", "clips"]
    assert len(rows) == 1 + 2 * 3
    assert rows[1].split()[:3] == ["validation", "ours,", "greedy"]
    assert float(rows[1].split()[4]) == pytest.approx(100 * table["validation"]["ours, greedy"]["cer"], abs=0.05)


def test_score_voices_runs_pocketsphinx_on_the_sets_named_and_loads_the_lm_once(trained, tiny_corpus,
                                                                                 monkeypatch):
    model, audio_gen = transcribe.load_transcriber(trained, tiny_corpus / "train_corpus.json")
    valid = transcribe.read_corpus(tiny_corpus / "valid_corpus.json")
    lm_text = tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"
    loads = []
    load_word_lm = transcribe.load_word_lm
    monkeypatch.setattr(transcribe, "load_word_lm", lambda path: loads.append(path) or load_word_lm(path))
    sets = {"first": valid[:1], "second": valid[1:2]}
    table = transcribe.score_voices(model, audio_gen, sets, ("greedy", "lm", "lexicon"), lm_text,
                                    baseline=["second"])
    assert loads == [lm_text]  # lm and lexicon share one LM
    assert list(table["first"]) == ["ours, greedy", "ours, lm", "ours, lexicon"]
    assert list(table["second"]) == ["ours, greedy", "ours, lm", "ours, lexicon", transcribe.POCKETSPHINX]
    with pytest.raises(transcribe.UsageError, match="third"):
        transcribe.score_voices(model, audio_gen, sets, ("greedy",), baseline=["third"])
    # a label names the systems, so two models' tables can be shown as one
    labelled = transcribe.score_voices(model, audio_gen, sets, ("greedy",), baseline=False, label="two averaged")
    assert list(labelled["first"]) == ["two averaged, greedy"]
    assert labelled["first"]["two averaged, greedy"] == table["first"]["ours, greedy"]


def test_the_clip_viewer_runs_the_one_inference_path_of_a_clip(trained, tiny_corpus, capsys):
    import decoding

    model = sm.rnn_model(input_dim=161, units=16, activation="tanh")
    train_json, valid_json = str(tiny_corpus / "train_corpus.json"), str(tiny_corpus / "valid_corpus.json")
    truth, predicted = decoding.get_predictions(0, "validation", model, str(trained), train_json, valid_json)
    final, audio_gen = transcribe.load_transcriber(trained, train_json)
    path, text = transcribe.read_corpus(valid_json)[0]
    probs = transcribe.clip_probabilities(final, audio_gen, path)
    assert truth == text and predicted == decoding.greedy_decode(probs, len(probs))
    out = capsys.readouterr().out
    assert f"True transcription:\n\n{truth}" in out and f"Predicted transcription:\n\n{predicted}" in out
    with pytest.raises(ValueError, match="'train' or 'validation'"):
        transcribe.get_predictions(0, "test", model, str(trained), train_json, valid_json)


def test_decoding_imports_no_training_or_notebook_module():
    code = ("import sys, decoding; print(sorted({'data_generator', 'train_utils', 'IPython', 'transcribe'}"
            " & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------ averaged models
class _FixedOutput:
    """A stand-in model: records the features it is given and returns fixed character probabilities."""

    def __init__(self, probs, width):
        self.probs, self.input_shape, self.seen = np.asarray(probs, dtype=np.float32), (None, None, width), []
        self.output_length = lambda frames: frames

    def __call__(self, features, training=False):
        self.seen.append(np.asarray(features))
        return np.broadcast_to(self.probs, (*np.shape(features)[:2], len(self.probs)))


def _generator(mean, std, features=None):
    audio_gen = AudioGenerator(features=features or Features.of(False, 2))
    audio_gen.feats_mean, audio_gen.feats_std = np.float32(mean), np.float32(std)
    return audio_gen


def test_averaged_models_hear_their_own_normalisation_and_agree_by_geometric_mean():
    first = _FixedOutput([0.5, 0.25, 0.25], width=2)
    second = _FixedOutput([0.125, 0.5, 0.375], width=2)
    gen_1, gen_2 = _generator([1.0, -2.0], [2.0, 0.5]), _generator([3.0, 0.0], [4.0, 1.0])
    averaged, audio_gen = transcribe.average_models(["a.h5", "b.h5"], [(first, gen_1), (second, gen_2)])
    assert audio_gen is gen_1
    raw = np.array([[[5.0, 1.0], [-3.0, -2.0]]], dtype=np.float32)

    probs = np.asarray(averaged(gen_1.normalise(raw).astype(np.float32)))

    np.testing.assert_allclose(first.seen[0], (raw - [1.0, -2.0]) / [2.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(second.seen[0], (raw - [3.0, 0.0]) / [4.0, 1.0], rtol=1e-6)
    geometric = np.sqrt([0.5 * 0.125, 0.25 * 0.5, 0.25 * 0.375])
    np.testing.assert_allclose(probs, np.broadcast_to(geometric / geometric.sum(), (1, 2, 3)), rtol=1e-5)


def test_models_that_read_other_features_or_frame_rates_are_not_averaged():
    spectrogram, mfcc = _generator([0.0], [1.0], Features.of(True)), _generator([0.0], [1.0], Features.of(False, 13))
    model = _FixedOutput([1.0], width=161)
    with pytest.raises(transcribe.UsageError,
                       match=r"b\.h5 reads MFCC 13 and a\.h5 spectrogram: models to average must read the same"):
        transcribe.average_models(["a.h5", "b.h5"], [(model, spectrogram), (_FixedOutput([1.0], 13), mfcc)])
    strided = _FixedOutput([1.0], width=161)
    strided.output_length = lambda frames: frames // 2
    with pytest.raises(transcribe.UsageError, match=r"b\.h5 and a\.h5 give different numbers of output frames"):
        transcribe.average_models(["a.h5", "b.h5"], [(model, spectrogram), (strided, spectrogram)])


def test_a_model_averaged_with_itself_transcribes_as_it_does_alone(trained, tiny_corpus, clips, capsys):
    alone = _main(capsys, *args(trained, tiny_corpus, "--decoder", "greedy", *clips[:3]))
    twice = _main(capsys, *args(trained, tiny_corpus, "--model", trained, "--decoder", "greedy", *clips[:3]))
    assert alone[0] == twice[0] == 0
    assert twice[1] == alone[1] and len(alone[1].splitlines()) == 3
    model, audio_gen = transcribe.load_transcriber(trained, tiny_corpus / "train_corpus.json")
    averaged, _ = transcribe.load_transcriber([trained, trained], tiny_corpus / "train_corpus.json")
    np.testing.assert_allclose(transcribe.clip_probabilities(averaged, audio_gen, clips[0]),
                               transcribe.clip_probabilities(model, audio_gen, clips[0]), rtol=1e-4, atol=1e-6)
