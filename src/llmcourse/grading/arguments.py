"""Arguments for the learner's functions: pickled into the sandbox, and their changes copied back.

Only the sandbox unpickles, so pickle's power stays on the untrusted side. :class:`ArgPickler`
numbers every tensor, module, optimizer and generator it pickles; the sandbox rebuilds them under
the same numbers (``REBUILT``) and, after the call, sends back their new state, which
:func:`apply_sync` copies into the grader's own objects: tensors' values and ``.grad``, modules'
training flag, optimizers' state, generators' state, and the contents of lists, dicts and sets
(:func:`walk_containers` numbers them the same way on both sides). Test-defined functions and
objects cannot be pickled by name: they become *callbacks* that stay in the grader.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import Any

import torch

from llmcourse.grading.wire import MAX_DEPTH, TEST_MODULE, Handle, WireError, decode, tensor_bytes, tensor_from_bytes


def _needs_callback(obj: Any) -> bool:
    """Test-defined callables and objects stay in the grader (they cannot be pickled by name)."""
    if isinstance(obj, types.MethodType):
        return _needs_callback(obj.__func__) or _needs_callback(obj.__self__)
    if isinstance(obj, (types.FunctionType, type)):
        return obj.__module__ == TEST_MODULE or "<" in obj.__qualname__
    cls = type(obj)
    return cls.__module__ == TEST_MODULE or "<" in cls.__qualname__


ITERATORS = (types.GeneratorType, type(iter([])), type(iter(())), type(iter({})), type(iter({}.values())),
             type(iter({}.items())), map, filter, zip, enumerate, range.__iter__(range(0)).__class__)


class ArgPickler(pickle.Pickler):
    """Pickles arguments for the sandbox; see the module docstring.

    ``indexed`` collects every tensor, module, optimizer and generator pickled (the sandbox
    rebuilds them in the same numbering); ``callbacks`` collects what must stay in the grader.
    ``handles`` maps a :class:`Handle` to its id in the sandbox.
    """

    def __init__(self, file: io.BytesIO, indexed: list | None, callbacks: list):
        super().__init__(file, protocol=4)
        self.indexed, self.callbacks = indexed, callbacks

    def _index(self, obj: Any) -> int:
        if self.indexed is None:
            return -1
        self.indexed.append(obj)
        return len(self.indexed) - 1

    def reducer_override(self, obj: Any) -> Any:
        # Never called for None, bool, int, float, str, bytes, list, tuple, dict, set: plain data
        # pickles at C speed.
        if isinstance(obj, Handle):
            return _sandbox_handle, (obj._id,)
        target = getattr(type(obj), "__llmcourse_target__", None)
        if target is not None:  # a proxy for the learner's own object, passed back to the notebook
            kind, key = target.__get__(obj)
            return (_sandbox_handle, (key,)) if kind == "handle" else (_sandbox_global, (key,))
        if isinstance(obj, ITERATORS):
            return iter, (list(obj),)
        if not isinstance(obj, torch.Tensor) and _needs_callback(obj):
            self.callbacks.append(obj)
            return _grader_object, (len(self.callbacks) - 1,)
        if isinstance(obj, torch.Tensor):
            name, shape, raw = tensor_bytes(obj)
            grad = obj.grad if obj.is_leaf else None
            return _rebuild_tensor, (self._index(obj), isinstance(obj, torch.nn.Parameter), name, shape, raw,
                                     obj.requires_grad, grad)
        if isinstance(obj, torch.Generator):
            return _rebuild_generator, (self._index(obj), obj.get_state().numpy().tobytes())
        if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
            reduced = obj.__reduce_ex__(4)
            return (_rebuild_object, (self._index(obj), reduced[0], reduced[1])) + tuple(reduced[2:])
        return NotImplemented


def walk_containers(value: Any) -> list:
    """The lists, dicts and sets inside ``value`` (through lists, tuples and dicts), in a fixed order.

    Both sides walk the same arguments the same way, so container ``k`` is the same on each.
    """
    found, seen = [], set()

    def visit(v: Any, depth: int) -> None:
        if depth > MAX_DEPTH or id(v) in seen:
            return
        kind = type(v)
        if kind in (list, dict, set):
            seen.add(id(v))
            found.append(v)
        items = v if kind in (list, tuple) else v.values() if kind is dict else ()
        for x in items:
            if type(x) in (list, tuple, dict, set):
                visit(x, depth + 1)

    visit(value, 0)
    return found


def dumps_args(value: Any, indexed: list | None, callbacks: list) -> bytes:
    """Pickle ``value`` for the sandbox (see :class:`ArgPickler`)."""
    buffer = io.BytesIO()
    ArgPickler(buffer, indexed, callbacks).dump(value)
    return buffer.getvalue()


# Rebuilt in the sandbox; ``REBUILT`` receives each indexed object under its index, and the
# driver sets ``SANDBOX["handles"]`` (its objects by handle id), ``SANDBOX["global"]`` (a name of
# the notebook → its value) and ``SANDBOX["callback"]`` (index → proxy for a test-defined object).
REBUILT: dict[int, Any] = {}
SANDBOX: dict[str, Any] = {}


def _sandbox_handle(ident):
    return SANDBOX["handles"][ident]


def _sandbox_global(name):
    return SANDBOX["global"](name)


def _grader_object(index):
    return SANDBOX["callback"](index)


def _rebuild_tensor(index, is_param, name, shape, raw, requires_grad, grad):
    t = tensor_from_bytes(name, shape, raw)
    t = torch.nn.Parameter(t, requires_grad=requires_grad) if is_param else t.requires_grad_(requires_grad)
    if grad is not None:
        t.grad = grad
    if index >= 0:
        REBUILT[index] = t
    return t


def _rebuild_generator(index, state: bytes):
    g = torch.Generator()
    g.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
    if index >= 0:
        REBUILT[index] = g
    return g


def _rebuild_object(index, func, args):
    obj = func(*args)
    if index >= 0:
        REBUILT[index] = obj
    return obj


def apply_sync(sync: dict, refs: dict, make) -> None:
    """Copy back what a call changed in the grader's arguments (see the module docstring)."""
    indexed, containers = refs["o"], refs["c"]
    for k, node in sync.get("objects", []):
        if not (type(k) is int and 0 <= k < len(indexed)):
            raise WireError(f"sync for an object {k!r} the grader did not send")
        obj = indexed[k]
        if isinstance(obj, torch.Tensor) and node.get("t") == "tensor":
            _copy_tensor(obj, decode(node))
        elif isinstance(obj, torch.nn.Module) and node.get("t") == "module":
            obj.train(bool(node.get("training")))
        elif isinstance(obj, torch.optim.Optimizer) and node.get("t") == "optimizer":
            try:
                obj.load_state_dict(decode(node.get("state"), refs, make))
            except (ValueError, KeyError, TypeError, RuntimeError):
                pass
        elif isinstance(obj, torch.Generator) and node.get("t") == "generator":
            obj.set_state(decode(node.get("state")))
    for k, node in sync.get("containers", []):
        if not (type(k) is int and 0 <= k < len(containers)):
            raise WireError(f"sync for a container {k!r} the grader did not send")
        container, new = containers[k], decode(node, refs, make)
        if type(container) is not type(new):
            continue
        if isinstance(container, list):
            container[:] = new
        else:
            container.clear()
            container.update(new)


def _copy_tensor(target: torch.Tensor, new: torch.Tensor) -> None:
    with torch.no_grad():
        if target.shape == new.shape and target.dtype == new.dtype:
            if not torch.equal(target, new):
                target.copy_(new)
        else:
            target.data = new
    grad = new.grad
    if grad is None or (grad.shape == target.shape and grad.dtype == target.dtype):
        target.grad = grad
    if target.is_leaf and new.requires_grad != target.requires_grad and (target.is_floating_point() or target.is_complex()):
        target.requires_grad_(new.requires_grad)
