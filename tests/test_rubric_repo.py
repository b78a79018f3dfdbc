"""rubric.py on the committed submission itself, and on damaged copies of it."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = ("vui_notebook.ipynb", "report.html", "sample_models.py", "char_map.py", "utils.py", "results")


def rubric(path):
    return subprocess.run([sys.executable, str(ROOT / "rubric.py"), str(path)], capture_output=True, text=True,
                          timeout=600)


def copy_submission(tmp_path):
    for name in SUBMISSION:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def test_the_committed_submission_passes():
    done = rubric(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and "Traceback" not in done.stderr
    for name in ("model_0", "model_1", "model_2", "model_3", "model_4", "model_end"):
        assert f"PASS {name} history" in done.stdout and f"PASS {name} weights" in done.stdout


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def untrain(root, name):
    """Comment out the cell that trains a model; the notebook still names its files elsewhere."""
    path = root / "vui_notebook.ipynb"
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if "train_model(" in source and f"'{name}.h5'" in source:
            cell["source"] = "".join(f"# {line}" for line in source.splitlines(keepends=True))
    assert f"{name}.h5" in json.dumps(notebook)
    path.write_text(json.dumps(notebook))


def drop_logs(root):
    """The report without its epoch lines, but still naming val_loss: the word alone is not a training log."""
    path = root / "report.html"
    text = re.sub(r"Epoch \d+/\d+[^\n<]*val_loss: [\d.]+", "", path.read_text())
    assert "Epoch 1/" not in text
    path.write_text(text.replace("</body>", "<p>val_loss</p></body>"))


@pytest.mark.parametrize("damage, expected", [
    (lambda root: untrain(root, "model_end"), "FAIL notebook trains models: no train_model(...) call in "
                                              "vui_notebook.ipynb saves model_end"),
    (drop_logs, "FAIL report training logs"),
    (lambda root: truncate(root / "results/model_2.pickle"), "FAIL model_2 history"),
    (lambda root: (root / "results/model_end.h5").unlink(), "FAIL model_end weights"),
    (lambda root: truncate(root / "vui_notebook.ipynb"), "FAIL notebook format"),
    (lambda root: (root / "report.html").unlink(), "FAIL report"),
])
def test_a_damaged_copy_names_the_failure(tmp_path, damage, expected):
    root = copy_submission(tmp_path)
    damage(root)
    done = rubric(root)
    assert done.returncode == 1
    assert expected in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
