"""Matrix products: `matmul` (NumPy semantics, batched and 1-D cases) and the fused `linear`.

For out = x @ y:  dL/dx = g @ y^T,  dL/dy = x^T @ g  (batch dimensions summed by the engine).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .shape import _permute, _reshape, sum_to

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["linear", "matmul"]


def _swap_last(a: Any) -> Any:
    nd = raw(a).ndim
    if nd < 2:
        return a
    axes = tuple(range(nd - 2)) + (nd - 1, nd - 2)
    return _permute(a, axes=axes)


_matmul = primitive(np.matmul, name="matmul")  # the ufunc itself (see ops/elementwise.py)


@_matmul.defvjp(uses_out=False)
def _matmul_vjp(g, out, needs, x, y):
    xs, ys = raw(x).shape, raw(y).shape
    # Promote 1-D operands to matrices as NumPy does (x: (k,) -> (1, k), y: (k,) -> (k, 1)),
    # work on the promoted shapes, then undo the promotion on the gradients.
    x2 = _reshape(x, shape=(1,) + xs) if len(xs) == 1 else x
    y2 = _reshape(y, shape=ys + (1,)) if len(ys) == 1 else y
    x2s, y2s = raw(x2).shape, raw(y2).shape
    out2 = np.broadcast_shapes(x2s[:-2], y2s[:-2]) + (x2s[-2], y2s[-1])
    g2 = g if raw(g).shape == out2 else _reshape(g, shape=out2)
    gx = gy = None
    if needs[0]:
        gx = _matmul(g2, _swap_last(y2))
        if len(xs) == 1:
            gx = _reshape(sum_to(gx, x2s), shape=xs)
    if needs[1]:
        gy = _matmul(_swap_last(x2), g2)
        if len(ys) == 1:
            gy = _reshape(sum_to(gy, y2s), shape=ys)
    return gx, gy


@_matmul.deffast
def _matmul_fast(g, out, needs, res, x, y):
    # The same rule for two matrices (a layer's `h @ W`) in plain NumPy; anything else takes
    # the general rule above.
    if x.ndim != 2 or y.ndim != 2:
        return _matmul_vjp(g, out, needs, x, y)
    return (g @ y.T if needs[0] else None), (x.T @ g if needs[1] else None)


def matmul(x: Any, y: Any) -> Any:
    """Matrix product with NumPy's rules (1-D operands, broadcast batch dimensions).

    Example:
        >>> import microgradnp as mg
        >>> (mg.ones(2, 3) @ mg.ones(3, 4)).shape
        (2, 4)
    """
    try:
        return _matmul(x, y)
    except ValueError:  # explained only on failure: the happy path stays lean
        xs, ys = np.shape(raw(x)), np.shape(raw(y))
        if not xs or not ys:
            raise ValueError(
                f"matmul: both operands need at least 1 dimension, got shapes {xs} and {ys}"
            ) from None
        k_x, k_y = xs[-1], (ys[0] if len(ys) == 1 else ys[-2])
        raise ValueError(
            f"matmul: shapes {xs} and {ys} are not aligned: {k_x} (dim {len(xs) - 1} of the "
            f"first) != {k_y} (dim {max(len(ys) - 2, 0)} of the second)"
        ) from None


@primitive
def _linear(x, weight, bias=None):
    out = np.matmul(x, weight.T)
    if bias is not None:
        out += bias  # out is ours: add in place, no temporary
    return out


@_linear.defvjp(uses_out=False)
def _linear_vjp(g, out, needs, x, weight, bias=None):
    # out = x W^T + b:  dx = g W,  dW = g^T x (batch flattened),  db = sum of g over batch
    gx = _matmul(g, weight) if needs[0] else None
    gw = gb = None
    if needs[1] or (len(needs) > 2 and needs[2]):
        n_out = raw(weight).shape[0]
        g2 = g if raw(g).ndim == 2 else _reshape(g, shape=(-1, n_out))
        if needs[1]:
            x2 = x if raw(x).ndim == 2 else _reshape(x, shape=(-1, raw(x).shape[-1]))
            gw = _matmul(_swap_last(g2), x2)
        if len(needs) > 2 and needs[2]:
            gb = sum_to(g2, (n_out,))
    return gx, gw, gb


@_linear.deffast
def _linear_fast(g, out, needs, res, x, weight, bias=None):
    # The same rule in plain NumPy: linear layers dominate small networks, and skipping the
    # primitive dispatch here halves their backward time.
    gx = g @ weight if needs[0] else None
    gw = gb = None
    if g.ndim != 2:
        g = g.reshape(-1, g.shape[-1])
        x = x.reshape(-1, x.shape[-1])
    if needs[1]:
        gw = g.T @ x
    if len(needs) > 2 and needs[2]:
        gb = np.add.reduce(g, axis=0)
    return gx, gw, gb


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """y = x @ weight.T + bias, one fused op (weight has shape (out_features, in_features)).

    Example:
        >>> import microgradnp as mg
        >>> mg.linear(mg.ones(4, 3), mg.ones(2, 3), mg.zeros(2)).tolist()[0]
        [3.0, 3.0]
    """
    try:
        if bias is None:
            return _linear(x, weight)
        return _linear(x, weight, bias)
    except ValueError:  # checked only on failure: the happy path stays lean
        xs, ws = np.shape(raw(x)), np.shape(raw(weight))
        bs = None if bias is None else np.shape(raw(bias))
        raise ValueError(
            f"linear: input of shape {xs}, weight of shape {ws} and bias of shape {bs} do not "
            f"match; expected weight (out_features, in_features), input (..., in_features) "
            f"and bias (out_features,)"
        ) from None
