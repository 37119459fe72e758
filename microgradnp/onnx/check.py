"""Find constants of a traced graph that were computed from the input's values.

A traced graph holds only the recorded ops; what a model computed from its input outside
the graph (a comparison like ``raw(x) > 0``, indices from an argmax, a branch on a value,
an array sized by the batch) is frozen into it as a constant, true for the example input
only. `check_constants` compares the graph with a second trace on the example input with
its values shuffled and its dynamic axes one longer: a constant (or the sequence of ops)
that changed is an error naming the op, instead of an exported model that is silently
wrong on other inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Node
from ..tensor import Tensor


def shuffled(leaves: list[Tensor], grow: list[list[int]], seed: int = 0) -> list[Tensor]:
    """The inputs with their values permuted (integer inputs keep their set of values, so
    token ids stay in range), each axis in `grow[i]` (the dynamic ones) one longer."""
    rng = np.random.default_rng(seed)
    out = []
    for t, axes in zip(leaves, grow, strict=True):
        data = rng.permutation(t.data.reshape(-1)).reshape(t.shape)
        for a in axes:
            data = np.take(data, np.arange(data.shape[a] + 1) % data.shape[a], axis=a)
        out.append(Tensor(data, requires_grad=t.requires_grad))
    return out


def _const(v: Any) -> np.ndarray | None:
    if isinstance(v, Tensor):
        return v.data
    if isinstance(v, np.ndarray):
        return v
    return None


def _differs(a: Any, b: Any, inputs: set[int]) -> str | None:
    """How constant `a` of the first trace differs from `b` of the second, or None."""
    ca, cb = _const(a), _const(b)
    if ca is None or cb is None or id(ca) in inputs or id(a) in inputs:
        return None
    if ca.shape != cb.shape:
        return "shape"
    return None if np.array_equal(ca, cb, equal_nan=ca.dtype.kind == "f") else "values"


def check_constants(order: list[Node], order2: list[Node], inputs: set[int], skip: set[int]):
    """Raise if the second trace (`order2`) differs from the first in its ops or in a
    constant argument's values or shape. `inputs`: ids of the first trace's input arrays
    (they may differ); `skip`: ids of nodes exported whole (their constants may differ)."""
    if [n.prim.name for n in order] != [n.prim.name for n in order2]:
        raise NotImplementedError(
            "ONNX export: the model records different ops for different input values "
            "(data-dependent control flow), which a traced graph cannot express"
        )
    for n1, n2 in zip(order, order2, strict=True):
        if id(n1) in skip:
            continue
        pairs = list(zip(n1.parents, n2.parents, strict=True))
        pairs += [(v, n2.params.get(k)) for k, v in n1.params.items()]
        for i, (a, b) in enumerate(pairs):
            how = None if type(a) is Node else _differs(a, b, inputs)
            if how is None:
                continue
            what = f"argument {i}" if i < len(n1.parents) else "a parameter"
            where = f" (recorded in {type(n1.scope[-1]).__name__})" if n1.scope else ""
            if how == "shape":
                raise NotImplementedError(
                    f"ONNX export: {what} of primitive {n1.prim.name!r}{where} is a constant of "
                    f"shape {getattr(_const(a), 'shape', ())} sized by a dynamic axis; it cannot "
                    "change size at run time (export without that dynamic axis)"
                )
            raise NotImplementedError(
                f"ONNX export: {what} of primitive {n1.prim.name!r}{where} is a constant "
                "computed from the input's values outside the graph (a comparison, an "
                "argmax, ...); the exported model would hold for the example input only"
            )
