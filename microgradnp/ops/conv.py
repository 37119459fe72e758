"""Convolution: `conv2d`, `conv1d` and `conv_transpose2d`, on three primitives.

For y = conv(x, w) (cross-correlation, as PyTorch),
    y[n, o, p] = sum_{c, k} w[o, c, k] x[n, c, p*s + k*d - pad],
the three primitives are
    _conv2d(x, w, b)            y, by im2col (a strided view, one copy) and one GEMM,
    _conv2d_input(g, w)         dL/dx = the transposed convolution of g: a GEMM per kernel
                                offset, added into the input (col2im by strided adds),
    _conv2d_weight(x, g)        dL/dw = g correlated with x: one GEMM.
All three are bilinear and each one's VJP is written with the others, so the set is closed
under differentiation (second derivatives, `create_graph=True`):
    <h, _conv2d_input(g, w)> = <_conv2d(h, w), g> = <w, _conv2d_weight(h, g)>.
The transposed convolution *is* `_conv2d_input`; `conv1d` runs `conv2d` on a unit height.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .im2col import Pad4, Pair, is_unbatched, out_size, padded, pair, windows
from .reduce import _sum
from .shape import _reshape


def _cols(x, kernel, stride, padding, dilation, groups, out_hw):
    """The im2col matrix of x, shape (groups, C/groups * kh * kw, N * Ho * Wo)."""
    win = windows(padded(x, padding), kernel, stride, dilation)
    if out_hw is not None:
        win = win[..., : out_hw[0], : out_hw[1]]
    c, kh, kw, n, ho, wo = win.shape
    return win.reshape(groups, c // groups * kh * kw, n * ho * wo), (n, ho, wo)


@primitive
def _conv2d(x, weight, bias=None, *, stride, padding, dilation, groups, out_hw=None, cache=None):
    o, cg, kh, kw = weight.shape
    cols, (n, ho, wo) = _cols(x, (kh, kw), stride, padding, dilation, groups, out_hw)
    if cache is not None:  # the weight gradient reuses the im2col matrix
        cache["cols"] = cols
    # one GEMM per sample and group, (O/G, C/G*kh*kw) @ (C/G*kh*kw, Ho*Wo), reading the
    # columns in place and writing the (N, O, Ho, Wo) result directly
    per_sample = cols.reshape(groups, cg * kh * kw, n, ho * wo).transpose(2, 0, 1, 3)
    out = np.matmul(weight.reshape(groups, o // groups, cg * kh * kw), per_sample)
    out = out.reshape(n, o, ho, wo)
    if bias is not None:
        out += bias.reshape(o, 1, 1)
    return out


@_conv2d.defvjp(uses_out=False)
def _conv2d_vjp(g, out, needs, x, weight, bias=None, *, stride, padding, dilation, groups,
                out_hw=None, cache=None):  # fmt: skip
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    gx = gw = gb = None
    if needs[0]:  # dx = conv_transpose(g, w)
        gx = _conv2d_input(g, weight, x_shape=raw(x).shape, **geometry)
    if needs[1]:  # dw[o, c, k] = sum_{n, p} g[n, o, p] x[n, c, p*s + k*d - pad]
        cols = cache.get("cols") if cache else None
        gw = _conv2d_weight(x, g, weight_shape=raw(weight).shape, cols=cols, **geometry)
    if len(needs) > 2 and needs[2]:
        gb = _sum(g, axis=(0, 2, 3))
    return gx, gw, gb


@primitive
def _conv2d_input(g, weight, *, x_shape, stride, padding, dilation, groups):
    o, cg, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    t, b, left, r = padding
    (sh, sw), (dh, dw) = stride, dilation
    # g as (G, O/G, N*Ho*Wo): one copy, then per kernel offset (i, j) one GEMM
    # (C/G, O/G) @ (O/G, N*Ho*Wo) added into the input positions that offset touched
    # (col2im without materialising the (C*kh*kw, N*Ho*Wo) matrix)
    g2 = g.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * ho * wo)
    w5 = weight.reshape(groups, o // groups, cg, kh, kw)
    xp = np.zeros((n, cg * groups, x_shape[2] + t + b, x_shape[3] + left + r), dtype=g2.dtype)
    view = xp.transpose(1, 0, 2, 3)  # (C, N, Hp, Wp)
    for i in range(kh):
        for j in range(kw):
            part = np.matmul(w5[:, :, :, i, j].transpose(0, 2, 1), g2)  # (G, C/G, N*Ho*Wo)
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            view[:, :, rows, columns] += part.reshape(cg * groups, n, ho, wo)
    return xp[:, :, t : t + x_shape[2], left : left + x_shape[3]] if any(padding) else xp


@_conv2d_input.defvjp(uses_out=False)
def _conv2d_input_vjp(h, out, needs, g, weight, *, x_shape, stride, padding, dilation, groups):
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    # <h, T(g, w)> = <conv(h, w), g> = <w, conv_weight(h, g)>
    gg = _conv2d(h, weight, out_hw=raw(g).shape[2:], **geometry) if needs[0] else None
    gw = _conv2d_weight(h, g, weight_shape=raw(weight).shape, **geometry) if needs[1] else None
    return gg, gw


@primitive
def _conv2d_weight(x, g, *, weight_shape, stride, padding, dilation, groups, cols=None):
    o, cg, kh, kw = weight_shape
    n, _, ho, wo = g.shape
    if cols is None:
        cols, _ = _cols(x, (kh, kw), stride, padding, dilation, groups, g.shape[2:])
    # per sample and group (O/G, Ho*Wo) @ (Ho*Wo, C/G*kh*kw), reading g and cols in place
    # (a transposed view of cols: BLAS takes it as is), then summed over the samples
    per_sample = cols.reshape(groups, cg * kh * kw, n, ho * wo).transpose(2, 0, 3, 1)
    gw = np.matmul(g.reshape(n, groups, o // groups, ho * wo), per_sample)
    return np.add.reduce(gw, axis=0).reshape(weight_shape)


@_conv2d_weight.defvjp(uses_out=False)
def _conv2d_weight_vjp(v, out, needs, x, g, *, weight_shape, stride, padding, dilation, groups,
                       cols=None):  # fmt: skip
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    # <v, conv_weight(x, g)> = <conv(x, v), g> = <x, T(g, v)>
    gx = _conv2d_input(g, v, x_shape=raw(x).shape, **geometry) if needs[0] else None
    gg = _conv2d(x, v, out_hw=raw(g).shape[2:], **geometry) if needs[1] else None
    return gx, gg


def _padding(padding: Any, kernel: Pair, dilation: Pair, stride: Pair, n: int = 2) -> Pad4:
    """PyTorch's padding argument (int, tuple, 'same', 'valid') as (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of 'valid', 'same'"
            )
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        total = [0] * (2 - n) + [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        # NOTE: an odd total puts the extra row/column at the end, as PyTorch does
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    p = pair(padding, "padding", n)
    if min(p) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return (0, 0, p[0], p[0]) if n == 1 else (p[0], p[0], p[1], p[1])


def _check_float(name: str, *arrays: Any) -> None:
    for a in arrays:
        if a is not None and raw(a).dtype.kind != "f":
            raise TypeError(f"{name}: expected floating-point tensors, got dtype {raw(a).dtype}")


def _check_channels(name: str, xs: tuple, ws: tuple, groups: int, bias: Any, n_out: int) -> None:
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    if xs[1] != ws[1] * groups:
        raise ValueError(
            f"{name}: given groups={groups}, weight of size {list(ws)}, expected input{list(xs)} "
            f"to have {ws[1] * groups} channels, but got {xs[1]} channels instead"
        )
    if n_out % groups:
        raise ValueError(f"{name}: out_channels {n_out} must be divisible by groups {groups}")
    if bias is not None and raw(bias).shape != (n_out,):
        raise ValueError(f"{name}: bias must have shape ({n_out},), got {raw(bias).shape}")


def _conv(name, x, weight, bias, stride, padding, dilation, groups, nd):
    _check_float(name, x, weight, bias)
    ws = raw(weight).shape
    if len(ws) != nd + 2:
        raise ValueError(f"{name}: weight must be {nd + 2}-D, got shape {ws}")
    xr = raw(x)
    unbatched = is_unbatched(name, x, nd)
    xs = ((1,) if unbatched else ()) + xr.shape
    _check_channels(name, xs, ws, groups, bias, ws[0])
    if nd == 1:  # a unit height turns the 1-D convolution into a 2-D one
        kernel, st, dil = (
            (1, ws[2]),
            (1,) + pair(stride, "stride", 1),
            (1,) + pair(dilation, "dilation", 1),
        )
        pad = _padding(padding, kernel[1:], dil[1:], st[1:], 1)
        x4, w4 = (
            _reshape(x, shape=(xs[0], xs[1], 1, xs[2])),
            _reshape(weight, shape=ws[:2] + (1, ws[2])),
        )
    else:
        kernel, st, dil = ws[2:], pair(stride, "stride"), pair(dilation, "dilation")
        pad = _padding(padding, kernel, dil, st)
        x4, w4 = (_reshape(x, shape=xs) if unbatched else x), weight
    if min(st + dil) < 1:
        raise ValueError(f"{name}: stride {st} and dilation {dil} must be positive")
    hw = raw(x4).shape[2:]
    size = (out_size(hw[0], kernel[0], st[0], pad[0], pad[1], dil[0]),
            out_size(hw[1], kernel[1], st[1], pad[2], pad[3], dil[1]))  # fmt: skip
    if min(size) < 1:
        padded_hw = (hw[0] + pad[0] + pad[1], hw[1] + pad[2] + pad[3])
        dilated = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil, strict=True))
        raise ValueError(
            f"{name}: the padded input of spatial size {padded_hw} is smaller than the "
            f"dilated kernel {dilated}"
        )
    geometry = {"stride": st, "padding": pad, "dilation": dil, "groups": int(groups)}
    args = (x4, w4) if bias is None else (x4, w4, bias)
    out = _conv2d(*args, cache={}, **geometry)
    shape = raw(out).shape
    if nd == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return out if shape == raw(out).shape else _reshape(out, shape=shape)


def conv2d(
    input: Any,  # noqa: A002
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """2-D convolution (cross-correlation) of input (N, C, H, W) with weight
    (out_channels, C / groups, kh, kw), as `torch.nn.functional.conv2d`.

    `padding` is an int, a pair, 'valid' (none) or 'same' (output size = input size,
    stride 1 only). An unbatched (C, H, W) input gives an unbatched output.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.ones(1, 1, 4, 4)
        >>> mg.nn.functional.conv2d(x, mg.ones(2, 1, 3, 3), padding=1)[0, 0].tolist()[0]
        [4.0, 6.0, 6.0, 4.0]
    """
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(
    input: Any,  # noqa: A002
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """1-D convolution of input (N, C, L) with weight (out_channels, C / groups, k), as
    `torch.nn.functional.conv1d` (computed as a 2-D convolution of unit height).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> mg.nn.functional.conv1d(x, mg.tensor([[[1.0, -1.0]]])).tolist()
        [[[-1.0, -1.0, -1.0]]]
    """
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv_transpose2d(
    input: Any,  # noqa: A002
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """Transposed 2-D convolution (the gradient of `conv2d` with respect to its input), as
    `torch.nn.functional.conv_transpose2d`: weight (in_channels, out_channels / groups, kh,
    kw); H_out = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.ones(1, 1, 2, 2)
        >>> mg.nn.functional.conv_transpose2d(x, mg.ones(1, 1, 2, 2), stride=2).shape
        (1, 1, 4, 4)
    """
    name = "conv_transpose2d"
    _check_float(name, input, weight, bias)
    ws, xr = raw(weight).shape, raw(input)
    if len(ws) != 4 or xr.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected a 3-D or 4-D input and a 4-D weight, got shapes {xr.shape} and {ws}"
        )
    unbatched = xr.ndim == 3
    x = _reshape(input, shape=(1,) + xr.shape) if unbatched else input
    xs = raw(x).shape
    if xs[1] != ws[0]:
        raise ValueError(
            f"{name}: weight of size {list(ws)} expects input{list(xs)} to have {ws[0]} "
            f"channels, but got {xs[1]} channels instead"
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1 or ws[0] % groups:
        raise ValueError(f"{name}: in_channels {ws[0]} must be divisible by groups {groups!r}")
    n_out = ws[1] * groups
    if bias is not None and raw(bias).shape != (n_out,):
        raise ValueError(f"{name}: bias must have shape ({n_out},), got {raw(bias).shape}")
    st, dil = pair(stride, "stride"), pair(dilation, "dilation")
    p, op = pair(padding, "padding"), pair(output_padding, "output_padding")
    if min(st + dil) < 1 or min(p) < 0:
        raise ValueError(f"{name}: stride {st}, dilation {dil} must be positive, padding {p} >= 0")
    for o, s, d in zip(op, st, dil, strict=True):
        if not 0 <= o < max(s, d):
            raise ValueError(
                f"{name}: output padding must be smaller than either stride or dilation, "
                f"but got output_padding={op}, stride={st}, dilation={dil}"
            )
    hw = tuple((xs[2 + i] - 1) * st[i] - 2 * p[i] + dil[i] * (ws[2 + i] - 1) + op[i] + 1
               for i in range(2))  # fmt: skip
    if min(hw) < 1:
        raise ValueError(f"{name}: the output size {hw} is not positive")
    out = _conv2d_input(
        x,
        weight,
        x_shape=(xs[0], n_out) + hw,
        stride=st,
        padding=(p[0], p[0], p[1], p[1]),
        dilation=dil,
        groups=int(groups),
    )
    if bias is not None:
        out = out + _reshape(bias, shape=(1, n_out, 1, 1))
    return _reshape(out, shape=raw(out).shape[1:]) if unbatched else out
