"""In-place methods and operators (`add_`, `mul_`, `clamp_`, `zero_`, `copy_`, `t[i] = v`,
`+=`, `-=`, `*=`, `/=`).

Outside the graph they write into the tensor's memory. On a tensor in the graph they are
recorded, as in PyTorch: the result is computed out of place from a copy of the old value,
written into the same memory (so views see it), and the tensor is moved onto the new node.
Either way the version counter moves, so a backward that saved the old value raises instead
of silently using the new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import graph
from ..grad_mode import context
from ..primitive import op_error, raw
from ..tensor import Tensor
from . import elementwise as E
from .shape import index_put, normalize_index

# The recorded primitive and the ufunc that writes in place, per in-place op.
_ARITHMETIC = {
    "add": (E.add, np.add),
    "sub": (E.sub, np.subtract),
    "mul": (E.mul, np.multiply),
    "div": (E.div, np.true_divide),
    "pow": (E.pow, np.power),
}


def _out_of_place(op: str, x: Tensor, other: Any, **kw: Any) -> Tensor:
    if op in _ARITHMETIC:
        return _ARITHMETIC[op][0](x, other)
    if op == "clip":
        return E.clip(x, **kw)
    if op in ("fill", "copy"):
        return E.add(E.mul(x, 0.0), other)  # x*0 keeps x's shape and dtype in the graph
    return index_put(x, other, index=kw["index"])  # setitem


def _write(op: str, a: np.ndarray, other: Any, **kw: Any) -> None:
    o = raw(other)
    if op in _ARITHMETIC:
        _ARITHMETIC[op][1](a, o, out=a)
    elif op == "clip":
        np.clip(a, raw(kw.get("min")), raw(kw.get("max")), out=a)
    elif op in ("fill", "copy"):
        np.copyto(a, o, casting="same_kind")
    else:
        a[kw["index"]] = o


def inplace(t: Tensor, op: str, other: Any, **kw: Any) -> Tensor:
    """Apply in-place op `op` (with `other`) to `t`; see the module docstring."""
    other_rg = isinstance(other, Tensor) and other._requires_grad
    if context().enabled and (t._requires_grad or other_rg):
        _record(t, op, other, **kw)
    else:
        if not t.data.flags.writeable:
            raise RuntimeError(
                f"{op}_: the tensor (shape {t.shape}) is a read-only view (e.g. of expand or "
                "broadcast_to) whose elements share memory; clone() it first"
            )
        try:
            _write(op, t.data, other, **kw)
        except (ValueError, TypeError, IndexError) as e:
            raise op_error(f"{op}_", e, (t, other), kw) from None
        t._bump_version(graph.tick())
    return t


def _record(t: Tensor, op: str, other: Any, **kw: Any) -> None:
    if t._requires_grad and t._node is None:
        raise RuntimeError(
            f"{op}_: a leaf Variable that requires grad is being used in an in-place "
            "operation; wrap it in mg.no_grad() (as optimizers do) or use an out-of-place op"
        )
    if t._base is not None:
        raise RuntimeError(
            f"{op}_: in-place change of a view (shape {t.shape}) of a tensor in the graph is "
            "not supported; change the tensor itself (x[i] = ...), or clone() the view first"
        )
    prev = Tensor._wrap(t.data.copy())  # the old value, as the graph saw it
    prev._node, prev._requires_grad = t._node, t._requires_grad
    res = _out_of_place(op, prev, other, **kw)
    if res.shape != t.shape:
        raise RuntimeError(
            f"{op}_: the result has shape {res.shape}, which differs from the tensor's shape "
            f"{t.shape} (in-place ops cannot broadcast the tensor itself)"
        )
    if not t.data.flags.writeable:
        raise RuntimeError(f"{op}_: the tensor (shape {t.shape}) is a read-only view; clone() it")
    np.copyto(t.data, res.data, casting="unsafe")
    t._bump_version(graph.tick())  # marks the old node: its output changed
    t._node, t._requires_grad = res._node, res._requires_grad


def setitem_(t: Tensor, index: Any, value: Any) -> None:
    inplace(t, "setitem", value, index=normalize_index(index))
