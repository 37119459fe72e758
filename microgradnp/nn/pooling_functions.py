"""Pooling functions: `max_pool1d/2d`, `avg_pool1d/2d`, `adaptive_avg_pool2d`.

All are composites of differentiable ops, so gradients and second derivatives follow:
max pooling gathers each window's first maximum (PyTorch's choice among ties) from the
(-inf padded) input, average pooling sums `unfold`ed windows and divides by PyTorch's
divisor, adaptive average pooling is two matrix products with averaging matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops.im2col import _unfold, is_unbatched, pair, windows
from ..primitive import primitive, raw
from ..tensor import Tensor


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: a last, partial window only if it starts inside."""
    eff = d * (k - 1) + 1
    n = (size + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _geometry(name, x, kernel_size, stride, padding, dilation, ceil_mode, nd, max_pool):
    """(x as 4-D, unbatched flag, kernel, stride, pad, dilation, out size, extra end pad)."""
    xr = raw(x)
    unbatched = is_unbatched(name, x, nd)
    shape = ((1,) if unbatched else ()) + xr.shape
    k = pair(kernel_size, "kernel_size", nd)
    s = k if stride is None or stride == () or stride == [] else pair(stride, "stride", nd)
    p, d = pair(padding, "padding", nd), pair(dilation, "dilation", nd)
    if nd == 1:
        shape = shape[:2] + (1,) + shape[2:]
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    if min(k + s + d) < 1 or min(p) < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, padding >= 0")
    for ki, pi, di in zip(k, p, d, strict=True):
        if pi > ((di * (ki - 1) + 1) // 2 if max_pool else ki // 2):
            raise ValueError(
                f"{name}: pad should be at most half of effective kernel size, but got "
                f"pad={padding}, kernel_size={kernel_size} and dilation={dilation}"
            )
    out = tuple(_out_size(shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{name}: output size {out[2 - nd :]} is too small for input {xr.shape}")
    # rows/columns past the padded input that a ceil_mode window reaches
    extra = tuple(
        max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - shape[2 + i] - 2 * p[i])
        for i in range(2)
    )
    x4 = x if raw(x).shape == shape else ops.reshape(x, shape)
    return x4, unbatched, k, s, p, d, out, extra


def _check_float(name: str, x: Any) -> None:
    if raw(x).dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {raw(x).dtype}")


def _end_pad(p: tuple, extra: tuple) -> tuple:
    """`ops.pad` widths (left, right, top, bottom): `p` each side, plus `extra` at the end."""
    return (p[1], p[1] + extra[1], p[0], p[0] + extra[0])


def _finish(out: Any, unbatched: bool, nd: int) -> Any:
    shape = raw(out).shape
    if nd == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return out if shape == raw(out).shape else ops.reshape(out, shape)


def _max_pool(name, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd):
    _check_float(name, x)
    x4, unbatched, k, s, p, d, (ho, wo), extra = _geometry(
        name, x, kernel_size, stride, padding, dilation, ceil_mode, nd, True
    )
    n, c, h, w = raw(x4).shape
    out, rows, cols = _gathered_max(x4, k, s, p, d, ho, wo, extra)
    out = _finish(out, unbatched, nd)
    if not return_indices:
        return out
    idx = (rows - p[0]) * w + (cols - p[1])  # PyTorch's indices into each unpadded plane
    return out, Tensor._wrap(_finish(idx.astype(np.int64), unbatched, nd))


def _gathered_max(x4, k, s, p, d, ho, wo, extra):
    """Each window's first maximum from the (-inf padded) input (the `window_max` primitive:
    its gradient scatters back there). Returns the output and the maxima's rows and columns
    in the padded input."""
    pad = _end_pad(p, extra)
    xp = ops.pad(x4, pad, value=-np.inf) if any(pad) else x4
    out = window_max(xp, k=k, s=s, d=d, ho=ho, wo=wo)
    hp, wp = raw(xp).shape[2:]
    index = _argmax_index(raw(xp), k, s, d, ho, wo)
    return out, index // wp % hp, index % wp


def _argmax_index(xp: np.ndarray, k, s, d, ho, wo) -> np.ndarray:
    """Flat index into `xp` (N, C, Hp, Wp) of each window's first maximum, (N, C, Ho, Wo)."""
    n, c, hp, wp = xp.shape
    win = windows(xp, k, s, d)[..., :ho, :wo]  # (C, kh, kw, N, Ho, Wo), a view
    # flat index into xp of each window's top-left element, laid out (C, N, Ho, Wo)
    corner = (
        (np.arange(n)[:, None, None] * c * hp + np.arange(ho)[:, None] * s[0]) * wp
        + np.arange(wo) * s[1]
    ) + np.arange(c).reshape(c, 1, 1, 1) * hp * wp
    # the first maximum of each window: one comparison per kernel offset (a strict > keeps
    # the earliest), much faster than argmax over a short copied axis
    best = win[:, 0, 0].copy()
    index = corner
    for i in range(k[0]):
        for j in range(k[1]):
            if i == j == 0:
                continue
            candidate = win[:, i, j]
            better = candidate > best
            np.maximum(best, candidate, out=best)
            index = np.where(better, corner + (i * d[0] * wp + j * d[1]), index)
    return index.transpose(1, 0, 2, 3)  # (N, C, Ho, Wo)


@primitive(residuals=True)
def window_max(xp, k, s, d, ho, wo):
    """The first maximum of each pooling window of `xp` (N, C, Hp, Wp). The maxima's
    positions are found here, from the data, so that a captured step recomputes them."""
    index = _argmax_index(xp, k, s, d, ho, wo)
    return xp.reshape(-1)[index], index


@window_max.defvjp(uses_out=False)
def _window_max_vjp(g, out, needs, xp, k, s, d, ho, wo):
    # the gradient goes to each window's maximum; overlapping windows add up (index_add)
    shape = raw(xp).shape
    index = _argmax_index(raw(xp), k, s, d, ho, wo)
    flat = ops.index_add(g, index=index, shape=(int(np.prod(shape)),))
    return (ops.reshape(flat, shape),)


@window_max.deffast
def _window_max_fast(g, out, needs, res, xp, k, s, d, ho, wo):
    flat = np.zeros(xp.size, dtype=g.dtype)
    np.add.at(flat, res, g)  # the positions the forward found
    return (flat.reshape(xp.shape),)


def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling over (N, C, H, W), as `torch.nn.functional.max_pool2d` (`stride`
    defaults to `kernel_size`; padding is -inf; the gradient goes to the first maximum).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
        >>> mg.nn.functional.max_pool2d(x, 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2
    )


def max_pool1d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling over (N, C, L), as `torch.nn.functional.max_pool1d`.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.max_pool1d(mg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    return _max_pool(
        "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1
    )


def _divisor(size: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """PyTorch's per-position divisor along one axis (window length, clipped as it clips)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _avg_pool(name, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor, nd):
    _check_float(name, x)
    x4, unbatched, k, s, p, d, (ho, wo), extra = _geometry(
        name, x, kernel_size, stride, padding, 1, ceil_mode, nd, False
    )
    n, c, h, w = raw(x4).shape
    pad = _end_pad(p, extra)
    xp = ops.pad(x4, pad) if any(pad) else x4
    planes = ops.reshape(xp, (n * c, 1) + raw(xp).shape[2:])
    cols = _unfold(planes, kernel=k, dilation=(1, 1), padding=(0, 0, 0, 0), stride=s)
    sums = ops.reshape(ops.sum(cols, dim=1), (n, c, ho, wo))
    if divisor is not None:
        if divisor == 0:
            raise ValueError(f"{name}: divisor_override must be non-zero")
        return _finish(sums / float(divisor), unbatched, nd)
    rows = _divisor(h, ho, k[0], s[0], p[0], count_include_pad)
    columns = _divisor(w, wo, k[1], s[1], p[1], count_include_pad)
    scale = (1.0 / np.outer(rows, columns)).astype(raw(x).dtype)
    return _finish(sums * scale, unbatched, nd)


def avg_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """2-D average pooling, as `torch.nn.functional.avg_pool2d` (zero padding, counted in
    the divisor when `count_include_pad`).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
        >>> mg.nn.functional.avg_pool2d(x, 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool(
        "avg_pool2d",
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        2,
    )


def avg_pool1d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """1-D average pooling over (N, C, L), as `torch.nn.functional.avg_pool1d`.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.avg_pool1d(mg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    return _avg_pool(
        "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1
    )


def _averaging_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """(out, size): row i averages PyTorch's adaptive window [floor(i*size/out),
    ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        lo, hi = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:  # noqa: A002
    """Average pooling to a fixed output size (H_out, W_out), as
    `torch.nn.functional.adaptive_avg_pool2d`; None in `output_size` keeps that input size.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
        >>> mg.nn.functional.adaptive_avg_pool2d(x, 1).tolist()
        [[[[7.5]]]]
    """
    xr = raw(input)
    if xr.ndim not in (3, 4) or xr.dtype.kind != "f":
        raise ValueError(
            f"adaptive_avg_pool2d: expected a 3-D or 4-D floating-point input, got shape "
            f"{xr.shape} and dtype {xr.dtype}"
        )
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must have 2 values, got {sizes}")
    h, w = xr.shape[-2:]
    oh, ow = (h if sizes[0] is None else sizes[0]), (w if sizes[1] is None else sizes[1])
    if min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {sizes}")
    rows = _averaging_matrix(h, oh, xr.dtype)
    columns = _averaging_matrix(w, ow, xr.dtype)
    return ops.matmul(ops.matmul(rows, input), columns.T)
