"""Run-time checks in the sandbox: forbidden functions reached, and tampering with the checks.

The static check (:mod:`llmcourse.grading.static`) reads names in the learner's code; names can be
built at run time (``getattr(F, "scaled_dot_product_" + "attention")``,
``importlib.import_module("llmcourse." + "intro")``), so the sandbox also watches what the code
*does*. The driver installs three layers before any learner code runs:

1. **an audit hook** (:func:`sys.addaudithook`, which nothing can remove) that reports attempts
   to switch the checks off or to reach outside them: ``sys.setprofile``/``sys.settrace`` from
   anything but this module, ``gc.get_objects``/``get_referrers``/``get_referents``, ``ctypes``,
   another audit hook, and processes started during a graded call;
2. during each graded call, **a profile hook** (:func:`sys.setprofile`) that sees every Python
   function entered and every built-in called from Python code;
3. during each graded call, **a torch dispatch mode** that sees every ATen operator executed,
   however it was reached (``functools.partial``, ``map``, ``torch.ops.aten``).

Each finding is handed to ``report`` the moment it happens (the driver writes it to the grader at
once), so code that runs later cannot take it back. Everything reached during a graded call counts:
objects the grader passes in run under the same rules (exercise authors pass a test-defined
function instead when a reference object must use a forbidden call; it then runs in the grader).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field

# ATen operators behind a torch function, when the function's own name is not the operator's.
OP_ALIASES = {
    "scaled_dot_product_attention": ("_scaled_dot_product",),
    "cross_entropy": ("nll_loss", "cross_entropy"),
    "nll_loss": ("nll_loss",),
    "layer_norm": ("native_layer_norm", "layer_norm"),
    "multi_head_attention_forward": ("_native_multi_head_attention",),
    "clip_grad_norm_": ("_foreach_norm",),
    "cosine_similarity": ("cosine_similarity",),
}
TAMPER_EVENTS = ("sys.setprofile", "sys.settrace", "sys.addaudithook", "gc.get_objects", "gc.get_referrers",
                 "gc.get_referents", "ctypes.")
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn",
                  "os.spawn", "pty.spawn", "os.kill", "os.killpg")
TAMPER_BUILTINS = (sys.getprofile, sys.gettrace, sys.setprofile, sys.settrace, os.dup2, os.dup, os.close,
                   os.closerange, os.write, os.read, os.kill)


@dataclass
class Watch:
    """What one function's forbidden list resolves to in this process."""

    codes: dict = field(default_factory=dict)        # code object → rule (Python functions, classes)
    files: list = field(default_factory=list)        # (path prefix, rule) for whole modules
    builtins: dict = field(default_factory=dict)     # id(built-in) → (object, rule)
    methods: dict = field(default_factory=dict)      # method name → rule (".softmax")
    ops: dict = field(default_factory=dict)          # ATen operator name prefix → rule

    def op_rule(self, name: str) -> str | None:
        for prefix, rule in self.ops.items():
            if name == prefix or name.startswith(prefix) or name.lstrip("_") == prefix:
                return rule
        return None


def _module_paths(name: str) -> list[str]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return []
    if spec is None:
        return []
    paths = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin not in ("built-in", "frozen") and not paths:
        paths.append(spec.origin)
    return [os.path.realpath(p) + (os.sep if os.path.isdir(p) else "") for p in paths]


def _add_object(watch: Watch, obj: object, rule: str) -> None:
    if isinstance(obj, types.ModuleType):
        watch.files += [(p, rule) for p in _module_paths(obj.__name__)]
    elif isinstance(obj, type):
        for value in vars(obj).values():
            func = getattr(value, "__func__", value)
            if isinstance(func, types.FunctionType):
                watch.codes[inspect.unwrap(func).__code__] = rule
        if not any(isinstance(v, types.FunctionType) for v in vars(obj).values()):
            watch.builtins[id(obj)] = (obj, rule)
    elif isinstance(obj, types.FunctionType) or hasattr(obj, "__wrapped__"):
        func = inspect.unwrap(obj)
        if isinstance(func, types.FunctionType):
            watch.codes[func.__code__] = rule
        else:
            _add_object(watch, func, rule)
    elif callable(obj):
        watch.builtins[id(obj)] = (obj, rule)
        name = getattr(obj, "__name__", "")
        for op in OP_ALIASES.get(name, (name,)):
            if op:
                watch.ops.setdefault(op, rule)


def resolve(rules: list[str]) -> Watch:
    """Resolve forbidden entries (see :mod:`llmcourse.grading.static`) to what the hooks match."""
    watch = Watch()
    for rule in rules:
        if rule.startswith("."):
            watch.methods[rule[1:]] = rule
            for op in OP_ALIASES.get(rule[1:], (rule[1:],)):
                watch.ops.setdefault(op, rule)
            continue
        paths = _module_paths(rule) if "." not in rule or rule.rsplit(".", 1)[0] in sys.modules else []
        if paths:
            watch.files += [(p, rule) for p in paths]
            continue
        parts = rule.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module_name = ".".join(parts[:cut])
            try:
                obj = sys.modules.get(module_name) or importlib.import_module(module_name)
            except Exception:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is not None:
                _add_object(watch, obj, rule)
            break
    return watch


class Monitor:
    """The three layers of the module docstring. ``report(kind, rule, how, function)`` receives each
    finding: ``kind`` is ``"forbidden"`` or ``"tamper"``; ``function`` is the graded function being
    called (``None`` between calls)."""

    def __init__(self, report: Callable[[str, str, str, str | None], None]):
        self.report = report
        self.learner_active = False   # set by the driver once its own set-up is done
        self.watch: Watch | None = None
        self.function: str | None = None   # the graded function being called
        self.in_call = False
        self.seen: set[tuple[str, str]] = set()
        self._own = {Monitor.start_call.__code__, Monitor.end_call.__code__}
        self._allowed_callers: set = set()
        self._mode = None
        self.library_paths = tuple(os.path.realpath(p) for p in {sys.base_prefix, sys.prefix, *sys.path} if p)
        sys.addaudithook(self._audit)

    def allow_caller(self, code: types.CodeType) -> None:
        """The driver's function that starts and ends graded calls (nothing else may)."""
        self._allowed_callers.add(code)

    def _hit(self, kind: str, rule: str, how: str) -> None:
        if (rule, how) not in self.seen:
            self.seen.add((rule, how))
            self.report(kind, rule, how, self.function if self.in_call else None)

    # -- layer 1: the audit hook ------------------------------------------------------------
    def _audit(self, event: str, args: tuple) -> None:
        if not self.learner_active:
            return
        if event in ("sys.setprofile", "sys.settrace") and sys._getframe(1).f_code in self._own:
            return
        if event.startswith(TAMPER_EVENTS):
            self._hit("tamper", event, f"the notebook called {event}, which switches off or reaches around the checks")
        elif self.in_call and event.startswith(PROCESS_EVENTS):
            self._hit("tamper", event, f"a graded function started a process ({event})")

    # -- layer 2: the profile hook ----------------------------------------------------------
    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        watch = self.watch
        if event == "call":
            code = frame.f_code
            rule = watch.codes.get(code)
            if rule is None and watch.methods and code.co_varnames[:1] == ("self",):
                rule = watch.methods.get(code.co_name)
            if rule is None and watch.files:
                filename = code.co_filename
                rule = next((r for prefix, r in watch.files if filename.startswith(prefix)), None)
            if rule:
                self._hit("forbidden", rule, f"{code.co_qualname} ({os.path.basename(code.co_filename)})")
        elif event == "c_call":
            found = watch.builtins.get(id(arg))
            name = getattr(arg, "__name__", "")
            if found is not None and found[0] is arg:
                self._hit("forbidden", found[1], f"the built-in {name}")
            elif name in watch.methods and getattr(arg, "__self__", None) is not None:
                self._hit("forbidden", watch.methods[name], f"the method .{name}")
            if arg in TAMPER_BUILTINS and self._learner_frame(frame) and not self._own_io(frame):
                self._hit("tamper", f"{getattr(arg, '__module__', None) or 'os'}.{name}",
                          f"a graded function called {name}, which touches the checks or the grader's channel")

    def _learner_frame(self, frame: types.FrameType) -> bool:
        """Code of the notebook (not of the Python installation, the packages or this module)."""
        if frame.f_code in self._own:
            return False
        filename = frame.f_code.co_filename
        return filename.startswith("<") or not filename.startswith(self.library_paths)

    def _own_io(self, frame: types.FrameType) -> bool:
        """The driver's own reads and writes on the grader's channel (during a callback)."""
        from llmcourse.grading import wire

        if frame.f_code not in (wire.write_frame.__code__, wire._read_exact.__code__):
            return False
        for _ in range(2):
            frame = frame.f_back
            if frame is None:
                return False
            if frame.f_code in self._allowed_callers:
                return True
        return False

    # -- layer 3: the dispatch mode ---------------------------------------------------------
    def _op_mode(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        monitor = self

        class OpWatch(TorchDispatchMode):
            def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
                name = func._overloadpacket.__name__
                rule = monitor.watch.op_rule(name) if monitor.watch else None
                if rule:
                    monitor._hit("forbidden", rule, f"the operator aten::{name}")
                return func(*args, **(kwargs or {}))

        return OpWatch()

    # -- a graded call ----------------------------------------------------------------------
    def start_call(self, watch: Watch | None, function: str | None) -> None:
        if sys._getframe(1).f_code not in self._allowed_callers:
            self._hit("tamper", "monitor", "the notebook tried to control the grader's monitor")
            return
        others = [t for t in threading.enumerate() if t is not threading.current_thread()]
        if others:
            self._hit("tamper", "threads", f"threads started by the notebook are running during grading "
                                           f"({', '.join(t.name for t in others[:3])})")
        stray = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        if stray and os.getpid() == 2:  # inside the sandbox's PID namespace: pid 1 is its init
            self._hit("tamper", "processes", "processes started by the notebook are running during grading")
        self.watch, self.function = watch, function
        self.in_call = True
        if watch is None:
            return
        if watch.ops:
            self._mode = self._op_mode()
            self._mode.__enter__()
        sys.setprofile(self._profile)

    def end_call(self) -> None:
        if sys._getframe(1).f_code not in self._allowed_callers:
            self._hit("tamper", "monitor", "the notebook tried to control the grader's monitor")
            return
        if self.watch is not None:
            sys.setprofile(None)
            if self._mode is not None:
                mode, self._mode = self._mode, None
                mode.__exit__(None, None, None)
        self.watch = self.function = None
        self.in_call = False
