"""DeZero (the framework of "Deep Learning from Scratch 3"), with NumPy 2 import shims.

Two shims, both confined to this module:

- DeZero 0.0.13 reads ``np.int`` at import time (removed in NumPy 1.24); :func:`_import`
  adds the old aliases for the duration of the import only.
- DeZero turns Python constants into 0-d arrays (``as_array``: ``gy * (1/N)``, ``1 - y``).
  Under NumPy 1's value-based casting a float64 or int64 0-d array did not upcast a float32
  array; under NumPy 2 (NEP 50) it does, and gradients silently became float64. The shim
  makes ``as_array`` give Python ints and floats as float32 0-d arrays, which restores the
  float32 computation DeZero does under NumPy 1 (this benchmark runs in float32 only).

Its softmax-cross-entropy backward also builds a one-hot matrix in the labels' dtype, and
``float32 - int64`` is float64 under either NumPy; labels are therefore given as int16
(``float32 - int16`` stays float32).
"""

from __future__ import annotations

import contextlib

import numpy as np

from benchmarks.contenders.base import Contender, MLPProblem, Trainer, chain_builder

_ALIASES = {"int": int, "float": float, "bool": bool, "object": object, "complex": complex}


@contextlib.contextmanager
def _numpy1_aliases():
    """Temporarily restore the builtin aliases NumPy 1.24 removed (``np.int`` ...)."""
    added = [k for k in _ALIASES if k not in np.__dict__]
    for k in added:
        setattr(np, k, _ALIASES[k])
    try:
        yield
    finally:
        for k in added:
            delattr(np, k)


def _import():
    with _numpy1_aliases():
        import dezero
        import dezero.core
        import dezero.functions
        import dezero.layers
        import dezero.optimizers
    core = dezero.core
    if not getattr(core.as_array, "_float32_shim", False):
        original = core.as_array

        def as_array(x, array_module=np):
            if type(x) in (int, float):
                return array_module.array(x, dtype=np.float32)
            return original(x, array_module)

        as_array._float32_shim = True
        core.as_array = as_array
    return dezero


class _DeZeroTrainer(Trainer):
    def __init__(self, owner, p: MLPProblem):
        dz = owner.dz
        self.owner = owner
        self.model = owner.model(p)
        self.opt = dz.optimizers.SGD(lr=p.lr).setup(self.model)
        self.x, self.t = dz.Variable(p.x), p.y.astype(np.int16)
        self.F = dz.functions

    def step(self) -> float:
        self.model.cleargrads()
        loss = self.F.softmax_cross_entropy(self.model(self.x), self.t)
        loss.backward()
        self.opt.update()
        return float(loss.data)

    def _layers(self):
        return self.model.linears

    def grads(self):
        return [a for lin in self._layers() for a in (lin.W.grad.data.T.copy(), lin.b.grad.data)]

    def params(self):
        return [a.copy() for lin in self._layers() for a in (lin.W.data.T, lin.b.data)]


_OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a.dot(b),
    "sum": lambda a, b: a.sum(),
    "getitem": lambda a, b: a[1:3],
}


class DeZero(Contender):
    name = "DeZero"
    key = "dezero"

    def __init__(self):
        self.dz = _import()

    def version(self) -> str:
        return self.dz.__version__

    def model(self, p: MLPProblem):
        """A ``dezero.Model`` of ``L.Linear`` layers holding the problem's weights.

        DeZero's ``Linear`` stores ``W`` as ``(in, out)``: the weights are transposed in.
        """
        dz = self.dz
        F, L = dz.functions, dz.layers
        act = F.sigmoid if p.act == "sigmoid" else F.relu

        class MLP(dz.Model):
            def __init__(self):
                super().__init__()
                self.linears = []
                for i, (W, b) in enumerate(p.layers):
                    lin = L.Linear(W.shape[0], in_size=W.shape[1])
                    lin.W.data = np.ascontiguousarray(W.T)
                    lin.b.data = b.copy()
                    setattr(self, f"l{i}", lin)
                    self.linears.append(lin)

            def forward(self, x):
                for lin in self.linears[:-1]:
                    x = act(lin(x))
                return self.linears[-1](x)

        return MLP()

    def trainer(self, p):
        return _DeZeroTrainer(self, p)

    def inference(self, p):
        model, x = self.model(p), self.dz.Variable(p.x)

        def run():
            with self.dz.no_grad():
                return model(x).data

        return run

    def hvp(self, p, v):
        dz = self.dz
        model, x, t = self.model(p), dz.Variable(p.x), p.y.astype(np.int16)
        params = [a for lin in model.linears for a in (lin.W, lin.b)]
        vs = [a for i in range(0, len(v), 2) for a in (np.ascontiguousarray(v[i].T), v[i + 1])]

        def run():
            model.cleargrads()
            loss = dz.functions.softmax_cross_entropy(model(x), t)
            loss.backward(create_graph=True)
            gs = [q.grad for q in params]
            model.cleargrads()
            dot = sum(dz.functions.sum(g * vi) for g, vi in zip(gs, vs, strict=True))
            dot.backward()
            out = [q.grad.data for q in params]
            return [a for i in range(0, len(out), 2) for a in (out[i].T, out[i + 1])]

        return run

    def _leaves(self, a, b):
        return self.dz.Variable(a.copy()), self.dz.Variable(b.copy())

    def op_forward(self, op, a, b):
        f, (ta, tb) = _OPS[op], self._leaves(a, b)
        return lambda: f(ta, tb)

    def op_backward(self, op, a, b):
        f, (ta, tb) = _OPS[op], self._leaves(a, b)

        def run():
            ta.cleargrad()
            tb.cleargrad()
            f(ta, tb).sum().backward()

        return run

    def op_grads(self, op, a, b):
        f, (ta, tb) = _OPS[op], self._leaves(a, b)
        f(ta, tb).sum().backward()
        return [t.grad.data for t in (ta, tb) if t.grad is not None]

    def chain(self, n, x, c):
        tx = self.dz.Variable(x.copy())
        c = np.float32(c)
        build = chain_builder(tx, n, c)

        def backward(root):
            tx.cleargrad()
            root.backward()
            return tx.grad.data

        return build, backward
