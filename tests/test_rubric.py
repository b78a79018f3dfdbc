"""rubric.py passes a complete submission and names every kind of damage without crashing.

A tiny fake submission (small Keras models, saved untrained) is built once per session;
each damage works on its own copy.
"""
import base64
import html
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rubric  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before anything imports Keras)

INPUT_DIM = 13
EPOCHS = 20
BUILDS = {
    "model_0": ("simple_rnn_model", {"input_dim": INPUT_DIM}),
    "model_1": ("rnn_model", {"input_dim": INPUT_DIM, "units": 8, "activation": "relu"}),
    "model_2": ("cnn_rnn_model", {"input_dim": INPUT_DIM, "filters": 6, "kernel_size": 3, "units": 8}),
    "model_3": ("deep_rnn_model", {"input_dim": INPUT_DIM, "units": 8, "recur_layers": 2}),
    "model_4": ("bidirectional_rnn_model", {"input_dim": INPUT_DIM, "units": 8}),
    "model_end": ("final_model", {}),
}

SAMPLE_MODELS = f'''
"""Tiny stand-ins for the project's acoustic models."""
from keras import Input, Model, layers


def _finish(inputs, x, output_dim):
    x = layers.Dense(output_dim)(x)
    model = Model(inputs, layers.Activation("softmax")(x))
    model.summary()  # the rubric must keep this off its own output
    return model


def simple_rnn_model(input_dim, output_dim=29):
    inputs = Input((None, input_dim))
    x = layers.GRU(output_dim, return_sequences=True)(inputs)
    model = Model(inputs, layers.Activation("softmax")(x))
    model.summary()
    return model


def rnn_model(input_dim, units, activation, output_dim=29):
    inputs = Input((None, input_dim))
    x = layers.GRU(units, activation=activation, return_sequences=True)(inputs)
    return _finish(inputs, layers.BatchNormalization()(x), output_dim)


def cnn_rnn_model(input_dim, filters, kernel_size, units, output_dim=29):
    inputs = Input((None, input_dim))
    x = layers.Conv1D(filters, kernel_size, padding="same", activation="relu")(inputs)
    x = layers.GRU(units, return_sequences=True)(x)
    return _finish(inputs, x, output_dim)


def deep_rnn_model(input_dim, units, recur_layers, output_dim=29):
    inputs = x = Input((None, input_dim))
    for _ in range(recur_layers):
        x = layers.GRU(units, return_sequences=True)(x)
    return _finish(inputs, x, output_dim)


def bidirectional_rnn_model(input_dim, units, output_dim=29):
    inputs = Input((None, input_dim))
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(inputs)
    return _finish(inputs, x, output_dim)


def final_model():
    inputs = Input((None, {INPUT_DIM}))
    x = layers.Conv1D(6, 5, padding="same", activation="relu")(inputs)
    x = layers.Bidirectional(layers.GRU(8, return_sequences=True))(x)
    return _finish(inputs, x, 29)
'''

ANSWER_1 = ("**Answer:** The `model_0` GRU alone learns slowly: its training loss stays high, "
            "while the recurrent model with batch normalization and a time-distributed dense layer "
            "converges faster. The CNN front end speeds training further but overfits sooner; the "
            "deeper and bidirectional models reach the lowest validation loss, at a larger cost in "
            "time per epoch, and we'd pick them.")
ANSWER_2 = ("**Answer:** The final model stacks a one-dimensional convolution, which shortens the "
            "sequence and extracts local spectral patterns, in front of a bidirectional GRU that "
            "reads the utterance in both directions. Dropout and batch normalization keep it from "
            "overfitting the small corpus; its validation loss is lower than every earlier model "
            "after the same number of epochs.")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
LOG = "Epoch 1/20\n106/106 - 90s - loss: 250.1 - val_loss: 230.4\n"
# Code that names val_loss and model_end.h5 without training: neither may pass for a log or a training.
PLOT_CODE = "plot_losses([history['val_loss'] for history in histories])"
PREDICT_CODE = "get_predictions(index=0, input_to_softmax=final_model(), model_path='results/model_end.h5')"


def history(epochs=EPOCHS):
    """A plausible, finite training history."""
    loss = [200.0 / (epoch + 1) for epoch in range(epochs)]
    return {"loss": loss, "val_loss": [value + 5.0 for value in loss]}


def write_pickle(path, data):
    with open(path, "wb") as handle:
        pickle.dump(data, handle)


def code_cell(source, count, outputs=()):
    return {"cell_type": "code", "execution_count": count, "metadata": {},
            "outputs": list(outputs), "source": source}


def markdown_cell(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook():
    """An executed notebook that trains every model and answers both questions."""
    cells = [markdown_cell("# Speech recognition"),
             code_cell("from sample_models import *\nfrom train_utils import train_model", 1)]
    for count, name in enumerate(BUILDS, start=2):
        function, kwargs = BUILDS[name]
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        source = (f"{name} = {function}({args})\n"
                  f"train_model(input_to_softmax={name}, pickle_path='{name}.pickle', "
                  f"save_model_path='{name}.h5')")
        log = {"output_type": "stream", "name": "stdout", "text": "loss: 12.0 - val_loss: 14.0\n"}
        cells.append(code_cell(source, count, [log]))
    image = {"output_type": "display_data", "metadata": {},
             "data": {"image/png": PNG, "text/plain": "<Figure>"}}
    cells += [code_cell(PLOT_CODE, 9, [image]),
              markdown_cell("__Question 1:__ Use the plot above to compare the models."),
              markdown_cell(ANSWER_1),
              markdown_cell("__Question 2:__ Describe your final model architecture."),
              markdown_cell(ANSWER_2),
              code_cell("%matplotlib inline\n" + PREDICT_CODE, 10),  # names model_end.h5, trains nothing
              code_cell("", None)]  # an empty cell need not run
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}}}


def rendered(answer):
    """The answer as nbconvert renders its markdown: tags around markup, entities escaped."""
    text = answer.replace("**Answer:**", "<strong>Answer:</strong>")
    text = text.replace("`model_0`", "<code>model_0</code>").replace("'", "&#39;")
    return f"<p>{text}</p>"


def report(answers=(ANSWER_1, ANSWER_2), log=LOG):
    body = "\n".join(rendered(answer) for answer in answers)
    return (f"<!DOCTYPE html><html><head><title>vui_notebook</title></head><body>\n"
            f"<pre>{html.escape(PLOT_CODE)}</pre>\n<pre>{log}</pre>\n"
            f'<img src="data:image/png;base64,{PNG}">\n{body}\n'
            f"<p>{'Lorem ipsum dolor sit amet. ' * 60}</p></body></html>")


@pytest.fixture(scope="session")
def pristine(tmp_path_factory):
    """A complete submission that meets every criterion."""
    root = tmp_path_factory.mktemp("submission")
    (root / "sample_models.py").write_text(SAMPLE_MODELS)
    (root / "results").mkdir()
    namespace = {}
    exec(compile(SAMPLE_MODELS, "sample_models.py", "exec"), namespace)
    for name, (function, kwargs) in BUILDS.items():
        model = namespace[function](**kwargs)
        model.save(str(root / "results" / f"{name}.h5"))
        data = history() | {"build": {"function": function, "kwargs": kwargs},
                            "features": "spectrogram", "stopped": False, "epoch_seconds": [1.0] * EPOCHS}
        write_pickle(root / "results" / f"{name}.pickle", data)
    (root / "vui_notebook.ipynb").write_text(json.dumps(notebook(), indent=1))
    (root / "report.html").write_text(report())
    return root


@pytest.fixture
def submission(pristine, tmp_path):
    """A private copy of the pristine submission, free to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "submission"))


# -- damages: each edits a copy; the rubric must FAIL exactly the criteria named ------

def criteria(root):
    """Every criterion rubric.py reports for a submission, in order."""
    return [result.criterion for result in rubric.check_submission(root)]


def truncate_pickle(root):
    path = root / "results" / "model_2.pickle"
    path.write_bytes(path.read_bytes()[:40])


def remove_h5(root):
    (root / "results" / "model_3.h5").unlink()


def garbage_h5(name):
    def damage(root):
        (root / "results" / f"{name}.h5").write_bytes(b"not an HDF5 file")
    return damage


def wrong_architecture_h5(root):
    shutil.copy(root / "results" / "model_0.h5", root / "results" / "model_1.h5")


def edit_history(name, **changes):
    def damage(root):
        path = root / "results" / f"{name}.pickle"
        data = pickle.loads(path.read_bytes())
        write_pickle(path, data | changes)
    return damage


def nan_val_loss(name):
    return edit_history(name, val_loss=history()["val_loss"][:7] + [math.nan] * 13)


def edit_notebook(change):
    def damage(root):
        path = root / "vui_notebook.ipynb"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    return damage


def not_json(root):
    path = root / "vui_notebook.ipynb"
    path.write_text(path.read_text()[:200])


def error_output(data):
    data["cells"][3]["outputs"].append({"output_type": "error", "ename": "ValueError",
                                        "evalue": "bad shape", "traceback": []})


def unexecuted(data):
    data["cells"][4]["execution_count"] = None


def find_cell(data, text):
    return next(i for i, cell in enumerate(data["cells"]) if text in "".join(cell["source"]))


def drop_answer_2(data):
    del data["cells"][find_cell(data, ANSWER_2[:40])]


def placeholder_answer_1(data):
    data["cells"][find_cell(data, ANSWER_1[:40])]["source"] = "**Answer:** YOUR ANSWER HERE"


def blank_answer_2(data):
    data["cells"][find_cell(data, ANSWER_2[:40])]["source"] = "**Answer:** "


SHORT_ANSWER = "**Answer:** Model 4 is best."


def short_answer(question):
    """A short answer, exported to the report too: only the answer's own criterion fails."""
    def damage(root):
        answers = [ANSWER_1, ANSWER_2]
        old, answers[question - 1] = answers[question - 1], SHORT_ANSWER
        edit_notebook(lambda data: data["cells"][find_cell(data, old[:40])].update(source=SHORT_ANSWER))(root)
        (root / "report.html").write_text(report(answers=answers))
    return damage


def wrong_kernel(data):
    data["metadata"]["kernelspec"]["name"] = "ir"


def nbformat_3(data):
    data["nbformat"] = 3


def nbformat_3_layout(data):
    """The nbformat 3 layout: cells inside worksheets."""
    data["worksheets"] = [{"cells": data.pop("cells")}]
    data["nbformat"] = 3


def untrained(name):
    """The model's training call commented out; its build and other mentions of its files stay."""
    def change(data):
        index = find_cell(data, f"save_model_path='{name}.h5'")
        source = "".join(data["cells"][index]["source"]).replace("train_model(", "# train_model(")
        data["cells"][index]["source"] = source
    return edit_notebook(change)


def rejected_call(name):
    """The notebook builds the model with an argument its function rejects; what trained is fine."""
    def change(data):
        index = find_cell(data, f"{name} = ")
        function = FUNCTIONS[name]
        source = "".join(data["cells"][index]["source"])
        data["cells"][index]["source"] = source.replace(f"{function}(", f"{function}(no_such_argument=1, ", 1)
    return edit_notebook(change)


def remove_report(root):
    (root / "report.html").unlink()


def near_empty_report(root):
    (root / "report.html").write_text("<html><body><p>see the notebook</p></body></html>")


def report_without_answers(root):
    (root / "report.html").write_text(report(answers=()))


def report_without_image(root):
    (root / "report.html").write_text(report().replace("data:image/png;base64", "data:x"))


def report_without_log(root):
    """The report still shows code naming val_loss: no epoch line, no log."""
    (root / "report.html").write_text(report(log=""))


def final_same_as_model_4(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + "\n\ndef final_model():\n"
                    f"    return bidirectional_rnn_model(input_dim={INPUT_DIM}, units=8)\n")


def final_model_again(root):
    """An optional model_5 built by final_model() itself: the final model is no longer distinct."""
    results = root / "results"
    shutil.copy(results / "model_end.h5", results / "model_5.h5")
    write_pickle(results / "model_5.pickle", history() | {"build": {"function": "final_model", "kwargs": {}}})


def raise_on_import(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + '\nraise RuntimeError("half-edited module")\n')


def function_raises(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + "\n\ndef deep_rnn_model(**kwargs):\n"
                    "    raise ValueError('recur_layers must be positive')\n")


def not_written(function):
    """The function as the student edition hands it out: it raises NotImplementedError."""
    def damage(root):
        path = root / "sample_models.py"
        path.write_text(path.read_text() + f"\n\ndef {function}(*args, **kwargs):\n"
                        f"    raise NotImplementedError('{function} is yours to write')\n")
    return damage


def no_final_model(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text().replace("def final_model(", "def old_final_model("))


REPORT_CRITERIA = {"report", "report answers", "report figures", "report training logs"}
NOTEBOOK_CRITERIA = {"notebook format", "notebook executed", "notebook trains models",
                     "Question 1 answer", "Question 2 answer", "report answers"}
FUNCTIONS = {name: function for name, (function, _) in BUILDS.items() if name != "model_0"}

# name: (damage, the criteria that FAIL and no other, words in one of those FAIL lines)
DAMAGES = {
    "truncated pickle": (truncate_pickle, {"model_2 history", "model_2 weights", "final_model"}, "unreadable"),
    "missing h5": (remove_h5, {"model_3 weights"}, "model_3.h5 missing"),
    "wrong architecture h5": (wrong_architecture_h5, {"model_1 weights"}, "does not load into rnn_model"),
    "19 epochs": (edit_history("model_0", **history(EPOCHS - 1)), {"model_0 history"}, "19 epochs"),
    "None loss": (edit_history("model_end", loss=[None] * EPOCHS), {"model_end history"}, "loss[0]"),
    "no build": (edit_history("model_2", build=None), {"model_2 weights", "final_model"}, "build"),
    "notebook not JSON": (not_json, NOTEBOOK_CRITERIA, "not JSON"),
    "nbformat 3": (edit_notebook(nbformat_3), {"notebook format"}, "nbformat 3, not 4: save it as nbformat 4"),
    "nbformat 3 layout": (edit_notebook(nbformat_3_layout), NOTEBOOK_CRITERIA, "no list of cells (nbformat 3)"),
    "error output": (edit_notebook(error_output), {"notebook executed"}, "cell 3 raised ValueError"),
    "unexecuted cell": (edit_notebook(unexecuted), {"notebook executed"}, "cell 4"),
    "wrong kernel": (edit_notebook(wrong_kernel), {"notebook format"}, "kernel"),
    "missing answer": (edit_notebook(drop_answer_2), {"Question 2 answer", "report answers"}, "Answer"),
    "placeholder answer": (edit_notebook(placeholder_answer_1), {"Question 1 answer", "report answers"},
                           "placeholder"),
    "blank answer": (edit_notebook(blank_answer_2), {"Question 2 answer", "report answers"},
                     "blank: write the answer after '**Answer:**'"),
    "short answer 1": (short_answer(1), {"Question 1 answer"}, "words"),
    "short answer 2": (short_answer(2), {"Question 2 answer"}, "words"),
    "missing report": (remove_report, REPORT_CRITERIA | {"required files"}, "report.html"),
    "near-empty report": (near_empty_report, REPORT_CRITERIA, "only 49 bytes (under 1000): export it"),
    "report without answers": (report_without_answers, {"report answers"}, "Question 1"),
    "report without image": (report_without_image, {"report figures"}, "no image"),
    "report without log": (report_without_log, {"report training logs"}, "no training log"),
    "final_model same as model_4": (final_same_as_model_4, {"model_end weights", "final_model"}, "model_4"),
    "model_5 built by final_model": (final_model_again, {"final_model"}, "same architecture as model_5"),
    "no final_model": (no_final_model, {"final_model written", "model_end weights", "final_model"},
                       "no function final_model"),
    "sample_models raises on import": (raise_on_import,
                                       {"sample_models.py", "final_model"} | {f"{f} written" for f in FUNCTIONS.values()}
                                       | {f"{name} weights" for name in BUILDS}, "half-edited module"),
    "model function raises": (function_raises, {"deep_rnn_model written", "model_3 weights", "final_model"},
                              "recur_layers must be positive"),
    "deep_rnn_model not written": (not_written("deep_rnn_model"),
                                   {"deep_rnn_model written", "model_3 weights", "final_model"},
                                   "deep_rnn_model is not written yet (NotImplementedError: deep_rnn_model is yours"),
}
for name in BUILDS:
    DAMAGES[f"{name} NaN val_loss"] = (nan_val_loss(name), {f"{name} history"}, "val_loss[7] is nan")
    DAMAGES[f"{name} garbage h5"] = (garbage_h5(name), {f"{name} weights"}, "does not load")
    DAMAGES[f"{name} untrained"] = (untrained(name), {"notebook trains models"}, f"saves {name}")
for name, function in FUNCTIONS.items():
    DAMAGES[f"{function} call rejected"] = (rejected_call(name), {f"{function} written"}, "no_such_argument")


def lines_of(capsys, root):
    code = rubric.main([str(root)])
    out = capsys.readouterr().out.splitlines()
    return code, out


def test_complete_submission_passes(pristine, capsys):
    code, out = lines_of(capsys, pristine)
    assert code == 0, "\n".join(out)
    criteria, summary = out[:-1], out[-1]
    assert criteria and all(line.startswith("PASS ") for line in criteria), "\n".join(out)
    assert summary == f"{len(criteria)} passed, 0 failed"
    for name in BUILDS:
        assert any(line.startswith(f"PASS {name} weights") for line in criteria)


def test_optional_models_are_checked(submission):
    shutil.copy(submission / "results" / "model_1.pickle", submission / "results" / "model_7.pickle")
    results = {r.criterion: r for r in rubric.check_submission(submission)}
    assert results["model_7 history"].ok
    assert not results["model_7 weights"].ok and "model_7.h5 missing" in results["model_7 weights"].detail


@pytest.mark.parametrize("damage", DAMAGES)
def test_damage_fails_exactly_its_criteria(damage, submission, capsys):
    apply, criteria_failing, reason = DAMAGES[damage]
    apply(submission)
    code, out = lines_of(capsys, submission)
    assert code == 1
    failed = {line[len("FAIL "):].split(": ", 1)[0] for line in out if line.startswith("FAIL ")}
    assert failed == criteria_failing, "\n".join(out)
    assert any(reason in line for line in out if line.startswith("FAIL ")), "\n".join(out)
    assert out[-1] == f"{len(out) - 1 - len(failed)} passed, {len(failed)} failed"


def test_every_criterion_fails_alone_or_with_what_reads_the_same_file(pristine):
    """Each criterion has a damage that breaks it alone; a few gate a file other criteria read."""
    gates = {"required files", "sample_models.py", "report"}
    alone = {next(iter(failing)) for _, failing, _ in DAMAGES.values() if len(failing) == 1}
    every = set(criteria(pristine))
    assert every - alone == gates
    for gate in gates:
        assert any(gate in failing for _, failing, _ in DAMAGES.values())


def test_the_old_log_and_training_checks_would_have_passed_these_damages(pristine):
    """What the damages above keep: code naming val_loss, a cell naming model_end.h5."""
    notebook_text = (pristine / "vui_notebook.ipynb").read_text()
    assert "model_end.h5" in notebook_text.replace("save_model_path='model_end.h5'", "")
    assert "val_loss" in report(log="")


@pytest.mark.parametrize("path, says", [("missing", "is not there, not a folder"),
                                        ("report.html", "is a file, not a folder")])
def test_a_path_that_is_not_a_folder_is_a_usage_error(pristine, capsys, path, says):
    with pytest.raises(SystemExit) as stop:
        rubric.main([str(pristine / path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and "usage:" in err and "Traceback" not in err


def test_command_never_prints_traceback(pristine, tmp_path):
    wrecked = Path(shutil.copytree(pristine, tmp_path / "wrecked"))
    for damage in (truncate_pickle, garbage_h5("model_0"), wrong_architecture_h5, not_json, function_raises):
        damage(wrecked)
    env = dict(os.environ, PYTHONPATH="")
    for root, expected in ((pristine, 0), (wrecked, 1)):
        done = subprocess.run([sys.executable, str(ROOT / "rubric.py"), str(root)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == expected, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert done.stdout.splitlines()[-1].endswith(", 0 failed") == (expected == 0)
