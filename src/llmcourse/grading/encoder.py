"""Inside the sandbox: the learner's values as JSON trees that :func:`llmcourse.grading.wire.decode` reads.

Plain data goes by value — exact built-in types, their subclasses converted to the base type
(a learner's ``int`` subclass with an ``__eq__`` that always says yes arrives as a plain int),
tensors of any subclass as their values, NumPy arrays and scalars. Anything else becomes a handle:
the object stays here, and the grader may ask for its attributes, items, calls. Objects the grader
passed in come back as references to its own (``refs``). :class:`CappedWriter` keeps a learner's
output to a bounded size.
"""

from __future__ import annotations

import base64
import io
import sys

import torch

from llmcourse.grading import wire

MAX_OUTPUT = 20_000      # characters of output kept per cell or call


class CappedWriter(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = MAX_OUTPUT):
        self.parts, self.kept, self.dropped, self.limit = [], 0, 0, limit

    def write(self, text) -> int:
        text = str(text)
        room = self.limit - self.kept
        self.parts.append(text[:max(room, 0)])
        self.kept += min(len(text), max(room, 0))
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def value(self) -> str:
        tail = f"\n[output truncated by the grader: {self.dropped:,} more characters]\n" if self.dropped else ""
        return "".join(self.parts) + tail


class Encoder:
    """Learner values → JSON trees that :func:`wire.decode` reads (``refs``: id → (space, index))."""

    def __init__(self, driver, refs: dict[int, tuple[str, int]]):
        self.driver, self.refs = driver, refs
        self.room = wire.MAX_FRAME * 3 // 4   # raw bytes that still fit in a frame once in base64

    def tensor(self, t: torch.Tensor, depth: int = 0) -> dict:
        self.room -= t.numel() * t.element_size()
        if self.room < 0:
            raise wire.WireError(f"the result is larger than the {wire.MAX_FRAME // 2**20} MiB a frame may carry")
        name, shape, raw = wire.tensor_bytes(t)
        grad = t.grad if t.is_leaf and isinstance(t.grad, torch.Tensor) else None
        return {"t": "tensor", "dtype": name, "shape": shape, "b64": base64.b64encode(raw).decode(),
                "rg": bool(t.requires_grad), "param": isinstance(t, torch.nn.Parameter),
                "grad": self.tensor(grad, depth + 1) if grad is not None else None}

    def contents(self, obj, depth: int = 0):
        if isinstance(obj, list):
            return [self(x, depth + 1) for x in obj]
        if isinstance(obj, dict):
            return {"t": "dict", "items": [[self(k, depth + 1), self(v, depth + 1)] for k, v in obj.items()]}
        return {"t": "frozenset" if isinstance(obj, frozenset) else "set", "items": [self(x, depth + 1) for x in obj]}

    def __call__(self, obj, depth: int = 0):
        if depth > wire.MAX_DEPTH:
            raise wire.WireError(f"the value is nested deeper than {wire.MAX_DEPTH} levels")
        ref = self.refs.get(id(obj))
        if ref is not None:
            return {"t": "ref", "space": ref[0], "k": ref[1]}
        kind = type(obj)
        if obj is None or kind in (bool, int, str):
            return obj
        if kind is float:
            return wire.encode_float(obj)
        if isinstance(obj, torch.Tensor):
            if self.room < obj.numel() * obj.element_size():
                raise wire.WireError(f"the result is larger than the {wire.MAX_FRAME // 2**20} MiB a frame may carry")
            try:
                return self.tensor(obj, depth)
            except wire.WireError:
                return self.driver.handle(obj)
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return wire.encode_float(float(obj))
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, (bytes, bytearray)):
            return {"t": "bytes", "b64": base64.b64encode(bytes(obj)).decode()}
        if isinstance(obj, complex):
            return {"t": "complex", "re": wire.encode_float(obj.real), "im": wire.encode_float(obj.imag)}
        if isinstance(obj, torch.Size):
            return {"t": "size", "items": [int(s) for s in obj]}
        if isinstance(obj, tuple):
            return {"t": "tuple", "items": [self(x, depth + 1) for x in obj]}
        if isinstance(obj, (list, dict, set, frozenset)):
            return self.contents(obj, depth)
        if isinstance(obj, torch.dtype):
            return {"t": "dtype", "v": str(obj).removeprefix("torch.")}
        if isinstance(obj, torch.device):
            return {"t": "device", "v": str(obj)}
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(obj, (numpy.ndarray, numpy.generic)) and not obj.dtype.hasobject:
            array = numpy.ascontiguousarray(obj)
            return {"t": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape),
                    "scalar": isinstance(obj, numpy.generic), "b64": base64.b64encode(array.tobytes()).decode()}
        return self.driver.handle(obj)
