"""The notebook itself, run headless on the tiny corpus for one epoch per model, as `make all` runs it."""
import ast
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import train_utils

ROOT = Path(__file__).resolve().parents[1]


def test_notebook_runs_headless_without_errors(tiny_corpus, tmp_path):
    executed = tmp_path / "executed.ipynb"
    results = tmp_path / "results"
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"), JUPYTER_DATA_DIR=str(tmp_path / "jupyter/data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter/runtime"), IPYTHONDIR=str(tmp_path / "ipython"),
               JUPYTER_PLATFORM_DIRS="1")
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "vui_notebook.ipynb"), str(executed), "--kernel", "python3",
         "--cwd", str(ROOT), "-p", "TRAIN_JSON", str(tiny_corpus / "train_corpus.json"),
         "-p", "VALID_JSON", str(tiny_corpus / "valid_corpus.json"), "-p", "RESULTS_DIR", str(results),
         "-p", "FINAL_TRAIN_JSON", str(tiny_corpus / "train_corpus_large.json"),
         "-p", "LM_TEXT", str(tiny_corpus / "LibriSpeech" / "synth-lm-text.txt"),
         "-p", "NEW_ENGINE_JSON", str(tiny_corpus / "valid_new_engine_corpus.json"),
         "-p", "REAL_WORDS_JSON", str(tiny_corpus / "real_words_corpus.json"),
         # the tiny corpus has no other real speech: its real words stand in for each real set
         *(arg for name in ("REAL_PROMPTS_JSON", "REAL_SENTENCES_JSON", "REAL_DIALOGUE_JSON", "REAL_DRASCULA_JSON")
           for arg in ("-p", name, str(tiny_corpus / "real_words_corpus.json"))),
         "-p", "EPOCHS", "1", "-p", "FINAL_EPOCHS", "1", "-p", "BATCH_SIZE", "4", "-p", "FINAL_BATCH_SIZE", "3"],
        capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    notebook = json.loads(executed.read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code_cells)
    errors = [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, errors
    text = "".join("".join(o.get("text", "")) for c in code_cells for o in c["outputs"])
    assert "Epoch 1/1" in text and "Predicted transcription" in text
    # BATCH_SIZE reached models 0-6 and FINAL_BATCH_SIZE the final model, each and only there
    assert text.count("batches of 4") == 7 and text.count("batches of 3") == 1
    # STEP 3's table: every model greedy, the final model with the language model too
    table = text[text.index("model      decoder"):].splitlines()
    rows = [line.split()[:2] for line in table[1:11] if line.startswith("model_")]
    assert rows == [[f"model_{n}", "greedy"] for n in range(7)] + [["model_end", d] for d in ("greedy", "lm", "lexicon")]
    assert "truth " in text and "\nlm " in text and "\nlexicon " in text
    # the voices table: every set, PocketSphinx beside ours except on the games' dialogue
    assert "real dialogue  ours, lm" in text and "real dialogue  pocketsphinx" not in text
    assert "real drascula  ours, lm" in text and "real drascula  pocketsphinx" not in text
    assert "real sentences pocketsphinx" in text and "new engine     pocketsphinx" in text
    # and the final model averaged with the second one, on every set, without PocketSphinx
    assert "real drascula  two averaged, lexicon" in text and text.count("pocketsphinx") == 5
    # a clean report: nothing on stderr (TensorFlow's notices), no echoed history dict or tuple, each model's
    # summary shown once
    # (one exception: on this tiny corpus, batches of 4 clips of very different lengths make Keras retrace a
    # training step and say so; the full corpus's sorted batches do not)
    stderr = [o["text"] for c in code_cells for o in c["outputs"] if o.get("name") == "stderr"
              and "triggered tf.function retracing" not in "".join(o["text"])]
    assert not stderr, stderr
    echoed = [c["source"] for c in code_cells for o in c["outputs"]
              if o["output_type"] == "execute_result" and set(o["data"]) == {"text/plain"}]  # not the player
    assert not echoed, echoed
    shown = [line for c in code_cells for o in c["outputs"] if o["output_type"] == "display_data"
             for line in "".join(o["data"].get("text/plain", "")).splitlines() if 'Model: "' in line]
    assert len(shown) == 8 and sum('"final_model"' in line for line in shown) == 1, shown  # models 0-6, final
    for name in ("model_0", "model_1", "model_2", "model_3", "model_4", "model_5", "model_6", "model_end"):
        assert (results / f"{name}.pickle").exists() and (results / f"{name}.h5").exists()
    # the final model trained on the larger set, the others on the one they are compared on
    trained_on = {name: train_utils.trained_on(results / f"{name}.h5") for name in ("model_0", "model_end")}
    assert trained_on == {"model_0": str(tiny_corpus / "train_corpus.json"),
                          "model_end": str(tiny_corpus / "train_corpus_large.json")}
    # the committed results were not touched
    assert not (ROOT / "results" / "executed.ipynb").exists()


# ---- the committed notebook, read without running it

def _committed_cells():
    return json.loads((ROOT / "vui_notebook.ipynb").read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def _output_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        parts.append("".join(o.get("text", "")))
        parts.append("".join(o.get("data", {}).get("text/plain", "")))
    return "".join(parts)


DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+")


def _decimals(text):
    return [Decimal(n.replace(",", "")) for n in DECIMAL.findall(text)]


def _prose(markdown):
    """A markdown cell without its code (settings written as code, such as `learning_rate=0.02`, are not
    figures of the run)."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    return re.sub(r"`[^`]*`", " ", markdown)


def _shown(number, shown):
    """Whether some output shows ``number``, to as many decimals as the prose gives it."""
    half = Decimal(1).scaleb(number.as_tuple().exponent) / 2
    return any(abs(o - number) <= half for o in shown)


def test_every_decimal_in_the_prose_is_an_output_of_the_same_notebook():
    cells = _committed_cells()
    shown = _decimals(" ".join(_output_text(c) for c in cells if c["cell_type"] == "code"))
    stale = [(i, str(n)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for n in _decimals(_prose(_source(c))) if not _shown(n, shown)]
    assert not stale, f"figures in the markdown that no output of the notebook shows (cell, figure): {stale}"


def test_the_decimal_check_reads_rounded_figures_and_skips_code():
    shown = _decimals("val_loss: 16.5384 - WER 14.4 and 1,684.9")
    assert _shown(Decimal("16.5"), shown) and _shown(Decimal("16.54"), shown) and _shown(Decimal("14.4"), shown)
    assert _shown(Decimal("1684.9"), shown)
    assert not _shown(Decimal("16.6"), shown) and not _shown(Decimal("14.5"), shown)
    assert _decimals(_prose("SGD with `learning_rate=0.02` reached 91.8")) == [Decimal("91.8")]


def test_code_cells_import_by_name_and_echo_nothing():
    for cell in _committed_cells():
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        assert "import *" not in source, source
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        tree = ast.parse("\n".join(lines))
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
            called = ast.unparse(last.value.func)
            # a call's value at the end of a cell is shown unless the line ends with ';'
            quiet = source.rstrip().splitlines()[-1].split("  #")[0].rstrip().endswith(";")
            assert quiet or called in ("print", "display", "Audio", "plot_histories"), source


def test_the_notebook_says_how_long_the_long_cells_took():
    cells = _committed_cells()
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and _source(cell).startswith("train_model(input_to_softmax=model_end"):
            before = _source(cells[i - 1])
            assert cells[i - 1]["cell_type"] == "markdown" and "minutes here" in before, before


def test_the_notebook_tells_no_history():
    text = " ".join(_source(c) for c in _committed_cells())
    for phrase in ("session", "last run", "earlier run", "runs ago"):
        assert phrase not in text.lower(), phrase


def test_the_readme_is_user_documentation_and_the_history_has_its_own_file():
    readme = (ROOT / "README.md").read_text()
    assert len(readme) <= 16_000, len(readme)
    assert ".venv/bin/python transcribe.py" in readme and "make all" in readme and "make test" in readme
    assert "EXPERIMENTS.md" in readme and (ROOT / "EXPERIMENTS.md").exists()
    assert "session" not in readme.lower()
