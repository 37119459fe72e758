"""Layers exported whole: the ops recorded inside some modules become one ONNX node.

Max pooling records a gather whose indices were computed from the data (each window's
maximum); LeakyReLU, ELU and Softplus record a `where` whose condition was computed from
the data (x > 0); average pooling records padding, unfolding and sums. Exported op by op,
the first ones would hold only at the example input. So the ops recorded in the forward of
these modules (found through `Node.scope`) are replaced by the ONNX node that the module's
attributes describe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..nn import activation, pooling
from .builder import Builder

Region = Callable[[Builder, Any, str, tuple], str]


def _tuple(v: Any, nd: int) -> list[int]:
    return [int(i) for i in v] if isinstance(v, (tuple, list)) else [int(v)] * nd


def _pool(b: Builder, onnx_op: str, x: str, shape: tuple, nd: int, attrs: dict) -> str:
    """Run `onnx_op` on x, adding and removing a batch axis for an unbatched input."""
    unbatched = len(shape) == nd + 1
    if unbatched:
        x = b.op("Unsqueeze", [x, b.ints([0])])
    y = b.op(onnx_op, [x], **attrs)
    return b.op("Squeeze", [y, b.ints([0])]) if unbatched else y


def _max_pool(b: Builder, m: Any, x: str, shape: tuple) -> str:
    nd = 2 if isinstance(m, pooling.MaxPool2d) else 1
    if m.return_indices:
        raise NotImplementedError("ONNX export: max pooling with return_indices=True")
    p = _tuple(m.padding, nd)
    attrs = {
        "kernel_shape": _tuple(m.kernel_size, nd),
        "strides": _tuple(m.stride, nd),
        "pads": p + p,
        "dilations": _tuple(m.dilation, nd),
        "ceil_mode": int(m.ceil_mode),
    }
    return _pool(b, "MaxPool", x, shape, nd, attrs)


def _avg_pool(b: Builder, m: Any, x: str, shape: tuple) -> str:
    nd = 2 if isinstance(m, pooling.AvgPool2d) else 1
    if getattr(m, "divisor_override", None) is not None:
        raise NotImplementedError("ONNX export: average pooling with divisor_override")
    p = _tuple(m.padding, nd)
    attrs = {
        "kernel_shape": _tuple(m.kernel_size, nd),
        "strides": _tuple(m.stride, nd),
        "pads": p + p,
        "ceil_mode": int(m.ceil_mode),
        "count_include_pad": int(m.count_include_pad),
    }
    return _pool(b, "AveragePool", x, shape, nd, attrs)


def _adaptive_avg_pool(b: Builder, m: Any, x: str, shape: tuple) -> str:
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    hw = shape[-2:]
    out = [h if s is None else int(s) for s, h in zip(size, hw, strict=True)]
    if any(h % o for h, o in zip(hw, out, strict=True)):
        raise NotImplementedError(
            f"ONNX export: AdaptiveAvgPool2d from {tuple(hw)} to {tuple(out)} (only sizes that "
            "divide the input's have an ONNX equivalent)"
        )
    if out == [1, 1]:
        return _pool(b, "GlobalAveragePool", x, shape, 2, {})
    k = [h // o for h, o in zip(hw, out, strict=True)]
    return _pool(b, "AveragePool", x, shape, 2, {"kernel_shape": k, "strides": k})


def _leaky_relu(b: Builder, m: Any, x: str, shape: tuple) -> str:
    return b.op("LeakyRelu", [x], alpha=float(m.negative_slope))


def _elu(b: Builder, m: Any, x: str, shape: tuple) -> str:
    return b.op("Elu", [x], alpha=float(m.alpha))


def _softplus(b: Builder, m: Any, x: str, shape: tuple) -> str:
    # log(1 + exp(beta x)) / beta, and x where beta x > threshold
    dtype = b.dtypes[x]
    bx = b.op("Mul", [x, b.const(m.beta, dtype)])
    soft = b.op("Div", [b.op("Softplus", [bx]), b.const(m.beta, dtype)])
    linear = b.op("Greater", [bx, b.const(m.threshold, dtype)], dtype=bool)
    return b.op("Where", [linear, x, soft])


REGIONS: dict[type, Region] = {
    activation.LeakyReLU: _leaky_relu,
    activation.ELU: _elu,
    activation.Softplus: _softplus,
    pooling.MaxPool2d: _max_pool,
    pooling.MaxPool1d: _max_pool,
    pooling.AvgPool2d: _avg_pool,
    pooling.AvgPool1d: _avg_pool,
    pooling.AdaptiveAvgPool2d: _adaptive_avg_pool,
}
