"""NumPy kernels over preallocated buffers for the common ops, forward and backward.

Each kernel does the same NumPy calls, in the same order and with the same operands, as the
primitive's eager `impl` or fast VJP, with `out=` added: a replay is bit-identical to the
eager step. A factory returns None when its op is called in a way it does not cover (other
shapes, dtypes or options); the plan then calls the primitive's own function instead.

A kernel lists what it reads (for the buffers' lifetimes), the slots it writes (given
buffers by the plan) and which outputs may overwrite which input (`inplace`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ops.elementwise import _exp_neg
from ..ops.reduce import _kept_shape
from .trace import Const, Event, Slot


@dataclass(eq=False)
class Kernel:
    reads: list  # Slots and Consts whose values are read
    outs: list  # Slots written (each gets a buffer)
    emit: Callable[[Any], list[str]]  # namer -> lines of Python
    inplace: dict = field(default_factory=dict)  # out position -> read position


def _arr(v: Any) -> bool:
    return isinstance(v, Slot) and isinstance(v.value, np.ndarray)


def _f(v: Any) -> bool:
    """A float array slot."""
    return _arr(v) and v.value.dtype.kind == "f"


def _scalar(v: Any) -> bool:
    return isinstance(v, Const) and type(v.value) in (int, float)


# ---- forward --------------------------------------------------------------------------
def _linear(ev: Event) -> Kernel | None:
    x, w, *b = ev.ins
    out = ev.outs[0]
    if not (_f(x) and _f(w) and x.value.ndim >= 2 and w.value.ndim == 2 and _f(out)):
        return None  # (x of any rank >= 2: one matmul call over its leading axes, as eager)
    if b and not (_f(b[0]) and b[0].value.ndim == 1):
        return None

    def emit(n: Any) -> list[str]:
        o = n.arr(out)
        lines = [f"matmul({n.arr(x)}, {n.T(w)}, out={o})"]
        if b:
            lines.append(f"add({o}, {n.arr(b[0])}, out={o})")
        return lines

    return Kernel([x, w, *b], [out], emit)


def _matmul(ev: Event) -> Kernel | None:
    x, y = ev.ins
    out = ev.outs[0]
    if not (_f(x) and _f(y) and x.value.ndim == 2 and y.value.ndim == 2 and _f(out)):
        return None
    return Kernel([x, y], [out], lambda n: [f"matmul({n.arr(x)}, {n.arr(y)}, out={n.arr(out)})"])


_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide"}
_UNARY = {"neg": "negative", "exp": "exp", "log": "log", "tanh": "tanh", "sqrt": "sqrt"}


def _binary(ufunc: str) -> Callable[[Event], Kernel | None]:
    def make(ev: Event) -> Kernel | None:
        x, y = ev.ins
        out = ev.outs[0]
        if not (_f(out) and (_f(x) or _scalar(x)) and (_f(y) or _scalar(y))):
            return None
        same = [
            i
            for i, v in ((0, x), (1, y))
            if _arr(v) and v.value.shape == out.value.shape and v.value.dtype == out.value.dtype
        ]
        inplace = {0: same[0]} if same else {}
        return Kernel(
            [x, y],
            [out],
            lambda n: [f"{ufunc}({n.arr(x)}, {n.arr(y)}, out={n.arr(out)})"],
            inplace,
        )

    return make


def _unary(ufunc: str) -> Callable[[Event], Kernel | None]:
    def make(ev: Event) -> Kernel | None:
        (x,) = ev.ins
        out = ev.outs[0]
        if not (_f(x) and _f(out) and x.value.dtype == out.value.dtype):
            return None
        return Kernel([x], [out], lambda n: [f"{ufunc}({n.arr(x)}, out={n.arr(out)})"], {0: 0})

    return make


def _sigmoid(ev: Event) -> Kernel | None:
    (x,) = ev.ins
    out = ev.outs[0]
    if not (_f(x) and x.value.ndim > 0 and out.value.dtype == x.value.dtype):
        return None

    def emit(n: Any) -> list[str]:  # as ops.elementwise.sigmoid: exp(-x) = inf gives 0
        xi, o = n.arr(x), n.arr(out)
        return [
            f"{n.const(_exp_neg)}({xi}, {o})",
            f"add({o}, 1.0, out={o})",
            f"reciprocal({o}, out={o})",
        ]

    return Kernel([x], [out], emit, {0: 0})


def _relu(ev: Event) -> Kernel | None:
    (x,) = ev.ins
    out = ev.outs[0]
    if not (_f(x) and out.value.dtype == x.value.dtype):
        return None
    return Kernel([x], [out], lambda n: [f"maximum({n.arr(x)}, 0, out={n.arr(out)})"], {0: 0})


def _softmax_ce(ev: Event) -> Kernel | None:
    logits, target = ev.ins
    out, res = ev.outs
    red = ev.info["params"].get("reduction", "mean")
    if not (_f(logits) and logits.value.ndim == 2 and res is not None and red == "mean"):
        return None
    if not (_arr(target) or isinstance(target, Const)):
        return None
    n, c = logits.value.shape
    if n == 0:
        return None
    dt = logits.value.dtype
    e, s, flat = res.value
    # private buffers: the residuals live until the backward; the rest are small
    res.buffer = (np.empty((n, c), dt), np.empty((n, 1), s.dtype), np.empty(n, flat.dtype))
    priv = {
        "m": np.empty((n, 1), dt),
        "z": np.empty((n, c), dt),
        "ar": np.arange(0, n * c, c),
        "zy": np.empty(n, dt),
        "losses": np.empty(n, np.log(s[:, 0]).dtype),
    }

    def emit(nm: Any) -> list[str]:  # as ops.softmax.softmax_cross_entropy
        x, o = nm.arr(logits), nm.arr(out)
        E, S, F = (nm.const(a) for a in res.buffer)
        m, z, ar, zy, ls = (nm.const(priv[k]) for k in ("m", "z", "ar", "zy", "losses"))
        s0 = nm.const(res.buffer[1][:, 0])
        return [
            f"maximum.reduce({x}, axis=1, keepdims=True, out={m})",
            f"subtract({x}, {m}, out={z})",
            f"exp({z}, out={E})",
            f"add.reduce({E}, axis=1, keepdims=True, out={S})",
            f"log({s0}, out={ls})",
            f"add({ar}, {nm.arr(target)}, out={F})",
            f"{z}.take({F}, out={zy})",
            f"subtract({ls}, {zy}, out={ls})",
            f"add.reduce({ls}, axis=0, out={o})",
            f"true_divide({o}, {n}, out={o})",
        ]

    return Kernel([logits, target], [out], emit)


FORWARD: dict[str, Callable[[Event], Kernel | None]] = {
    "linear": _linear,
    "matmul": _matmul,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "softmax_cross_entropy": _softmax_ce,
    **{k: _binary(v) for k, v in _BINARY.items()},
    **{k: _unary(v) for k, v in _UNARY.items()},
}


# ---- backward: ins are [g, out, res, *args] --------------------------------------------
def _linear_vjp(ev: Event) -> Kernel | None:
    g, _, _, x, w, *b = ev.ins
    outs = ev.outs
    if not (_f(g) and g.value.ndim >= 2 and _f(x) and _f(w) and x.value.ndim == g.value.ndim):
        return None
    if any(o is not None and not _f(o) for o in outs):
        return None
    gx, gw, gb = (list(outs) + [None, None, None])[:3]
    reads = [g] + ([w] if gx is not None else []) + ([x] if gw is not None else [])
    flat = g.value.ndim != 2  # (..., n) operands flattened to 2-D for the weight and bias
    g2, x2 = (-1, g.value.shape[-1]), (-1, x.value.shape[-1])

    def emit(n: Any) -> list[str]:  # as ops.linalg._linear_fast
        lines = []
        if gx is not None:
            lines.append(f"matmul({n.arr(g)}, {n.arr(w)}, out={n.arr(gx)})")
        if flat and (gw is not None or gb is not None):
            lines += [f"_g2 = {n.view(g, g2)}", f"_x2 = {n.view(x, x2)}"]
            gi, gt, xi = "_g2", "_g2.T", "_x2"
        else:
            gi, gt, xi = n.arr(g), n.T(g), n.arr(x)
        if gw is not None:
            lines.append(f"matmul({gt}, {xi}, out={n.arr(gw)})")
        if gb is not None:
            lines.append(f"add.reduce({gi}, axis=0, out={n.arr(gb)})")
        return lines

    return Kernel(reads, [o for o in (gx, gw, gb) if o is not None], emit)


def _matmul_vjp(ev: Event) -> Kernel | None:
    g, _, _, x, y = ev.ins
    gx, gy = ev.outs
    if not (_f(g) and _f(x) and _f(y) and x.value.ndim == 2 and y.value.ndim == 2):
        return None
    reads = [g] + ([y] if gx is not None else []) + ([x] if gy is not None else [])

    def emit(n: Any) -> list[str]:  # as ops.linalg._matmul_vjp on 2-D operands
        lines = []
        if gx is not None:
            lines.append(f"matmul({n.arr(g)}, {n.T(y)}, out={n.arr(gx)})")
        if gy is not None:
            lines.append(f"matmul({n.T(x)}, {n.arr(g)}, out={n.arr(gy)})")
        return lines

    return Kernel(reads, [o for o in (gx, gy) if o is not None], emit)


def _add_vjp(ev: Event) -> Kernel | None:
    g = ev.ins[0]
    if all(o is None or o is g for o in ev.outs):  # (g, g): nothing to compute
        return Kernel([g], [], lambda n: [])
    return None


def _sigmoid_vjp(ev: Event) -> Kernel | None:
    g, out = ev.ins[0], ev.ins[1]
    (r,) = ev.outs
    if not (_f(g) and _f(out) and _f(r) and g.value.shape == out.value.shape == r.value.shape):
        return None

    def emit(n: Any) -> list[str]:  # as ops.elementwise._sigmoid_fast
        o, ri = n.arr(out), n.arr(r)
        return [f"subtract(1.0, {o}, out={ri})", f"multiply({ri}, {o}, out={ri})",
                f"multiply({ri}, {n.arr(g)}, out={ri})"]  # fmt: skip

    return Kernel([g, out], [r], emit)


def _tanh_vjp(ev: Event) -> Kernel | None:
    g, out = ev.ins[0], ev.ins[1]
    (r,) = ev.outs
    if not (_f(g) and _f(out) and _f(r) and g.value.shape == out.value.shape == r.value.shape):
        return None

    def emit(n: Any) -> list[str]:  # as ops.elementwise._tanh_fast
        o, ri = n.arr(out), n.arr(r)
        return [f"multiply({o}, {o}, out={ri})", f"subtract(1.0, {ri}, out={ri})",
                f"multiply({ri}, {n.arr(g)}, out={ri})"]  # fmt: skip

    return Kernel([g, out], [r], emit, {0: 1})


def _relu_vjp(ev: Event) -> Kernel | None:
    g, out = ev.ins[0], ev.ins[1]
    (r,) = ev.outs
    if not (_f(g) and _f(out) and _f(r) and g.value.shape == out.value.shape == r.value.shape):
        return None
    mask = np.empty(out.value.shape, bool)

    def emit(n: Any) -> list[str]:  # as ops.elementwise._relu_fast
        m = n.const(mask)
        return [f"greater({n.arr(out)}, 0, out={m})",
                f"multiply({n.arr(g)}, {m}, out={n.arr(r)})"]  # fmt: skip

    return Kernel([g, out], [r], emit, {0: 0})


def _softmax_ce_vjp(ev: Event) -> Kernel | None:
    g, _, res, logits = ev.ins[:4]
    r = ev.outs[0]
    if not (isinstance(res, Slot) and getattr(res, "buffer", None) is not None and r is not None):
        return None
    if ev.info["params"].get("reduction", "mean") != "mean":
        return None
    n = logits.value.shape[0]
    E, _S, F = res.buffer
    r.buffer = E  # the fast VJP's p = e / s, kept in the exponentials' buffer
    tk = np.empty(F.shape, E.dtype)
    flat_view = E.reshape(-1)
    folded = isinstance(g, Const) or (_arr(g) and g.kind == "const")

    def emit(nm: Any) -> list[str]:  # as ops.softmax._softmax_cross_entropy_fast
        e, s, f = (nm.const(a) for a in res.buffer)
        pf, t = nm.const(flat_view), nm.const(tk)
        if folded:
            scale = repr(float(np.asarray(g.value).item()) / n)
        else:
            scale = f"{nm.arr(g)}.item() / {n}"
        return [
            f"true_divide({e}, {s}, out={e})",
            f"{pf}.take({f}, out={t})",
            f"subtract({t}, 1, out={t})",
            f"{pf}.put({f}, {t})",
            f"multiply({e}, {scale}, out={e})",
        ]

    return Kernel([g, res], [], emit)


def _num(v: Any) -> bool:
    """A float array slot or a Python number: an operand a ufunc takes as eager does."""
    return _f(v) or _scalar(v)


def _mul_vjp(ev: Event) -> Kernel | None:
    g, _, _, x, y = ev.ins
    gx, gy = ev.outs
    if not (_f(g) and _num(x) and _num(y)):
        return None
    if any(o is not None and not _f(o) for o in (gx, gy)):
        return None
    outs = [o for o in (gx, gy) if o is not None]

    def emit(n: Any) -> list[str]:  # as ops.elementwise._mul_vjp: g * y, g * x
        lines = []
        if gx is not None:
            lines.append(f"multiply({n.arr(g)}, {n.arr(y)}, out={n.arr(gx)})")
        if gy is not None:
            lines.append(f"multiply({n.arr(g)}, {n.arr(x)}, out={n.arr(gy)})")
        return lines

    reads = [g] + ([y] if gx is not None else []) + ([x] if gy is not None else [])
    return Kernel(reads, outs, emit, {0: 0} if len(outs) == 1 else {})


def _div_vjp(ev: Event) -> Kernel | None:
    g, out, _, x, y = ev.ins
    gx, gy = ev.outs
    if not (_f(g) and _num(y) and (gy is None or _f(out))):
        return None
    if any(o is not None and not _f(o) for o in (gx, gy)):
        return None
    if gy is not None and not (g.value.shape == out.value.shape == gy.value.shape):
        return None
    outs = [o for o in (gx, gy) if o is not None]

    def emit(n: Any) -> list[str]:  # as ops.elementwise._div_vjp: g / y, (-g * out) / y
        lines = []
        if gx is not None:
            lines.append(f"true_divide({n.arr(g)}, {n.arr(y)}, out={n.arr(gx)})")
        if gy is not None:
            r = n.arr(gy)
            lines += [f"negative({n.arr(g)}, out={r})", f"multiply({r}, {n.arr(out)}, out={r})",
                      f"true_divide({r}, {n.arr(y)}, out={r})"]  # fmt: skip
        return lines

    reads = [g, y] + ([out] if gy is not None else [])
    return Kernel(reads, outs, emit)


def _sub_vjp(ev: Event) -> Kernel | None:
    g = ev.ins[0]
    gx, gy = ev.outs
    if not (gx is None or gx is g) or not _f(g):
        return None
    if gy is None:
        return Kernel([g], [], lambda n: [])
    if not (_f(gy) and gy.value.shape == g.value.shape):
        return None
    return Kernel([g], [gy], lambda n: [f"negative({n.arr(g)}, out={n.arr(gy)})"])


def _mean(ev: Event) -> Kernel | None:
    (x,) = ev.ins
    out = ev.outs[0]
    axis, keepdims = ev.info["params"].get("axis"), ev.info["params"].get("keepdims", False)
    if not (_f(x) and _f(out) and out.value.ndim > 0 and x.value.dtype.itemsize >= 4):
        return None
    if out.value.dtype != x.value.dtype:
        return None
    shape = x.value.shape
    items = int(np.prod(shape)) // max(int(np.prod(_kept_shape(shape, axis))), 1)
    count = np.intp(items)

    def emit(n: Any) -> list[str]:  # as np.mean: add.reduce, then divide by an intp count
        o = n.arr(out)
        return [f"add.reduce({n.arr(x)}, axis={axis!r}, keepdims={keepdims!r}, out={o})",
                f"true_divide({o}, {n.const(count)}, out={o}, casting='unsafe')"]  # fmt: skip

    return Kernel([x], [out], emit)


def _mean_vjp(ev: Event) -> Kernel | None:
    g, _, _, x = ev.ins
    (r,) = ev.outs
    if not (_f(g) and _f(r) and isinstance(x, Const) and hasattr(x.value, "shape")):
        return None
    axis, keepdims = ev.info["params"].get("axis"), ev.info["params"].get("keepdims", False)
    shape = tuple(x.value.shape)
    kept = _kept_shape(shape, axis)
    if r.value.shape != shape or r.value.dtype != g.value.dtype:
        return None
    n = max(int(np.prod(shape)) // max(int(np.prod(kept)), 1), 1)

    def emit(nm: Any) -> list[str]:  # as ops.reduce._mean_vjp: broadcast g, divided by n
        gv = nm.arr(g) if keepdims else nm.view(g, kept)
        return [f"true_divide({gv}, {n}, out={nm.arr(r)})"]

    return Kernel([g], [r], emit)


FORWARD["mean"] = _mean


BACKWARD: dict[str, Callable[[Event], Kernel | None]] = {
    "mul": _mul_vjp,
    "div": _div_vjp,
    "sub": _sub_vjp,
    "mean": _mean_vjp,
    "linear": _linear_vjp,
    "matmul": _matmul_vjp,
    "add": _add_vjp,
    "sigmoid": _sigmoid_vjp,
    "tanh": _tanh_vjp,
    "relu": _relu_vjp,
    "softmax_cross_entropy": _softmax_ce_vjp,
}


# ---- the engine's own steps ------------------------------------------------------------
def sum_to(ev: Event) -> Kernel | None:
    (g,) = ev.ins
    (out,) = ev.outs
    shape = ev.info["shape"]
    if not (_f(g) and _f(out)):
        return None
    gs = g.value.shape
    lead = len(gs) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gs[lead + i] != 1
    )
    keep = tuple(1 if i in axes else d for i, d in enumerate(gs))

    def emit(n: Any) -> list[str]:  # as ops.shape.sum_to: np.sum is add.reduce
        return [f"add.reduce({n.arr(g)}, axis={axes!r}, keepdims=True, "
                f"out={n.view(out, keep)})"]  # fmt: skip

    return Kernel([g], [out], emit)


def add(ev: Event) -> Kernel | None:
    a, b = ev.ins
    (out,) = ev.outs
    if not (_f(a) and _f(b) and _f(out)):
        return None
    same = {i: i for i, v in ((0, a), (1, b)) if v.value.shape == out.value.shape}
    return Kernel(
        [a, b],
        [out],
        lambda n: [f"add({n.arr(a)}, {n.arr(b)}, out={n.arr(out)})"],
        {0: same[0]} if 0 in same else ({0: 1} if 1 in same else {}),
    )
