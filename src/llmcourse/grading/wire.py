"""What crosses the sandbox boundary, and how each side reads it.

The grader never runs learner code and the learner's process never sees a test. Between them go
length-prefixed frames over two pipes, in two formats:

* **grader → sandbox: pickle.** Arguments for the learner's functions (tensors, modules,
  optimizers, generators, plain data), see :mod:`llmcourse.grading.arguments`. Only the sandbox
  unpickles, so pickle's power stays on the untrusted side.
* **sandbox → grader: JSON.** Results, exceptions, reports. :func:`decode` builds only plain
  values — ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``, lists,
  tuples, dicts, sets, tensors, NumPy arrays — or :class:`Handle` for anything else. Nothing the
  learner returns can run code in the grader: an object whose ``__eq__`` always says ``True``
  arrives as a handle, and handles compare by identity.

Used by :mod:`llmcourse.grading.driver` (sandbox side) and :mod:`llmcourse.grading.session`.
"""

from __future__ import annotations

import base64
import os
import select
import struct
import time
from typing import Any

import torch

MAX_FRAME = 128 * 2**20          # bytes in one frame
MAX_DEPTH = 64                   # nesting of a decoded value
MAX_ITEMS = 2_000_000            # containers' entries in one decoded value
TEST_MODULE = "__llmcourse_tests__"   # the __name__ test cells run under in the grader

DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
    torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128)}


class WireError(ValueError):
    """A frame or value that breaks the protocol (too big, too deep, malformed)."""


class Timeout(Exception):
    """No frame arrived before the deadline."""


# --------------------------------------------------------------------------- frames

def write_frame(fd: int, payload: bytes) -> None:
    """Send one frame: a 4-byte big-endian length, then ``payload``."""
    if len(payload) > MAX_FRAME:
        raise WireError(f"a frame of {len(payload):,} bytes is over the {MAX_FRAME:,}-byte limit")
    data = memoryview(struct.pack(">I", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Timeout(f"no answer within the time limit ({n - left} of {n} bytes read)")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> bytes:
    """Receive one frame; :class:`Timeout` after ``deadline`` (a ``time.monotonic()`` value)."""
    (size,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if size > MAX_FRAME:
        raise WireError(f"a frame announced {size:,} bytes, over the {MAX_FRAME:,}-byte limit")
    return _read_exact(fd, size, deadline)


# --------------------------------------------------------------------------- tensors as bytes

def tensor_bytes(t: torch.Tensor) -> tuple[str, list[int], bytes]:
    """``(dtype name, shape, raw bytes)`` of a dense CPU tensor (any subclass)."""
    t = torch.Tensor.detach(t)
    name = str(t.dtype).removeprefix("torch.")
    if name not in DTYPES or t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        raise WireError(f"cannot send a tensor of dtype {t.dtype}, layout {t.layout} on {t.device}")
    t = t.cpu().contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    return name, list(t.shape), raw


def tensor_from_bytes(name: str, shape: list[int], raw: bytes) -> torch.Tensor:
    """The inverse of :func:`tensor_bytes` (checks that the sizes agree)."""
    if name not in DTYPES or not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise WireError(f"bad tensor header: dtype {name!r}, shape {shape!r}")
    dtype = DTYPES[name]
    count = 1
    for s in shape:
        count *= s
    if count * dtype.itemsize != len(raw):
        raise WireError(f"tensor of shape {shape} and dtype {name} needs {count * dtype.itemsize} bytes, got {len(raw)}")
    if not raw:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)


# --------------------------------------------------------------------------- sandbox → grader

class Handle:
    """An object that lives in the sandbox (the learner's class, or something :func:`decode`
    cannot rebuild). The session (:mod:`llmcourse.grading.session`) gives it calls, attribute
    access, indexing, ``len`` and iteration; comparisons and truth are Python's defaults
    (identity, ``True``), never the learner's code."""

    __slots__ = ("_id", "_type", "_session", "__weakref__")

    def __init__(self, ident: int, type_name: str, session: Any = None):
        self._id, self._type, self._session = ident, type_name, session

    def __repr__(self) -> str:
        return f"<{self._type} object from the notebook>"


def encode_float(x: float) -> Any:
    return x if x == x and x not in (float("inf"), float("-inf")) else {"t": "float", "v": repr(x)}


def decode(tree: Any, refs: dict[str, list] | None = None, make_handle=Handle) -> Any:
    """Build a value from a JSON tree sent by the sandbox; raise :class:`WireError` if malformed.

    ``refs`` resolves ``{"t": "ref"}`` nodes (objects the grader passed in: ``refs["o"][k]``
    for indexed objects, ``refs["c"][k]`` for containers); ``make_handle(id, type)`` builds
    handles.
    """
    budget = [MAX_ITEMS]

    def items(node: dict, key: str = "items") -> list:
        value = node.get(key)
        if not isinstance(value, list):
            raise WireError(f"expected a list under {key!r} in a {node.get('t')!r} node")
        budget[0] -= len(value)
        if budget[0] < 0:
            raise WireError(f"more than {MAX_ITEMS:,} items in one value")
        return value

    def build(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested deeper than {MAX_DEPTH} levels")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [build(x, depth + 1) for x in items({"items": node, "t": "list"})]
        if type(node) is not dict or not isinstance(node.get("t"), str):
            raise WireError(f"unexpected node {type(node).__name__}")
        kind = node["t"]
        if kind == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise WireError(f"bad float {node.get('v')!r}")
            return float(node["v"])
        if kind == "complex":
            return complex(float(node["re"]), float(node["im"]))
        if kind in ("tuple", "set", "frozenset", "size"):
            values = [build(x, depth + 1) for x in items(node)]
            if kind == "size":
                if not all(type(v) is int for v in values):
                    raise WireError("torch.Size holds ints only")
                return torch.Size(values)
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[kind](values)
        if kind == "dict":
            out = {}
            for pair in items(node):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("dict items must be [key, value] pairs")
                out[build(pair[0], depth + 1)] = build(pair[1], depth + 1)
            return out
        if kind == "bytes":
            return base64.b64decode(node["b64"], validate=True)
        if kind == "tensor":
            t = tensor_from_bytes(node.get("dtype"), node.get("shape"), base64.b64decode(node["b64"], validate=True))
            t = torch.nn.Parameter(t, requires_grad=bool(node.get("rg"))) if node.get("param") else \
                t.requires_grad_(bool(node.get("rg")) and (t.is_floating_point() or t.is_complex()))
            if node.get("grad") is not None:
                grad = build(node["grad"], depth + 1)
                if isinstance(grad, torch.Tensor) and grad.shape == t.shape and grad.dtype == t.dtype:
                    t.grad = grad
            return t
        if kind == "ndarray":
            import numpy as np

            raw = base64.b64decode(node["b64"], validate=True)
            dtype = np.dtype(str(node.get("dtype")))
            if dtype.hasobject:
                raise WireError("NumPy object arrays cannot be sent")
            array = np.frombuffer(bytearray(raw), dtype=dtype).reshape([int(s) for s in node.get("shape")])
            return array[()] if node.get("scalar") else array
        if kind == "dtype":
            if node.get("v") not in DTYPES:
                raise WireError(f"unknown dtype {node.get('v')!r}")
            return DTYPES[node["v"]]
        if kind == "device":
            return torch.device(str(node.get("v")))
        if kind == "ref":
            table = (refs or {}).get(node.get("space"))
            k = node.get("k")
            if table is None or type(k) is not int or not 0 <= k < len(table):
                raise WireError(f"reference {node!r} to no object the grader sent")
            return table[k]
        if kind == "handle":
            if type(node.get("id")) is not int:
                raise WireError("a handle needs an integer id")
            return make_handle(node["id"], str(node.get("type", "object"))[:200])
        raise WireError(f"unknown node type {kind!r}")

    return build(tree, 0)
