"""The recorded graph: `Node`, what each recorded op keeps for its backward.

A node points to its parents, never to its output tensor, so a graph is freed by reference
counting as soon as nobody holds its root. Gradients flowing backward are keyed by node
(and by the leaf tensor for leaves), as in HIPS autograd and JAX: an intermediate tensor can
be freed right after the forward, and nothing needs it again.

Also here, because recording reads it: the in-place clock that version counters are
stamped with.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from itertools import count
from typing import Any

import numpy as np

# ---- versions --------------------------------------------------------------------------
# Every in-place change ticks one process-wide clock; a tensor's version (kept by the base
# of all tensors that share its memory: views, `detach()`, `state_dict()` entries) is the
# clock value of its memory's last change. A node records the clock
# when it is made (`Node.stamp`), so a saved tensor changed later has `version > stamp`, and
# while the clock has not moved since recording no check is needed at all.
_clock_lock = threading.Lock()
clock = 0


def tick() -> int:
    """Advance the in-place clock; returns the new value (thread-safe)."""
    global clock
    _clock_lock.acquire()  # (not `with`: this runs once per optimizer step, and is cheaper)
    clock += 1
    value = clock
    _clock_lock.release()
    return value


# Values of `Node.stamp` that are not clock readings: the node's output was changed in place
# (its backward would read the changed values), or its saved values were freed by backward.
OUTPUT_CHANGED = -1
FREED = -2


_sequence = count()


class Node:
    """A recorded op: its primitive, its parents, and only the values its VJP reads.

    - `parents[i]`: for each argument, the `Node` that produced it, the leaf `Tensor` itself,
      or the constant (a number, an array, a tensor that needs no gradient); `needs[i]` says
      whether argument i gets a gradient (then `parents[i]` is a node or a leaf).
    - `inputs`/`data`: the arguments as Tensors (for `create_graph=True`) and as arrays (fast
      path), kept only when the VJP reads them (`prim.uses_inputs`); `out`, the output
      array, only when it reads that (`prim.uses_out`); `res`, residuals the forward handed
      over (`prim.residuals`).
    - `shape`, `dtype`: the output's (gradients reaching this node are summed back to that
      shape; a VJP that reads no input values may read its inputs' shapes and dtypes);
      `seq`: creation order (a consumer always has a larger one); `stamp`: the in-place clock
      at recording, or `OUTPUT_CHANGED` / `FREED`; `scope`: the modules it ran in;
      `hooks`: functions of the gradient run when it reaches this node (tensor hooks,
      `retain_grad`).
    """

    __slots__ = ("prim", "parents", "needs", "inputs", "data", "out", "res", "params",
                 "shape", "dtype", "seq", "stamp", "scope", "hooks", "__weakref__")  # fmt: skip

    def __init__(
        self,
        prim: Any,
        parents: tuple,
        needs: tuple,
        args: tuple,
        data: tuple,
        params: dict,
        out: Any,
        res: Any,
        scope: tuple = (),
    ) -> None:
        self.prim = prim
        self.parents = parents
        self.needs = needs
        if prim.uses_inputs:
            self.inputs: tuple | None = args
            self.data: tuple | None = data
        else:
            self.inputs = self.data = None
        self.out = out if prim.uses_out else None
        self.res = res
        self.params = params
        self.shape = out.shape
        self.dtype = out.dtype
        self.seq = next(_sequence)
        self.stamp = clock
        self.scope = scope
        self.hooks: list | None = None

    def name(self) -> str:
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return "".join(p.capitalize() for p in self.prim.name.split("_")) + "Backward"

    def register_prehook(self, hook: Callable[[Any], Any]) -> Callable[[], None]:
        """Call `hook(grad)` when the gradient of this node's output is complete; a returned
        value replaces it. Returns a function that removes the hook."""
        if self.hooks is None:
            self.hooks = []
        hooks = self.hooks
        hooks.append(hook)
        return lambda: hooks.remove(hook) if hook in hooks else None

    @property
    def next_functions(self) -> tuple:
        """(node or None, 0) for every input that requires grad, as in PyTorch (a leaf
        shows as None here; PyTorch shows its AccumulateGrad)."""
        return tuple(
            (p if type(p) is Node else None, 0)
            for p, n in zip(self.parents, self.needs, strict=True)
            if n
        )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def release(self) -> None:
        """Free what backward needed, keeping the structure (parents, shapes) for drawings.
        Constant arrays and tensors that needed no gradient go too (as `Freed` records)."""
        if self.inputs is not None or self.out is not None or self.res is not None:
            self.stamp = FREED
            self.inputs = self.data = self.out = self.res = None
        needs = self.needs
        if False in needs:  # let go of arrays and tensors that need no gradient
            light = None
            for i, p in enumerate(self.parents):
                if not needs[i] and type(p) not in _KEPT:
                    if light is None:
                        light = list(self.parents)
                    light[i] = _light(p)
            if light is not None:
                self.parents = tuple(light)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class Freed:
    """A constant argument that backward let go of (an array, or a tensor that needed no
    gradient): what drawings need of it, its shape and dtype."""

    __slots__ = ("shape", "dtype", "was_tensor")
    data = grad = _node = None
    requires_grad = False

    def __init__(self, value: Any, was_tensor: bool) -> None:
        self.shape = value.shape
        self.dtype = value.dtype
        self.was_tensor = was_tensor

    def __repr__(self) -> str:
        return f"array{self.shape}"


# Parents that `release` keeps as they are: nodes, numbers (op labels), what it already freed.
_KEPT = frozenset({Node, Freed, int, float, bool, complex, str, tuple, type(None)})


def _light(p: Any) -> Any:
    if type(p) is np.ndarray:
        return Freed(p, False) if p.size > 3 else p  # small ones label ops
    data = getattr(p, "data", None)
    if type(data) is np.ndarray:  # a Tensor that needed no gradient
        return Freed(data, True)
    return p
