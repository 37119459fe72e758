"""Masking ops for attention: `masked_fill`, and the triangles `tril` and `triu`.

Each is linear in its tensor input with a constant 0/1 pattern, so its VJP applies the same
pattern to the incoming gradient (and runs on ndarrays and Tensors alike).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["masked_fill", "tril", "triu"]


@primitive
def _masked_fill(x, mask, value):
    return np.where(mask, np.asarray(value, dtype=x.dtype), x)


@_masked_fill.defvjp(uses_inputs=False, uses_out=False)
def _masked_fill_vjp(g, out, needs, x, mask, value):
    # out = x where not mask, else the constant:  d out / d x = 1 - mask
    keep = (~mask).astype(raw(g).dtype)
    return (g * keep,)


def masked_fill(x: Any, mask: Any, value: float) -> Any:
    """A copy of `x` with `value` wherever the boolean `mask` (broadcast to x) is True.

    Args:
        x: a float tensor.
        mask: a bool tensor or array broadcastable to `x`'s shape.
        value: a Python number (filled in `x`'s dtype; `-inf` is the usual attention mask).

    Example:
        >>> import microgradnp as mg
        >>> mg.masked_fill(mg.tensor([1.0, 2.0, 3.0]), mg.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    m = np.asarray(raw(mask))
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    xs = np.shape(raw(x))
    if not _broadcasts(m.shape, xs) or np.broadcast_shapes(m.shape, xs) != xs:
        raise ValueError(
            f"masked_fill: mask of shape {m.shape} does not broadcast to the input's shape {xs}"
        )
    value = raw(value)
    if np.ndim(value) != 0:
        raise ValueError(f"masked_fill: value must be a scalar, got shape {np.shape(value)}")
    return _masked_fill(x, mask=m, value=float(value))


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


@primitive
def _tril(x, diagonal=0):
    return np.tril(x, diagonal)


@_tril.defvjp(uses_inputs=False, uses_out=False)
def _tril_vjp(g, out, needs, x, diagonal=0):
    # tril keeps a fixed set of entries: the gradient keeps the same ones
    return (_tril(g, diagonal=diagonal),)


@primitive
def _triu(x, diagonal=0):
    return np.triu(x, diagonal)


@_triu.defvjp(uses_inputs=False, uses_out=False)
def _triu_vjp(g, out, needs, x, diagonal=0):
    return (_triu(g, diagonal=diagonal),)


def _check_matrix(x: Any, who: str) -> None:
    if np.ndim(raw(x)) < 2:
        raise ValueError(
            f"{who}: input must have at least 2 dimensions, got shape {np.shape(raw(x))}"
        )


def tril(x: Any, diagonal: int = 0) -> Any:
    """The lower triangle of the last two dims: entries (i, j) with j - i <= diagonal kept,
    the others zero.

    Example:
        >>> import microgradnp as mg
        >>> mg.tril(mg.ones(3, 3)).tolist()
        [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    _check_matrix(x, "tril")
    return _tril(x, diagonal=int(diagonal))


def triu(x: Any, diagonal: int = 0) -> Any:
    """The upper triangle of the last two dims: entries (i, j) with j - i >= diagonal kept,
    the others zero.

    Example:
        >>> import microgradnp as mg
        >>> mg.triu(mg.ones(2, 3), diagonal=1).tolist()
        [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    _check_matrix(x, "triu")
    return _triu(x, diagonal=int(diagonal))
