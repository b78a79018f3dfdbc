"""rubric.py passes a complete submission and names every kind of damage without crashing.

A tiny fake submission (small Keras models, saved untrained) is built once per session;
each damage works on its own copy.
"""
import base64
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
    cells += [code_cell("plot_losses()", 9, [image]),
              markdown_cell("__Question 1:__ Use the plot above to compare the models."),
              markdown_cell(ANSWER_1),
              markdown_cell("__Question 2:__ Describe your final model architecture."),
              markdown_cell(ANSWER_2),
              code_cell("", None)]  # an empty cell need not run
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}}}


def rendered(answer):
    """The answer as nbconvert renders its markdown: tags around markup, entities escaped."""
    text = answer.replace("**Answer:**", "<strong>Answer:</strong>")
    text = text.replace("`model_0`", "<code>model_0</code>").replace("'", "&#39;")
    return f"<p>{text}</p>"


def report(answers=(ANSWER_1, ANSWER_2)):
    body = "\n".join(rendered(answer) for answer in answers)
    return (f"<!DOCTYPE html><html><head><title>vui_notebook</title></head><body>\n"
            f"<pre>Epoch 1/20\n106/106 - 90s - loss: 250.1 - val_loss: 230.4\n</pre>\n"
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


# -- damages: each edits a copy; the rubric must FAIL the named criterion ----

def truncate_pickle(root):
    path = root / "results" / "model_2.pickle"
    path.write_bytes(path.read_bytes()[:40])


def remove_h5(root):
    (root / "results" / "model_3.h5").unlink()


def garbage_h5(root):
    (root / "results" / "model_0.h5").write_bytes(b"not an HDF5 file")


def wrong_architecture_h5(root):
    shutil.copy(root / "results" / "model_0.h5", root / "results" / "model_1.h5")


def edit_history(name, **changes):
    def damage(root):
        path = root / "results" / f"{name}.pickle"
        data = pickle.loads(path.read_bytes())
        write_pickle(path, data | changes)
    return damage


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


def short_answer_1(data):
    data["cells"][find_cell(data, ANSWER_1[:40])]["source"] = "**Answer:** Model 4 is best."


def wrong_kernel(data):
    data["metadata"]["kernelspec"]["name"] = "ir"


def remove_report(root):
    (root / "report.html").unlink()


def report_without_answers(root):
    (root / "report.html").write_text(report(answers=()))


def report_without_image(root):
    (root / "report.html").write_text(report().replace("data:image/png;base64", "data:x"))


def final_same_as_model_4(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + "\n\ndef final_model():\n"
                    f"    return bidirectional_rnn_model(input_dim={INPUT_DIM}, units=8)\n")


def raise_on_import(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + '\nraise RuntimeError("half-edited module")\n')


def function_raises(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text() + "\n\ndef deep_rnn_model(**kwargs):\n"
                    "    raise ValueError('recur_layers must be positive')\n")


def no_final_model(root):
    path = root / "sample_models.py"
    path.write_text(path.read_text().replace("def final_model(", "def old_final_model("))


DAMAGES = {
    "truncated pickle": (truncate_pickle, "model_2 history", "unreadable"),
    "missing h5": (remove_h5, "model_3 weights", "model_3.h5 missing"),
    "garbage h5": (garbage_h5, "model_0 weights", "does not load"),
    "wrong architecture h5": (wrong_architecture_h5, "model_1 weights", "does not load into rnn_model"),
    "19 epochs": (edit_history("model_0", **history(EPOCHS - 1)), "model_0 history", "19 epochs"),
    "NaN val_loss": (edit_history("model_4", val_loss=history()["val_loss"][:7] + [math.nan] * 13),
                     "model_4 history", "val_loss[7] is nan"),
    "None loss": (edit_history("model_end", loss=[None] * EPOCHS), "model_end history", "loss[0]"),
    "no build": (edit_history("model_2", build=None), "model_2 weights", "build"),
    "notebook not JSON": (not_json, "notebook format", "not JSON"),
    "error output": (edit_notebook(error_output), "notebook executed", "cell 3 raised ValueError"),
    "unexecuted cell": (edit_notebook(unexecuted), "notebook executed", "cell 4"),
    "wrong kernel": (edit_notebook(wrong_kernel), "notebook format", "kernel"),
    "missing answer": (edit_notebook(drop_answer_2), "Question 2 answer", "Answer"),
    "placeholder answer": (edit_notebook(placeholder_answer_1), "Question 1 answer", "placeholder"),
    "short answer": (edit_notebook(short_answer_1), "Question 1 answer", "words"),
    "missing report": (remove_report, "report", "report.html missing"),
    "report without answers": (report_without_answers, "report answers", "Question 1"),
    "report without image": (report_without_image, "report figures", "no image"),
    "final_model same as model_4": (final_same_as_model_4, "final_model", "model_4"),
    "no final_model": (no_final_model, "final_model", "no function final_model"),
    "sample_models raises on import": (raise_on_import, "sample_models.py", "half-edited module"),
    "model function raises": (function_raises, "model_3 weights", "recur_layers must be positive"),
}


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
def test_damage_is_named(damage, submission, capsys):
    apply, criterion, reason = DAMAGES[damage]
    apply(submission)
    code, out = lines_of(capsys, submission)
    assert code == 1
    failures = [line for line in out if line.startswith(f"FAIL {criterion}: ")]
    assert failures and reason in failures[0], "\n".join(out)
    assert out[-1].endswith("failed") and not out[-1].endswith(", 0 failed")


def test_command_never_prints_traceback(pristine, tmp_path):
    wrecked = Path(shutil.copytree(pristine, tmp_path / "wrecked"))
    for damage in (truncate_pickle, garbage_h5, wrong_architecture_h5, not_json, function_raises):
        damage(wrecked)
    env = dict(os.environ, PYTHONPATH="")
    for root, expected in ((pristine, 0), (wrecked, 1)):
        done = subprocess.run([sys.executable, str(ROOT / "rubric.py"), str(root)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == expected, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert done.stdout.splitlines()[-1].endswith(", 0 failed") == (expected == 0)
