"""Kernels for a CNN's ops: convolution (`_conv2d` and its VJP) and max pooling (`window_max`).

As in kernels.py, each kernel makes the NumPy calls of the primitive's own function, in the
same order, on the same operands, with `out=` into buffers allocated once (the im2col
matrix, the GEMMs' results, the padded input gradient, the pooling's running maxima and
indices): a replay stays bit-identical to the eager step. What a kernel keeps from one call
to the next (the im2col matrix the weight gradient reads, the maxima's positions) lives in
buffers private to the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ops.im2col import windows
from .kernels import Kernel, _f
from .trace import Event, Slot


# ---- max pooling: as nn.pooling_functions.window_max and its fast VJP -----------------
def _window_max(ev: Event) -> Kernel | None:
    (xp,) = ev.ins
    out, res = ev.outs
    p = ev.info["params"]
    k, s, d, ho, wo = p["k"], p["s"], p["d"], p["ho"], p["wo"]
    if not (_f(xp) and xp.value.ndim == 4 and _f(out) and res is not None):
        return None
    n, c, hp, wp = xp.value.shape
    # as _argmax_index: the flat index of each window's top-left element, (C, N, Ho, Wo)
    corner = (
        (np.arange(n)[:, None, None] * c * hp + np.arange(ho)[:, None] * s[0]) * wp
        + np.arange(wo) * s[1]
    ) + np.arange(c).reshape(c, 1, 1, 1) * hp * wp
    offsets = [
        (i, j, corner + (i * d[0] * wp + j * d[1]))
        for i in range(k[0])
        for j in range(k[1])
        if i or j
    ]
    best = np.empty(corner.shape, xp.value.dtype)
    better = np.empty(corner.shape, bool)
    index = np.empty(corner.shape, corner.dtype)
    diff = np.empty(corner.shape, corner.dtype)
    res.buffer = index.transpose(1, 0, 2, 3)  # the residual: (N, C, Ho, Wo) flat indices

    def emit(nm: Any) -> list[str]:
        fixed = nm.fixed(xp)
        if fixed is not None:
            win = windows(fixed, k, s, d)[..., :ho, :wo]

            def cand(i: int, j: int) -> str:
                return nm.const(win[:, i, j])

            flat, lines = nm.const(fixed.reshape(-1)), []
        else:
            lines = [f"_w = {nm.const(windows)}({nm.arr(xp)}, {k!r}, {s!r}, {d!r})"]

            def cand(i: int, j: int) -> str:
                return f"_w[:, {i}, {j}, :, :{ho}, :{wo}]"

            flat = f"{nm.arr(xp)}.reshape(-1)"
        b, bt, ix, df = nm.const(best), nm.const(better), nm.const(index), nm.const(diff)
        lines += [f"copyto({b}, {cand(0, 0)})", f"copyto({ix}, {nm.const(corner)})"]
        for i, j, at in offsets:  # a strict > keeps the first maximum
            # index = where(better, at, index), as index + better (at - index): exact
            # integers, and branch-free passes (a masked copy is several times slower)
            lines += [
                f"greater({cand(i, j)}, {b}, out={bt})",
                f"maximum({b}, {cand(i, j)}, out={b})",
                f"subtract({nm.const(at)}, {ix}, out={df})",
                f"multiply({df}, {bt}, out={df})",
                f"add({ix}, {df}, out={ix})",
            ]
        return lines + [f"{flat}.take({nm.const(res.buffer)}, out={nm.arr(out)})"]

    return Kernel([xp], [out], emit)


def _window_max_vjp(ev: Event) -> Kernel | None:
    g, _, res = ev.ins[:3]
    xp = ev.ins[3]
    (r,) = ev.outs
    if not (isinstance(res, Slot) and isinstance(res.buffer, np.ndarray) and _f(g) and _f(r)):
        return None
    if r.value.shape != xp.value.shape:
        return None
    p = ev.info["params"]
    # disjoint windows (stride at least the dilated kernel): each position is picked at most
    # once, so `add.at` into zeros is 0.0 + g there, written with one scatter
    disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(p["k"], p["s"], p["d"], strict=True))
    tmp = np.empty(g.value.shape, g.value.dtype)

    def emit(nm: Any) -> list[str]:
        flat, idx = nm.view(r, (r.value.size,)), nm.const(res.buffer)
        if not disjoint:
            return [f"{flat}.fill(0)", f"add.at({flat}, {idx}, {nm.arr(g)})"]
        t = nm.const(tmp)
        return [f"{flat}.fill(0)", f"add({nm.arr(g)}, 0.0, out={t})", f"{flat}[{idx}] = {t}"]

    return Kernel([g], [r], emit)


# ---- convolution: as ops.conv._conv2d, _conv2d_input and _conv2d_weight ---------------
def _conv2d(ev: Event) -> Kernel | None:
    x, w, *b = ev.ins
    out = ev.outs[0]
    p = ev.info["params"]
    cache = p.get("cache")
    if not (_f(x) and _f(w) and _f(out) and x.value.ndim == 4 and isinstance(cache, dict)):
        return None
    if b and not _f(b[0]):
        return None
    (t, bot, left, right), groups = p["padding"], p["groups"]
    o, cg, kh, kw = w.value.shape
    n, c, h, wd = x.value.shape
    _, _, ho, wo = out.value.shape
    dt = x.value.dtype
    xpad = None
    if any(p["padding"]):  # as im2col.padded: zeros around, the input copied inside
        xpad = np.zeros((n, c, h + t + bot, wd + left + right), dt)
    cols = np.empty((groups, cg * kh * kw, n * ho * wo), dt)
    cols6 = cols.reshape(c, kh, kw, n, ho, wo)
    per_sample = cols.reshape(groups, cg * kh * kw, n, ho * wo).transpose(2, 0, 1, 3)
    cache["cols"] = cols  # the weight gradient reads the columns (as eager's cache does)
    cache["kernel_cols"] = cols

    def emit(nm: Any) -> list[str]:
        lines = []
        src: np.ndarray | None = nm.fixed(x)
        if xpad is not None:
            inner = xpad[:, :, t : t + h, left : left + wd]
            lines.append(f"copyto({nm.const(inner)}, {nm.arr(x)})")
            src = xpad
        geo = (kh, kw), p["stride"], p["dilation"]
        if src is not None:
            win = nm.const(windows(src, *geo)[..., :ho, :wo])
        else:
            win = f"{nm.const(windows)}({nm.arr(x)}, {geo[0]!r}, {geo[1]!r}, {geo[2]!r})"
            win += f"[..., :{ho}, :{wo}]"
        lines.append(f"copyto({nm.const(cols6)}, {win})")
        wv = nm.view(w, (groups, o // groups, cg * kh * kw))
        res = nm.view(out, (n, groups, o // groups, ho * wo))
        lines.append(f"matmul({wv}, {nm.const(per_sample)}, out={res})")
        if b:
            o4 = nm.arr(out)
            lines.append(f"add({o4}, {nm.view(b[0], (o, 1, 1))}, out={o4})")
        return lines

    return Kernel([x, w, *b], [out], emit)


def _conv2d_vjp(ev: Event) -> Kernel | None:
    g, _, _, x, w, *b = ev.ins
    p = ev.info["params"]
    cache = p.get("cache")
    if not (isinstance(cache, dict) and cache.get("kernel_cols") is not None):
        return None  # the forward had no kernel: its columns are not in a buffer
    if not (_f(g) and g.value.ndim == 4 and _f(w)):
        return None
    outs = list(ev.outs) + [None] * (3 - len(ev.outs))
    gx, gw, gb = outs[:3]
    if any(v is not None and not _f(v) for v in (gx, gw, gb)):
        return None
    (t, bot, left, right), groups = p["padding"], p["groups"]
    (sh, sw), (dh, dw) = p["stride"], p["dilation"]
    o, cg, kh, kw = w.value.shape
    n, _, ho, wo = g.value.shape
    dt = g.value.dtype
    cols = cache["kernel_cols"]
    lines_of: list = []
    if gx is not None:  # as _conv2d_input
        xs = x.value.shape
        g2 = np.empty((groups, o // groups, n * ho * wo), dt)
        xpg = np.zeros((n, cg * groups, xs[2] + t + bot, xs[3] + left + right), dt)
        view = xpg.transpose(1, 0, 2, 3)
        part = np.empty((groups, cg, n * ho * wo), dt)
        gx.buffer = xpg[:, :, t : t + xs[2], left : left + xs[3]] if any(p["padding"]) else xpg
        adds = []
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
                columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
                adds.append((i, j, view[:, :, rows, columns]))

        def emit_gx(nm: Any) -> list[str]:
            wf = nm.fixed(w)
            w5 = None if wf is None else wf.reshape(groups, o // groups, cg, kh, kw)
            lines = [
                f"copyto({nm.const(g2.reshape(o, n, ho, wo))}, {nm.arr(g)}.transpose(1, 0, 2, 3))",
                f"{nm.const(xpg)}.fill(0)",
            ]
            for i, j, target in adds:
                if w5 is not None:
                    wij = nm.const(w5[:, :, :, i, j].transpose(0, 2, 1))
                else:
                    wij = (
                        f"{nm.arr(w)}.reshape({(groups, o // groups, cg, kh, kw)!r})"
                        f"[:, :, :, {i}, {j}].transpose(0, 2, 1)"
                    )
                tv = nm.const(target)
                lines += [
                    f"matmul({wij}, {nm.const(g2)}, out={nm.const(part)})",
                    f"add({tv}, {nm.const(part.reshape(cg * groups, n, ho, wo))}, out={tv})",
                ]
            return lines

        lines_of.append(emit_gx)
    if gw is not None:  # as _conv2d_weight, reading the forward's columns
        per_sample = cols.reshape(groups, cg * kh * kw, n, ho * wo).transpose(2, 0, 3, 1)
        prod = np.empty((n, groups, o // groups, cg * kh * kw), dt)

        def emit_gw(nm: Any) -> list[str]:
            g4 = nm.view(g, (n, groups, o // groups, ho * wo))
            return [
                f"matmul({g4}, {nm.const(per_sample)}, out={nm.const(prod)})",
                f"add.reduce({nm.const(prod)}, axis=0, "
                f"out={nm.view(gw, (groups, o // groups, cg * kh * kw))})",
            ]

        lines_of.append(emit_gw)
    if gb is not None:  # as _sum(g, axis=(0, 2, 3)): np.sum is add.reduce

        def emit_gb(nm: Any) -> list[str]:
            return [f"add.reduce({nm.arr(g)}, axis=(0, 2, 3), out={nm.arr(gb)})"]

        lines_of.append(emit_gb)

    def emit(nm: Any) -> list[str]:
        return [line for f in lines_of for line in f(nm)]

    reads = [g] + ([w] if gx is not None else [])
    return Kernel(reads, [v for v in (gw, gb) if v is not None], emit)


_Factory = Callable[[Event], Kernel | None]
FORWARD: dict[str, _Factory] = {"window_max": _window_max, "conv2d": _conv2d}  # (_conv2d)
BACKWARD: dict[str, _Factory] = {"window_max": _window_max_vjp, "conv2d": _conv2d_vjp}
