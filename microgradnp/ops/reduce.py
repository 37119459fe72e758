"""Reductions: sum, mean, max/min, logsumexp, var/std, arg-max/min.

Public functions take PyTorch's `dim=`/`keepdim=` and NumPy's `axis=`/`keepdims=`.
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from ..primitive import primitive, raw
from ..tensor import Tensor
from .elementwise import exp, maximum, minimum, sqrt
from .shape import _broadcast_to, _reshape

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = [
    "amax",
    "amin",
    "argmax",
    "argmin",
    "logsumexp",
    "max",
    "mean",
    "min",
    "std",
    "sum",
    "var",
]


_MinMax = namedtuple("_MinMax", ["values", "indices"])


def dim_args(dim: Any, keepdim: Any, kw: dict) -> tuple[Any, bool]:
    """Merge PyTorch (`dim`, `keepdim`) and NumPy (`axis`, `keepdims`) spellings."""
    if "axis" in kw:
        if dim is not None:
            raise TypeError("pass either dim= or axis=, not both")
        dim = kw.pop("axis")
    if "keepdims" in kw:
        keepdim = kw.pop("keepdims")
    if kw:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(kw)}")
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, bool(keepdim)


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    """The shape of a reduction over `axis` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {a % len(shape) for a in axes} if shape else set()
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_like(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduction's output gradient back over the reduced axes of x."""
    shape = raw(x).shape
    if not keepdims:
        g = _reshape(g, shape=_kept_shape(shape, axis))
    return _broadcast_to(g, shape=shape)


@primitive
def _sum(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


@_sum.defvjp(uses_inputs=False, uses_out=False)
def _sum_vjp(g, out, needs, x, axis=None, keepdims=False):
    return (_expand_like(g, x, axis, keepdims),)


def sum(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Sum over `dim` (all elements when None).

    Example:
        >>> import microgradnp as mg
        >>> mg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0).tolist()
        [4.0, 6.0]
    """
    axis, keepdims = dim_args(dim, keepdim, kw)
    return _sum(x, axis=axis, keepdims=keepdims)


@primitive
def _mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


@_mean.defvjp(uses_inputs=False, uses_out=False)
def _mean_vjp(g, out, needs, x, axis=None, keepdims=False):
    shape = raw(x).shape
    n = int(np.prod(shape)) // builtins.max(int(np.prod(_kept_shape(shape, axis))), 1)
    return (_expand_like(g, x, axis, keepdims) / builtins.max(n, 1),)


def mean(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
    """Arithmetic mean over `dim` (all elements when None)."""
    axis, keepdims = dim_args(dim, keepdim, kw)
    return _mean(x, axis=axis, keepdims=keepdims)


def var(
    x: Any,
    dim: Any = None,
    *,
    correction: Any = None,
    keepdim: bool = False,
    unbiased: Any = None,
    ddof: Any = None,
    **kw: Any,
) -> Any:
    """Variance with Bessel's correction by default (`correction=1`, as PyTorch).

    `ddof=` (NumPy) and `unbiased=` (old PyTorch) are accepted as aliases.
    """
    axis, keepdims = dim_args(dim, keepdim, kw)
    if ddof is not None:
        correction = ddof
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if correction is None:
        correction = 1
    shape = raw(x).shape
    n = int(np.prod(shape)) // int(np.prod(_kept_shape(shape, axis)))  # reduced count
    diff = x - _mean(x, axis=axis, keepdims=True)
    return _sum(diff * diff, axis=axis, keepdims=keepdims) / builtins.max(n - correction, 0)


def std(x: Any, dim: Any = None, **kw: Any) -> Any:
    """Standard deviation: sqrt of `var` (same arguments and default correction=1)."""
    return sqrt(var(x, dim, **kw))


def _extreme_vjp(g, out, needs, x, axis=None, keepdims=False):
    # NOTE: ties split the gradient evenly between the extreme elements (as in
    # PyTorch's amax/amin), so the VJP is a valid subgradient and is symmetric.
    xr = raw(x)
    hit = xr == np.reshape(raw(out), _kept_shape(xr.shape, axis))
    weight = hit / np.sum(hit, axis=axis, keepdims=True)
    return (_expand_like(g, x, axis, keepdims) * weight.astype(xr.dtype),)


@primitive
def amax(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


@primitive
def amin(x, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=keepdims)


amax.defvjp(_extreme_vjp)
amin.defvjp(_extreme_vjp)


def _max_or_min(
    x: Any, dim: Any, keepdim: bool, kw: dict, extreme: Any, arg: Any, pairwise: Any
) -> Any:
    if isinstance(dim, (Tensor, np.ndarray)):  # torch.max(a, b) is the elementwise maximum
        return pairwise(x, dim)
    axis, keepdims = dim_args(dim, keepdim, kw)
    values = extreme(x, axis=axis, keepdims=keepdims)
    if axis is None or isinstance(axis, tuple):
        return values
    indices = arg(raw(x), axis=axis, keepdims=keepdims)
    return _MinMax(values, Tensor._wrap(np.asarray(indices, dtype=np.int64)))


def max(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Largest element; with an int `dim`, a (values, indices) pair as in PyTorch.

    The gradient is split evenly between tied maxima.
    """
    return _max_or_min(x, dim, keepdim, kw, amax, np.argmax, maximum)


def min(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Smallest element; with an int `dim`, a (values, indices) pair as in PyTorch.

    The gradient is split evenly between tied minima.
    """
    return _max_or_min(x, dim, keepdim, kw, amin, np.argmin, minimum)


def _arg(fn: Any, x: Any, dim: Any, keepdim: bool, kw: dict) -> Any:
    axis, keepdims = dim_args(dim, keepdim, kw)
    xr = raw(x)
    if axis is None:
        out = np.asarray(fn(xr.reshape(-1)))
        if keepdims:
            out = out.reshape((1,) * xr.ndim)
    else:
        out = fn(xr, axis=axis, keepdims=keepdims)
    return Tensor._wrap(np.asarray(out, dtype=np.int64))


def argmax(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
    """Index of the largest element (over the flattened tensor when `dim` is None)."""
    return _arg(np.argmax, x, dim, keepdim, kw)


def argmin(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
    """Index of the smallest element (over the flattened tensor when `dim` is None)."""
    return _arg(np.argmin, x, dim, keepdim, kw)


@primitive
def _logsumexp(x, axis=None, keepdims=False):
    # NOTE: shift by the max so that exp never overflows; an all -inf slice keeps -inf
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


@_logsumexp.defvjp
def _logsumexp_vjp(g, out, needs, x, axis=None, keepdims=False):
    # d/dx log sum exp x = softmax(x) = exp(x - lse)
    return (_expand_like(g, x, axis, keepdims) * exp(x - _expand_like(out, x, axis, keepdims)),)


def logsumexp(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
    """log(sum(exp(x))) over `dim`, stable for any finite input."""
    axis, keepdims = dim_args(dim, keepdim, kw)
    return _logsumexp(x, axis=axis, keepdims=keepdims)
