"""The interface every contender implements, and the problem it is given.

A contender is one way of computing the benchmark's workloads: hand-written NumPy (the
floor), microgradnp, or a peer framework. Each workload asks the contender for a callable
built once, outside the timed region, and then times calls to it. A contender that cannot
run a workload raises :class:`Unsupported` with the reason, which the report prints.

Example::

    >>> from benchmarks.problems import make_mlp
    >>> p = make_mlp((4, 2, 8, 2))
    >>> p.x.shape, [w.shape for w, _ in p.layers]
    ((4, 2), [(8, 2), (2, 8)])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Unsupported(Exception):
    """A contender cannot run this workload; the message says why."""


@dataclass
class MLPProblem:
    """An MLP classification problem with its data and one set of initial weights.

    ``layers`` holds ``(W, b)`` pairs in PyTorch's ``nn.Linear`` layout: ``W`` is
    ``(out, in)``. Every contender copies these same float32 arrays.
    """

    name: str
    x: np.ndarray  # (N, D) float32
    y: np.ndarray  # (N,) int64 class indices
    layers: list[tuple[np.ndarray, np.ndarray]]
    act: str = "sigmoid"  # hidden activation: "sigmoid" or "relu"
    lr: float = 0.1
    meta: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return self.layers[-1][0].shape[0]


class Trainer:
    """One contender's training loop for an :class:`MLPProblem`.

    ``step()`` does zero-grad, forward, loss, backward and the SGD update, and returns the
    loss as a float. ``grads()`` and ``params()`` return NumPy copies in the problem's
    layout (``W1, b1, W2, b2, ...``), read after the last step.
    """

    def step(self) -> float:
        raise NotImplementedError

    def grads(self) -> list[np.ndarray]:
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        raise NotImplementedError

    def keep_grads(self) -> None:
        """Make ``grads()`` readable after the next step (a lazy framework may otherwise
        fuse gradients into the update); called only by the correctness check."""

    def prepare(self) -> dict:
        """Warm up before timing; return extra facts to report (e.g. JIT cold times)."""
        self.step()
        return {}


class Contender:
    """Base class: every workload is unsupported until a subclass says otherwise."""

    #: name shown in tables
    name: str = "?"
    #: short id used on the command line (``--contenders``)
    key: str = "?"
    #: how peak memory is measured: "tracemalloc" (NumPy heap) or "torch" (its allocator)
    memory_probe: str = "tracemalloc"

    def version(self) -> str:
        return "?"

    def trainer(self, p: MLPProblem) -> Trainer:
        raise Unsupported("training step not implemented")

    def inference(self, p: MLPProblem) -> Callable[[], np.ndarray]:
        """A callable returning the logits of ``p.x`` with gradient recording off."""
        raise Unsupported("inference not implemented")

    def hvp(self, p: MLPProblem, v: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """A callable returning the Hessian of the mean loss times ``v`` (per parameter)."""
        raise Unsupported("no higher-order gradients")

    def op_forward(self, op: str, a: np.ndarray, b: np.ndarray) -> Callable[[], object]:
        """A callable applying ``op`` once to tensors that require grad (graph recorded)."""
        raise Unsupported("per-op forward not implemented")

    def op_backward(self, op: str, a: np.ndarray, b: np.ndarray) -> Callable[[], object]:
        """A callable doing ``op``, ``sum()`` and ``backward()``; grads land on a and b."""
        raise Unsupported("per-op backward not implemented")

    def op_grads(self, op: str, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Gradients of ``op(a, b).sum()`` with respect to a (and b where used)."""
        raise Unsupported("per-op backward not implemented")

    def chain(self, n: int, x: np.ndarray, c: float) -> tuple[Callable, Callable]:
        """``(build, backward)``: build() records ``y = x * c`` n times and returns the
        graph's root; backward(root) runs the backward pass and returns ``x``'s gradient."""
        raise Unsupported("long chain not implemented")


#: the per-op workloads: name -> description (ops on one input ignore ``b``)
OPS: dict[str, str] = {
    "add": "a + b (4x4)",
    "mul": "a * b (4x4)",
    "matmul": "a @ b (4x4)",
    "sum": "a.sum() (4x4)",
    "getitem": "a[1:3] (4x4)",
}


# The per-op workloads, spelled with operators that every array-like contender understands.
OP_FUNCS: dict[str, Callable] = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b,
    "sum": lambda a, b: a.sum(),
    "getitem": lambda a, b: a[1:3],
}


def chain_builder(tx, n: int, c) -> Callable:
    """``build()`` for the chain workload: ``(tx * c * c * ... * c).sum()``, n products."""

    def build():
        y = tx
        for _ in range(n):
            y = y * c
        return y.sum()

    return build


class TorchStyleTrainer(Trainer):
    """The training step of contenders with PyTorch's module API (microgradnp, PyTorch):
    subclasses set ``model``, ``opt`` (SGD), ``x``, ``y`` and ``ce`` (cross-entropy)."""

    model: Any
    opt: Any
    x: Any
    y: Any
    ce: Callable

    def step(self) -> float:
        self.opt.zero_grad()
        loss = self.ce(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()


class TorchStyleOps:
    """`op_forward`, `op_backward`, `op_grads` and `chain` for contenders with PyTorch's
    tensor API (`.grad`, `.backward()`, `.numpy()`); they supply `_leaf(array)`, a tensor
    that requires grad."""

    def _leaf(self, a: np.ndarray):
        raise NotImplementedError

    def op_forward(self, op, a, b):
        f, ta, tb = OP_FUNCS[op], self._leaf(a), self._leaf(b)
        return lambda: f(ta, tb)

    def op_backward(self, op, a, b):
        f, ta, tb = OP_FUNCS[op], self._leaf(a), self._leaf(b)

        def run():
            ta.grad = tb.grad = None
            f(ta, tb).sum().backward()

        return run

    def op_grads(self, op, a, b):
        f, ta, tb = OP_FUNCS[op], self._leaf(a), self._leaf(b)
        f(ta, tb).sum().backward()
        return [t.grad.numpy() for t in (ta, tb) if t.grad is not None]

    def chain(self, n, x, c):
        tx = self._leaf(x)
        build = chain_builder(tx, n, c)

        def backward(root):
            tx.grad = None
            root.backward()
            return tx.grad.numpy()

        return build, backward
