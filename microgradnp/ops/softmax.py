"""Softmax, log-softmax, one-hot, and the fused softmax cross-entropy.

All are stable by construction: each row is shifted by its own maximum, so logits of +-1e4
give finite results; the cross-entropy never takes log(0).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..primitive import primitive, raw
from ..tensor import Tensor
from .reduce import _sum
from .shape import _reshape, canonical_dim

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["log_softmax", "one_hot", "softmax"]


@primitive
def _softmax(x, axis=-1):
    e = x - np.max(x, axis=axis, keepdims=True)  # NOTE: per-row max shift, never overflows
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


@_softmax.defvjp(uses_inputs=False)
def _softmax_vjp(g, out, needs, x, axis=-1):
    # J = diag(p) - p p^T  =>  J^T g = p * (g - <g, p>)
    return (out * (g - _sum(g * out, axis=axis, keepdims=True)),)


def softmax(x: Any, dim: int = -1, *, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) along `dim`.

    Example:
        >>> import microgradnp as mg
        >>> mg.softmax(mg.tensor([1e4, 0.0]), dim=0).tolist()
        [1.0, 0.0]
    """
    return _along(_softmax, x, dim if axis is None else axis, "softmax")


@primitive
def _log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    z -= np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return z


@_log_softmax.defvjp(uses_inputs=False)
def _log_softmax_vjp(g, out, needs, x, axis=-1):
    # d log_softmax: g - softmax * sum(g), and softmax = exp(log_softmax)
    from .elementwise import exp

    return (g - exp(out) * _sum(g, axis=axis, keepdims=True),)


def log_softmax(x: Any, dim: int = -1, *, axis: Any = None) -> Any:
    """x - logsumexp(x) along `dim`, computed stably."""
    return _along(_log_softmax, x, dim if axis is None else axis, "log_softmax")


def _along(op: Any, x: Any, dim: Any, name: str) -> Any:
    """Apply `op` along `dim` after checking it; a 0-d tensor is one class (PyTorch)."""
    shape = raw(x).shape
    if raw(x).dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating tensor, got dtype {raw(x).dtype}")
    axis = canonical_dim(dim, len(shape), name, shape)
    if not shape:
        return _reshape(op(_reshape(x, shape=(1,)), axis=0), shape=())
    return op(x, axis=axis)


def one_hot(labels: Any, num_classes: int = -1) -> Any:
    """Integer labels of any shape -> int64 tensor with a trailing class dimension."""
    y = np.asarray(raw(labels))
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    if num_classes < 0:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]"
        )
    out = np.zeros(y.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1, axis=-1)
    return Tensor._wrap(out)


@primitive(residuals=True)
def softmax_cross_entropy(logits, target, reduction="mean"):
    """Cross-entropy of integer targets under softmax(logits), fused: logits (N, C).

    loss_i = logsumexp(x_i) - x_i[t_i];  d loss_i / d x_i = softmax(x_i) - onehot(t_i).
    The exponentials, their row sums and the labels' flat indices are residuals: the fast
    backward turns them into the gradient in place.
    """
    # (ufunc.reduce instead of np.max/np.sum: same result, a third of the call overhead)
    n = logits.shape[0]
    z = logits - np.maximum.reduce(logits, axis=1, keepdims=True)  # per-row shift
    e = np.exp(z)
    s = np.add.reduce(e, axis=1, keepdims=True)
    losses = np.log(s[:, 0])  # log's argument is >= 1: never log(0)
    flat = _row_starts(n, z.shape[1]) + target  # each label's flat index: a 1-D gather
    losses -= z.take(flat)
    if reduction == "mean":
        out = np.add.reduce(losses) / n if n else np.asarray(np.nan, dtype=logits.dtype)
    elif reduction == "sum":
        out = np.add.reduce(losses)
    else:
        out = losses
    return out, (e, s, flat)


@functools.lru_cache(maxsize=64)
def _row_starts(n: int, c: int) -> np.ndarray:
    """0, c, 2c, ..., (n-1)c: the flat index where each row of an (n, c) array starts
    (shared between calls, so read-only)."""
    starts = np.arange(0, n * c, c)
    starts.flags.writeable = False
    return starts


@softmax_cross_entropy.defvjp(uses_out=False)
def _softmax_cross_entropy_vjp(g, out, needs, logits, target, reduction="mean"):
    # softmax recorded (create_graph), so that second derivatives work
    n = raw(logits).shape[0]
    if reduction == "none":
        scale = _reshape(g, shape=(-1, 1))
    else:
        scale = g / n if reduction == "mean" else g
    onehot = np.zeros(raw(logits).shape, dtype=raw(logits).dtype)
    onehot[np.arange(n), raw(target)] = 1
    return (_softmax(logits, axis=1) - onehot) * scale, None


@softmax_cross_entropy.deffast
def _softmax_cross_entropy_fast(g, out, needs, res, logits, target, reduction="mean"):
    # softmax from the forward's exponentials, one-hot subtracted in place
    e, s, flat = res
    p = e / s  # new memory: with retain_graph the residuals serve another backward
    p.reshape(-1)[flat] -= 1
    if reduction == "none":
        p *= g[:, None]
    else:
        n = logits.shape[0]
        p *= g.item() / n if reduction == "mean" else g.item()  # a float keeps p's dtype
    return p, None
