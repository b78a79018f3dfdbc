"""Instructor's automatic check of a vui submission against the project rubric.

    python rubric.py [SUBMISSION_DIR]

Prints one `PASS <criterion>: <detail>` or `FAIL <criterion>: <reason>` line
per criterion, then `N passed, M failed`. Exits 0 only when every criterion
passes. A broken submission is reported, never a traceback: every check runs
on its own and any exception it meets becomes that criterion's FAIL line.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import ast
import contextlib
import html
import importlib.util
import inspect
import io
import json
import math
import pickle
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

NOTEBOOK = "vui_notebook.ipynb"
REPORT = "report.html"
SAMPLE_MODELS = "sample_models.py"
RESULTS = "results"
REQUIRED_FILES = (NOTEBOOK, REPORT, SAMPLE_MODELS, RESULTS + "/")

REQUIRED_MODELS = ("model_0", "model_1", "model_2", "model_3", "model_4", "model_end")
FINAL_MODEL = "model_end"
FINAL_FUNCTION = "final_model"
# The functions a student writes in sample_models.py, by the model the notebook builds with each.
STUDENT_FUNCTIONS = {"model_1": "rnn_model", "model_2": "cnn_rnn_model", "model_3": "deep_rnn_model",
                     "model_4": "bidirectional_rnn_model", FINAL_MODEL: FINAL_FUNCTION}
OPTIONAL_MODEL = re.compile(r"^model_(\d+)$")
FIRST_OPTIONAL = 5
HISTORY_KEYS = ("loss", "val_loss")
MIN_EPOCHS = 20

KERNEL_NAME = "python3"
NOTEBOOK_FORMAT = 4
TO_FORMAT_4 = f"jupyter nbconvert --to notebook --nbformat 4 --inplace {NOTEBOOK}"
TRAIN_CALL = "train_model"
TRAIN_IT = f"train {{name}} in {NOTEBOOK} (its {TRAIN_CALL} cell writes it)"
# A file train_model writes: 'model_3.h5', 'results/model_3.pickle', f'{RESULTS_DIR}/model_3.h5'.
SAVED_MODEL = re.compile(r"(?:^|/)(model_\w+)\.(?:h5|pickle)$")
# IPython lines that are not Python: %magics, !shell commands.
IPYTHON_LINE = re.compile(r"^\s*[%!]")

QUESTIONS = (1, 2)
ANSWER_MARK = re.compile(r"^\s*(?:\*\*|__)?\s*Answer\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?", re.I)
PLACEHOLDER = re.compile(r"\bTODO\b|(?i:your answer here)")
MIN_ANSWER_WORDS = 40
# Words, not characters: markdown markup is gone once the report renders it.
FRAGMENT_WORDS = 12

MIN_REPORT_BYTES = 1000
IMAGE_MARK = re.compile(r"data:image/(?:png|jpeg);base64")
# An epoch line of a training log ('... - loss: 490.62 - val_loss: 459.44'), never the bare word
# val_loss, which a notebook's code or text may mention without having trained anything.
NUMBER = r"[-+]?(?:\d[\d.]*(?:e[-+]?\d+)?|nan|inf)"
LOG_LINE = re.compile(rf"\bloss:\s*{NUMBER}[^\n]*?\bval_loss:\s*{NUMBER}", re.I)
MAKE_REPORT = "export it from the run notebook (make report, or jupyter nbconvert --to html)"

# Keys that carry layer names (or links by name) rather than architecture.
NAME_KEYS = frozenset({"name", "inbound_nodes", "input_layers", "output_layers"})
MAX_DETAIL = 300


class Unavailable(Exception):
    """Something a check needs cannot be had; the message says why."""


class NotWritten(Unavailable):
    """A model function still raises NotImplementedError: the student has not written it."""


@dataclass
class Result:
    """The outcome of one criterion."""

    ok: bool
    criterion: str
    detail: str

    @property
    def line(self):
        text = " ".join(str(self.detail).split())  # one line, whatever the detail
        if len(text) > MAX_DETAIL:
            text = text[: MAX_DETAIL - 3] + "..."
        return f"{'PASS' if self.ok else 'FAIL'} {self.criterion}: {text}"


@dataclass(frozen=True)
class Recipe:
    """The call of a sample_models function that rebuilds one architecture."""

    function: str
    key: str  # the kwargs as sorted JSON: what makes two recipes the same call
    kwargs: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, function, kwargs):
        return cls(function, json.dumps(kwargs, sort_keys=True, default=repr), dict(kwargs))

    def __str__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.function}({args})"


def describe(error):
    """`Type: first line of the message`, short enough for one FAIL line."""
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


@contextlib.contextmanager
def quiet():
    """Swallow what student code prints (model summaries, Keras warnings)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def strip_names(value):
    """A config with every layer name removed, so renamed layers compare equal."""
    if isinstance(value, dict):
        return {k: strip_names(v) for k, v in value.items() if k not in NAME_KEYS}
    if isinstance(value, (list, tuple)):
        return [strip_names(v) for v in value]
    return value


def architecture(model):
    """A comparable signature: per layer its class, nameless config, output shape, size."""
    rows = []
    for layer in model.layers:
        try:
            config = strip_names(layer.get_config())
        except Exception:  # a custom layer without get_config still has the rest
            config = None
        try:
            shape = str(tuple(layer.output.shape))
        except Exception:
            shape = None
        try:
            params = layer.count_params()
        except Exception:
            params = None
        rows.append([type(layer).__name__, config, shape, params])
    return json.dumps(rows, sort_keys=True, default=str)


def cell_source(cell):
    """A cell's source as one string (nbformat allows a string or a list)."""
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(source) if isinstance(source, list) else str(source)


def words(text):
    """The words of a text, markup and punctuation dropped."""
    return re.findall(r"[^\W_]+", text)


def code_tree(source):
    """A code cell's Python syntax tree (IPython %magic and !shell lines left out), or None."""
    lines = ["" if IPYTHON_LINE.match(line) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def called_name(call):
    """The name a call calls: `f` for f(...) and for module.f(...)."""
    function = call.func
    return function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)


def html_text(markup):
    """The visible text of an HTML page, tags dropped and entities unescaped."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    return html.unescape(re.sub(r"(?s)<[^>]*>", " ", markup))


class Submission:
    """Lazy, memoised access to the parts of a submission directory."""

    def __init__(self, root):
        self.root = Path(root)
        self._cache = {}

    def _memo(self, key, load):
        # Remember failures too: a broken file is reported once, not re-read per check.
        if key not in self._cache:
            try:
                self._cache[key] = (True, load())
            except Unavailable as error:
                self._cache[key] = (False, str(error))
        ok, value = self._cache[key]
        if not ok:
            raise Unavailable(value)
        return value

    # -- results/ -----------------------------------------------------------

    def model_names(self):
        """The required models, then every optional model_5, model_6, ... present."""
        optional = []
        results = self.root / RESULTS
        if results.is_dir():
            for path in results.glob("model_*.pickle"):
                match = OPTIONAL_MODEL.match(path.stem)
                if match and int(match.group(1)) >= FIRST_OPTIONAL:
                    optional.append((int(match.group(1)), path.stem))
        return list(REQUIRED_MODELS) + [name for _, name in sorted(optional)]

    def history(self, name):
        """The unpickled dict of results/<name>.pickle."""
        return self._memo(("history", name), lambda: self._load_history(name))

    def _load_history(self, name):
        path = self.root / RESULTS / f"{name}.pickle"
        if not path.is_file():
            raise Unavailable(f"{RESULTS}/{name}.pickle missing: {TRAIN_IT.format(name=name)}")
        try:
            with open(path, "rb") as handle, quiet():
                data = pickle.load(handle)
        except (Exception, SystemExit) as error:
            raise Unavailable(f"{RESULTS}/{name}.pickle unreadable ({describe(error)})")
        if not isinstance(data, dict):
            raise Unavailable(f"{RESULTS}/{name}.pickle holds a {type(data).__name__}, not a dict")
        return data

    def recipe(self, name):
        """The `build` entry of a model's pickle, validated."""
        build = self.history(name).get("build")
        where = f"{RESULTS}/{name}.pickle"
        if not isinstance(build, dict):
            raise Unavailable(f"{where} has no 'build' dict to rebuild the architecture")
        function, kwargs = build.get("function"), build.get("kwargs", {})
        if not isinstance(function, str) or not function.isidentifier():
            raise Unavailable(f"{where}: build['function'] is {function!r}, not a function name")
        if not isinstance(kwargs, dict):
            raise Unavailable(f"{where}: build['kwargs'] is a {type(kwargs).__name__}, not a dict")
        if not all(isinstance(key, str) for key in kwargs):
            raise Unavailable(f"{where}: build['kwargs'] has keys that are not argument names")
        return Recipe.of(function, kwargs)

    # -- sample_models.py ---------------------------------------------------

    def sample_models(self):
        """The submission's own sample_models module, imported by file path."""
        return self._memo("sample_models", self._import_sample_models)

    def _import_sample_models(self):
        path = self.root / SAMPLE_MODELS
        if not path.is_file():
            raise Unavailable(f"{SAMPLE_MODELS} missing")
        spec = importlib.util.spec_from_file_location("sample_models", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["sample_models"] = module  # the submission's, never one from elsewhere
        try:
            with quiet():
                spec.loader.exec_module(module)
        except (Exception, SystemExit) as error:
            raise Unavailable(f"{SAMPLE_MODELS} failed to import ({describe(error)})")
        return module

    def build(self, recipe):
        """A fresh model from a recipe; its architecture signature is memoised on the way."""
        function = getattr(self.sample_models(), recipe.function, None)
        if not callable(function):
            raise Unavailable(f"{SAMPLE_MODELS} has no function {recipe.function}")
        try:
            with quiet():
                model = function(**recipe.kwargs)
        except NotImplementedError as error:
            raise NotWritten(f"{recipe.function} is not written yet ({describe(error)})")
        except (Exception, SystemExit) as error:
            raise Unavailable(f"{recipe} raised {describe(error)}")
        if not hasattr(model, "load_weights") or not hasattr(model, "layers"):
            raise Unavailable(f"{recipe} returned a {type(model).__name__}, not a Keras model")
        self._cache.setdefault(("architecture", recipe), (True, architecture(model)))
        return model

    def architecture(self, recipe):
        """The architecture signature of a recipe's model."""
        return self._memo(("architecture", recipe), lambda: architecture(self.build(recipe)))

    # -- notebook -----------------------------------------------------------

    def notebook(self):
        """The notebook as a JSON dict with a list of cells."""
        return self._memo("notebook", self._load_notebook)

    def _load_notebook(self):
        path = self.root / NOTEBOOK
        if not path.is_file():
            raise Unavailable(f"{NOTEBOOK} missing")
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise Unavailable(f"{NOTEBOOK} is not JSON ({describe(error)})")
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            version = notebook.get("nbformat") if isinstance(notebook, dict) else None
            found = f"nbformat {version!r}" if version is not None else "not a notebook"
            raise Unavailable(f"{NOTEBOOK} has no list of cells ({found}): save it as nbformat "
                              f"{NOTEBOOK_FORMAT} ({TO_FORMAT_4})")
        return notebook

    def cells(self, cell_type):
        """(index, cell) of every cell of a type, indices counting all cells."""
        return [(i, c) for i, c in enumerate(self.notebook()["cells"])
                if isinstance(c, dict) and c.get("cell_type") == cell_type]

    def code_trees(self):
        """(index, syntax tree or None) of every code cell."""
        return self._memo("code_trees", lambda: [(i, code_tree(cell_source(cell)))
                                                 for i, cell in self.cells("code")])

    def call_of(self, name, function):
        """The recipe a model is built by: the notebook's `name = function(...)` cell, else its pickle.

        The notebook's call is what the student's notebook runs (the last such cell with literal
        arguments); the pickle's `build` is what trained. A function whose arguments all have
        defaults is called with none.
        """
        built = getattr(self.sample_models(), function, None)
        if not callable(built):
            raise Unavailable(f"{SAMPLE_MODELS} has no function {function}")
        try:
            parameters = inspect.signature(built)
        except (TypeError, ValueError):
            parameters = None
        calls = []
        with contextlib.suppress(Unavailable):
            calls = [call for _, tree in self.code_trees() if tree is not None
                     for call in self._literal_calls(tree, name, function)]
        for kwargs in reversed(calls):
            try:  # the defaults as the pickle records them, so both name the same recipe
                bound = parameters.bind(**kwargs)
                bound.apply_defaults()
                return Recipe.of(function, dict(bound.arguments))
            except (AttributeError, TypeError):
                return Recipe.of(function, kwargs)
        with contextlib.suppress(Unavailable):
            recipe = self.recipe(name)
            if recipe.function == function:
                return recipe
        if parameters is not None and all(p.default is not p.empty for p in parameters.parameters.values()):
            return Recipe.of(function, {})
        raise Unavailable(f"cannot call {function}: no cell of {NOTEBOOK} runs {name} = {function}(...) "
                          f"with literal arguments, and {RESULTS}/{name}.pickle does not record its build")

    @staticmethod
    def _literal_calls(tree, name, function):
        """The keyword arguments of each `name = function(k=literal, ...)` in a cell."""
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and called_name(node.value) == function
                    and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):
                continue
            call = node.value
            if call.args or any(k.arg is None for k in call.keywords):
                continue
            try:
                yield {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            except (ValueError, TypeError, SyntaxError, RecursionError):
                continue

    def trained_models(self):
        """The model names whose files some train_model call in a code cell saves."""
        trained = set()
        for _, tree in self.code_trees():
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, ast.Call) and called_name(node) == TRAIN_CALL:
                    arguments = list(node.args) + [k.value for k in node.keywords]
                    for value in (v for a in arguments for v in ast.walk(a)):
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            match = SAVED_MODEL.search(value.value)
                            if match:
                                trained.add(match.group(1))
        return trained

    def answer(self, question):
        """The answer text (marker dropped) written after the cell asking a question."""
        return self._memo(("answer", question), lambda: self._find_answer(question))

    def _find_answer(self, question):
        cells = [c for c in self.notebook()["cells"] if isinstance(c, dict)]
        asks = re.compile(rf"Question\s*{question}\b")
        asked = False
        for i, cell in enumerate(cells):
            if cell.get("cell_type") == "markdown" and asks.search(cell_source(cell)):
                asked = True
                text = self._answer_after(cells, i)
                if text is not None:
                    return text
        if not asked:
            raise Unavailable(f"no markdown cell mentions 'Question {question}'")
        raise Unavailable(f"no 'Answer:' markdown cell follows the 'Question {question}' cell")

    @staticmethod
    def _answer_after(cells, index):
        """The run of Answer: markdown cells after cells[index], or None; code cells between are skipped."""
        parts = []
        for cell in cells[index + 1:]:
            if cell.get("cell_type") != "markdown":
                if parts:
                    break
                continue
            match = ANSWER_MARK.match(cell_source(cell))
            if not match:
                break
            parts.append(cell_source(cell)[match.end():])
        return "\n".join(parts) if parts else None

    # -- report -------------------------------------------------------------

    def report(self):
        """The raw text of report.html."""
        return self._memo("report", self._load_report)

    def _load_report(self):
        path = self.root / REPORT
        if not path.is_file():
            raise Unavailable(f"{REPORT} missing")
        data = path.read_bytes()
        if len(data) < MIN_REPORT_BYTES:
            raise Unavailable(f"{REPORT} is only {len(data)} bytes (under {MIN_REPORT_BYTES}): {MAKE_REPORT}")
        return data.decode("utf-8", errors="replace")


# -- checks: each returns a Result (or raises Unavailable for a FAIL) -------

def check_required_files(sub):
    def present(name):
        path = sub.root / name
        return path.is_dir() if name.endswith("/") else path.is_file()

    missing = [name for name in REQUIRED_FILES if not present(name)]
    if missing:
        return Result(False, "required files", "missing " + ", ".join(missing))
    return Result(True, "required files", ", ".join(REQUIRED_FILES))


def check_sample_models(sub):
    module = sub.sample_models()
    functions = sorted(name for name, value in vars(module).items()
                       if callable(value) and name.endswith("_model")
                       and getattr(value, "__module__", None) == module.__name__)
    return Result(True, SAMPLE_MODELS, "imports; defines " + (", ".join(functions) or "no *_model function"))


def check_written(sub, name, function):
    """The function a student writes builds a Keras model for the call the notebook makes."""
    recipe = sub.call_of(name, function)
    sub.architecture(recipe)
    return Result(True, f"{function} written", f"{recipe} builds {name}")


def check_history(sub, name):
    data = sub.history(name)
    lengths = {}
    for key in HISTORY_KEYS:
        values = data.get(key)
        if values is None or isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
            raise Unavailable(f"{RESULTS}/{name}.pickle has no '{key}' list")
        for epoch, value in enumerate(values):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise Unavailable(f"{key}[{epoch}] is {value!r}, not a number")
            if not math.isfinite(number):
                raise Unavailable(f"{key}[{epoch}] is {number}")
        lengths[key] = len(values)
    short = {k: n for k, n in lengths.items() if n < MIN_EPOCHS}
    if short:
        counts = ", ".join(f"{n} epochs of {k}" for k, n in short.items())
        raise Unavailable(f"only {counts} (need {MIN_EPOCHS})")
    last = ", ".join(f"{k} {float(data[k][-1]):.4g}" for k in HISTORY_KEYS)
    return Result(True, f"{name} history", f"{lengths['loss']} epochs, last {last}")


def check_weights(sub, name):
    recipe = sub.recipe(name)
    h5 = sub.root / RESULTS / f"{name}.h5"
    if not h5.is_file():
        raise Unavailable(f"{RESULTS}/{name}.h5 missing: {TRAIN_IT.format(name=name)}")
    model = sub.build(recipe)
    try:
        with quiet():
            model.load_weights(str(h5))
    except (Exception, SystemExit) as error:
        raise Unavailable(f"{RESULTS}/{name}.h5 does not load into {recipe}: {describe(error)}")
    return Result(True, f"{name} weights", f"{RESULTS}/{name}.h5 loads into {recipe}")


def check_final_model(sub):
    function = getattr(sub.sample_models(), FINAL_FUNCTION, None)
    if not callable(function):
        raise Unavailable(f"{SAMPLE_MODELS} has no function {FINAL_FUNCTION}")
    final = Recipe.of(FINAL_FUNCTION, {})
    signature = sub.architecture(final)
    try:
        built_by = sub.recipe(FINAL_MODEL).function
    except Unavailable:
        built_by = FINAL_FUNCTION  # an unreadable pickle already FAILs its own lines
    if built_by != FINAL_FUNCTION:
        raise Unavailable(f"{RESULTS}/{FINAL_MODEL}.pickle was built by {built_by}, not {FINAL_FUNCTION}")
    same, unknown, compared = [], [], []
    for name in sub.model_names():
        if name == FINAL_MODEL:
            continue
        try:
            other = sub.architecture(sub.recipe(name))
        except Unavailable:
            unknown.append(name)  # that model's own lines already FAIL
            continue
        compared.append(name)
        if other == signature:
            same.append(name)
    if same:
        raise Unavailable(f"{FINAL_FUNCTION}() has the same architecture as " + ", ".join(same))
    if unknown:
        # Distinctness is unproven while any earlier model cannot be rebuilt.
        raise Unavailable(f"cannot compare {FINAL_FUNCTION}() with " + ", ".join(unknown)
                          + " (cannot rebuild them)")
    return Result(True, FINAL_FUNCTION, f"{FINAL_FUNCTION}() differs from " + ", ".join(compared))


def check_notebook_format(sub):
    notebook = sub.notebook()
    if notebook.get("nbformat") != NOTEBOOK_FORMAT:
        raise Unavailable(f"{NOTEBOOK} is nbformat {notebook.get('nbformat')!r}, not {NOTEBOOK_FORMAT}: "
                          f"save it as nbformat {NOTEBOOK_FORMAT} ({TO_FORMAT_4})")
    metadata = notebook.get("metadata")
    kernelspec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    kernel = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    if kernel != KERNEL_NAME:
        raise Unavailable(f"kernel is {kernel!r}, not {KERNEL_NAME!r}")
    return Result(True, "notebook format", f"nbformat {NOTEBOOK_FORMAT}, kernel {KERNEL_NAME}")


def check_notebook_executed(sub):
    code = sub.cells("code")
    unrun, errors = [], []
    for index, cell in code:
        if not cell_source(cell).strip():
            continue  # an empty cell has nothing to run
        if not isinstance(cell.get("execution_count"), int):
            unrun.append(index)
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                errors.append(f"cell {index} raised {output.get('ename', 'an error')}")
    problems = errors[:]
    if unrun and len(unrun) == sum(1 for _, cell in code if cell_source(cell).strip()):
        problems.append(f"no code cell of {NOTEBOOK} has run: run it (make notebook) and save it")
    elif unrun:
        problems.append("not run: " + ", ".join(f"cell {i}" for i in unrun))
    if problems:
        raise Unavailable("; ".join(problems))
    return Result(True, "notebook executed", f"all {len(code)} code cells run, no error output")


def check_notebook_trains(sub):
    trained = sub.trained_models()
    missing = [name for name in REQUIRED_MODELS if name not in trained]
    if missing:
        unread = [f"cell {i}" for i, tree in sub.code_trees() if tree is None]
        note = f" ({', '.join(unread)} not Python, not read)" if unread else ""
        raise Unavailable(f"no {TRAIN_CALL}(...) call in {NOTEBOOK} saves " + ", ".join(missing)
                          + f"{note}: train each in a cell, e.g. {TRAIN_CALL}(..., "
                          f"save_model_path='{missing[0]}.h5')")
    return Result(True, "notebook trains models", f"{TRAIN_CALL} saves " + ", ".join(REQUIRED_MODELS))


def check_answer(sub, question):
    text = sub.answer(question)
    if not text.strip():
        raise Unavailable(f"blank: write the answer after '**Answer:**' below Question {question} in {NOTEBOOK}")
    if PLACEHOLDER.search(text):
        raise Unavailable(f"the answer is a placeholder: replace it in {NOTEBOOK}")
    count = len(words(text))
    if count < MIN_ANSWER_WORDS:
        raise Unavailable(f"the answer has {count} words (need {MIN_ANSWER_WORDS})")
    return Result(True, f"Question {question} answer", f"{count} words")


def check_report(sub):
    size = len(sub.report().encode("utf-8", errors="replace"))
    return Result(True, "report", f"{REPORT}, {size / 1024:.0f} KiB")


def check_report_answers(sub):
    page = " ".join(words(html_text(sub.report())))
    missing = []
    for question in QUESTIONS:
        try:
            fragment = " ".join(words(sub.answer(question))[:FRAGMENT_WORDS])
        except Unavailable as error:
            raise Unavailable(f"cannot check: Question {question}: {error}")
        if not fragment or f" {fragment} " not in f" {page} ":
            missing.append(f"Question {question}")
    if missing:
        raise Unavailable(f"{REPORT} lacks the answer to " + ", ".join(missing))
    return Result(True, "report answers", f"{REPORT} holds the answers to both questions")


def check_report_figures(sub):
    count = len(IMAGE_MARK.findall(sub.report()))
    if not count:
        raise Unavailable(f"{REPORT} embeds no image (data:image/png;base64)")
    return Result(True, "report figures", f"{count} embedded image(s)")


def check_report_logs(sub):
    count = len(LOG_LINE.findall(html_text(sub.report())))
    if not count:
        raise Unavailable(f"{REPORT} holds no training log (no 'loss: ... - val_loss: ...' epoch line): "
                          + MAKE_REPORT)
    return Result(True, "report training logs", f"{count} epoch line(s) with loss and val_loss")


def plan(sub):
    """(criterion, check) in the order they are printed."""
    steps = [("required files", lambda: check_required_files(sub)),
             (SAMPLE_MODELS, lambda: check_sample_models(sub))]
    steps += [(f"{function} written", lambda n=name, f=function: check_written(sub, n, f))
              for name, function in STUDENT_FUNCTIONS.items()]
    for name in sub.model_names():
        steps.append((f"{name} history", lambda n=name: check_history(sub, n)))
        steps.append((f"{name} weights", lambda n=name: check_weights(sub, n)))
    steps += [(FINAL_FUNCTION, lambda: check_final_model(sub)),
              ("notebook format", lambda: check_notebook_format(sub)),
              ("notebook executed", lambda: check_notebook_executed(sub)),
              ("notebook trains models", lambda: check_notebook_trains(sub))]
    steps += [(f"Question {q} answer", lambda q=q: check_answer(sub, q)) for q in QUESTIONS]
    steps += [("report", lambda: check_report(sub)),
              ("report answers", lambda: check_report_answers(sub)),
              ("report figures", lambda: check_report_figures(sub)),
              ("report training logs", lambda: check_report_logs(sub))]
    return steps


def run_check(criterion, check):
    """One criterion's Result; whatever goes wrong inside is that criterion's FAIL."""
    try:
        return check()
    except Unavailable as reason:
        return Result(False, criterion, str(reason))
    except (Exception, SystemExit) as error:
        return Result(False, criterion, f"check crashed: {describe(error)}")


@contextlib.contextmanager
def isolated(root):
    """Let the submission import its own modules; leave sys.path and sys.modules as found."""
    saved_path = list(sys.path)
    saved_module = sys.modules.get("sample_models")
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path[:] = saved_path
        if saved_module is None:
            sys.modules.pop("sample_models", None)
        else:
            sys.modules["sample_models"] = saved_module
        if "keras" in sys.modules:  # only if a check imported it: free the built models
            with contextlib.suppress(Exception), quiet():
                sys.modules["keras"].backend.clear_session()


def iter_results(path):
    """Yield each criterion's Result as soon as it is known."""
    sub = Submission(Path(path).resolve())
    with isolated(sub.root):
        for criterion, check in plan(sub):
            yield run_check(criterion, check)


def check_submission(path):
    """Every criterion's Result for the submission at path."""
    return list(iter_results(path))


def main(argv=None):
    """Print the rubric for a submission; 0 when every criterion passes, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", default=".", help="submission directory (default .)")
    args = parser.parse_args(argv)
    if not Path(args.submission).is_dir():
        kind = "a file" if Path(args.submission).exists() else "not there"
        parser.error(f"{args.submission} is {kind}, not a folder: give the folder that holds the "
                     f"submission's {NOTEBOOK}")
    passed = failed = 0
    for result in iter_results(args.submission):
        print(result.line, flush=True)
        passed, failed = passed + result.ok, failed + (not result.ok)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
