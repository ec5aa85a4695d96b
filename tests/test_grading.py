"""The exercise checks (llmcourse.grading) and the grading command, end to end.

The end-to-end part builds a folder of submissions from the Chapter 00 release and solution
notebooks — correct, blank, broken, looping, crashing, noisy, tampered with, cheating — grades
it with ``python -m llmcourse.grading`` exactly as ``make grade`` does, and checks every CSV row.
Attacks on the grader itself are in ``tests/test_hostile.py``.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.discovery import extract_zip, find_submissions
from llmcourse.grading.notebook import fill_solutions, read_notebook, repair
from llmcourse.grading import check_forbidden, forbidden_uses, forbidden_uses_in_cells, parse_forbidden_checks

ROOT = Path(__file__).resolve().parents[1]
# Its module-scoped fixture (a grading run, a book build, a kernel) runs once: keep the module in one worker.
A = "ch00_intro"
SOFTMAX_RULES = ["llmcourse.intro", "torch.softmax", "torch.nn.functional.softmax", ".softmax", "tokenizers"]


def uses(source: str, function: str | None = "softmax", rules=SOFTMAX_RULES) -> list[str]:
    return forbidden_uses(textwrap.dedent(source), rules, function=function)


# --------------------------------------------------------------------------- forbidden_uses

@pytest.mark.parametrize("source, expected", [
    ("import torch.nn.functional as F\ndef softmax(x):\n    return F.softmax(x, -1)",
     "torch.nn.functional.softmax (line 3, written `F.softmax`)"),
    ("from torch import softmax as s\ndef softmax(x):\n    return s(x, -1)", "torch.softmax (line 3, written `s`)"),
    ("import torch\ndef softmax(x):\n    return torch.softmax(x, -1)", "torch.softmax (line 3)"),
    ("from llmcourse import intro\ndef softmax(x):\n    return intro.softmax(x)",
     "llmcourse.intro (line 3, written `intro.softmax`)"),
    ("import llmcourse.intro as I\ndef softmax(x):\n    return I.softmax(x)", "llmcourse.intro (line 3, written `I.softmax`)"),
    ("import llmcourse\ndef softmax(x):\n    return llmcourse.intro.greedy_pick(x)",
     "llmcourse.intro (line 3, written `llmcourse.intro.greedy_pick`)"),
    ("def softmax(x):\n    return x.softmax(-1)", "the method .softmax (line 2, written `x.softmax`)"),
    ("def softmax(x):\n    import tokenizers\n    return x", "tokenizers (line 2, written `import tokenizers`)"),
    ("from tokenizers import Tokenizer\ndef softmax(x):\n    return Tokenizer(x)", "tokenizers (line 3, written `Tokenizer`)"),
    ("import torch\ndef softmax(x):\n    return getattr(torch, 'softmax')(x, 0)",
     "torch.softmax (line 3, written `getattr(torch, 'softmax')`)"),
    ("import importlib\ndef softmax(x):\n    return importlib.import_module('llmcourse.intro').softmax(x)",
     "llmcourse.intro (line 3, written `importlib.import_module('llmcourse.intro').softmax`)"),
])
def test_forbidden_uses_resolves_aliases(source, expected):
    assert uses(source) == [expected]


def test_star_import_counts_only_names_it_binds():
    star = "from llmcourse.intro import *\nimport torch\n"
    assert uses(star + "def f(x):\n    return softmax(x) + torch.exp(x)", "f") == [
        "llmcourse.intro (line 4, written `softmax`)"]
    # torch is not in llmcourse.intro.__all__, so a later star import does not rebind it
    assert uses("import torch\nfrom llmcourse.intro import *\ndef f(x):\n    return torch.exp(x)", "f") == []
    # a definition after the star import wins, as in Python
    assert uses(star + "def softmax(x):\n    return x\ndef f(x):\n    return softmax(x)", "f") == []


def test_function_scope_and_helpers():
    module_level = "import torch\ny = torch.softmax(torch.zeros(2), 0)\ndef softmax(x):\n    return torch.exp(x)"
    assert uses(module_level) == []
    assert uses(module_level, function=None) == ["torch.softmax (line 2)"]
    helper = "import torch\ndef helper(x):\n    return torch.softmax(x, 0)\ndef softmax(x):\n    return helper(x)"
    assert uses(helper) == ["torch.softmax (line 3)"]
    lam = "import torch\nhelper = lambda x: torch.softmax(x, 0)\ndef softmax(x):\n    return helper(x)"
    assert uses(lam) == ["torch.softmax (line 2)"]
    alias = "import torch\nsm = torch.softmax\ndef softmax(x):\n    return sm(x, 0)"
    assert uses(alias) == ["torch.softmax (line 4, written `sm`)"]
    assert uses("import torch\nsoftmax = torch.softmax") == ["torch.softmax (line 2, written `softmax = torch.softmax`)"]
    assert uses("def other(x):\n    return x") == []  # the function is not there: nothing to check


@pytest.mark.parametrize("source", [
    # a local variable, a parameter and the learner's own function named like a forbidden one
    "import torch\nfrom torch import softmax\ndef f(x):\n    softmax = torch.exp(x)\n    return softmax / softmax.sum()",
    "from torch import softmax\ndef f(x, softmax=None):\n    return softmax",
    "import torch\ndef softmax(x):\n    return x\ndef f(x):\n    return softmax(torch.exp(x))",
    # allowed building blocks and look-alike names
    "import torch\ndef f(x):\n    m = x.amax(-1, keepdim=True)\n    return torch.exp(x - m) / torch.exp(x - m).sum(-1, keepdim=True)",
    "def f(x):\n    return x.softmax_temperature + x.log_softmaxish",
    "%time y = 1\ndef f(x):\n    return x",
])
def test_no_false_positives(source):
    assert uses(source, "f") == []


def test_forbidden_uses_rejects_bad_rules_and_code():
    with pytest.raises(ValueError, match="neither a dotted name"):
        forbidden_uses("x = 1", ["torch softmax"])
    with pytest.raises(TypeError, match="list of names"):
        forbidden_uses("x = 1", "torch.softmax")
    with pytest.raises(SyntaxError):
        forbidden_uses("def f(:\n", ["torch.softmax"])


def test_forbidden_uses_in_cells_names_cells_and_skips_broken_ones():
    cells = ["import torch.nn.functional as F", "def broken(:", "def softmax(x):\n    return F.softmax(x, 0)"]
    [finding] = forbidden_uses_in_cells(cells, SOFTMAX_RULES, function="softmax")
    assert (finding.cell, finding.line, finding.rule) == (2, 2, "torch.nn.functional.softmax")
    # a later cell redefining the function wins, as it would in the kernel
    assert forbidden_uses_in_cells(cells + ["def softmax(x):\n    return x"], SOFTMAX_RULES, function="softmax") == []


def test_parse_forbidden_checks_reads_constants():
    setup = 'NOT_ALLOWED = {"softmax": ["torch.softmax", ".softmax"]}'
    from llmcourse.grading import module_constants

    [check] = parse_forbidden_checks('check_forbidden(softmax, NOT_ALLOWED["softmax"], hint="use exp")',
                                     module_constants([setup]))
    assert (check.function, check.forbidden, check.hint) == ("softmax", ("torch.softmax", ".softmax"), "use exp")
    with pytest.raises(ValueError, match="literal or a constant"):
        parse_forbidden_checks("check_forbidden(softmax, rules_from_somewhere())")


# --------------------------------------------------------------------------- check_forbidden

def _module(tmp_path: Path, source: str, name: str = "learner_module"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_forbidden_message(tmp_path):
    mod = _module(tmp_path, """
        import torch

        def softmax(logits, dim=-1):
            exps = torch.exp(logits)
            return torch.softmax(logits, dim)
    """)
    with pytest.raises(AssertionError) as err:
        check_forbidden(mod.softmax, SOFTMAX_RULES, hint="build it from exp/max/sum")
    assert str(err.value) == ("`softmax` uses torch.softmax (line 6), which this exercise does not allow: "
                              "build it from exp/max/sum")


def test_check_forbidden_passes_clean_code_and_sees_live_aliases(tmp_path):
    mod = _module(tmp_path, """
        import torch
        import torch.nn.functional

        def softmax(logits, dim=-1):
            exps = torch.exp(logits - logits.amax(dim, keepdim=True))
            return exps / exps.sum(dim, keepdim=True)

        def sneaky(logits):
            return hidden(logits, -1)

        hidden = vars(torch.nn.functional)["softmax"]   # not a static alias: found through the live object
    """)
    check_forbidden(mod.softmax, SOFTMAX_RULES)
    with pytest.raises(AssertionError, match="torch.nn.functional.softmax"):
        check_forbidden(mod.sneaky, SOFTMAX_RULES)
    # aliases made in earlier cells, given as the notebook's source
    mod2 = _module(tmp_path, "def softmax(x):\n    return F.softmax(x, 0)\n", name="learner_module2")
    with pytest.raises(AssertionError, match="written `F.softmax`"):
        check_forbidden(mod2.softmax, SOFTMAX_RULES, notebook_source=["import torch.nn.functional as F", "x = 1"])


def test_check_forbidden_on_a_builtin():
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError, match="`softmax` is torch.softmax"):
        check_forbidden(torch.softmax, SOFTMAX_RULES)


def test_check_forbidden_in_a_kernel(tmp_path):
    """In ipykernel: the source comes from inspect.getsource, aliases from the kernel's history."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("import json as J\nfrom llmcourse.grading import check_forbidden"),
        new_code_cell("def encode(x):\n    text = str(x)\n    return J.dumps(text)"),
        new_code_cell("def fine(x):\n    return str(x)"),
        new_code_cell('check_forbidden(fine, ["json.dumps"])\ncheck_forbidden(encode, ["json.dumps"], hint="write it")'),
    ])
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    [error] = [o for o in nb.cells[3].outputs if o.output_type == "error"]
    assert error.ename == "AssertionError"
    assert error.evalue == "`encode` uses json.dumps (line 3, written `J.dumps`), which this exercise does not allow: write it"


# --------------------------------------------------------------------------- repairs and layout (no kernel)

def _release():
    return nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)


def test_repair_restores_what_learners_may_not_change():
    release = _release()
    nb = _release()
    nb.cells.insert(0, nbformat.v4.new_code_cell("x = 1", id="learner-cell"))
    setup = _cell(nb, "setup")
    setup.source = "NOT_ALLOWED = {}"                                     # edited read-only cell
    test = _cell(nb, "test_softmax")
    index = nb.cells.index(test)
    nb.cells[index] = nbformat.v4.new_markdown_cell(test.source, id=test.id, metadata=test.metadata)  # made markdown
    _cell(nb, "test_greedy_pick")["metadata"]["nbgrader"]["grade"] = False   # un-graded
    nb.cells.append(copy.deepcopy(_cell(nb, "test_apply_temperature")))      # duplicated
    nb.cells.remove(_cell(nb, "test_apply_temperature_hidden"))              # deleted
    notes = repair(nb, release)
    assert notes == [
        "read-only cell `setup` had been edited; the original was put back",
        "test cell `test_softmax` had been edited; the original was put back",
        "the grading metadata of test cell `test_greedy_pick` had been changed; it was restored",
        "a copy of cell `test_apply_temperature` was run as an ordinary cell, not graded",
        "test cell `test_apply_temperature_hidden` was missing; it was put back from the original notebook",
    ]
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert graded == [c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata]
    assert nb.cells[0].source == "x = 1"
    assert _cell(nb, "test_softmax").cell_type == "code" and _cell(nb, "setup").source == _cell(release, "setup").source
    assert repair(nb, release) == []  # a repaired notebook needs nothing more


def test_solution_cell_without_metadata_is_matched_by_cell_id():
    nb = _release()
    solution = _cell(nb, "softmax")
    del solution.metadata["nbgrader"]
    solution.source = "def softmax(logits, dim=-1):\n    return logits"
    assert repair(nb, _release()) == ["solution cell `softmax` had lost its grading metadata; it was restored"]
    assert _cell(nb, "softmax").source.endswith("return logits")  # the learner's answer is kept


@pytest.mark.parametrize("content, reason", [
    ("{oops", "not valid JSON"),
    ("[1, 2]", "not a Jupyter notebook"),
    ('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "not a valid notebook"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_read_notebook_reasons(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        read_notebook(path)


def test_find_submissions_layouts(tmp_path):
    for rel in [f"ann/{A}/{A}.ipynb", f"ben/{A}.ipynb", f"cat/{A}/my copy.ipynb", f"dee/{A}/a.ipynb",
                f"dee/{A}/b.ipynb", f"eve/{A}/notes.txt", "fay/ch99/ch99.ipynb", "gus/readme.md",
                f"ann/{A}/.ipynb_checkpoints/{A}-checkpoint.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = {(s.student, s.assignment): s for s in find_submissions(tmp_path, {A})}
    assert found["ann", A].notebook.name == f"{A}.ipynb" and not found["ann", A].notes
    assert found["ben", A].notebook == tmp_path / f"ben/{A}.ipynb"
    assert found["cat", A].notebook.name == "my copy.ipynb" and "named my copy.ipynb" in found["cat", A].notes[0]
    assert found["dee", A].status == "missing_notebook" and "several notebooks" in found["dee", A].message
    assert found["eve", A].status == "missing_notebook"
    assert found["fay", "ch99"].status == "unknown_assignment"
    assert found["gus", ""].status == "missing_notebook"


def test_links_and_unsafe_zip_entries_get_a_row(tmp_path):
    (tmp_path / "real" / A).mkdir(parents=True)
    (tmp_path / "real" / A / f"{A}.ipynb").write_text("{}")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "tree" / "ann" / A).mkdir(parents=True)
    (tmp_path / "tree" / "ann" / A / f"{A}.ipynb").symlink_to(tmp_path / "real" / A / f"{A}.ipynb")
    found = {(s.student, s.assignment): s for s in find_submissions(tmp_path / "tree", {A})}
    assert found["linked", ""].status == "skipped" and "symbolic link" in found["linked", ""].message
    assert found["ann", A].status == "missing_notebook"  # a linked notebook is not followed

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"zed/{A}/{A}.ipynb", "{}")
        z.writestr(f"../yan/{A}/{A}.ipynb", "{}")
        z.writestr(f"/abs/{A}.ipynb", "{}")
        link = zipfile.ZipInfo(f"xia/{A}/{A}.ipynb")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
    skipped = extract_zip(archive, tmp_path / "out")
    rows = {s.student: s for s in skipped}
    assert set(rows) == {"yan", "abs", "xia"} and all(s.status == "skipped" for s in skipped)
    assert "symbolic link" in rows["xia"].message and "outside the archive" in rows["yan"].message
    assert not (tmp_path / "yan").exists() and (tmp_path / "out" / "zed" / A / f"{A}.ipynb").is_file()


# --------------------------------------------------------------------------- grading, end to end

def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def build_submissions(root: Path) -> None:
    """A submissions folder with one student per situation the grader must survive."""
    release = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)

    def good(**wrong):
        return fill_solutions(release, source, wrong)

    def write(student, nb, assignment=A, flat=False):
        path = root / student / (f"{assignment}.ipynb" if flat else f"{assignment}/{assignment}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb) if isinstance(nb, str) else nbformat.write(nb, path)

    softmax = _cell(good(), "softmax").source
    write("alice", good())                                                      # correct
    write("bob", release)                                                        # untouched
    write("carol", '{"cells": [ this is not JSON')                               # invalid JSON
    write("dan", good(softmax="1 / 0\n" + softmax))                              # raises
    write("erin", good(softmax=softmax.replace("    shifted =", "    while True:\n        pass\n    shifted =")))
    write("frank", good(apply_temperature="import os\nos._exit(1)"))             # kills the kernel
    write("grace", good(softmax=softmax + '\nprint("x" * 5_000_000)'))           # prints 5 MB
    nb = good()
    _cell(nb, "test_softmax").source = "pass  # nothing to see here"             # edited test cell
    write("heidi", nb)
    nb = good()
    nb.cells.remove(_cell(nb, "test_softmax_hidden"))                            # deleted test cell
    write("ivan", nb)
    nb = good()
    del _cell(nb, "test_greedy_pick_hidden").metadata["nbgrader"]                # metadata stripped
    write("judy", nb)
    write("mallory", good(softmax=(                                              # forbidden call, check disabled
        "import llmcourse.grading\nllmcourse.grading.check_forbidden = lambda *a, **k: None\n"
        "def softmax(logits, dim=-1):\n    return torch.softmax(logits, dim)")))
    nb = good()
    _cell(nb, "test_softmax").metadata["nbgrader"]["points"] = 100               # inflated points
    write("niaj", nb)
    write("oscar", good(), assignment="ch99_nope")                               # unknown assignment
    write("peggy", good(), flat=True)                                            # <student>/<assignment>.ipynb
    write("trent", good(greedy_pick=(                                            # a loop that ignores interrupts
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")))


EXPECTED = {  # student: (score, status, words in the message)
    "alice": ("10", "graded", ["all tests passed"]),
    "bob": ("0", "graded", ["NotImplementedError"]),
    "carol": ("", "invalid_notebook", ["not valid JSON"]),
    "dan": ("6", "graded", ["NameError", "test_softmax_hidden (0/3"]),
    "erin": ("6", "graded", ["time limit per cell"]),
    "frank": ("", "failed", ["kernel died"]),
    "grace": ("10", "graded", ["all tests passed"]),
    "heidi": ("10", "graded_with_repairs", ["`test_softmax` had been edited"]),
    "ivan": ("10", "graded_with_repairs", ["`test_softmax_hidden` was missing"]),
    "judy": ("10", "graded_with_repairs", ["`test_greedy_pick_hidden` had lost its grading metadata"]),
    "mallory": ("6", "graded", ["torch.softmax (line 4 of cell `softmax`)", "its tests score 0"]),
    "niaj": ("10", "graded_with_repairs", ["changed to 100; reset to 1"]),
    "oscar": ("", "unknown_assignment", ["no assignment named 'ch99_nope'"]),
    "peggy": ("10", "graded", ["all tests passed"]),
    "trent": ("", "failed", ["kernel stopped responding"]),
}


def run_grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmcourse.grading", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    build_submissions(root / "submissions")
    done = run_grade(str(root / "submissions"), "--out", str(root / "out"), "--cell-timeout", "10",
                     "--timeout", "90", "--jobs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "out", done


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_grades_csv_row(graded, student):
    out, _ = graded
    row = read_csv(out / "grades.csv")[student]
    score, status, words = EXPECTED[student]
    assert (row["score"], row["status"]) == (score, status), row
    assert row["max_score"] == ("10" if score else "")
    for word in words:
        assert word in row["message"], row["message"]
    feedback = out / "feedback" / student / f"{row['assignment']}.html"
    assert feedback.exists()
    page = feedback.read_text(encoding="utf-8")
    assert 'id="llmcourse-grading"' in page and len(page) < 1_000_000
    if row["status"] in ("graded", "graded_with_repairs"):
        assert f"{float(row['score']):g} / 10" in page


def test_grading_output_is_complete_and_small(graded):
    out, done = graded
    rows = read_csv(out / "grades.csv")
    assert sorted(rows) == sorted(EXPECTED)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["student", "assignment", "score", "max_score", "status", "message"]
    assert f"{len(EXPECTED)} submissions:" in done.stdout
    grace = (out / "feedback" / "grace" / f"{A}.html").read_text(encoding="utf-8")
    assert "output truncated by the grader" in grace
    alice = (out / "feedback" / "alice" / f"{A}.html").read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in alice and "_close(" not in alice  # hidden tests' code stays hidden
    mallory = (out / "feedback" / "mallory" / f"{A}.html").read_text(encoding="utf-8")
    assert "which this exercise does not allow" in mallory


def test_zip_input_and_usage_errors(tmp_path):
    release = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    archive = tmp_path / "submitted.zip"
    with zipfile.ZipFile(archive, "w") as z:  # wrapped in one folder, as when zipping submitted/
        z.writestr(f"submitted/alice/{A}/{A}.ipynb", nbformat.writes(fill_solutions(release, source)))
        z.writestr(f"submitted/carol/{A}/{A}.ipynb", "not json")
        z.writestr("__MACOSX/._junk", "")
    # A relative --out (as `make grade` passes it) must still receive every feedback page.
    done = run_grade(str(archive), "--out", os.path.relpath(tmp_path / "out", ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "feedback" / "alice" / f"{A}.html").is_file()
    assert (tmp_path / "out" / "feedback" / "carol" / f"{A}.html").is_file()
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "alice": ("10", "graded"), "carol": ("", "invalid_notebook")}

    missing = run_grade(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out2"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    (tmp_path / "bad.zip").write_text("not a zip")
    bad = run_grade(str(tmp_path / "bad.zip"), "--out", str(tmp_path / "out3"))
    assert bad.returncode == 2 and "neither a folder nor a readable .zip" in bad.stderr


def test_per_notebook_time_limit_and_resume(tmp_path):
    release = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    slow = fill_solutions(release, source, {"greedy_pick": "import time\nwhile True:\n    time.sleep(0.5)"})
    for student, nb in (("slow", slow), ("fine", fill_solutions(release, source))):
        (tmp_path / "in" / student / A).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "in" / student / A / f"{A}.ipynb")
    done = run_grade(str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--timeout", "25", "--jobs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert (rows["slow"]["status"], rows["slow"]["score"]) == ("failed", "")
    # 25 s: the honest notebook needs ~4 s on a quiet machine, several times that under load
    assert "longer than the 25 s allowed" in rows["slow"]["message"]
    assert "longer than the 25 s allowed" in (tmp_path / "out" / "feedback" / "slow" / f"{A}.html").read_text()
    assert (rows["fine"]["status"], rows["fine"]["score"]) == ("graded", "10")

    # --resume grades only what is missing or changed; the finished rows are kept as they were
    (tmp_path / "out" / "results" / "fine" / f"{A}.json").unlink()
    nbformat.write(fill_solutions(release, source), tmp_path / "in" / "slow" / A / f"{A}.ipynb")
    again = run_grade(str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--resume", "--jobs", "1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2/2" in again.stderr  # the changed notebook and the missing result
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {"slow": ("graded", "10"), "fine": ("graded", "10")}
    third = run_grade(str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--resume")
    assert third.returncode == 0 and "grading:" not in third.stderr  # nothing left to grade


def test_nbgrader_export_reads_the_gradebook(graded, tmp_path):
    out, _ = graded
    exported = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export",
                               f"--CourseDirectory.db_url=sqlite:///{out / 'gradebook.db'}", "--to", str(tmp_path / "x.csv")],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr[-2000:]
    with open(tmp_path / "x.csv", newline="") as f:
        scores = {row["student_id"]: row["score"] for row in csv.DictReader(f)}
    assert scores["alice"] == "10.0" and scores["bob"] == "0.0" and scores["mallory"] == "6.0"


def test_refuses_without_the_sandbox(tmp_path):
    """No bwrap on the PATH: the command says what to install and grades nothing."""
    (tmp_path / "in" / "alice" / A).mkdir(parents=True)
    (tmp_path / "in" / "alice" / A / f"{A}.ipynb").write_text("{}")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    done = subprocess.run([sys.executable, "-m", "llmcourse.grading", str(tmp_path / "in"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 3, done.stderr
    assert "bubblewrap" in done.stderr and "apt-get install bubblewrap" in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
