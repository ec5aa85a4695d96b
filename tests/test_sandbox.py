"""The grader's parts, one at a time: the wire, arguments and their sync, limits, the sandbox, proxies.

End-to-end grading is in test_grading.py and test_hostile.py; here each piece is checked against
what it promises, including what it must refuse.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from llmcourse.grading import arguments, wire
from llmcourse.grading.limits import Cgroup, Limits, rlimits
from llmcourse.grading.sandbox import SandboxUnavailable, check_available, python_paths
from llmcourse.grading.session import CellTimeout, Kernel, LearnerError, Remote

ROOT = Path(__file__).resolve().parents[1]
# Its module-scoped fixture (a grading run, a book build, a kernel) runs once: keep the module in one worker.


# --------------------------------------------------------------------------- the strict decoder

@pytest.mark.parametrize("tree, message", [
    ({"t": "tensor", "dtype": "float32", "shape": [3], "b64": "AAAA"}, "needs 12 bytes"),
    ({"t": "tensor", "dtype": "object", "shape": [1], "b64": ""}, "bad tensor header"),
    ({"t": "pickle", "b64": ""}, "unknown node type"),
    ({"t": "ref", "space": "o", "k": 0}, "reference"),
    ({"t": "float", "v": "__import__('os')"}, "bad float"),
    ({"t": "dict", "items": [[1]]}, "key, value"),
    ({"no": "type"}, "unexpected node"),
])
def test_decode_refuses_malformed_values(tree, message):
    with pytest.raises((wire.WireError, ValueError), match=message):
        wire.decode(tree)


def test_decode_depth_and_plain_values():
    deep = [0]
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested deeper"):
        wire.decode(deep)
    value = wire.decode({"t": "tuple", "items": [1, {"t": "float", "v": "nan"}, {"t": "set", "items": ["a"]},
                                                 {"t": "size", "items": [2, 3]}, {"t": "dtype", "v": "int64"}]})
    assert value[0] == 1 and value[1] != value[1] and value[2] == {"a"}
    assert value[3] == torch.Size([2, 3]) and value[4] is torch.int64


def test_tensor_bytes_round_trip():
    for t in (torch.randn(2, 3), torch.arange(5), torch.tensor(True), torch.randn(4).bfloat16(), torch.empty(0, 3)):
        back = wire.tensor_from_bytes(*wire.tensor_bytes(t))
        assert back.dtype == t.dtype and back.shape == t.shape and torch.equal(back, t)


def test_handles_compare_by_identity():
    a, b = wire.Handle(1, "x.Yes"), wire.Handle(1, "x.Yes")
    assert a != b and a == a and bool(a) and "x.Yes" in repr(a)


def test_frames_refuse_oversized_announcements():
    read, write = os.pipe()
    os.write(write, (wire.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(wire.WireError, match="over the"):
        wire.read_frame(read, time.monotonic() + 1)
    with pytest.raises(wire.Timeout):
        wire.read_frame(read, time.monotonic() + 0.1)
    os.close(read)
    os.close(write)


# --------------------------------------------------------------------------- arguments and their sync

def test_arguments_are_indexed_and_callbacks_stay_behind():
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    indexed, callbacks = [], []
    data = arguments.dumps_args(((model, optimizer, lambda h: h, torch.Generator().manual_seed(1)), {}),
                                indexed, callbacks)
    assert [type(o).__name__ for o in indexed] == ["Linear", "Parameter", "Parameter", "SGD", "Generator"]
    assert len(callbacks) == 1 and callable(callbacks[0])
    arguments.SANDBOX["callback"] = lambda index: ("callback", index)
    arguments.REBUILT.clear()
    (rebuilt_model, rebuilt_opt, proxy, gen), _ = __import__("pickle").loads(data)
    assert proxy == ("callback", 0) and rebuilt_opt.param_groups[0]["params"][0] is rebuilt_model.weight
    assert sorted(arguments.REBUILT) == [0, 1, 2, 3, 4]


def test_walk_containers_is_the_same_on_both_sides():
    value = ([1, {"a": [2]}, ({3},)], {"k": {}})
    walked = arguments.walk_containers(value)
    again = arguments.walk_containers(__import__("pickle").loads(__import__("pickle").dumps(value)))
    assert [type(c).__name__ for c in walked] == [type(c).__name__ for c in again] == ["list", "dict", "list", "set",
                                                                                       "dict", "dict"]


def test_apply_sync_copies_values_grads_and_containers():
    param = torch.nn.Parameter(torch.zeros(2))
    counts = {"a": 1}
    sync = {"objects": [[0, {"t": "tensor", "dtype": "float32", "shape": [2], "b64": _b64(torch.ones(2)),
                              "rg": True, "param": True,
                              "grad": {"t": "tensor", "dtype": "float32", "shape": [2], "b64": _b64(torch.full((2,), 3.0))}}]],
            "containers": [[0, {"t": "dict", "items": [["a", 2], ["b", 1]]}]]}
    arguments.apply_sync(sync, {"o": [param], "c": [counts]}, wire.Handle)
    assert torch.equal(param.detach(), torch.ones(2)) and torch.equal(param.grad, torch.full((2,), 3.0))
    assert counts == {"a": 2, "b": 1}
    with pytest.raises(wire.WireError, match="did not send"):
        arguments.apply_sync({"objects": [[5, {}]]}, {"o": [], "c": []}, wire.Handle)


def _b64(t):
    import base64

    return base64.b64encode(wire.tensor_bytes(t)[2]).decode()


# --------------------------------------------------------------------------- limits

def test_cgroup_v2_candidates_need_memory_and_pids(tmp_path):
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    [(version, [base])] = Cgroup.candidates(tmp_path)
    assert (version, base) == (2, tmp_path)
    group = Cgroup([tmp_path / "job"], 2)
    (tmp_path / "job").mkdir()
    group.apply(Limits(memory_mb=100, processes=7))
    assert (tmp_path / "job" / "memory.max").read_text() == str(100 * 2**20)
    assert (tmp_path / "job" / "pids.max").read_text() == "7"
    (tmp_path / "job" / "memory.events").write_text("oom 1\noom_kill 1\n")
    assert group.oom_killed()
    (tmp_path / "cgroup.subtree_control").write_text("cpu\n")
    assert Cgroup.candidates(tmp_path) == []


def test_rlimits_cap_memory_only_without_a_cgroup():
    with_group, without = rlimits(Limits(memory_mb=512), True), rlimits(Limits(memory_mb=512), False)
    assert "RLIMIT_AS" not in with_group and without["RLIMIT_AS"] == (512 * 2**20, 512 * 2**20)
    assert without["RLIMIT_NPROC"] == (Limits().processes,) * 2 and with_group["RLIMIT_CORE"] == (0, 0)


def test_the_sandbox_never_sees_the_solutions(monkeypatch):
    paths = python_paths(ROOT)
    assert not any((ROOT / "solutions").as_posix().startswith(p) for p in paths)
    monkeypatch.setattr("sys.path", [str(ROOT)] + __import__("sys").path)
    monkeypatch.chdir("/")
    with pytest.raises(SandboxUnavailable, match="expose the solutions"):
        python_paths(ROOT)


def test_an_environment_under_tmp_is_still_visible(tmp_path):
    """The sandbox's own /tmp is mounted first, so a checkout under /tmp is bound over it."""
    from llmcourse.grading.sandbox import bwrap_command

    command = bwrap_command(["3", "4"], ["/tmp/checkout/.venv"], Limits())
    assert command.index("--tmpfs") < command.index("/tmp/checkout/.venv")


def test_check_available_explains_a_missing_bwrap(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        check_available()


# --------------------------------------------------------------------------- a real kernel

@pytest.fixture(scope="module")
def kernel():
    k = Kernel(Limits(memory_mb=1024), ROOT, {"soft": ["torch.softmax", ".softmax"]}, ("x.ipynb", b"{}"))
    k.start()
    k.run_cell(0, "import os, sys, torch\n"
                  "def soft(x, dim=-1):\n    return getattr(torch, 'soft' + 'max')(x, dim)\n"
                  "def shout(x):\n    raise KeyError(f'no {x}')\n"
                  "def spin():\n    while True:\n        pass\n"
                  "class Box:\n    def __init__(self, v):\n        self.v = v\n    def get(self):\n        return self.v\n"
                  "    def __eq__(self, other):\n        return True\n"
                  "def unbox(box, f=None):\n    return (f or (lambda b: b.get()))(box)\n", 60)
    yield k
    k.close()


def test_the_kernel_sees_only_its_sandbox(kernel):
    out = kernel.run_cell(1, f"print(sorted(os.environ)); print(os.path.exists({str(ROOT / 'solutions')!r}), "
                             "os.path.exists(sys.prefix), os.getpid())", 30)
    environ, rest = out["stdout"].strip().splitlines()
    assert "LLMCOURSE_CACHE" in environ and "PYTEST_CURRENT_TEST" not in environ
    assert rest.split() == ["False", "True", "2"]


def test_calls_raise_the_learners_error_type(kernel):
    with pytest.raises(KeyError) as info:
        Remote(kernel, ("global", "shout"), "function", None)(3)
    assert isinstance(info.value, LearnerError) and any("raise KeyError" in line for line in info.value.learner_traceback)


def test_forbidden_calls_are_reported_while_they_run(kernel):
    kernel.reports.clear()
    x = torch.randn(2, 3)
    assert torch.allclose(Remote(kernel, ("global", "soft"), "function", "soft")(x), torch.softmax(x, -1))
    assert {(r["kind"], r["rule"], r["function"]) for r in kernel.reports} == {("forbidden", "torch.softmax", "soft")}


def test_objects_come_back_as_handles(kernel):
    box = Remote(kernel, ("global", "Box"), "class", None)(41)
    assert isinstance(box, Remote) and box != 41 and box.get() == 41 and box.v == 41
    assert json.loads(json.dumps(box.v)) == 41
    unbox = Remote(kernel, ("global", "unbox"), "function", None)
    assert unbox(box) == 41  # the learner's object, passed back to the notebook, is the same object
    assert isinstance(unbox(box, Remote(kernel, ("global", "Box"), "class", None)), Remote)  # their class too


def test_a_call_past_its_time_is_interrupted(kernel):
    kernel.deadline = time.monotonic() + 1
    with pytest.raises(CellTimeout):
        Remote(kernel, ("global", "spin"), "function", None)()
    kernel.deadline = None
    assert Remote(kernel, ("global", "Box"), "class", None)(1).get() == 1  # the kernel is still usable


@pytest.mark.parametrize("folder", ["/tmp", "/"])
def test_a_grader_started_from_tmp_keeps_the_sandboxs_tmp_writable(monkeypatch, folder):
    """A grading script kept in /tmp puts /tmp on sys.path; binding it read-only over the sandbox's
    /tmp left the kernel no temporary folder ("No usable temporary directory"), so every notebook failed."""
    monkeypatch.setattr("sys.path", [folder] + __import__("sys").path)
    assert not any(p in ("/tmp", "/") for p in python_paths(ROOT))


# --------------------------------------------------------------------------- the test suite's zygote

def _forked(zygote, source: str, rules=None) -> Kernel:
    k = Kernel(Limits(memory_mb=1024), ROOT, rules or {}, ("x.ipynb", b"{}"), zygote=zygote)
    k.start()
    assert k.run_cell(0, source, 60)["status"] == "ok"
    return k


def test_each_forked_kernel_starts_from_a_state_no_notebook_touched():
    from llmcourse.grading.session import Zygote

    with Zygote(Limits(memory_mb=1024), ROOT) as zygote:
        first = _forked(zygote, "import builtins, os, torch\nbuiltins.LEAK = 1\nopen('leak.txt', 'w').write('x')\n"
                                "torch.manual_seed(5)\nX = 41\npid = os.getpid()\n"
                                "def state():\n    return X, pid")
        assert Remote(first, ("global", "state"), "function", None)() [0] == 41
        first_pid = first.request(("global", "state"), "call", ((), {}), None)[1]
        first.close()
        second = _forked(zygote, "import builtins, os\n"
                                 "def state():\n    return (hasattr(builtins, 'LEAK'), os.path.exists('leak.txt'),\n"
                                 "            'X' in globals(), os.getpid())")
        leak, file, name, pid = Remote(second, ("global", "state"), "function", None)()
        second.close()
    assert (leak, file, name) == (False, False, False)
    assert pid != first_pid  # another process, forked from the same warm sandbox


def test_a_zygote_gives_the_same_verdicts_as_a_fresh_sandbox():
    """Forbidden calls are still seen at run time, and a child that hangs is stopped by the time limit;
    the zygote then starts a new sandbox for the next notebook."""
    from llmcourse.grading.session import Zygote

    rules = {"soft": ["torch.softmax", ".softmax"]}
    with Zygote(Limits(memory_mb=1024), ROOT) as zygote:
        k = _forked(zygote, "import torch\ndef soft(x):\n    return getattr(torch, 'soft' + 'max')(x, -1)\n"
                            "def spin():\n    while True:\n        pass", rules)
        Remote(k, ("global", "soft"), "function", "soft")(torch.zeros(3))
        assert any(r["kind"] == "forbidden" and r["function"] == "soft" for r in k.reports)
        k.deadline = time.monotonic() + 2
        with pytest.raises(CellTimeout):
            Remote(k, ("global", "spin"), "function", None)()
        k.close()
        after = _forked(zygote, "def one():\n    return 1")
        assert Remote(after, ("global", "one"), "function", None)() == 1
        after.close()
