"""Write the student edition: the folder a student starts from, generated from this solution.

    python student_edition.py [OUT]      (default student/; `make student` runs it)

The solution is the one source of truth. What a student writes is marked in it, in the manner of
nbgrader, by lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``; in the student edition each marked
block becomes one ``raise NotImplementedError`` naming its function and the notebook step that
describes it. Into OUT go:

- ``sample_models.py`` with the marked blocks replaced (model 0 and the helpers stay whole);
- ``vui_notebook.ipynb`` with every output and run count cleared and the text after each
  ``**Answer:**`` blanked; every other cell, the parameters cell included, as in the solution;
- ``Makefile`` without the instructor's targets (the test suite, the benchmark, this one);
- ``README.md`` for students, and the modules, corpus scripts and requirements the notebook needs,
  copied unchanged. Never the trained ``results/``, the ``report.html`` or the tests.

OUT is written beside itself and swapped in whole. An existing OUT is replaced only when it holds the
stamp file this script writes, so a folder someone worked in is never overwritten.
"""
import argparse
import ast
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from rubric import ANSWER_MARK, NOTEBOOK, SAMPLE_MODELS

ROOT = Path(__file__).resolve().parent
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
MAKEFILE = "Makefile"
README = "README.md"
STAMP = ".student_edition"
# Copied unchanged: everything the notebook, the corpus build and the self-check need.
HANDED_OUT = ("build_corpus.py", "amazon_queen.py", "drascula.py", "steel_sky.py", "char_map.py", "create_desc_json.py",
              "ctc.py", "data_generator.py", "decoding.py", "distributed.py", "flac_to_wav.sh", "gru.py", "language_model.py",
              "plots.py", "rubric.py", "train_utils.py", "transcribe.py", "utils.py", "requirements.txt", ".gitignore",
              ".ci/system-packages")  # make env installs the speech engines with it
# Makefile targets that serve the instructor: they need the tests, bench/ or this script.
INSTRUCTOR_TARGETS = ("test", "bench", "student")
# Cell metadata a run leaves behind (papermill's timings); tags and the rest stay.
RUN_METADATA = ("execution", "papermill")

STUDENT_README = """\
# vui: speech recognition with neural networks (student edition)

You build the acoustic models of an end-to-end speech recogniser: features in, characters out, trained
with the CTC loss. `vui_notebook.ipynb` walks through every step; the models are functions in
`sample_models.py`.

## Set up (once)

```sh
make env      # .venv with the pinned requirements (Python 3.11)
make corpus   # the speech corpus, built on your machine (about 40 min on 2 cores)
```

## Your work

1. Open the notebook (`.venv/bin/jupyter notebook vui_notebook.ipynb`) and run it cell by cell.
   STEP 1 and Model 0 run as they are: Model 0 (`simple_rnn_model`) is the worked example.
2. Write `rnn_model`, `cnn_rnn_model`, `deep_rnn_model`, `bidirectional_rnn_model` and
   `final_model` in `sample_models.py`. Each raises `NotImplementedError` until you do; its docstring
   and the notebook say what to build. Run each model's cells after writing it: the notebook reloads
   `sample_models.py` by itself. Your final model must differ from the other models.
3. Answer Questions 1 and 2 in the notebook after **Answer:** (40 words or more each).
4. Run the whole notebook and export the report: `make all` (or run every cell, save, and
   `.venv/bin/jupyter nbconvert --to html vui_notebook.ipynb --output report.html`).

## Check and hand in

`.venv/bin/python rubric.py .` prints the instructor's checks, one PASS or FAIL line each, with what
to fix. Hand in this folder without `LibriSpeech/`, `.venv/` and the corpus JSON files: at least
`vui_notebook.ipynb` (run, with its outputs), `report.html`, `sample_models.py` and `results/`
(every model's `.pickle` and `.h5`).
"""


class EditionError(Exception):
    """The solution cannot be turned into a student edition; the message names the file and the fix."""


# -- sample_models.py -------------------------------------------------------

def solution_blocks(source, path=SAMPLE_MODELS):
    """(first, last) line indices (0-based, markers included) of every marked block, in order."""
    blocks, begin = [], None
    for index, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise EditionError(f"{path}:{index + 1}: {BEGIN} inside the block opened at line "
                                   f"{begin + 1}; close that one with {END} first")
            begin = index
        elif marker == END:
            if begin is None:
                raise EditionError(f"{path}:{index + 1}: {END} with no {BEGIN} before it")
            blocks.append((begin, index))
            begin = None
    if begin is not None:
        raise EditionError(f"{path}:{begin + 1}: {BEGIN} is never closed: add {END} after the block")
    return blocks


def enclosing_functions(source, blocks, path=SAMPLE_MODELS):
    """The name of the innermost function holding each block (where its BEGIN line lies)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise EditionError(f"{path}:{error.lineno}: not Python ({error.msg})")
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    names = []
    for first, last in blocks:
        # a function's end is its last statement: the END comment after it lies outside
        holding = [f for f in functions if f.lineno < first + 1 <= f.end_lineno]
        if not holding:
            raise EditionError(f"{path}:{first + 1}: {BEGIN} outside any function; only a function's "
                               "body can be left for the student")
        names.append(max(holding, key=lambda f: f.lineno).name)
    return names


def stub_line(indent, function, step):
    """The line that stands for a function's body in the student edition."""
    message = f"{function} is yours to write: build it in {SAMPLE_MODELS} as {step} describes"
    return f"{indent}raise NotImplementedError({message!r})"


def starter_source(source, steps, path=SAMPLE_MODELS):
    """The solution's source with each marked block replaced by its NotImplementedError line.

    ``steps`` maps a function name to where the notebook describes it; others get "the notebook".
    """
    lines = source.splitlines(keepends=True)
    blocks = solution_blocks(source, path)
    functions = enclosing_functions(source, blocks, path)
    for (first, last), function in reversed(list(zip(blocks, functions))):
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        stub = stub_line(indent, function, steps.get(function, "the notebook")) + "\n"
        lines[first:last + 1] = [stub]
    return "".join(lines)


# -- the notebook -----------------------------------------------------------

def cell_text(cell):
    """A cell's source as one string (nbformat allows a string or a list)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


HEADING = re.compile(r"^#{2,6}\s+(.+?)\s*$", re.M)
STEP_HEADING = re.compile(r"^STEP\s+\d+\b")


def notebook_steps(notebook, functions):
    """Where the notebook describes each function: 'notebook STEP 2, "Model 1: ..."'.

    The place is the headings above the first code cell that calls the function: the nearest
    ``## STEP n`` heading and the nearest heading below it.
    """
    steps = {}
    step = section = None
    for cell in notebook.get("cells", []):
        text = cell_text(cell)
        if cell.get("cell_type") == "markdown":
            for heading in HEADING.findall(text):
                if STEP_HEADING.match(heading):
                    step, section = heading.split(":")[0], None
                else:
                    section = heading
            continue
        for function in functions:
            if function not in steps and re.search(rf"\b{re.escape(function)}\s*\(", text):
                place = ", ".join(f'"{p}"' if p == section else p for p in (step, section) if p)
                steps[function] = f"notebook {place}" if place else "the notebook"
    return steps


def blank_answer(text):
    """An answer cell's source cut after its '**Answer:**' mark, or None when it is no answer cell."""
    match = ANSWER_MARK.match(text)
    return text[:match.end()].rstrip() + " " if match else None


def starter_notebook(notebook):
    """The notebook as a student gets it: no outputs, no run counts, blank answers."""
    notebook = json.loads(json.dumps(notebook))  # a deep copy
    for cell in notebook.get("cells", []):
        metadata = cell.get("metadata", {})
        for key in RUN_METADATA:
            metadata.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":
            blank = blank_answer(cell_text(cell))
            if blank is not None:
                cell["source"] = blank
    notebook.get("metadata", {}).pop("papermill", None)
    return notebook


def notebook_json(notebook):
    """A notebook as Jupyter writes it."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


# -- the Makefile -----------------------------------------------------------

RULE = re.compile(r"^([^\s#=:][^=:]*?)\s*:(?![=:])")


def student_makefile(text, dropped=INSTRUCTOR_TARGETS):
    """The Makefile without the rules (recipe and the comments just above) of the dropped targets."""
    kept, comments, skipping = [], [], False
    for line in text.splitlines(keepends=True):
        if skipping and line.startswith("\t"):
            continue
        skipping = False
        rule = RULE.match(line)
        if line.startswith(".PHONY:"):
            names = [n for n in line.split(":", 1)[1].split() if n not in dropped]
            if not names:
                continue
            line = ".PHONY: " + " ".join(names) + "\n"
        elif rule and set(rule.group(1).split()) <= set(dropped):
            comments, skipping = [], True
            continue
        elif re.match(rf"^#\s+make\s+({'|'.join(map(re.escape, dropped))})\b", line):
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        kept += comments + [line]
        comments = []
    kept += comments
    return re.sub(r"\n{3,}", "\n\n", "".join(kept))


# -- writing ----------------------------------------------------------------

def edition_files(solution):
    """{relative path: text} of everything generated, and the files copied as they are."""
    solution = Path(solution)
    notebook = json.loads((solution / NOTEBOOK).read_text(encoding="utf-8"))
    models = (solution / SAMPLE_MODELS).read_text(encoding="utf-8")
    functions = enclosing_functions(models, solution_blocks(models))
    written = {
        SAMPLE_MODELS: starter_source(models, notebook_steps(notebook, functions)),
        NOTEBOOK: notebook_json(starter_notebook(notebook)),
        MAKEFILE: student_makefile((solution / MAKEFILE).read_text(encoding="utf-8")),
        README: STUDENT_README,
        STAMP: "Written by student_edition.py from the solution; `make student` there writes it again.\n",
    }
    missing = [name for name in HANDED_OUT if not (solution / name).is_file()]
    if missing:
        raise EditionError(f"{solution} lacks {', '.join(missing)}: the student edition needs them")
    return written, [solution / name for name in HANDED_OUT]


def write_edition(solution, out):
    """Write the student edition of ``solution`` to ``out``, swapped in whole."""
    out = Path(out).resolve()
    if out.exists() and not (out / STAMP).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise EditionError(f"{out} exists and is not a student edition (no {STAMP}): move it away "
                           "or name another folder")
    written, copied = edition_files(solution)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        for name, text in written.items():
            (building / name).write_text(text, encoding="utf-8")
        for path in copied:
            target = building / path.relative_to(solution)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        os.chmod(building, 0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old.partial")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        building.rename(out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def main(argv=None):
    """Write the student edition; 0 when written, 2 with a message when it cannot be."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="student", help="the folder to write (default student/)")
    args = parser.parse_args(argv)
    try:
        out = write_edition(ROOT, args.out)
    except (EditionError, OSError, ValueError) as error:
        print(f"student_edition.py: {error}", file=sys.stderr)
        return 2
    print(f"wrote the student edition to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
