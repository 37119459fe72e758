"""Scans: `cumsum` (forward beside its VJP)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .reduce import _sum

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["cumsum"]


@primitive
def _cumsum(x, axis):
    return np.cumsum(x, axis=axis)


@_cumsum.defvjp(uses_inputs=False, uses_out=False)
def _cumsum_vjp(g, out, needs, x, axis):
    # out_i = sum_{j <= i} x_j, so dL/dx_j = sum_{i >= j} g_i: the reversed cumulative sum,
    # written as total - cumsum + g (no flip primitive needed)
    return (_sum(g, axis=axis, keepdims=True) - _cumsum(g, axis=axis) + g,)


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Any:  # noqa: A002
    """Cumulative sum along `dim`, as `torch.cumsum` (integers and bools sum as int64).

    Example:
        >>> import microgradnp as mg
        >>> mg.cumsum(mg.tensor([1.0, 2.0, 3.0]), dim=0).tolist()
        [1.0, 3.0, 6.0]
    """
    xr = raw(input)
    nd = max(xr.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -nd <= dim < nd:
        raise IndexError(f"cumsum: dim {dim!r} is out of range for a tensor of {xr.ndim} dims")
    if dtype is not None:
        input = input.astype(dtype) if hasattr(input, "astype") else xr.astype(dtype)
    elif xr.dtype.kind in "biu":
        input = input.astype(np.int64) if hasattr(input, "astype") else xr.astype(np.int64)
    if xr.ndim == 0:
        return input
    return _cumsum(input, axis=int(dim) % xr.ndim)
