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


class Node:
    """What a recorded op keeps for its backward: the primitive, its inputs and parameters.

    `needs[i]` says whether input i wants a gradient; `versions` are the inputs' in-place
    version counters at record time (a later in-place change makes backward raise).
    `args` is set to None once the graph is released after a backward pass.
    """

    __slots__ = ("prim", "args", "params", "needs", "versions", "trace")

    def __init__(self, prim: Any, args: tuple, params: dict, needs: tuple, versions: tuple):
        self.prim = prim
        self.args: tuple | None = args
        self.params = params
        self.needs = needs
        self.versions = versions
        self.trace = traceback.format_stack()[:-2] if GradMode.anomaly else None

    def name(self) -> str:
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return "".join(p.capitalize() for p in self.prim.name.split("_")) + "Backward"

    @property
    def next_functions(self) -> tuple:
        """(node or None, index) for every input that requires grad, as in PyTorch."""
        if self.args is None:
            return ()
        return tuple(
            (a._node, 0)
            for a, n in zip(self.args, self.needs, strict=False)
            if n
        )

    def __repr__(self) -> str:
        return f"<{self.name()}>"
