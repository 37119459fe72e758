"""The recorded graph's building blocks: grad-mode switches and `Node`.

Kept apart from the engine (`autograd.py`) so that primitives can record nodes without
importing the engine, which needs `Tensor`.
"""

from __future__ import annotations

import traceback
import weakref
from itertools import count
from typing import Any


class GradMode:
    """Process-wide switches read on every op (class attributes: one lookup, no call)."""

    enabled = True
    anomaly = False
    # Incremented by every in-place change of a tensor. A tensor's `_version` is the value
    # of this clock at its last in-place change and a node's `stamp` is its value when the
    # node was recorded, so an input changed after recording has `_version > stamp` (and
    # when the clock has not moved since recording, no check is needed at all).
    clock = 0
    # The modules whose forward is running, outermost first (set by `nn.Module.__call__`);
    # every node records it, so that drawings can group ops by module.
    scope: tuple = ()
    # An intermediate input that an op's backward does not read (sigmoid's, add's) is held
    # weakly, and so freed as soon as nobody else holds it, from this size on; below it the
    # bookkeeping costs more time than the memory is worth, and the node keeps the input.
    weak_min_bytes = 16384


_sequence = count()


class Node:
    """What a recorded op keeps for its backward: the primitive, its inputs and parameters.

    `needs[i]` says whether input i wants a gradient; `stamp` is the in-place clock at record
    time (an input changed in place later makes backward raise).
    An intermediate input that the VJP does not use (`prim.saves_inputs` false: sigmoid, add,
    ...) is held only through a `WeakInput`, with None in `data`, so that it is freed as soon
    as nobody else holds it. `out_data` is the output array, kept by ops whose VJP reads it
    (`prim.saves_out`) for when the output tensor itself has been freed.
    `args` is set to None once the graph is released after a backward pass.
    """

    __slots__ = (
        "prim",
        "args",
        "data",
        "params",
        "needs",
        "stamp",
        "seq",
        "trace",
        "scope",
        "edges",
        "out_meta",
        "out_data",
        "retained",
        "standin",
        "_stub",
    )

    def __init__(
        self, prim: Any, args: tuple, data: Any, params: dict, needs: tuple, out_data: Any = None
    ):
        self.prim = prim
        self.args: tuple | None = args
        self.data = data  # the args with each Tensor replaced by its array (fast-path VJPs)
        self.params = params
        self.needs = needs
        self.stamp = GradMode.clock
        self.seq = next(_sequence)  # creation order: consumers always have a larger seq
        self.trace = traceback.format_stack()[:-2] if GradMode.anomaly else None
        self.scope = GradMode.scope
        self.edges: tuple | None = None  # set when released: inputs' nodes instead of tensors
        self.out_meta: tuple | None = None  # (shape, dtype, retained grad) of the output
        self.out_data = out_data
        # Set only when used (read with getattr): `retained`, [grad] once retain_grad() was
        # called on a freed output (WeakInput); `standin`, a weakref to the Tensor standing
        # in for a freed output during backward.
        self._stub: TensorStub | None = None

    def inputs(self) -> tuple:
        """The op's arguments: Tensors and constants or, once the graph has been released
        by a backward pass, `TensorStub`s that keep its structure without its data."""
        if self.args is not None:
            return tuple([a.live() if type(a) is WeakInput else a for a in self.args])
        return tuple(
            e.stub() if isinstance(e, Node) else e._node.stub() if type(e) is WeakInput else e
            for e in self.edges or ()
        )

    def stub(self) -> TensorStub:
        """The (released) output of this node, as a data-less `TensorStub`; one per node."""
        if self._stub is None:
            self._stub = TensorStub(self)
        return self._stub

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
    """What remains of an intermediate tensor once backward has released the graph: its
    place in the graph, shape, dtype and retained gradient, without its data."""

    __slots__ = ("shape", "dtype", "_node", "grad", "__weakref__")
    requires_grad = True
    is_leaf = False

    def __init__(self, node: Node) -> None:
        self.shape, self.dtype, self.grad = node.out_meta or ((), None, None)
        self._node = node

    @property
    def grad_fn(self) -> Any:
        return self._node


class WeakInput(TensorStub):
    """An intermediate input that a node does not need for its backward, held weakly: the
    tensor itself while someone else keeps it alive (`live()`), else a data-less stub that
    still knows the node that produced it, its shape and dtype."""

    __slots__ = ("ref",)

    def __init__(self, t: Any) -> None:
        self.ref = weakref.ref(t)
        self._node = t._node
        self.shape = t.data.shape
        self.dtype = t.data.dtype

    def live(self) -> Any:
        """The tensor if it is still alive and still the output of the same node, else self."""
        t = self.ref()
        return t if t is not None and t._node is self._node else self

    # A freed tensor can still have its gradient retained (for drawings): it is kept in the
    # producing node, and the backward pass's stand-in for the tensor fills it.
    def retain_grad(self) -> None:
        if getattr(self._node, "retained", None) is None:
            self._node.retained = [None]

    @property
    def _retains_grad(self) -> bool:
        return getattr(self._node, "retained", None) is not None

    @property
    def grad(self) -> Any:  # type: ignore[override]
        box = getattr(self._node, "retained", None)
        return None if box is None else box[0]
