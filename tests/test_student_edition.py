"""student_edition.py: the starter is the solution with its marked blocks and answers taken out, and it runs.

The starter is written once per session from the working tree; tests that change it work on a copy.
"""
import ast
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rubric  # noqa: E402
import student_edition  # noqa: E402
from student_edition import EditionError, solution_blocks, starter_source, write_edition  # noqa: E402

SOLUTION_MODELS = (ROOT / "sample_models.py").read_text()
SOLUTION_NOTEBOOK = json.loads((ROOT / "vui_notebook.ipynb").read_text())
# model, the function a student writes for it, the heading of its notebook section
TO_WRITE = [("model_1", "rnn_model", "Model 1"), ("model_2", "cnn_rnn_model", "Model 2"),
            ("model_3", "deep_rnn_model", "Model 3"), ("model_4", "bidirectional_rnn_model", "Model 4"),
            ("model_end", "final_model", "Final Model")]


@pytest.fixture(scope="session")
def starter(tmp_path_factory):
    """The student edition of the working tree."""
    return write_edition(ROOT, tmp_path_factory.mktemp("edition") / "student")


@pytest.fixture
def starter_copy(starter, tmp_path):
    return Path(shutil.copytree(starter, tmp_path / "student"))


def stub_lines(source):
    """0-based indices of the NotImplementedError lines that stand for the solution's blocks."""
    return sorted(node.lineno - 1 for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                  and getattr(node.exc.func, "id", None) == "NotImplementedError")


def put_back(starter_text, functions=None):
    """The starter's sample_models.py with the solution's blocks back (of some functions, or all)."""
    blocks = solution_blocks(SOLUTION_MODELS)
    names = student_edition.enclosing_functions(SOLUTION_MODELS, blocks)
    solution, lines = SOLUTION_MODELS.splitlines(keepends=True), starter_text.splitlines(keepends=True)
    stubs = stub_lines(starter_text)
    assert len(stubs) == len(blocks)
    for stub, (first, last), name in reversed(list(zip(stubs, blocks, names))):
        if functions is None or name in functions:
            lines[stub:stub + 1] = solution[first:last + 1]
    return "".join(lines)


def import_path(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- sample_models.py ---------------------------------------------------------

def test_putting_the_solution_back_gives_the_solution(starter):
    text = (starter / "sample_models.py").read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert put_back(text) == SOLUTION_MODELS


def test_each_model_to_write_raises_naming_itself_and_its_step(starter):
    solution = import_path(ROOT / "sample_models.py", "solution_sample_models")
    handed_out = import_path(starter / "sample_models.py", "starter_sample_models")
    handed_out.simple_rnn_model(input_dim=13)  # model 0, the worked example, is whole
    assert handed_out.cnn_output_length(100, 11, "valid", 2) == solution.cnn_output_length(100, 11, "valid", 2)
    for _, function, heading in TO_WRITE:
        written, stub = getattr(solution, function), getattr(handed_out, function)
        assert inspect.signature(stub) == inspect.signature(written)
        assert stub.__doc__ == written.__doc__
        arguments = {name: 1 for name, p in inspect.signature(stub).parameters.items() if p.default is p.empty}
        with pytest.raises(NotImplementedError) as raised:
            stub(**arguments)
        message = str(raised.value)
        assert message.startswith(f"{function} is yours to write") and "STEP 2" in message and heading in message


@pytest.mark.parametrize("source, says", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "sample_models.py:2: ### BEGIN SOLUTION is never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "sample_models.py:3: ### END SOLUTION with no"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "sample_models.py:1: ### BEGIN SOLUTION outside any function"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n", "sample_models.py:3: ### BEGIN SOLUTION inside"),
])
def test_misplaced_markers_are_named_with_their_line(source, says):
    with pytest.raises(EditionError, match=None) as raised:
        starter_source(source, {})
    assert says in str(raised.value)


# -- the notebook ---------------------------------------------------------------

def test_notebook_has_no_outputs_and_blank_answers_and_otherwise_the_solution(starter):
    notebook = json.loads((starter / "vui_notebook.ipynb").read_text())
    assert notebook["nbformat"] == 4 and "papermill" not in notebook["metadata"]
    cells, solution = notebook["cells"], SOLUTION_NOTEBOOK["cells"]
    assert [c["cell_type"] for c in cells] == [c["cell_type"] for c in solution]
    answers = 0
    for cell, original in zip(cells, solution):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            assert cell["metadata"].get("tags") == original["metadata"].get("tags")
        text, solved = rubric.cell_source(cell), rubric.cell_source(original)
        if rubric.ANSWER_MARK.match(solved):
            answers += 1
            assert text.strip() == "**Answer:**" and len(rubric.words(solved)) > rubric.MIN_ANSWER_WORDS
        else:
            assert text == solved
    assert answers == len(rubric.QUESTIONS)
    parameters = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1 and "EPOCHS = " in rubric.cell_source(parameters[0])


def test_starter_notebook_runs_model_0_and_stops_at_model_1(starter_copy, tiny_corpus, tmp_path):
    executed, results = tmp_path / "executed.ipynb", tmp_path / "results"
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"), JUPYTER_DATA_DIR=str(tmp_path / "jupyter/data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter/runtime"), IPYTHONDIR=str(tmp_path / "ipython"),
               JUPYTER_PLATFORM_DIRS="1")
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(starter_copy / "vui_notebook.ipynb"), str(executed),
         "--kernel", "python3", "--cwd", str(starter_copy),
         "-p", "TRAIN_JSON", str(tiny_corpus / "train_corpus.json"),
         "-p", "VALID_JSON", str(tiny_corpus / "valid_corpus.json"), "-p", "RESULTS_DIR", str(results),
         "-p", "EPOCHS", "1", "-p", "FINAL_EPOCHS", "1", "-p", "BATCH_SIZE", "4", "-p", "FINAL_BATCH_SIZE", "4"],
        capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode != 0, done.stderr[-3000:]
    cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(cells) if any(o["output_type"] == "error" for o in c["outputs"])]
    assert len(failed) == 1, done.stderr[-3000:]
    stop = cells[failed[0]]
    assert "model_1 = rnn_model(" in rubric.cell_source(stop)
    error = next(o for o in stop["outputs"] if o["output_type"] == "error")
    assert error["ename"] == "NotImplementedError"
    assert "rnn_model is yours to write" in error["evalue"] and "Model 1" in error["evalue"]
    assert all(c["execution_count"] for c in cells[:failed[0]])
    assert not any(c["execution_count"] for c in cells[failed[0] + 1:])
    text = "".join("".join(o.get("text", "")) for c in cells[:failed[0]] for o in c["outputs"])
    assert "Epoch 1/1" in text
    assert (results / "model_0.pickle").is_file() and (results / "model_0.h5").is_file()


# -- the rest of the folder -----------------------------------------------------

def project_imports(source):
    """The project modules a Python source (or notebook cell) imports."""
    tree = rubric.code_tree(source)
    names = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return {name for name in names if (ROOT / f"{name}.py").is_file()}


def test_every_module_the_notebook_needs_is_handed_out(starter):
    needed = set()
    todo = set().union(*(project_imports(rubric.cell_source(c)) for c in SOLUTION_NOTEBOOK["cells"]
                         if c["cell_type"] == "code"))
    while todo:
        name = todo.pop()
        needed.add(name)
        todo |= project_imports((ROOT / f"{name}.py").read_text()) - needed
    assert {"sample_models", "train_utils", "decoding", "transcribe"} <= needed
    assert not [name for name in needed if not (starter / f"{name}.py").is_file()]


def test_folder_holds_what_a_student_needs_and_no_answers(starter):
    for name in ("README.md", "requirements.txt", "Makefile", "build_corpus.py", "amazon_queen.py", "drascula.py",
                 "steel_sky.py", "flac_to_wav.sh", "create_desc_json.py", "rubric.py"):  # build_corpus.py imports the game readers
        assert (starter / name).is_file(), name
    for name in ("results", "report.html", "tests", "bench", "student_edition.py"):
        assert not (starter / name).exists(), name
    assert (starter / "requirements.txt").read_bytes() == (ROOT / "requirements.txt").read_bytes()
    readme = (starter / "README.md").read_text()
    assert "rubric.py" in readme and "sample_models.py" in readme


def make(folder, target):
    return subprocess.run(["make", "-n", "-C", str(folder), target], capture_output=True, text=True, timeout=60)


def test_makefile_keeps_the_student_targets_and_drops_the_instructors(starter):
    for target in ("all", "env", "corpus", "notebook", "report", "clean-corpus"):
        done = make(starter, target)
        assert done.returncode == 0, done.stderr
    for target in student_edition.INSTRUCTOR_TARGETS:
        done = make(starter, target)
        assert done.returncode != 0 and "No rule to make target" in done.stderr
    text = (starter / "Makefile").read_text()
    assert "pytest" not in text and "bench/" not in text and "student_edition" not in text
    # every script a recipe runs is handed out with it
    for script in re.findall(r"(?:bash|\$\(PY\)) (\S+\.(?:py|sh)|\.ci/\S+)", text):
        assert (starter / script.removeprefix("../")).is_file(), script  # ../ from inside LibriSpeech/


def test_an_existing_folder_is_replaced_only_when_it_is_an_edition(starter_copy, tmp_path):
    (starter_copy / "notes.txt").write_text("mine")
    write_edition(ROOT, starter_copy)
    assert not (starter_copy / "notes.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    other = tmp_path / "work"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert student_edition.main([str(other)]) == 2
    assert (other / "notes.txt").read_text() == "mine"


# -- grading the starter ----------------------------------------------------------

def failures(root):
    """{criterion: detail} of every FAIL rubric.py gives, after checking it never crashed."""
    results = rubric.check_submission(root)
    assert not [r for r in results if "check crashed" in r.detail]
    return {r.criterion: r.detail for r in results if not r.ok}


def test_the_untouched_starter_fails_each_model_to_write_and_each_blank_answer(starter, capsys):
    assert rubric.main([str(starter)]) == 1
    out = capsys.readouterr().out
    for _, function, _ in TO_WRITE:
        assert f"FAIL {function} written: {function} is not written yet (NotImplementedError: " in out
    for question in rubric.QUESTIONS:
        assert f"FAIL Question {question} answer: blank: write the answer after '**Answer:**'" in out
    assert "Traceback" not in out and "crashed" not in out


def test_a_starter_with_some_models_written_passes_those(starter_copy):
    done = {"rnn_model", "final_model"}
    path = starter_copy / "sample_models.py"
    path.write_text(put_back(path.read_text(), done))
    failed = failures(starter_copy)
    for _, function, _ in TO_WRITE:
        assert (f"{function} written" in failed) == (function not in done), failed
