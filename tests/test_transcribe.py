"""transcribe.py on real clips of the tiny corpus with a model trained one epoch: the output format, the
WER/CER line, the normalisation cache, and a clear message for each file that cannot be transcribed."""
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
from data_generator import AudioGenerator
from train_utils import train_model

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
    missing = tmp_path / "missing.wav"
    files = [clips[0], str(missing), str(empty), str(stereo_44k), str(silent), str(short), clips[1]]

    status = transcribe.main(args(trained, tiny_corpus, *files))

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [clips[0], str(stereo_44k), clips[1]]
    assert all(len(line.split("\t")) == 2 and set(line.split("\t")[1]) <= set(" 'abcdefghijklmnopqrstuvwxyz")
               for line in lines)
    assert status == 1
    messages = err.splitlines()
    for path, reason in [(missing, "file not found"), (empty, "no samples"), (silent, "silent"),
                         (short, "shorter than one 20 ms analysis window")]:
        assert any(str(path) in m and reason in m for m in messages), (path, err)


def test_corpus_mode_ends_with_wer_and_cer(trained, tiny_corpus, clips, capsys):
    status = transcribe.main(args(trained, tiny_corpus, "--corpus", str(tiny_corpus / "valid_corpus.json"),
                                  "--decoder", "greedy"))
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [line.split("\t")[0] for line in lines[:-1]] == clips
    wer, cer, n, failed, decoder = RESULT_LINE.match(lines[-1]).groups()
    assert float(wer) >= 0 and 0 <= float(cer) and int(n) == len(clips) and failed == "0"
    assert decoder == "greedy"


def test_the_default_decoder_is_the_free_spelling_lm_search_or_beam_without_lm(tmp_path, capsys):
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("THE CAT SAT\n")
    assert transcribe.default_decoder(lm_text) == "lm"
    assert transcribe.default_decoder(tmp_path / "missing.txt") == "beam"
    assert "missing.txt not found" in capsys.readouterr().err


def test_normalisation_is_computed_as_in_training_and_cached(trained, tiny_corpus, tmp_path):
    model_path = tmp_path / "model_end.h5"  # a copy: the cache goes beside the model
    model_path.write_bytes(trained.read_bytes())
    model_path.with_suffix(".pickle").write_bytes(trained.with_suffix(".pickle").read_bytes())
    train_json = tiny_corpus / "train_corpus.json"
    reference = AudioGenerator()
    reference.load_train_data(str(train_json))

    first = AudioGenerator()
    assert transcribe.load_normalisation(first, model_path, train_json) == "computed"
    np.testing.assert_array_equal(first.feats_mean, reference.feats_mean)
    np.testing.assert_array_equal(first.feats_std, reference.feats_std)
    cache = transcribe.norm_cache_path(model_path)
    assert cache == tmp_path / "model_end.norm.npz" and cache.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_end.h5", "model_end.norm.npz",
                                                          "model_end.pickle"]  # no temporary file left

    # without the training corpus (a copy of the committed results only), the cache serves
    again = AudioGenerator()
    assert transcribe.load_normalisation(again, model_path, tmp_path / "no_corpus.json") == "cache"
    np.testing.assert_array_equal(again.feats_std, reference.feats_std)
    # a cache of other features is not used, and with no corpus that is an error that says what to do
    with pytest.raises(transcribe.UsageError, match="--train-json"):
        transcribe.load_normalisation(AudioGenerator(spectrogram=False), model_path, tmp_path / "none.json",
                                      spectrogram=False, mfcc_dim=13)


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
    # a copy without the statistics cache, run from a folder with no train_corpus.json: only the
    # description recorded in the pickle can give the statistics
    for suffix in (".h5", ".pickle"):
        (tmp_path / f"model_end{suffix}").write_bytes(trained.with_suffix(suffix).read_bytes())
    monkeypatch.chdir(tmp_path)
    _, audio_gen = transcribe.load_transcriber(tmp_path / "model_end.h5")
    with np.load(tmp_path / "model_end.norm.npz") as saved:
        assert str(saved["train_json"]) == str(tiny_corpus / "train_corpus.json")
        np.testing.assert_array_equal(saved["mean"], audio_gen.feats_mean)
