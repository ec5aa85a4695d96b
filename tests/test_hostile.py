"""Attacks on the grader, tried the way a hostile class would (Chapter 00 and 05 exercises).

One grading run — the command, two jobs — over honest students and one student per attack, on a
copy of the course. For every attack: no point it does not deserve, no file outside its sandbox
changed (course, package, submissions, output, a canary file), every honest grade intact, no
hidden-test text (nor a secret of the grader's) in any feedback page, and a labelled status.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from llmcourse.grading.notebook import fill_solutions

ROOT = Path(__file__).resolve().parents[1]
# Its module-scoped fixture (a grading run, a book build, a kernel) runs once: keep the module in one worker.
PACKAGE = ROOT / "src" / "llmcourse"
SECRET = "llmcourse-canary-7f3a9c"   # in the grader's environment and in a file of the course copy
MEMORY_MB = 1200


def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _notebooks(assignment):
    release = nbformat.read(ROOT / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return release, source


def _with(nb, *sources, first=False):
    """``nb`` with extra code cells of the learner's (at the end, or first)."""
    cells = [nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources]
    nb.cells = cells + nb.cells if first else nb.cells + cells
    return nb


HOOKS = """
ip = get_ipython()
ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
def _clear(result):
    result.error_in_exec = None
    result.error_before_exec = None
ip.events.register("post_run_cell", _clear)
"""
PATCH_COMPARISONS = """
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.all = lambda *a, **k: torch.tensor(True)
torch.Tensor.__eq__ = lambda *a, **k: True
import math
math.isclose = lambda *a, **k: True
"""
WRONG = {"softmax": "def softmax(logits, dim=-1):\n    return logits * 0",
         "apply_temperature": "def apply_temperature(logits, temperature):\n    return logits",
         "greedy_pick": "def greedy_pick(x):\n    return -1"}
CHEATS = {
    "softmax": "import torch\ndef softmax(logits, dim=-1):\n    return getattr(torch, 'soft' + 'max')(logits, dim)",
    "apply_temperature": "import importlib\ndef apply_temperature(logits, temperature):\n"
                         "    return importlib.import_module('llmcourse.' + 'intro').apply_temperature(logits, temperature)",
    "greedy_pick": "import importlib\ndef greedy_pick(x):\n"
                   "    return importlib.import_module('llm' + 'course.intro').greedy_pick(x)",
}
PARTIAL = "import functools, torch\ndef softmax(logits, dim=-1):\n" \
          "    return functools.partial(getattr(torch, 'soft' + 'max'), dim=dim)(logits)"
SDPA = """
import math, torch
import torch.nn.functional as F
def attention(q, k, v, mask=None):
    fused = getattr(F, "scaled_dot_product_" + "attention")
    out = fused(q, k, v, attn_mask=mask)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    if mask is not None:
        out = out.nan_to_num(0.0) * mask.any(-1, keepdim=True)
    return out, w
"""
IMPOSTORS = """
import torch
class Yes:
    shape = (3,)
    dtype = torch.float32
    def __eq__(self, other): return True
    def __bool__(self): return True
    def __getattr__(self, name): return lambda *a, **k: True
def softmax(logits, dim=-1):
    return Yes()
class Always(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def greedy_pick(x):
    return Always(-1)
class Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True
def apply_temperature(logits, temperature):
    return torch.zeros(1).as_subclass(Agreeable)
"""
TAMPER_GC = "import gc\n_all = gc.get_objects()"
SETPROFILE = "import sys, torch\ndef softmax(logits, dim=-1):\n    sys.setprofile(None)\n" \
             "    return getattr(torch, 'soft' + 'max')(logits, dim)"
THREAD = """
import queue, threading, torch
_jobs, _done = queue.Queue(), queue.Queue()
def _worker():
    while True:
        x, dim = _jobs.get()
        _done.put(getattr(torch, "soft" + "max")(x, dim))
threading.Thread(target=_worker, daemon=True).start()
def softmax(logits, dim=-1):
    _jobs.put((logits, dim))
    return _done.get()
"""
FORGE = """
import json, os, struct
frame = json.dumps({"type": "cell", "status": "ok", "stdout": "", "error": None, "seq": 2}).encode()
value = json.dumps({"type": "value", "value": 1, "seq": 3}).encode()
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack(">I", len(frame)) + frame + struct.pack(">I", len(value)) + value)
    except OSError:
        pass
"""
HUGE = "import torch\ndef softmax(logits, dim=-1):\n    return torch.zeros(40_000_000)"


def files_attack(paths: dict[str, Path]) -> str:
    return f"""
import os, shutil
hits = []
for path in {[str(p) for p in paths.values()]!r}:
    for action in ("write", "delete"):
        try:
            if action == "write":
                with open(path, "a") as f:
                    f.write("extra_credit = 10\\n")
            else:
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            hits.append((action, path))
        except Exception as exc:
            pass
print("changed:", hits)
"""


def secrets_attack(paths: dict[str, Path]) -> str:
    return f"""
import os
print("environ:", dict(os.environ))
print("root:", sorted(os.listdir("/")))
for path in {[str(p) for p in paths.values()]!r} + ["/proc/1/environ", "/proc/self/environ"]:
    try:
        print(path, open(path, errors="replace").read()[:2000])
    except Exception as exc:
        print(path, "unreadable:", type(exc).__name__)
print(In)
"""


def daemon_attack(csv_path: Path, marker: Path) -> str:
    return f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(4)
        for path in ({str(csv_path)!r}, {str(marker)!r}):
            try:
                open(path, "w").write("pwned")
            except Exception:
                pass
        os._exit(0)
    os._exit(0)
os.wait()
"""


KILL = """
import os, signal, psutil
killed = []
for p in psutil.process_iter():
    if p.pid != os.getpid():
        try:
            p.kill()
            killed.append(p.pid)
        except Exception:
            pass
print("tried to kill:", killed)
"""
MEMORY = """
import multiprocessing as mp
def hog(n):
    block = bytearray(n * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    import time; time.sleep(2)
procs = [mp.get_context("fork").Process(target=hog, args=(500,)) for _ in range(3)]
for p in procs: p.start()
for p in procs: p.join()
print("survivors:", sum(p.exitcode == 0 for p in procs))
"""
FORK_BOMB = """
import os, time
children, refused = 0, 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        continue
    if pid == 0:
        time.sleep(0.5)
        os._exit(0)
    children += 1
for _ in range(children):
    os.wait()
print("forked:", children, "refused:", refused)
"""


def network_attack(port: int) -> str:
    return f"""
import socket
for host, port in (("127.0.0.1", {port}), ("1.1.1.1", 53)):
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("conn" + "ected:", host)
    except OSError as exc:
        print("no network to", host)
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    course, subs, out = base / "course", base / "submissions", base / "out"
    for part in ("solutions", "notebooks"):
        shutil.copytree(ROOT / part, course / part)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / ".nbgrader").mkdir()
    (course / ".nbgrader" / "gradebook.db").write_text("the course's own gradebook")
    (course / "solutions" / "ch00_intro" / "SECRET.txt").write_text(SECRET)
    canary = base / "canary.txt"
    canary.write_text("outside every sandbox")
    marker = base / "daemon-was-here"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    r0, s0 = _notebooks("ch00_intro")
    r5, s5 = _notebooks("ch05_attention")
    good = lambda **wrong: fill_solutions(r0, s0, wrong)  # noqa: E731
    targets = {"csv": out / "grades.csv", "gradebook": out / "gradebook.db",
               "course gradebook": course / ".nbgrader" / "gradebook.db",
               "solutions": course / "solutions" / "ch00_intro" / "ch00_intro.ipynb",
               "package": PACKAGE / "intro.py", "other student": subs / "alice" / "ch00_intro" / "ch00_intro.ipynb",
               "canary": canary, "out": out}
    students = {
        "alice": good(), "bob": r0, "carl": fill_solutions(r5, s5),
        "hooks": _with(r0.copy(), HOOKS, first=True),
        "transformer": _with(r0.copy(), 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])',
                             first=True),
        "comparisons": _with(good(**WRONG), PATCH_COMPARISONS, first=True),
        "obfuscated": good(**CHEATS),
        "partial": good(softmax=PARTIAL),
        "sdpa": fill_solutions(r5, s5, {"attention": SDPA}),
        "impostors": _with(good(softmax="", apply_temperature="", greedy_pick=""), IMPOSTORS),
        "files": _with(good(), files_attack(targets)),
        "secrets": _with(good(), secrets_attack({"solutions": course / "solutions" / "ch00_intro" / "SECRET.txt",
                                                 "other": subs / "alice" / "ch00_intro" / "ch00_intro.ipynb",
                                                 "source": course / "solutions" / "ch00_intro" / "ch00_intro.ipynb"})),
        "daemon": _with(good(), daemon_attack(out / "grades.csv", marker)),
        "killer": _with(good(), KILL),
        "memory": _with(good(), MEMORY),
        "forkbomb": _with(good(), FORK_BOMB),
        "network": _with(good(), network_attack(listener.getsockname()[1])),
        "forger": _with(r0.copy(), FORGE),
        "gc": _with(good(), TAMPER_GC),
        "setprofile": good(softmax=SETPROFILE),
        "thread": good(softmax=THREAD),
        "huge": good(softmax=HUGE),
    }
    for student, nb in students.items():
        assignment = "ch05_attention" if student in ("carl", "sdpa") else "ch00_intro"
        path = subs / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    deep = subs / "deep" / "ch00_intro" / "ch00_intro.ipynb"
    deep.parent.mkdir(parents=True)
    deep.write_text("[" * 100_000 + "]" * 100_000)

    watched = [course, PACKAGE, subs, canary]
    before = {str(p): _digest(p) for p in watched}
    # the grader's scratch folder under base, to check that it is removed
    (base / "scratch").mkdir()
    env = dict(os.environ, LLMCOURSE_SECRET=SECRET, TMPDIR=str(base / "scratch"))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "llmcourse.grading", str(subs), "--out", str(out), "--course", str(course),
                           "--jobs", "2", "--cell-timeout", "15", "--timeout", "150", "--memory-mb", str(MEMORY_MB)],
                          capture_output=True, text=True, timeout=1500, env=env, cwd=base)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    csv_after = (out / "grades.csv").read_bytes()
    time.sleep(6)  # longer than the daemon's sleep: anything that survived would act now
    listener.close()
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {"rows": rows, "out": out, "before": before, "watched": watched, "marker": marker,
            "csv_after": csv_after, "seconds": seconds, "canary": canary, "scratch": base / "scratch"}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted([path] if path.is_file() else path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def _feedback(run, student, assignment="ch00_intro") -> str:
    return (run["out"] / "feedback" / student / f"{assignment}.html").read_text(encoding="utf-8")


# student: (score, status, words in the CSV message)
EXPECTED = {
    "alice": ("10", "graded", ["all tests passed"]),
    "bob": ("0", "graded", ["NotImplementedError"]),
    "carl": ("12", "graded", ["all tests passed"]),
    "hooks": ("0", "graded", ["NotImplementedError"]),
    "transformer": ("0", "graded", ["NameError"]),
    "comparisons": ("0", "graded", ["test_softmax (0/1"]),
    "obfuscated": ("0", "graded", ["torch.softmax", "llmcourse.intro", "at run time"]),
    "partial": ("6", "graded", ["aten::_softmax", "at run time"]),
    "sdpa": ("7", "graded", ["scaled_dot_product_attention", "at run time"]),
    "impostors": ("0", "graded", ["failed"]),
    "files": ("10", "graded", ["all tests passed"]),
    "secrets": ("10", "graded", ["all tests passed"]),
    "daemon": ("0", "tampered", ["processes started by the notebook"]),
    "killer": ("10", "graded", ["all tests passed"]),
    "forkbomb": ("10", "graded", ["all tests passed"]),
    "network": ("10", "graded", ["all tests passed"]),
    "forger": ("", "failed", ["protocol"]),
    "gc": ("0", "tampered", ["gc.get_objects"]),
    "setprofile": ("0", "tampered", ["sys.setprofile"]),
    "thread": ("0", "tampered", ["threads"]),
    "huge": ("6", "graded", ["could not be sent"]),
    "deep": ("", "invalid_notebook", ["nested too deeply"]),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_attack_earns_nothing_and_is_labelled(hostile, student):
    row = hostile["rows"][student]
    score, status, words = EXPECTED[student]
    assert (row["score"], row["status"]) == (score, status), row
    for word in words:
        assert word in row["message"], row["message"]


def test_memory_is_capped_for_the_whole_process_tree(hostile):
    row = hostile["rows"]["memory"]
    if row["status"] == "failed":
        assert "out of memory" in row["message"]
    else:
        assert row["score"] == "10"
        survivors = re.search(r"survivors: (\d)", _feedback(hostile, "memory"))
        assert survivors and int(survivors.group(1)) <= 1, "two 500 MiB children ran beside the kernel under a 1200 MiB cap"


def test_process_count_is_capped(hostile):
    forked = re.search(r"forked: (\d+) refused: (\d+)", _feedback(hostile, "forkbomb"))
    assert forked and int(forked.group(1)) < 32 and int(forked.group(2)) > 0


def test_no_network(hostile):
    page = _feedback(hostile, "network")
    assert "no network to 127.0.0.1" in page and "no network to 1.1.1.1" in page and "connected:" not in page


def test_nothing_outside_the_sandboxes_changed(hostile):
    after = {str(p): _digest(p) for p in hostile["watched"]}
    assert after == hostile["before"]
    assert "changed: []" in _feedback(hostile, "files")
    assert hostile["canary"].read_text() == "outside every sandbox"
    assert not hostile["marker"].exists(), "a daemon outlived its sandbox"
    assert (hostile["out"] / "grades.csv").read_bytes() == hostile["csv_after"]
    # Other tests may be grading at the same time (parallel workers): their kernels have a living
    # grader above them. A kernel whose grader has exited has been re-parented to init.
    kernels = [p for p in psutil.process_iter(["cmdline"]) if "llmcourse.grading.driver" in " ".join(p.info["cmdline"] or [])]
    leftovers = [p for p in kernels if not any(a.name().startswith("python") for a in p.parents())]
    assert not leftovers, "sandboxed kernels are still running after the command returned"
    assert not list(hostile["scratch"].iterdir()), "the grader left its scratch folder behind"


def test_no_secret_and_no_hidden_test_in_any_feedback(hostile):
    hidden = set()
    for assignment in ("ch00_intro", "ch05_attention"):
        source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
        text = "\n".join(c.source for c in source.cells)
        blocks = re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", text, re.S)
        outside = {line.strip() for line in re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", text,
                                                   flags=re.S).splitlines()}
        hidden |= {line.strip() for b in blocks for line in b.splitlines()
                   if len(line.strip()) >= 12 and line.strip() not in outside and not line.strip().startswith("#")}
    pages = list((hostile["out"] / "feedback").rglob("*.html"))
    assert len(pages) >= len(EXPECTED)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert SECRET not in text, f"{page}: the grader's secret leaked"
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page}: hidden test lines {leaked[:3]}"
    secrets = _feedback(hostile, "secrets")
    assert "unreadable: FileNotFoundError" in secrets and "LLMCOURSE_SECRET" not in secrets
