"""Sorting: `sort` and `topk`, returning PyTorch's (values, indices) pairs.

The indices come from NumPy's stable argsort (no gradient, int64); the values are a
`gather` of the input at them, so their gradient scatters back to the chosen elements.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ..primitive import raw
from ..tensor import Tensor
from .shape import gather

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["sort", "topk"]


SortResult = namedtuple("SortResult", ["values", "indices"])
TopkResult = namedtuple("TopkResult", ["values", "indices"])


def _dim(x: np.ndarray, dim: Any, name: str) -> int:
    nd = max(x.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -nd <= dim < nd:
        raise IndexError(f"{name}: dim {dim!r} is out of range for a tensor of {x.ndim} dims")
    return int(dim) % nd


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    # NOTE: a stable sort of -x keeps equal elements in their original order when descending
    key = x.astype(np.int64) if x.dtype.kind in "bu" else x
    return np.argsort(-key if descending else key, axis=axis, kind="stable")


def sort(
    input: Any,  # noqa: A002
    dim: int = -1,
    descending: bool = False,
    stable: bool = False,
) -> SortResult:
    """Sort along `dim`: (values, indices), as `torch.sort` (ties keep their order).

    Example:
        >>> import microgradnp as mg
        >>> values, indices = mg.sort(mg.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> values.tolist(), indices.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    xr = raw(input)
    axis = _dim(xr, dim, "sort")
    if xr.ndim == 0:
        return SortResult(input, Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = _order(xr, axis, descending)
    return SortResult(gather(input, axis, idx), Tensor._wrap(idx.astype(np.int64)))


def topk(
    input: Any,  # noqa: A002
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> TopkResult:
    """The k largest (or smallest) elements along `dim`: (values, indices), as
    `torch.topk`; always returned in sorted order.

    Example:
        >>> import microgradnp as mg
        >>> mg.topk(mg.tensor([1.0, 5.0, 3.0, 4.0]), 2).indices.tolist()
        [1, 3]
    """
    xr = raw(input)
    axis = _dim(xr, dim, "topk")
    n = xr.shape[axis] if xr.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k={k!r} is out of range for dimension {dim} of size {n}")
    if xr.ndim == 0:
        return TopkResult(input, Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = np.take(_order(xr, axis, largest), np.arange(k), axis=axis)
    return TopkResult(gather(input, axis, idx), Tensor._wrap(idx.astype(np.int64)))
