"""The learner's kernel, inside the sandbox: runs the notebook's cells, then answers the grader.

Started by :class:`llmcourse.grading.sandbox.Sandbox` as ``python -I -m llmcourse.grading.driver
FD_IN FD_OUT``. It reads requests (pickled by the grader) and writes answers (JSON, see
:mod:`llmcourse.grading.wire`):

==========  ================================================================================
request     answer
==========  ================================================================================
setup       limits applied, forbidden lists resolved, monitor armed: ``{"type": "ready"}``
cell        one learner cell run in IPython: ``{"type": "cell", "status", "stdout", "error"}``
call        ``target`` (a global of the notebook or a handle) called, or an attribute, item,
            ``len``, ``iter`` or ``repr`` of it: ``{"type": "value"}`` or ``{"type": "raised"}``,
            with what changed in the arguments (``sync``) and the random generators' states
release     handles dropped
fork        (before ``setup`` only) the process forks: the child answers ``{"type": "forked"}`` and
            serves one notebook; this process waits until the child has exited, then answers
            ``{"type": "reaped"}`` and can fork again — see :class:`~llmcourse.grading.session.Zygote`
exit        (a forked child) it exits at once, without an answer
==========  ================================================================================

While a call runs, the learner's code may call a test-defined function: the driver sends
``{"type": "callback"}`` and waits for the grader's answer. Findings of the monitor
(:mod:`llmcourse.grading.monitor`) go out as ``{"type": "report"}`` the moment they happen.
No test code ever reaches this process.
"""

from __future__ import annotations

import builtins
import itertools
import json
import os
import pickle
import random
import resource
import signal
import sys
import traceback

import torch

from llmcourse.grading import arguments, wire
from llmcourse.grading.encoder import CappedWriter, Encoder
from llmcourse.grading.monitor import Monitor, resolve

MAX_ITER = 100_000       # items materialised by an ``iter`` request
BUILTIN_ERRORS = {name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)}


class GraderObject:
    """A test-defined function or object: it stays in the grader, and calls go there."""

    def __init__(self, driver: "Driver", index: int):
        self._driver, self._index = driver, index

    def __call__(self, *args, **kwargs):
        return self._driver.callback(self._index, "call", (args, kwargs))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._driver.callback(self._index, "getattr", name)

    def __getitem__(self, key):
        return self._driver.callback(self._index, "getitem", key)

    def __len__(self) -> int:
        return self._driver.callback(self._index, "len", None)


class Driver:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.handles: dict[int, object] = {}
        self.counter = itertools.count()
        self.watches: dict[str, object] = {}
        self.refs: dict[int, tuple[str, int]] = {}
        self.cells: dict[str, int] = {}   # IPython's execution count → the notebook's cell number
        self.forked = self.warm = False
        self.monitor = Monitor(self.report)
        arguments.SANDBOX.update(handles=self.handles, callback=lambda index: GraderObject(self, index),
                                 **{"global": lambda name: self.shell.user_ns[name]})
        for code in (Driver._call.__code__, Driver.callback.__code__):
            self.monitor.allow_caller(code)
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # no history thread, no sqlite file
        self.shell = InteractiveShell.instance(config=config, colors="nocolor")

    def send(self, message: dict) -> None:
        wire.write_frame(self.fd_out, json.dumps(message).encode())

    def report(self, kind: str, rule: str, how: str, function: str | None) -> None:
        self.send({"type": "report", "kind": kind, "rule": rule, "how": how, "function": function})

    def handle(self, obj) -> dict:
        ident = next(self.counter)
        self.handles[ident] = obj
        return {"t": "handle", "id": ident, "type": f"{type(obj).__module__}.{type(obj).__qualname__}"[:200]}

    def load(self, data: bytes):
        return pickle.loads(data)

    # -- requests ---------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                request = self.load(wire.read_frame(self.fd_in))
            except EOFError:
                return
            if request.get("op") == "fork":
                self.fork(request.get("seq"))
                continue
            try:
                answer = getattr(self, "_" + request["op"])(request)
            except KeyboardInterrupt:
                answer = {"type": "interrupted"}
            except BaseException as exc:  # a bug here, or a learner object that breaks on encoding
                answer = {"type": "unsendable", "reason": f"{type(exc).__name__}: {_text(exc)}"[:500]}
            answer["seq"] = request.get("seq")
            try:
                self.send(answer)
            except wire.WireError as exc:  # e.g. a result over the frame limit
                self.send({"type": "unsendable", "reason": str(exc)[:500], "seq": request.get("seq")})

    def fork(self, seq) -> None:
        """Fork a child that serves one notebook; wait for it to exit (see the table above)."""
        if self.monitor.learner_active or self.forked:
            self.send({"type": "unsendable", "reason": "fork is only allowed before setup", "seq": seq})
            return
        if not self.warm:  # pay the dispatch mode's first use once, for every child
            with self.monitor._op_mode():
                torch.zeros(1) + 1
            self.warm = True
        pid = os.fork()
        if pid == 0:
            self.forked = True
            self.send({"type": "forked", "seq": seq})
            return
        _, status = os.waitpid(pid, 0)
        for name in os.listdir("."):  # the child's files go with it
            if os.path.isfile(name):
                os.remove(name)
        self.send({"type": "reaped", "status": status})

    def _exit(self, request: dict) -> dict:
        if not self.forked:
            return {"type": "unsendable", "reason": "exit is only for a forked child"}
        sys.stdout.flush()
        os._exit(0)

    def _setup(self, request: dict) -> dict:
        for name, (soft, hard) in request.get("rlimits", {}).items():
            resource.setrlimit(getattr(resource, name), (soft, hard))
        name, data = request.get("notebook", ("notebook.ipynb", b""))
        with open(os.path.basename(name), "wb") as f:
            f.write(data)
        torch.set_num_threads(1)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the grader interrupts with SIGINT
        try:
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # no monitor thread (threads during grading are reported)
        except ImportError:
            pass
        self.watches = {fn: resolve(list(rules)) for fn, rules in request.get("rules", {}).items()}
        if any(w.ops for w in self.watches.values()):  # the dispatch mode's first use costs a second: pay it now
            with self.monitor._op_mode():
                torch.zeros(1) + 1
        self.monitor.learner_active = True
        return {"type": "ready", "python": sys.version.split()[0], "torch": torch.__version__}

    def _cell(self, request: dict) -> dict:
        out = CappedWriter()
        saved = sys.stdout, sys.stderr
        self.cells[str(self.shell.execution_count)] = request.get("index", 0)
        sys.stdout = sys.stderr = out
        try:
            result = self.shell.run_cell(request["source"], store_history=True)
        finally:
            sys.stdout, sys.stderr = saved
        error = result.error_in_exec or result.error_before_exec
        if isinstance(error, KeyboardInterrupt):
            return {"type": "interrupted", "stdout": out.value()}
        return {"type": "cell", "status": "error" if error else "ok", "stdout": out.value(),
                "error": self.describe(error) if error else None}

    def _release(self, request: dict) -> dict:
        for ident in request.get("ids", []):
            self.handles.pop(ident, None)
        return {"type": "released"}

    def _call(self, request: dict) -> dict:
        arguments.REBUILT.clear()
        kind, key = request["target"]
        if kind == "handle":
            target = self.handles[key]
        elif key in self.shell.user_ns:
            target = self.shell.user_ns[key]
        else:
            return {"type": "raised", "ename": "NameError", "mro": ["NameError"], "traceback": [],
                    "evalue": f"name '{key}' is not defined: the notebook does not define `{key}`"}
        payload = self.load(request["payload"])
        containers = arguments.walk_containers(payload)
        before = [_snapshot(c) for c in containers]
        self.refs = {id(obj): ("o", k) for k, obj in arguments.REBUILT.items()}
        self.refs.update({id(c): ("c", k) for k, c in enumerate(containers)})
        _set_rng(request.get("rng"))
        out = CappedWriter()
        saved = sys.stdout, sys.stderr
        action = request["action"]
        sys.stdout = sys.stderr = out
        self.monitor.start_call(self.watches.get(request.get("check")), request.get("check"))
        try:
            value = _act(target, action, payload)
            raised = None
        except BaseException as exc:
            value, raised = None, exc
        finally:
            self.monitor.end_call()
            sys.stdout, sys.stderr = saved
        if isinstance(raised, KeyboardInterrupt):
            return {"type": "interrupted"}
        encode = Encoder(self, self.refs)
        answer = {"type": "raised", **self.describe(raised)} if raised is not None else \
            {"type": "value", "value": encode(value)}
        changed = [k for k, c in enumerate(containers) if not _same(before[k], _snapshot(c))]
        answer["sync"] = self.sync(encode, containers, changed)
        answer["rng"] = _get_rng(encode)
        return answer

    def sync(self, encode: Encoder, containers: list, changed: list[int]) -> dict:
        objects = []
        for k, obj in arguments.REBUILT.items():
            if isinstance(obj, torch.Tensor):
                objects.append([k, encode.tensor(obj)])
            elif isinstance(obj, torch.nn.Module):
                objects.append([k, {"t": "module", "training": bool(obj.training)}])
            elif isinstance(obj, torch.optim.Optimizer):
                objects.append([k, {"t": "optimizer", "state": encode(obj.state_dict())}])
            elif isinstance(obj, torch.Generator):
                objects.append([k, {"t": "generator", "state": encode.tensor(obj.get_state())}])
        return {"objects": objects, "containers": [[k, encode.contents(containers[k])] for k in changed]}

    def callback(self, index: int, action: str, payload) -> object:
        """Ask the grader to run a test-defined function; wait for its answer."""
        self.send({"type": "callback", "index": index, "action": action,
                   "payload": Encoder(self, self.refs)(payload)})
        answer = self.load(wire.read_frame(self.fd_in))
        if answer["op"] == "callback_result":
            return self.load(answer["payload"])
        error = getattr(builtins, str(answer.get("ename", "")), None)
        error = error if isinstance(error, type) and issubclass(error, Exception) else RuntimeError
        raise error(answer.get("evalue", "a test-defined function failed"))

    def describe(self, exc: BaseException) -> dict:
        """Type, message and the learner's own lines of an exception (no grader frames)."""
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith(os.path.dirname(__file__))]
        lines = []
        for f in frames:
            if f.filename.startswith("<ipython-input-"):
                cell = self.cells.get(f.filename.split("-")[2], "?")
                lines.append(f"cell {cell}, line {f.lineno}: {(f.line or '').strip()}")
        if frames and not frames[-1].filename.startswith("<"):
            lines.append(f"raised in {os.path.basename(frames[-1].filename)}, line {frames[-1].lineno}")
        names = [c.__name__ for c in type(exc).__mro__]
        return {"ename": type(exc).__name__, "mro": [n for n in names if n in BUILTIN_ERRORS] or ["Exception"],
                "evalue": _text(exc)[:2000], "traceback": lines[-12:]}


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return f"<{type(exc).__name__} whose message could not be read>"


def _snapshot(container) -> list:
    """What a container holds, by identity (objects kept alive, so no id is reused meanwhile)."""
    return list(container.items()) if isinstance(container, dict) else list(container)


def _same(before: list, after: list) -> bool:
    if len(before) != len(after):
        return False
    if before and isinstance(before[0], tuple) and len(before[0]) == 2 and isinstance(after[0], tuple):
        return all(a[0] is b[0] and a[1] is b[1] for a, b in zip(before, after))
    return all(a is b for a, b in zip(before, after))


def _act(target, action: str, payload):
    if action == "call":
        args, kwargs = payload
        return target(*args, **kwargs)
    if action == "getattr":
        return getattr(target, payload)
    if action == "getitem":
        return target[payload]
    if action == "len":
        return len(target)
    if action == "iter":
        return list(itertools.islice(iter(target), MAX_ITER))
    if action in ("repr", "str"):
        return (repr if action == "repr" else str)(target)[:2000]
    raise ValueError(f"unknown action {action!r}")


def _set_rng(states) -> None:
    if not states:
        return
    torch.set_rng_state(states["torch"])
    random.setstate(states["random"])
    if states.get("numpy") is not None:
        import numpy

        numpy.random.set_state(states["numpy"])


def _get_rng(encode: Encoder) -> dict:
    numpy = sys.modules.get("numpy")
    return {"torch": encode.tensor(torch.get_rng_state()), "random": encode(random.getstate()),
            "numpy": encode(numpy.random.get_state()) if numpy is not None else None}


def main(argv: list[str]) -> int:
    fd_in, fd_out = int(argv[0]), int(argv[1])
    Driver(fd_in, fd_out).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
