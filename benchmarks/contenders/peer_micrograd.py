"""Karpathy's micrograd: one Python object per scalar (tiny and small sizes only).

micrograd's ``Value`` has no ``exp``/``log``; :func:`_exp` and :func:`_log` add them in
micrograd's own style (a closure computing the local derivative). Its numbers are Python
floats (float64): the one contender that cannot run in float32. Its topological sort is
recursive, so graphs deeper than Python's recursion limit (about 1,000) fail; it sits out
the long chain.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.contenders.base import Contender, MLPProblem, Trainer, Unsupported

#: the largest batch * inputs * hidden this contender is asked to train (the small size)
MAX_WORK = 32 * 64 * 64


def _exp(Value, v):
    e = math.exp(v.data)
    out = Value(e, (v,), "exp")

    def _backward():  # d exp(v) / dv = exp(v)
        v.grad += e * out.grad

    out._backward = _backward
    return out


def _log(Value, v):
    out = Value(math.log(v.data), (v,), "log")

    def _backward():  # d log(v) / dv = 1 / v
        v.grad += out.grad / v.data

    out._backward = _backward
    return out


class _MicrogradTrainer(Trainer):
    def __init__(self, Value, p: MLPProblem):
        self.V = Value
        self.layers = [
            ([[Value(float(w)) for w in row] for row in W], [Value(float(c)) for c in b])
            for W, b in p.layers
        ]
        self.x = p.x.astype(np.float64).tolist()
        self.y = p.y.tolist()
        self.act = p.act
        self.lr = p.lr

    def _params(self):
        for W, b in self.layers:
            for row in W:
                yield from row
            yield from b

    def step(self) -> float:
        V = self.V
        for q in self._params():
            q.grad = 0.0
        total = V(0.0)
        last = len(self.layers) - 1
        for xi, yi in zip(self.x, self.y, strict=True):
            h = xi
            for li, (W, b) in enumerate(self.layers):
                z = [
                    sum((w * hj for w, hj in zip(row, h, strict=True)), bk)
                    for row, bk in zip(W, b, strict=True)
                ]
                if li < last:
                    z = [1 / (1 + _exp(V, -zk)) if self.act == "sigmoid" else zk.relu() for zk in z]
                h = z
            m = max(zk.data for zk in h)  # a constant shift: softmax is invariant to it
            lse = _log(V, sum(_exp(V, zk - m) for zk in h)) + m
            total = total + (lse - h[yi])
        loss = total * (1.0 / len(self.y))
        loss.backward()
        for q in self._params():
            q.data -= self.lr * q.grad
        return loss.data

    def grads(self):
        return [
            np.array([[w.grad for w in row] for row in W])
            if k == 0
            else np.array([c.grad for c in b])
            for W, b in self.layers
            for k in (0, 1)
        ]

    def params(self):
        return [
            np.array([[w.data for w in row] for row in W])
            if k == 0
            else np.array([c.data for c in b])
            for W, b in self.layers
            for k in (0, 1)
        ]


class Micrograd(Contender):
    name = "micrograd"
    key = "micrograd"
    dtype_note = "Python floats (float64)"

    def __init__(self):
        from micrograd.engine import Value

        self.Value = Value

    def version(self) -> str:
        from importlib.metadata import version

        return version("micrograd")

    def trainer(self, p):
        n, d = p.x.shape
        work = n * d * max(W.shape[0] for W, _ in p.layers)
        if work > MAX_WORK:
            raise Unsupported("scalar engine: sizes above small take minutes per step")
        return _MicrogradTrainer(self.Value, p)

    def chain(self, n, x, c):
        raise Unsupported("recursive topological sort: RecursionError beyond ~1,000 nodes")
