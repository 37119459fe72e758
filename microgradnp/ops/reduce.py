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
from .elementwise import exp, maximum, minimum
from .shape import _broadcast_to, _getitem, _reshape, canonical_dim

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
    given = axis if isinstance(axis, tuple) else (axis,)
    axes = {a % len(shape) for a in given} if shape else set()
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_like(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduction's output gradient back over the reduced axes of x."""
    shape = raw(x).shape
    if not keepdims:
        g = _reshape(g, shape=_kept_shape(shape, axis))
    return _broadcast_to(g, shape=shape)


@primitive
def _sum(x, axis=None, keepdims=False):
    # (np.sum's own call: the same reduction, with a Python wrapper around it)
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


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


def _var_args(x: Any, dim: Any, kw: dict) -> tuple[Any, bool, int]:
    """(axis, keepdims, correction) from var/std's PyTorch and NumPy spellings."""
    if raw(x).dtype.kind != "f":
        raise TypeError(
            f"var/std: expected a floating tensor, got dtype {raw(x).dtype} (convert it with "
            f".astype(np.float32) first)"
        )
    correction = kw.pop("correction", None)
    ddof, unbiased = kw.pop("ddof", None), kw.pop("unbiased", None)
    axis, keepdims = dim_args(dim, kw.pop("keepdim", False), kw)
    if ddof is not None:
        correction = ddof
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return axis, keepdims, 1 if correction is None else correction


def _reduced_count(shape: tuple, axis: Any) -> int:
    return int(np.prod(shape)) // builtins.max(int(np.prod(_kept_shape(shape, axis))), 1)


def var(x: Any, dim: Any = None, **kw: Any) -> Any:
    """Variance with Bessel's correction by default (`correction=1`, as PyTorch).

    Keywords: `correction=`, `keepdim=`; `ddof=` (NumPy) and `unbiased=` (old PyTorch) are
    accepted as aliases.
    """
    axis, keepdims, correction = _var_args(x, dim, kw)
    n = _reduced_count(raw(x).shape, axis)
    diff = x - _mean(x, axis=axis, keepdims=True)
    return _sum(diff * diff, axis=axis, keepdims=keepdims) / builtins.max(n - correction, 0)


@primitive
def _std(x, axis=None, keepdims=False, correction=1):
    dof = builtins.max(_reduced_count(x.shape, axis) - correction, 0)
    diff = x - np.mean(x, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # dof 0: nan, as PyTorch
        return np.sqrt(np.sum(diff * diff, axis=axis, keepdims=keepdims) / dof)


@_std.defvjp
def _std_vjp(g, out, needs, x, axis=None, keepdims=False, correction=1):
    # d std / dx = (x - mean) / (dof * std); where std == 0 (a constant slice) the gradient
    # is 0, as in PyTorch (a subgradient: std has a kink there), never 0/0
    xr = raw(x)
    dof = builtins.max(_reduced_count(xr.shape, axis) - correction, 0)
    zero = np.reshape(raw(out) == 0, _kept_shape(xr.shape, axis)).astype(xr.dtype)
    s = _expand_like(out, x, axis, keepdims)
    denom = s * dof + zero  # never 0 where the slice is constant; masked out below
    diff = x - _mean(x, axis=axis, keepdims=True)
    return (_expand_like(g, x, axis, keepdims) * diff * (1.0 - zero) / denom,)


def std(x: Any, dim: Any = None, **kw: Any) -> Any:
    """Standard deviation, with `var`'s arguments (default correction=1).

    Its gradient is 0 over a constant slice, as in PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([2.0, 2.0, 2.0], requires_grad=True)
        >>> x.std().backward()
        >>> x.grad.tolist()
        [0.0, 0.0, 0.0]
    """
    axis, keepdims, correction = _var_args(x, dim, kw)
    return _std(x, axis=axis, keepdims=keepdims, correction=correction)


def _extreme_vjp(g, out, needs, x, axis=None, keepdims=False):
    # NOTE: ties split the gradient evenly between the extreme elements (as in
    # PyTorch's amax/amin), so the VJP is a valid subgradient and is symmetric.
    xr = raw(x)
    hit = xr == np.reshape(raw(out), _kept_shape(xr.shape, axis))
    weight = hit / np.sum(hit, axis=axis, keepdims=True)
    return (_expand_like(g, x, axis, keepdims) * weight.astype(xr.dtype),)


@primitive
def amax(x, axis=None, keepdims=False):
    """The largest value over `axis` (all when None); ties share the gradient evenly."""
    return np.max(x, axis=axis, keepdims=keepdims)


@primitive
def amin(x, axis=None, keepdims=False):
    """The smallest value over `axis` (all when None); ties share the gradient evenly."""
    return np.min(x, axis=axis, keepdims=keepdims)


amax.defvjp(_extreme_vjp)
amin.defvjp(_extreme_vjp)


def _values_at(x: Any, indices: np.ndarray, axis: int, keepdims: bool) -> Any:
    """x's entries at `indices` along `axis` (a gather: the gradient goes to those entries)."""
    grids: list[Any] = list(np.indices(indices.shape, sparse=True))
    if keepdims:
        grids[axis] = indices
    else:
        grids.insert(axis, indices)
    return _getitem(x, index=tuple(grids))


def _max_or_min(
    x: Any, dim: Any, keepdim: bool, kw: dict, extreme: Any, arg: Any, pairwise: Any
) -> Any:
    if isinstance(dim, (Tensor, np.ndarray)):  # torch.max(a, b) is the elementwise maximum
        return pairwise(x, dim)
    axis, keepdims = dim_args(dim, keepdim, kw)
    if axis is None or isinstance(axis, tuple):
        return extreme(x, axis=axis, keepdims=keepdims)
    xr, name = raw(x), extreme.name[1:]  # "amax" -> "max"
    axis = canonical_dim(axis, xr.ndim, name, xr.shape)
    if xr.ndim == 0:  # PyTorch: the value itself, at index 0
        return _MinMax(x * 1, Tensor._wrap(np.zeros((), dtype=np.int64)))
    if xr.shape[axis] == 0:
        raise IndexError(
            f"{name}: cannot reduce over the empty dimension {axis} of a tensor of shape {xr.shape}"
        )
    indices = np.asarray(arg(xr, axis=axis, keepdims=keepdims), dtype=np.int64)
    return _MinMax(_values_at(x, indices, axis, keepdims), Tensor._wrap(indices))


def max(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Largest element; with an int `dim`, a (values, indices) pair as in PyTorch.

    With an int `dim`, `indices` holds the first occurrence of the maximum and the gradient
    goes to that element only (as PyTorch's `max(dim)`); over all or a tuple of dims the
    gradient is split evenly between tied maxima (as PyTorch's `amax`).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
        >>> values, indices = mg.max(x, dim=1)
        >>> values.sum().backward()
        >>> indices.tolist(), x.grad.tolist()
        ([1], [[0.0, 1.0, 0.0]])
    """
    return _max_or_min(x, dim, keepdim, kw, amax, np.argmax, maximum)


def min(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Smallest element; with an int `dim`, a (values, indices) pair as in PyTorch.

    As for `max`: with an int `dim` the gradient goes to the returned (first) index; over
    all or a tuple of dims it is split evenly between tied minima.
    """
    return _max_or_min(x, dim, keepdim, kw, amin, np.argmin, minimum)


def _arg(fn: Any, x: Any, dim: Any, keepdim: bool, kw: dict) -> Any:
    axis, keepdims = dim_args(dim, keepdim, kw)
    xr = raw(x)
    name = fn.__name__
    if axis is not None:
        axis = canonical_dim(axis, xr.ndim, name, xr.shape)
        if xr.ndim == 0:
            return Tensor._wrap(np.zeros((), dtype=np.int64))
    if xr.size == 0 and (axis is None or xr.shape[axis] == 0):
        raise ValueError(
            f"{name}: cannot take the {name} of an empty tensor of shape {xr.shape}"
            + (f" along dim {axis}" if axis is not None else "")
        )
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
