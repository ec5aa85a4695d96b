"""The grader's side of a sandboxed kernel: the learner's names as :class:`Remote` proxies.

A test cell runs in the grader with, say, ``softmax`` bound to ``Remote("softmax")``. Calling it
pickles the arguments to the sandbox, where the learner's ``softmax`` runs; its result comes back
as plain data (:func:`llmcourse.grading.wire.decode`) and the test compares it with the oracle
*here*, with the grader's own ``torch.allclose``. What the learner's function changed in its
arguments (a dict updated, gradients clipped, a model trained one step) and the global random
generators are copied back, so tests read as if the function had run in their own process.

Exceptions from the learner's code arrive as :class:`LearnerError` subclasses of the matching
built-in (``except ValueError`` in a test still works); a call that runs past the cell's time is
interrupted and raises :class:`CellTimeout`; a kernel that dies or ignores the interrupt raises
:class:`KernelFailure`, which ends the grading of that notebook.
"""

from __future__ import annotations

import builtins
import json
import pickle
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch

from llmcourse.grading import wire
from llmcourse.grading.arguments import apply_sync, dumps_args, walk_containers
from llmcourse.grading.limits import Limits, rlimits
from llmcourse.grading.sandbox import Sandbox

START_SECONDS = 120       # for the sandbox to start Python and import torch (slow on a busy machine)
GRACE_SECONDS = 5         # for an interrupted call to come back before the kernel counts as unresponsive


class KernelFailure(Exception):
    """The kernel died or stopped responding: the notebook cannot be graded."""


class CellTimeout(Exception):
    """A call into the notebook ran past the time allowed for the test cell."""


class LearnerError(Exception):
    """Raised in a test when the learner's code raised; ``learner_traceback`` holds their lines."""

    learner_traceback: list[str] = []
    learner_type: str = ""


_ERROR_CLASSES: dict[str, type] = {}


def learner_error(answer: dict) -> LearnerError:
    """An exception of the learner's built-in type (``ValueError`` …) that is also a LearnerError."""
    base = next((getattr(builtins, n) for n in answer.get("mro", []) if isinstance(getattr(builtins, n, None), type)
                 and issubclass(getattr(builtins, n), Exception)), Exception)
    if base.__name__ not in _ERROR_CLASSES:
        _ERROR_CLASSES[base.__name__] = type(base.__name__, (base, LearnerError), {"__module__": "builtins"})
    error = _ERROR_CLASSES[base.__name__](str(answer.get("evalue", ""))[:2000])
    error.learner_traceback = [str(line)[:300] for line in answer.get("traceback", [])][:12]
    error.learner_type = str(answer.get("ename", base.__name__))[:100]
    return error


class Remote:
    """A name (or an object) of the learner's notebook, living in the sandbox.

    Calls, attributes, items, ``len`` and iteration go to the sandbox; equality, hashing and truth
    are Python's defaults for this proxy (identity, ``True``), so no learner code can decide them.
    ``check`` names the function whose forbidden list applies while it runs.
    """

    __slots__ = ("_kernel", "_target", "_type", "_check", "__weakref__")

    def __init__(self, kernel: "Kernel", target: tuple[str, Any], type_name: str, check: str | None):
        self._kernel, self._target, self._type, self._check = kernel, target, type_name, check

    @property
    def __llmcourse_target__(self) -> tuple[str, Any]:
        """What the sandbox resolves this proxy to when it is passed back as an argument."""
        return self._target

    def _ask(self, action: str, payload: Any = None) -> Any:
        return self._kernel.request(self._target, action, payload, self._check)

    def __call__(self, *args, **kwargs):
        return self._ask("call", (args, kwargs))

    def __getattr__(self, name: str):
        if name == "__name__" and self._target[0] == "global":
            return self._target[1]
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __len__(self) -> int:
        value = self._ask("len")
        if type(value) is not int:
            raise TypeError("len() of an object from the notebook did not give an int")
        return value

    def __iter__(self):
        return iter(self._ask("iter"))

    def __repr__(self) -> str:
        if self._target[0] == "global":
            return f"<`{self._target[1]}` from the notebook>"
        return f"<{self._type} object from the notebook>"

    def __llmcourse_forbidden_check__(self, forbidden, hint: str = "") -> None:
        """Used by :func:`llmcourse.grading.check_forbidden` when a test cell runs in the grader."""
        self._kernel.check_forbidden(self._check or "", forbidden, hint)


class Kernel:
    """A sandbox running the driver, and the protocol with it (see :mod:`llmcourse.grading.driver`)."""

    def __init__(self, limits: Limits, course_root: Path | None, rules: dict[str, list[str]],
                 notebook: tuple[str, bytes], on_forbidden_check=None, zygote: "Zygote | None" = None):
        self.limits, self.rules, self.notebook = limits, rules, notebook
        self.zygote = zygote
        self.sandbox = zygote.sandbox if zygote is not None else Sandbox(limits, course_root)
        self.reports: list[dict] = []
        self.callbacks: list[Any] = []
        self.deadline: float | None = None
        self.on_forbidden_check = on_forbidden_check
        self.calls = 0
        self.seq = 0

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> dict:
        if self.zygote is not None:
            self.sandbox = self.zygote.fork()
        else:
            self.sandbox.start()
        message = {"op": "setup", "rules": self.rules, "notebook": self.notebook,
                   "rlimits": rlimits(self.limits, self.sandbox.cgroup is not None)}
        try:
            if self.zygote is not None:
                forked = self._exchange({"op": "fork"}, time.monotonic() + START_SECONDS)
                if forked.get("type") != "forked":
                    raise self._failure(f"the zygote did not fork: {forked.get('reason', forked.get('type'))}")
            answer = self._exchange(message, time.monotonic() + START_SECONDS)
        except KernelFailure as exc:  # before any learner code: say what the sandbox itself printed
            said = bytes(self.sandbox.output).decode("utf-8", "replace").strip().splitlines()[-1:]
            raise KernelFailure(f"the sandbox did not start ({exc}){': ' + said[0][:300] if said else ''}") from None
        if answer.get("type") != "ready":
            raise self._failure(f"the sandbox did not start: {answer.get('reason', answer.get('type'))}")
        return answer

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.reap()
        else:
            self.sandbox.stop()

    def __enter__(self) -> "Kernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def run_cell(self, index: int, source: str, seconds: float) -> dict:
        """Run one learner cell; ``{"status": "ok"|"error"|"timeout", "stdout", "error"}``."""
        try:
            answer = self._exchange({"op": "cell", "index": index, "source": source}, time.monotonic() + seconds)
        except CellTimeout:
            return {"status": "timeout", "stdout": "", "error": None}
        if answer["type"] == "interrupted":  # the learner's code raised KeyboardInterrupt itself
            return {"status": "error", "stdout": answer.get("stdout", ""), "error": {"ename": "KeyboardInterrupt"}}
        if answer["type"] != "cell" or answer.get("status") not in ("ok", "error"):
            raise self._failure("the kernel broke the grading protocol (an unexpected answer to a cell)")
        error = answer.get("error") if isinstance(answer.get("error"), dict) else None
        return {"status": answer["status"], "stdout": str(answer.get("stdout", ""))[:100_000],
                "error": {k: str(error.get(k, ""))[:2000] for k in ("ename", "evalue")} if error else None}

    def request(self, target: tuple[str, Any], action: str, payload: Any, check: str | None) -> Any:
        """Act on a learner object in the sandbox; return the decoded result (or raise theirs)."""
        indexed: list = []
        data = dumps_args(payload, indexed, self.callbacks)
        containers = walk_containers(payload)
        numpy = sys.modules.get("numpy")
        rng = {"torch": torch.get_rng_state(), "random": random.getstate(),
               "numpy": numpy.random.get_state() if numpy is not None else None}
        self.calls += 1
        answer = self._exchange({"op": "call", "target": target, "action": action, "payload": data,
                                 "check": check, "rng": rng}, self.deadline, refs=(indexed, containers))
        if answer["type"] == "interrupted":
            raise learner_error({"mro": ["KeyboardInterrupt"], "ename": "KeyboardInterrupt",
                                 "evalue": "the notebook's code raised KeyboardInterrupt"})
        if answer["type"] not in ("value", "raised", "unsendable"):
            raise self._failure(f"the kernel broke the grading protocol (answer {answer['type']!r} to a call)")
        if answer["type"] == "unsendable":
            raise TypeError(f"what the notebook's code returned could not be sent to the grader "
                            f"({answer.get('reason', '')})")
        refs = {"o": indexed, "c": containers}
        make = self._handle_maker(check)
        apply_sync(answer.get("sync", {}), refs, make)
        self._apply_rng(answer.get("rng"))
        if answer["type"] == "raised":
            raise learner_error(answer)
        return wire.decode(answer.get("value"), refs, make)

    def check_forbidden(self, function: str, forbidden, hint: str) -> None:
        if self.on_forbidden_check is not None:
            self.on_forbidden_check(function, forbidden, hint)

    # -- the exchange -----------------------------------------------------------------------
    def _exchange(self, message: dict, deadline: float | None, refs: tuple = ((), ())) -> dict:
        if self.sandbox.send_fd is None:
            raise KernelFailure("the kernel is no longer running")
        self.seq += 1
        message["seq"] = self.seq
        try:
            wire.write_frame(self.sandbox.send_fd, pickle.dumps(message, protocol=4))
        except (BrokenPipeError, OSError) as exc:
            raise self._failure(f"the kernel closed its channel ({exc})") from None
        interrupted = False
        while True:
            try:
                raw = wire.read_frame(self.sandbox.receive_fd, deadline)
            except wire.Timeout:
                if interrupted or not self.sandbox.interrupt():
                    raise self._failure("the kernel stopped responding (it ignored the per-cell time limit)")
                interrupted, deadline = True, time.monotonic() + GRACE_SECONDS
                continue
            except (EOFError, OSError) as exc:
                raise self._failure(f"the kernel stopped ({exc})") from None
            except wire.WireError as exc:
                raise self._failure(f"the kernel broke the grading protocol ({exc})") from None
            try:
                answer = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                raise self._failure(f"the kernel sent an unreadable answer ({exc})") from None
            if not isinstance(answer, dict):
                raise self._failure("the kernel sent an unreadable answer")
            kind = answer.get("type")
            if kind == "report":
                self.reports.append({k: str(answer.get(k, ""))[:300] for k in ("kind", "rule", "how", "function")})
            elif kind == "callback":
                self._callback(answer, refs)
            elif answer.get("seq") != self.seq or not isinstance(kind, str):
                raise self._failure("the kernel broke the grading protocol (an answer out of sequence)")
            elif interrupted and kind == "interrupted":
                raise CellTimeout("stopped by the time limit per cell (an endless loop, or very slow code?)")
            else:
                return answer

    def _failure(self, reason: str) -> KernelFailure:
        time.sleep(0.05)
        if self.sandbox.cgroup is not None and self.sandbox.cgroup.oom_killed():
            reason = f"the kernel ran out of memory (the limit is {self.limits.memory_mb:,} MiB)"
        elif self.sandbox.process is not None and self.sandbox.process.poll() is not None:
            reason = (f"the kernel died (exit code {self.sandbox.process.returncode}: os._exit(), a crash in "
                      "native code, or a resource limit)")
        self.sandbox.stop()
        return KernelFailure(reason)

    def _callback(self, message: dict, refs: tuple) -> None:
        try:
            target = self.callbacks[message["index"]]
            payload = wire.decode(message.get("payload"), {"o": refs[0], "c": refs[1]}, self._handle_maker(None))
            action = message.get("action")
            if action == "call":
                args, kwargs = payload
                value = target(*args, **kwargs)
            elif action == "getattr":
                value = getattr(target, payload)
            elif action == "getitem":
                value = target[payload]
            else:
                value = len(target)
            reply = {"op": "callback_result", "payload": dumps_args(value, None, self.callbacks)}
        except Exception as exc:  # the test-defined function failed on what the learner's code passed
            reply = {"op": "callback_error", "ename": type(exc).__name__, "evalue": str(exc)[:500]}
        wire.write_frame(self.sandbox.send_fd, pickle.dumps(reply, protocol=4))

    def _handle_maker(self, check: str | None):
        return lambda ident, type_name: Remote(self, ("handle", ident), type_name, check)

    @staticmethod
    def _apply_rng(states: dict | None) -> None:
        if not states:
            return
        torch.set_rng_state(wire.decode(states["torch"]))
        version, internal, gauss = wire.decode(states["random"])
        random.setstate((version, tuple(internal), gauss))
        numpy = sys.modules.get("numpy")
        if numpy is not None and states.get("numpy") is not None:
            numpy.random.set_state(wire.decode(states["numpy"]))




class Zygote:
    """One sandbox whose driver, with torch imported, forks a fresh kernel for each notebook.

    For the course's **own** notebooks only (the solutions, the mutants of ``tests/mutants`` and the
    book's functions pasted as answers, graded by the test suite): it saves the two seconds a
    sandbox takes to start Python and import torch, and each notebook still runs in its own
    process, from the state of one that ran no notebook. Notebooks forked from one zygote share
    its sandbox (``/tmp``, the process namespace, the memory limit), so a submission could reach
    the next one: ``python -m llmcourse.grading`` never uses a zygote and starts one sandbox per
    submission.

    ``Kernel(..., zygote=z)`` forks on ``start`` and ends the child on ``close``; if a child
    breaks the sandbox (a time-out, a crash), the next ``Kernel`` starts a new one.
    """

    def __init__(self, limits: Limits, course_root: Path | None):
        self.limits, self.course_root = limits, course_root
        self.sandbox = Sandbox(limits, course_root)
        self.sandbox.forking = True
        self.child = False

    def fork(self) -> Sandbox:
        if self.child:
            raise RuntimeError("this zygote's child is still running: close its Kernel first")
        if not self.sandbox.alive() or getattr(self.sandbox, "send_fd", None) is None:
            self.sandbox.stop()
            self.sandbox = Sandbox(self.limits, self.course_root)
            self.sandbox.forking = True
            self.sandbox.start()
        self.child = True
        return self.sandbox

    def reap(self) -> None:
        """End the child (``exit``) and wait for the zygote to report it gone."""
        if not self.child:
            return
        self.child = False
        try:
            wire.write_frame(self.sandbox.send_fd, pickle.dumps({"op": "exit"}, protocol=4))
            while True:
                answer = json.loads(wire.read_frame(self.sandbox.receive_fd, time.monotonic() + GRACE_SECONDS))
                if answer.get("type") == "reaped":
                    return
        except (OSError, EOFError, TypeError, ValueError, wire.WireError, wire.Timeout):
            self.sandbox.stop()  # the next fork starts a new sandbox

    def close(self) -> None:
        self.sandbox.stop()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
