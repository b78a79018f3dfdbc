"""The notebook itself, run headless on the tiny corpus for one epoch per model, as `make all` runs it."""
import json
import os
import subprocess
import sys
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
         "-p", "EPOCHS", "1", "-p", "FINAL_EPOCHS", "1", "-p", "BATCH_SIZE", "4"],
        capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    notebook = json.loads(executed.read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code_cells)
    errors = [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, errors
    text = "".join("".join(o.get("text", "")) for c in code_cells for o in c["outputs"])
    assert "Epoch 1/1" in text and "Predicted transcription" in text
    assert "batches of 4" in text  # the BATCH_SIZE parameter reached train_model
    # STEP 3's table: every model greedy, the final model with the language model too
    table = text[text.index("model      decoder"):].splitlines()
    rows = [line.split()[:2] for line in table[1:11] if line.startswith("model_")]
    assert rows == [[f"model_{n}", "greedy"] for n in range(7)] + [["model_end", d] for d in ("greedy", "lm", "lexicon")]
    assert "truth " in text and "\nlm " in text and "\nlexicon " in text
    for name in ("model_0", "model_1", "model_2", "model_3", "model_4", "model_5", "model_6", "model_end"):
        assert (results / f"{name}.pickle").exists() and (results / f"{name}.h5").exists()
    # the final model trained on the larger set, the others on the one they are compared on
    trained_on = {name: train_utils.trained_on(results / f"{name}.h5") for name in ("model_0", "model_end")}
    assert trained_on == {"model_0": str(tiny_corpus / "train_corpus.json"),
                          "model_end": str(tiny_corpus / "train_corpus_large.json")}
    # the committed results were not touched
    assert not (ROOT / "results" / "executed.ipynb").exists()
