"""Sliding windows: `unfold` (im2col) and `fold` (col2im), and the NumPy helpers that
convolution (`conv.py`) and pooling share.

`_windows` is a strided view of every kernel window of a padded (N, C, H, W) array, laid out
channel-major as (C, kh, kw, N, Ho, Wo) so that one reshape gives the (C*kh*kw, N*Ho*Wo)
matrix of a single GEMM. `_col2im` is its adjoint: kh*kw strided adds, no Python loop over
positions, from blocks laid out (N, C, kh, kw, Ho, Wo). `unfold` and `fold` are each
other's VJP (both are linear).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..primitive import primitive, raw
from .shape import _reshape

Pair = tuple[int, int]
Pad4 = tuple[int, int, int, int]  # (top, bottom, left, right)


def pair(value: Any, name: str, n: int = 2) -> tuple[int, ...]:
    """An int or a sequence of n ints, as n ints (PyTorch's `_pair`)."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(vals) != n or not all(isinstance(v, (int, np.integer)) for v in vals):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in vals)


def out_size(size: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    """Number of window positions along one axis."""
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def padded(x: np.ndarray, pad: Pad4, value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) with `pad` rows/columns of `value` around its last two axes."""
    if not any(pad):
        return x
    t, b, left, r = pad
    n, c, h, w = x.shape
    xp = np.full((n, c, h + t + b, w + left + r), value, dtype=x.dtype)
    xp[:, :, t : t + h, left : left + w] = x
    return xp


def windows(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """Read-only view (C, kh, kw, N, Ho, Wo) of the windows of the padded xp (N, C, Hp, Wp)."""
    n, c, hp, wp = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = out_size(hp, kh, sh, 0, 0, dh)
    wo = out_size(wp, kw, sw, 0, 0, dw)
    a, b, r, q = xp.strides
    return as_strided(
        xp, (c, kh, kw, n, ho, wo), (b, r * dh, q * dw, a, r * sh, q * sw), writeable=False
    )


def col2im(
    cols: np.ndarray, x_shape: tuple, stride: Pair, padding: Pad4, dilation: Pair
) -> np.ndarray:
    """Adjoint of `windows`: cols (N, C, kh, kw, Ho, Wo) summed back into (N, C, H, W)."""
    n, c, kh, kw, ho, wo = cols.shape
    t, b, left, r = padding
    h, w = x_shape[2], x_shape[3]
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.zeros((n, c, h + t + b, w + left + r), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            xp[:, :, rows, columns] += cols[:, :, i, j]
    return xp[:, :, t : t + h, left : left + w] if any(padding) else xp


@primitive
def _unfold(x, kernel, dilation, padding, stride):
    cols = windows(padded(x, padding), kernel, stride, dilation)  # (C, kh, kw, N, Ho, Wo)
    c, kh, kw, n, ho, wo = cols.shape
    return cols.transpose(3, 0, 1, 2, 4, 5).reshape(n, c * kh * kw, ho * wo)


@_unfold.defvjp(uses_out=False)
def _unfold_vjp(g, out, needs, x, kernel, dilation, padding, stride):
    # unfold is linear, so its VJP is its adjoint: fold (overlapping windows add up)
    gx = _fold(
        g, x_shape=raw(x).shape, kernel=kernel, dilation=dilation, padding=padding, stride=stride
    )
    return (gx,)


@primitive
def _fold(cols, x_shape, kernel, dilation, padding, stride):
    n, c, h, w = x_shape
    kh, kw = kernel
    ho = out_size(h, kh, stride[0], padding[0], padding[1], dilation[0])
    wo = out_size(w, kw, stride[1], padding[2], padding[3], dilation[1])
    return col2im(cols.reshape(n, c, kh, kw, ho, wo), x_shape, stride, padding, dilation)


@_fold.defvjp(uses_inputs=False, uses_out=False)
def _fold_vjp(g, out, needs, cols, x_shape, kernel, dilation, padding, stride):
    # the adjoint of col2im is im2col
    return (_unfold(g, kernel=kernel, dilation=dilation, padding=padding, stride=stride),)


def is_unbatched(name: str, x: Any, nd: int) -> bool:
    """Whether `x` is an unbatched (C, *spatial) input of an op over `nd` spatial dimensions
    rather than a batched (N, C, *spatial) one; any other rank is an error."""
    ndim = raw(x).ndim
    if ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
            f"got shape {raw(x).shape}"
        )
    return ndim == nd + 1


def _batched(x: Any, ndim: int, name: str) -> tuple[Any, bool]:
    """Add a batch dimension to an unbatched input, as PyTorch accepts both."""
    if is_unbatched(name, x, ndim - 2):
        return _reshape(x, shape=(1,) + raw(x).shape), True
    return x, False


def _params(kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple:
    kernel = pair(kernel_size, "kernel_size")
    dil, pad, st = pair(dilation, "dilation"), pair(padding, "padding"), pair(stride, "stride")
    if min(kernel + dil + st) < 1 or min(pad) < 0:
        raise ValueError(
            f"kernel_size {kernel}, dilation {dil} and stride {st} must be positive and "
            f"padding {pad} non-negative"
        )
    return kernel, dil, (pad[0], pad[0], pad[1], pad[1]), st


def unfold(
    input: Any,  # noqa: A002
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Any:
    """Extract sliding local blocks (im2col), as `torch.nn.functional.unfold`.

    (N, C, H, W) -> (N, C * kh * kw, L), L the number of window positions; column l holds
    the window at position l, channels outermost then kernel rows and columns.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
        >>> cols = mg.nn.functional.unfold(x, kernel_size=2, stride=2)
        >>> cols.shape, cols[0, :, 0].tolist()
        ((1, 4, 4), [0.0, 1.0, 4.0, 5.0])
    """
    x, unbatched = _batched(input, 4, "unfold")
    kernel, dil, pad, st = _params(kernel_size, dilation, padding, stride)
    h, w = raw(x).shape[2:]
    if out_size(h, kernel[0], st[0], pad[0], pad[1], dil[0]) < 1 or (
        out_size(w, kernel[1], st[1], pad[2], pad[3], dil[1]) < 1
    ):
        raise ValueError(
            f"unfold: kernel_size {kernel} with dilation {dil} does not fit the padded input "
            f"of spatial size {(h + 2 * pad[0], w + 2 * pad[2])}"
        )
    out = _unfold(x, kernel=kernel, dilation=dil, padding=pad, stride=st)
    return _reshape(out, shape=raw(out).shape[1:]) if unbatched else out


def fold(
    input: Any,  # noqa: A002
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Any:
    """Combine sliding local blocks into a tensor (col2im), as `torch.nn.functional.fold`:
    the adjoint of `unfold`, overlapping values are summed.

    Example:
        >>> import microgradnp as mg
        >>> F = mg.nn.functional
        >>> x = mg.ones(1, 1, 3, 3)
        >>> F.fold(F.unfold(x, 2), (3, 3), 2)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    x, unbatched = _batched(input, 3, "fold")
    kernel, dil, pad, st = _params(kernel_size, dilation, padding, stride)
    size = pair(output_size, "output_size")
    n, ck, length = raw(x).shape
    blocks = kernel[0] * kernel[1]
    ho = out_size(size[0], kernel[0], st[0], pad[0], pad[1], dil[0])
    wo = out_size(size[1], kernel[1], st[1], pad[2], pad[3], dil[1])
    if ck % blocks or length != ho * wo or ho < 1 or wo < 1:
        raise ValueError(
            f"fold: input of shape {raw(x).shape} does not match output_size {size} with "
            f"kernel_size {kernel}: expected (N, C * {blocks}, {ho * wo})"
        )
    out = _fold(
        x,
        x_shape=(n, ck // blocks) + size,
        kernel=kernel,
        dilation=dil,
        padding=pad,
        stride=st,
    )
    return _reshape(out, shape=raw(out).shape[1:]) if unbatched else out
