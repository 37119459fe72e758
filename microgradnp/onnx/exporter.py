"""`export`: trace a model once and write the recorded graph as an ONNX model."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..grad_mode import enable_grad
from ..graph import Node
from ..tensor import Tensor
from .builder import Builder
from .check import check_constants, shuffled
from .ops import OPS
from .regions import REGIONS

MIN_OPSET = 14  # Trilu (causal masks) and Softmax on any axis


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "mg.onnx.export needs the `onnx` package: pip install 'microgradnp[onnx]' "
            "(or pip install onnx onnxruntime)"
        ) from None
    return onnx


def export(
    model: Any,
    example_input: Any,
    f: str | os.PathLike | None = "model.onnx",
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict[str, Any] | None = None,
    opset_version: int = 17,
) -> Any:
    """Write `model` as an ONNX model, traced once on `example_input`, as
    `torch.onnx.export`.

    The model runs in eval mode (its modes are restored afterwards) with recording on;
    the recorded graph, from the outputs back to the inputs, becomes the ONNX graph. A
    second run on the example input with its values shuffled and its dynamic axes one
    longer must record the same ops and constants: a constant computed from the input's
    values outside the graph (a mask from a comparison, indices from an argmax) or sized by
    a dynamic axis raises `NotImplementedError` naming the op.
    Parameters and buffers become initializers named by their `state_dict` keys (a tied
    weight is stored once); constants (numbers, arrays, masks) become initializers; Python
    control flow is fixed at its traced path, as in any tracing exporter.

    Args:
        model: a `Module` (or any callable of tensors).
        example_input: a Tensor or array, or a tuple of them (the model's positional
            arguments); float inputs are traced through, integer inputs (token ids) are
            found where they are used as indices.
        f: the file to write (None: write nothing; the model is returned either way).
        input_names: names of the graph's inputs (default ``input``, ``input_1``, ...).
        output_names: names of its outputs (default ``output``, ``output_1``, ...).
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "symbol"}}``: axes whose
            size may change at run time (the batch axis; see docs/onnx.md for the limits).
        opset_version: the ONNX opset, at least 14.

    Returns:
        The `onnx.ModelProto`, checked with `onnx.checker` (full check).

    Supported primitives: add, sub, mul, div, neg, abs, exp, expm1, log, log1p, sqrt,
    pow_scalar, pow_tensor, maximum, minimum, clip, sin, cos, tanh, sigmoid, relu, erf,
    clone, astype, softmax, log_softmax, sum, mean, amax, amin, logsumexp, std,
    layer_normalize, matmul, linear, einsum, conv2d, conv2d_input (ConvTranspose2d),
    reshape, permute, broadcast_to, sum_to, cat, pad, tril, triu, cumsum, where,
    masked_fill, getitem (basic indexing, and integer-array rows); and, as whole layers,
    MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, LeakyReLU, ELU and Softplus. Any other
    op raises `NotImplementedError` naming it.

    Example:
        >>> import microgradnp as mg
        >>> model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.ReLU(), mg.nn.Linear(4, 2))
        >>> onnx_model = mg.onnx.export(model, mg.randn(5, 3), None,
        ...                             dynamic_axes={"input": {0: "batch"}})  # doctest: +SKIP
        >>> [n.op_type for n in onnx_model.graph.node]  # doctest: +SKIP
        ['Gemm', 'Relu', 'Gemm', 'Identity']
    """
    onnx = _import_onnx()
    helper = onnx.helper
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset_version <= newest:
        raise ValueError(
            f"ONNX export: opset_version must lie in [{MIN_OPSET}, {newest}], got {opset_version}"
        )

    examples = list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]
    leaves, in_names = _inputs(examples, input_names)
    outputs = _trace(model, leaves)
    out_names = _names(output_names, len(outputs), "output", "output_names")
    axes = _dynamic_axes(dynamic_axes, in_names + out_names)

    b = Builder(opset_version, dynamic=bool(axes))
    b.used.update(in_names + out_names)
    for name, t in zip(in_names, leaves, strict=True):
        b.dtypes[name] = t.dtype
    values = _Values(b, model, leaves, in_names)
    order = _order([o._node for o in outputs if o._node is not None])
    for node in order:
        values.emit(node)
    _check_second_trace(model, leaves, [axes.get(n, {}) for n in in_names], order)

    graph_outputs = []
    for t, name in zip(outputs, out_names, strict=True):
        b.nodes.append(helper.make_node("Identity", [values.resolve_tensor(t)], [name]))
        graph_outputs.append(_value_info(helper, name, t, axes.get(name, {})))
    graph_inputs = [
        _value_info(helper, name, t, axes.get(name, {}))
        for name, t in zip(in_names, leaves, strict=True)
    ]
    graph = helper.make_graph(
        b.nodes, type(model).__name__, graph_inputs, graph_outputs, b.initializers
    )
    opset = [helper.make_opsetid("", opset_version)]
    onnx_model = helper.make_model(graph, opset_imports=opset, producer_name="microgradnp")
    onnx_model.ir_version = helper.find_min_ir_version_for(opset)
    onnx.checker.check_model(onnx_model, full_check=True)
    if f is not None:
        onnx.save(onnx_model, os.fspath(f))
    return onnx_model


# ---- inputs and tracing -------------------------------------------------------------------
def _inputs(examples: list, names: list[str] | None) -> tuple[list[Tensor], list[str]]:
    """The inputs as Tensors; a float one becomes a new leaf that requires grad, so that
    every op on it is recorded."""
    leaves = []
    for i, x in enumerate(examples):
        data = x.data if isinstance(x, Tensor) else x
        if not isinstance(data, np.ndarray):
            raise TypeError(
                f"ONNX export: example input {i} must be a Tensor or an ndarray, "
                f"got {type(x).__name__}"
            )
        if data.dtype.kind == "f":
            leaves.append(Tensor(data.copy(), requires_grad=True))
        elif data.dtype.kind in "iub":
            leaves.append(x if isinstance(x, Tensor) else Tensor(data))
        else:
            raise TypeError(f"ONNX export: example input {i} has unsupported dtype {data.dtype}")
    return leaves, _names(names, len(leaves), "input", "input_names")


def _names(names: list[str] | None, n: int, base: str, what: str) -> list[str]:
    if names is None:
        return [base if i == 0 else f"{base}_{i}" for i in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"ONNX export: {what} must be {n} distinct names, got {names}")
    return names


def _trace(model: Any, leaves: list[Tensor]) -> list[Tensor]:
    """Run the model once in eval mode with recording on; its output tensors."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [m.training for m in modules]
    for m in modules:
        m.training = False
    try:
        with enable_grad():
            out = model(*leaves)
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.training = mode
    outs = [o for o in _flatten(out) if o is not None]
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(
            "ONNX export: the model must return a Tensor or (nested) tuples of Tensors, got "
            f"{type(out).__name__}"
        )
    return outs


def _flatten(out: Any) -> list:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    return [out]


def _check_second_trace(model: Any, leaves: list[Tensor], axes: list[dict], order: list) -> None:
    """Trace again with the input's values shuffled and its dynamic axes one longer; the
    ops and constants must be those of the first trace (see `check.py`)."""
    grow = [sorted(a % t.ndim for a in ax) for t, ax in zip(leaves, axes, strict=True)]
    second = shuffled(leaves, grow)
    try:
        outputs = _trace(model, second)
    except Exception as e:
        shapes = [t.shape for t in second]
        raise ValueError(
            "ONNX export: the check run (the example input with its values shuffled and its "
            f"dynamic axes one longer, shapes {shapes}) failed, so the model does not accept "
            f"those inputs: {type(e).__name__}: {e}"
        ) from e
    order2 = _order([o._node for o in outputs if o._node is not None])
    inputs = {id(t.data) for t in leaves}
    check_constants(order, order2, inputs, {id(n) for n in order if _region(n) is not None})


def _dynamic_axes(spec: dict | None, names: list[str]) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {}
    for name, ax in (spec or {}).items():
        if name not in names:
            raise ValueError(
                f"ONNX export: dynamic_axes names {name!r}, which is not an input or output "
                f"(those are {names})"
            )
        if isinstance(ax, dict):
            axes[name] = {int(k): str(v) for k, v in ax.items()}
        else:
            axes[name] = {int(k): f"{name}_dynamic_axes_{k}" for k in ax}
    return axes


def _value_info(helper: Any, name: str, t: Tensor, dyn: dict[int, str]) -> Any:
    shape = [dyn.get(i, dyn.get(i - t.ndim, d)) for i, d in enumerate(t.shape)]
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype))
    return helper.make_tensor_value_info(name, elem, shape)


# ---- the graph ----------------------------------------------------------------------------
def _region(node: Node) -> Any:
    """The module this node was recorded in if that is exported whole, else None."""
    return node.scope[-1] if node.scope and type(node.scope[-1]) in REGIONS else None


def _region_nodes(node: Node, module: Any) -> tuple[list[Node], list]:
    """The nodes of one call of `module` ending at `node`, and their outside operands."""
    inside, stack = {id(node): node}, [node]
    outside: list = []
    while stack:
        n = stack.pop()
        for p in n.parents:
            if type(p) is Node and p.scope and p.scope[-1] is module:
                if id(p) not in inside:
                    inside[id(p)] = p
                    stack.append(p)
            elif isinstance(p, (Node, Tensor)) and all(p is not o for o in outside):
                outside.append(p)
    return list(inside.values()), outside


def _order(roots: list[Node]) -> list[Node]:
    """Nodes in an order where each comes after its operands (iterative depth-first);
    the inner nodes of a layer exported whole are skipped: only its last node appears."""
    order: list[Node] = []
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        n, expanded = stack.pop()
        if id(n) in done:
            continue
        if expanded:
            done.add(id(n))
            order.append(n)
            continue
        stack.append((n, True))
        module = _region(n)
        deps = _region_nodes(n, module)[1] if module is not None else n.parents
        for p in reversed(deps):
            if type(p) is Node and id(p) not in done:
                stack.append((p, False))
    return order


class _Values:
    """The ONNX name of every recorded value: inputs, parameters, constants, node outputs."""

    def __init__(self, b: Builder, model: Any, leaves: list[Tensor], in_names: list[str]):
        self.b = b
        self.names: dict[int, str] = {}  # id(Node or Tensor or input array) -> name
        self.keep: list = []  # what the ids above refer to, kept alive
        for t, name in zip(leaves, in_names, strict=True):
            self._bind(t, name)
            self._bind(t.data, name)
            b.graph_inputs[id(t.data)] = name
        self.state: dict[int, tuple[str, Tensor]] = {}
        if hasattr(model, "named_parameters"):
            for key, t in list(model.named_parameters()) + list(model.named_buffers()):
                self.state.setdefault(id(t), (key, t))

    def _bind(self, obj: Any, name: str) -> None:
        self.names[id(obj)] = name
        self.keep.append(obj)

    def resolve(self, p: Any) -> Any:
        """A parent as an operand: a value name, or a constant (number, array, None)."""
        if id(p) in self.names:
            return self.names[id(p)]
        if isinstance(p, Tensor):
            if id(p) in self.state:
                key, t = self.state[id(p)]
                name = self.b.initializer(t.data, key)
            elif p.requires_grad:
                name = self.b.initializer(p.data, "weight")
            else:
                return self.names.get(id(p.data), p.data)
            self._bind(p, name)
            return name
        return p

    def resolve_tensor(self, t: Tensor) -> str:
        v = self.resolve(t._node if t._node is not None else t)
        return v if isinstance(v, str) else self.b.value(v)

    def emit(self, node: Node) -> None:
        module = _region(node)
        if module is not None:
            self._emit_region(node, module)
            return
        name = node.prim.name
        build = OPS.get(name)
        if build is None:
            where = f" (recorded in {type(node.scope[-1]).__name__})" if node.scope else ""
            raise NotImplementedError(
                f"ONNX export: no mapping for primitive {name!r}{where}; supported: "
                f"{', '.join(sorted(OPS))}, and the layers "
                f"{', '.join(sorted(c.__name__ for c in REGIONS))}"
            )
        args = [self.resolve(p) for p in node.parents]
        shapes = [tuple(np.shape(p)) if not hasattr(p, "shape") else p.shape for p in node.parents]
        out = build(self.b, node, args, shapes)
        self._bind(node, out)

    def _emit_region(self, node: Node, module: Any) -> None:
        _, outside = _region_nodes(node, module)
        if len(outside) != 1:
            raise NotImplementedError(
                f"ONNX export: {type(module).__name__} with {len(outside)} tensor inputs"
            )
        x = self.b.value(self.resolve(outside[0]))
        out = REGIONS[type(module)](self.b, module, x, tuple(outside[0].shape))
        self._bind(node, out)
