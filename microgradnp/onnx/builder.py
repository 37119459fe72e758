"""`Builder`: collects the ONNX nodes, initializers and value names of one exported graph.

The op table (`ops.py`) and the pooling regions (`regions.py`) emit through it; the
exporter (`exporter.py`) walks the recorded graph and hands each op its operands, which are
either names of values already in the ONNX graph or constants (numbers, arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Builder:
    """Nodes and initializers of the ONNX graph being built, with fresh-name bookkeeping.

    `dynamic` says whether some input axis is dynamic: shape constants (of Reshape, Expand)
    then copy the leading dimensions from their input instead of fixing them.
    """

    def __init__(self, opset: int, dynamic: bool) -> None:
        import onnx  # the caller has checked it imports

        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.dynamic = dynamic
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = set()
        self.dtypes: dict[str, np.dtype] = {}  # element type of every value
        self._consts: dict[tuple, str] = {}
        self.graph_inputs: dict[int, str] = {}  # id(input array) -> name, for `operand`

    # ---- names --------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A name not used yet, from `base` (``base``, ``base_1``, ...)."""
        name, i = base, 0
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    # ---- values ---------------------------------------------------------------------------
    def initializer(self, value: np.ndarray, name: str) -> str:
        """Add `value` as an initializer called `name` (made unique); returns the name."""
        name = self.fresh(name)
        arr = np.ascontiguousarray(value)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        self.dtypes[name] = arr.dtype
        return name

    def const(self, value: Any, dtype: Any = None) -> str:
        """A constant as an initializer (identical small constants are shared)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"ONNX export: constants of dtype {arr.dtype} are not supported")
        key = None
        if arr.size <= 64:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.initializer(arr, "const")
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values: Any) -> str:
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def operand(self, v: Any) -> Any:
        """An op parameter as an operand: the graph input's name when `v` is an input's
        array (token ids as an index, a mask given as input), else `v` itself."""
        return self.graph_inputs.get(id(v), v) if isinstance(v, np.ndarray) else v

    def value(self, v: Any, dtype: Any = None) -> str:
        """The name of operand `v`: a value name (cast to `dtype` if given and different)
        or a constant (made an initializer of `dtype`, or of its own dtype)."""
        if isinstance(v, str):
            if dtype is not None and self.dtypes.get(v) != np.dtype(dtype):
                return self.op("Cast", [v], dtype=dtype, to=_onnx_type(self.onnx, dtype))
            return v
        return self.const(v, dtype)

    # ---- nodes ----------------------------------------------------------------------------
    def op(self, op_type: str, inputs: list[str], dtype: Any = None, **attrs: Any) -> str:
        """Emit one node with one output; returns the output's name. `dtype` is the output's
        element type (default: that of the first input)."""
        out = self.fresh(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        self.dtypes[out] = np.dtype(dtype) if dtype is not None else self.dtypes[inputs[0]]
        return out

    def reduce(self, op_type: str, x: str, axes: Any, keepdims: bool) -> str:
        """A Reduce* node: axes as an input (ReduceSum, and all reductions from opset 18)
        or as an attribute (the others before 18); `axes=None` reduces every axis."""
        attrs: dict[str, Any] = {"keepdims": int(keepdims)}
        inputs = [x]
        if axes is not None:
            axes = [int(a) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]
            if op_type == "ReduceSum" or self.opset >= 18:
                inputs.append(self.ints(axes))
            else:
                attrs["axes"] = axes
        return self.op(op_type, inputs, **attrs)

    def shape_const(self, in_shape: tuple, out_shape: tuple) -> str:
        """The target of a Reshape from `in_shape` to `out_shape`: the fixed shape, or with a
        dynamic axis the leading dimensions both share as 0 (copied from the input at run
        time) and, when none is shared, -1 in front (the batch moves into it)."""
        target = [int(d) for d in out_shape]
        if self.dynamic and target:
            k = 0
            while k < min(len(in_shape), len(target)) and in_shape[k] == target[k]:
                k += 1
            if k:
                target[:k] = [0] * k
            elif -1 not in target:
                target[0] = -1
        return self.ints(target)


def _onnx_type(onnx: Any, dtype: Any) -> int:
    return int(onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
