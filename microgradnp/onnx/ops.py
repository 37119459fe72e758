"""The table from primitive names to ONNX node builders.

Each builder is ``fn(b, node, args, shapes) -> output name``: `b` the `Builder`, `node`
the recorded `Node` (its `params`, output `shape` and `dtype`), `args` its operands (names
of ONNX values, or constants: numbers, arrays) and `shapes` their shapes at tracing time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .builder import Builder

Op = Callable[[Builder, Any, list, list], str]
OPS: dict[str, Op] = {}


def register(*names: str) -> Callable[[Op], Op]:
    def deco(fn: Op) -> Op:
        for n in names:
            OPS[n] = fn
        return fn

    return deco


def _elementwise(onnx_op: str) -> Op:
    def build(b: Builder, node: Any, args: list, shapes: list) -> str:
        return b.op(onnx_op, [b.value(a, node.dtype) for a in args])

    return build


for _name, _onnx in [
    ("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"), ("pow_tensor", "Pow"),
    ("maximum", "Max"), ("minimum", "Min"), ("neg", "Neg"), ("abs", "Abs"), ("exp", "Exp"),
    ("log", "Log"), ("sqrt", "Sqrt"), ("sin", "Sin"), ("cos", "Cos"), ("tanh", "Tanh"),
    ("sigmoid", "Sigmoid"), ("relu", "Relu"), ("erf", "Erf"), ("clone", "Identity"),
]:  # fmt: skip
    OPS[_name] = _elementwise(_onnx)


@register("pow_scalar")
def _pow_scalar(b: Builder, node: Any, args: list, shapes: list) -> str:
    x = b.value(args[0], node.dtype)
    return b.op("Pow", [x, b.const(node.params["exponent"], node.dtype)])


@register("expm1")
def _expm1(b: Builder, node: Any, args: list, shapes: list) -> str:
    e = b.op("Exp", [b.value(args[0], node.dtype)])
    return b.op("Sub", [e, b.const(1, node.dtype)])


@register("log1p")
def _log1p(b: Builder, node: Any, args: list, shapes: list) -> str:
    return b.op("Log", [b.op("Add", [b.value(args[0], node.dtype), b.const(1, node.dtype)])])


@register("clip")
def _clip(b: Builder, node: Any, args: list, shapes: list) -> str:
    lo, hi = node.params.get("min"), node.params.get("max")
    inputs = [b.value(args[0], node.dtype)]
    inputs.append("" if lo is None else b.value(lo, node.dtype))
    if hi is not None:
        inputs.append(b.value(hi, node.dtype))
    return b.op("Clip", inputs)


@register("astype")
def _astype(b: Builder, node: Any, args: list, shapes: list) -> str:
    return b.value(args[0], node.dtype)


@register("softmax", "log_softmax")
def _softmax(b: Builder, node: Any, args: list, shapes: list) -> str:
    kind = "Softmax" if node.prim.name == "softmax" else "LogSoftmax"
    return b.op(kind, [b.value(args[0], node.dtype)], axis=int(node.params.get("axis", -1)))


# ---- reductions ---------------------------------------------------------------------------
_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax", "amin": "ReduceMin",
           "logsumexp": "ReduceLogSumExp"}  # fmt: skip


@register(*_REDUCE)
def _reduce(b: Builder, node: Any, args: list, shapes: list) -> str:
    p = node.params
    x = b.value(args[0], node.dtype)
    return b.reduce(_REDUCE[node.prim.name], x, p.get("axis"), p.get("keepdims", False))


@register("std")
def _std(b: Builder, node: Any, args: list, shapes: list) -> str:
    # sqrt(sum((x - mean(x))^2) / (n - correction))
    p = node.params
    axis, keepdims = p.get("axis"), p.get("keepdims", False)
    shape = shapes[0]
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    n = int(np.prod([shape[a] for a in axes]))
    x = b.value(args[0], node.dtype)
    d = b.op("Sub", [x, b.reduce("ReduceMean", x, axis, True)])
    ss = b.reduce("ReduceSum", b.op("Mul", [d, d]), axis, keepdims)
    denom = b.const(max(n - p.get("correction", 1), 0), node.dtype)
    return b.op("Sqrt", [b.op("Div", [ss, denom])])


@register("layer_normalize")
def _layer_normalize(b: Builder, node: Any, args: list, shapes: list) -> str:
    # (x - mean(x)) / sqrt(var(x) + eps) over `axes`, biased variance (no affine part)
    axes = sorted(a % len(node.shape) for a in node.params.get("axes", (-1,)))
    eps = float(node.params.get("eps", 1e-5))
    x = b.value(args[0], node.dtype)
    trailing = axes == list(range(axes[0], len(node.shape)))
    if b.opset >= 17 and trailing:
        ones = b.const(np.ones(node.shape[axes[0] :], dtype=node.dtype))
        return b.op("LayerNormalization", [x, ones], axis=axes[0], epsilon=eps)
    centred = b.op("Sub", [x, b.reduce("ReduceMean", x, axes, True)])
    var = b.reduce("ReduceMean", b.op("Mul", [centred, centred]), axes, True)
    std = b.op("Sqrt", [b.op("Add", [var, b.const(eps, node.dtype)])])
    return b.op("Div", [centred, std])


# ---- linear algebra -----------------------------------------------------------------------
@register("matmul")
def _matmul(b: Builder, node: Any, args: list, shapes: list) -> str:
    return b.op("MatMul", [b.value(a, node.dtype) for a in args])


@register("linear")
def _linear(b: Builder, node: Any, args: list, shapes: list) -> str:
    x, w = b.value(args[0], node.dtype), b.value(args[1], node.dtype)
    bias = b.value(args[2], node.dtype) if len(args) > 2 and args[2] is not None else None
    if len(shapes[0]) == 2:
        return b.op("Gemm", [x, w] + ([bias] if bias else []), transB=1)
    y = b.op("MatMul", [x, b.op("Transpose", [w], perm=[1, 0])])
    return b.op("Add", [y, bias]) if bias else y


@register("einsum")
def _einsum(b: Builder, node: Any, args: list, shapes: list) -> str:
    eq = node.params["equation"]
    return b.op("Einsum", [b.value(a, node.dtype) for a in args], equation=eq)


@register("conv2d")
def _conv2d(b: Builder, node: Any, args: list, shapes: list) -> str:
    p = node.params
    t, bottom, left, right = p["padding"]
    inputs = [b.value(a, node.dtype) for a in args if a is not None]
    kernel = list(shapes[1][2:])
    return b.op(
        "Conv",
        inputs,
        kernel_shape=kernel,
        strides=list(p["stride"]),
        pads=[t, left, bottom, right],
        dilations=list(p["dilation"]),
        group=int(p["groups"]),
    )


@register("conv2d_input")
def _conv_transpose2d(b: Builder, node: Any, args: list, shapes: list) -> str:
    # the gradient of conv2d with respect to its input: a transposed convolution
    p = node.params
    t, bottom, left, right = p["padding"]
    k, size = shapes[1][2:], shapes[0][2:]
    stride, dilation = list(p["stride"]), list(p["dilation"])
    base = [
        s * (n - 1) + (kk - 1) * d + 1 - lo - hi
        for s, n, kk, d, lo, hi in zip(
            stride, size, k, dilation, (t, left), (bottom, right), strict=True
        )
    ]
    return b.op(
        "ConvTranspose",
        [b.value(args[0], node.dtype), b.value(args[1], node.dtype)],
        kernel_shape=list(k),
        strides=stride,
        pads=[t, left, bottom, right],
        dilations=dilation,
        group=int(p["groups"]),
        output_padding=[int(o) - bb for o, bb in zip(p["x_shape"][2:], base, strict=True)],
    )


# ---- shapes -------------------------------------------------------------------------------
@register("reshape")
def _reshape(b: Builder, node: Any, args: list, shapes: list) -> str:
    x = b.value(args[0])
    return b.op("Reshape", [x, b.shape_const(tuple(shapes[0]), tuple(node.shape))])


@register("permute")
def _permute(b: Builder, node: Any, args: list, shapes: list) -> str:
    return b.op("Transpose", [b.value(args[0])], perm=[int(a) for a in node.params["axes"]])


@register("broadcast_to")
def _broadcast_to(b: Builder, node: Any, args: list, shapes: list) -> str:
    target = [int(d) for d in node.shape]
    if b.dynamic:  # a 1 keeps the input's own (possibly dynamic) size
        lead = len(target) - len(shapes[0])
        for i, d in enumerate(shapes[0]):
            if d == target[lead + i]:
                target[lead + i] = 1
    return b.op("Expand", [b.value(args[0]), b.ints(target)])


@register("sum_to")
def _sum_to(b: Builder, node: Any, args: list, shapes: list) -> str:
    x, shape, target = b.value(args[0], node.dtype), tuple(shapes[0]), tuple(node.shape)
    lead = len(shape) - len(target)
    if lead:
        x = b.reduce("ReduceSum", x, list(range(lead)), False)
    ones = [i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1]
    return b.reduce("ReduceSum", x, ones, True) if ones else b.op("Identity", [x])


@register("cat")
def _cat(b: Builder, node: Any, args: list, shapes: list) -> str:
    axis = int(node.params.get("axis", 0))
    return b.op("Concat", [b.value(a, node.dtype) for a in args], axis=axis)


@register("pad")
def _pad(b: Builder, node: Any, args: list, shapes: list) -> str:
    width = node.params["pad_width"]
    pads = [int(lo) for lo, _ in width] + [int(hi) for _, hi in width]
    value = b.const(node.params.get("value", 0.0), node.dtype)
    return b.op("Pad", [b.value(args[0], node.dtype), b.ints(pads), value], mode="constant")


@register("tril", "triu")
def _trilu(b: Builder, node: Any, args: list, shapes: list) -> str:
    k = b.const(np.int64(node.params.get("diagonal", 0)))
    return b.op("Trilu", [b.value(args[0]), k], upper=int(node.prim.name == "triu"))


@register("cumsum")
def _cumsum(b: Builder, node: Any, args: list, shapes: list) -> str:
    axis = b.const(np.int64(node.params["axis"]))
    return b.op("CumSum", [b.value(args[0], node.dtype), axis])


# ---- selection ----------------------------------------------------------------------------
@register("where")
def _where(b: Builder, node: Any, args: list, shapes: list) -> str:
    cond = b.value(args[0], np.bool_)
    return b.op("Where", [cond, b.value(args[1], node.dtype), b.value(args[2], node.dtype)])


@register("masked_fill")
def _masked_fill(b: Builder, node: Any, args: list, shapes: list) -> str:
    x, mask, value = args[0], b.operand(node.params["mask"]), node.params["value"]
    cond = b.value(mask, np.bool_)
    return b.op("Where", [cond, b.value(value, node.dtype), b.value(x, node.dtype)])


@register("getitem")
def _getitem(b: Builder, node: Any, args: list, shapes: list) -> str:
    x = b.value(args[0])
    index = b.operand(node.params["index"])
    if isinstance(index, str) or (isinstance(index, np.ndarray) and index.dtype.kind in "iu"):
        # x[ints]: rows of x (an embedding lookup, positions, ...)
        idx = b.value(index, np.int64)
        return b.op("Gather", [x, idx], axis=0)
    items = index if isinstance(index, tuple) else (index,)
    return _basic_index(b, node, x, items, tuple(shapes[0]))


def _basic_index(b: Builder, node: Any, x: str, items: tuple, shape: tuple) -> str:
    """x[ints, slices, None, ...] as Slice, then Squeeze (ints) and Unsqueeze (None)."""
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise NotImplementedError(
                f"ONNX export: index item of type {type(item).__name__} has no mapping (advanced "
                "indexing other than x[integer array] is not exported)"
            )
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    ellipses = [k for k, i in enumerate(items) if i is Ellipsis]
    if len(ellipses) > 1 or n_real > len(shape):
        raise NotImplementedError(f"ONNX export: unsupported index {items!r}")
    if ellipses:
        k = ellipses[0]
        items = items[:k] + (slice(None),) * (len(shape) - n_real) + items[k + 1 :]
    else:
        items = items + (slice(None),) * (len(shape) - n_real)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = 0  # axis of x
    out_pos = 0  # axis of the result, for Unsqueeze
    for item in items:
        if item is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(item, (int, np.integer)):
            i = int(item)
            end = i + 1 if i != -1 else 2**62  # negative ints count from the (run-time) end
            starts.append(i)
            ends.append(end)
            axes.append(dim)
            steps.append(1)
            squeeze.append(dim)
        else:  # a slice
            start, stop, step = item.indices(shape[dim])
            if (start, stop, step) != (0, shape[dim], 1):
                if step < 0 and stop < 0:
                    stop = -(2**62)  # through the first element
                starts.append(start)
                ends.append(stop)
                axes.append(dim)
                steps.append(step)
            out_pos += 1
        dim += 1
    y = x
    if axes:
        y = b.op("Slice", [y, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        y = b.op("Squeeze", [y, b.ints(squeeze)])
    if unsqueeze:
        y = b.op("Unsqueeze", [y, b.ints(unsqueeze)])
    return y if y != x else b.op("Identity", [x])
