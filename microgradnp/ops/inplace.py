"""In-place methods (`add_`, `mul_`, `clamp_`, `zero_`, `fill_`, `copy_`, `t[i] = v`).

Outside the graph they write into the tensor's array. On a tensor that is part of a graph they
are recorded: the tensor is rebased onto an out-of-place result, as PyTorch does. Either way
the version counter goes up, so a backward that saved the old value raises instead of
silently using the new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import GradMode
from ..primitive import raw
from ..tensor import Tensor
from . import elementwise as E
from .shape import _normalize_index, index_put

# The four arithmetic in-place ops: the recorded primitive and the ufunc that writes in place.
_ARITHMETIC = {
    "add": (E.add, np.add),
    "sub": (E.sub, np.subtract),
    "mul": (E.mul, np.multiply),
    "div": (E.div, np.true_divide),
}


def _out_of_place(op: str, x: Any, other: Any, **kw: Any) -> Any:
    if op in _ARITHMETIC:
        return _ARITHMETIC[op][0](x, other)
    if op == "clip":
        return E.clip(x, **kw)
    if op in ("fill", "copy"):
        return E.add(E.mul(x, 0.0), other)  # x*0 keeps x's shape and dtype in the graph
    if op == "setitem":
        return index_put(x, other, index=kw["index"])
    raise ValueError(f"unknown in-place op {op!r}")


def _in_place_array(op: str, a: np.ndarray, other: Any, **kw: Any) -> None:
    o = raw(other)
    if op in _ARITHMETIC:
        _ARITHMETIC[op][1](a, o, out=a)
    elif op == "clip":
        np.clip(a, kw.get("min"), kw.get("max"), out=a)
    elif op in ("fill", "copy"):
        np.copyto(a, o, casting="same_kind")
    elif op == "setitem":
        a[kw["index"]] = o
    else:
        raise ValueError(f"unknown in-place op {op!r}")


def inplace(t: Any, op: str, other: Any, **kw: Any) -> Any:
    other_rg = isinstance(other, Tensor) and other.requires_grad
    if GradMode.enabled and (t.requires_grad or other_rg):
        if t.requires_grad and t.is_leaf:
            raise RuntimeError(
                f"{op}_: a leaf Variable that requires grad is being used in an in-place "
                "operation; wrap it in mg.no_grad() (as optimizers do) or use an "
                "out-of-place op"
            )
        prev = Tensor._wrap(t.data)
        prev._node, prev._requires_grad = t._node, t._requires_grad
        res = _out_of_place(op, prev, other, **kw)
        if res.shape != t.shape:
            raise RuntimeError(
                f"{op}_: result shape {res.shape} differs from the tensor's shape {t.shape}"
            )
        t.data = res.data.astype(t.dtype, copy=False)
        t._node, t._requires_grad = res._node, res._requires_grad
    else:
        try:
            _in_place_array(op, t.data, other, **kw)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{op}_: {e} (tensor shape {t.shape}, dtype {t.dtype})") from None
    GradMode.clock += 1
    t._version = GradMode.clock
    return t


def setitem_(t: Any, index: Any, value: Any) -> None:
    inplace(t, "setitem", value, index=_normalize_index(index))
