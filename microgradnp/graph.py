"""The recorded graph's building blocks: grad-mode switches and `Node`.

Kept apart from the engine (`autograd.py`) so that primitives can record nodes without
importing the engine, which needs `Tensor`.
"""

from __future__ import annotations

import traceback
from typing import Any


class GradMode:
    """Process-wide switches read on every op (class attributes: one lookup, no call)."""

    enabled = True
    anomaly = False
    # The modules whose forward is running, outermost first (set by `nn.Module.__call__`);
    # every node records it, so that drawings can group ops by module.
    scope: tuple = ()


class Node:
    """What a recorded op keeps for its backward: the primitive, its inputs and parameters.

    `needs[i]` says whether input i wants a gradient; `versions` are the inputs' in-place
    version counters at record time (a later in-place change makes backward raise).
    `args` is set to None once the graph is released after a backward pass.
    """

    __slots__ = ("prim", "args", "params", "needs", "versions", "trace", "scope", "edges")

    def __init__(self, prim: Any, args: tuple, params: dict, needs: tuple, versions: tuple):
        self.prim = prim
        self.args: tuple | None = args
        self.params = params
        self.needs = needs
        self.versions = versions
        self.trace = traceback.format_stack()[:-2] if GradMode.anomaly else None
        self.scope = GradMode.scope
        self.edges: tuple | None = None

    def inputs(self) -> tuple:
        """The op's arguments: Tensors and constants, or, once the graph has been released
        by a backward pass, `TensorStub`s that keep its structure without its data."""
        return self.args if self.args is not None else (self.edges or ())

    def name(self) -> str:
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return "".join(p.capitalize() for p in self.prim.name.split("_")) + "Backward"

    @property
    def next_functions(self) -> tuple:
        """(node or None, index) for every input that requires grad, as in PyTorch."""
        return tuple((a._node, 0) for a, n in zip(self.inputs(), self.needs, strict=False) if n)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class TensorStub:
    """What remains of a tensor once backward has released the graph: its place in the
    graph, shape, dtype and retained gradient, without its data (for drawing graphs)."""

    __slots__ = ("shape", "dtype", "_node", "grad", "requires_grad", "__weakref__")

    def __init__(self, t: Any) -> None:
        self.shape, self.dtype, self._node = t.shape, t.dtype, t._node
        self.grad, self.requires_grad = t.grad, t.requires_grad

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        return self._node


def release(node: Node, stubs: dict[int, Any]) -> None:
    """Free what `node` saved for backward, keeping a skeleton of the graph.

    Leaf tensors that require grad (parameters) are kept as they are; every other tensor
    input becomes a `TensorStub` (one per tensor, shared through `stubs`).
    """
    from .tensor import Tensor

    edges = []
    for a in node.args:
        if not isinstance(a, Tensor):
            edges.append(None)
        elif a._node is None and a.requires_grad:
            edges.append(a)
        else:
            stub = stubs.get(id(a))
            if stub is None:
                stub = stubs[id(a)] = TensorStub(a)
            edges.append(stub)
    node.edges = tuple(edges)
    node.args = None
