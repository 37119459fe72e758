"""microgradnp, through its public PyTorch-like API only.

``mg.nn.Linear`` (weights ``(out, in)``), ``mg.nn.Sigmoid``/``ReLU``, ``mg.nn.Sequential``,
``mg.nn.functional.cross_entropy``, ``mg.optim.SGD``, ``loss.backward()``,
``opt.zero_grad()``, ``mg.no_grad()``, ``mg.grad(..., create_graph=True)``.
"""

from __future__ import annotations

import numpy as np

from benchmarks.contenders.base import (
    Contender,
    MLPProblem,
    TorchStyleOps,
    TorchStyleTrainer,
    Unsupported,
)


def _model(mg, p: MLPProblem):
    mods = []
    for i, (W, b) in enumerate(p.layers):
        lin = mg.nn.Linear(W.shape[1], W.shape[0])
        lin.load_state_dict({"weight": mg.tensor(W), "bias": mg.tensor(b)})
        mods.append(lin)
        if i < len(p.layers) - 1:
            mods.append(mg.nn.Sigmoid() if p.act == "sigmoid" else mg.nn.ReLU())
    return mg.nn.Sequential(*mods)


class _MgTrainer(TorchStyleTrainer):
    def __init__(self, mg, p: MLPProblem):
        self.model = _model(mg, p)
        self.opt = mg.optim.SGD(self.model.parameters(), lr=p.lr)
        self.x, self.y = mg.from_numpy(p.x), mg.from_numpy(p.y)
        self.ce = mg.nn.functional.cross_entropy

    def grads(self):
        return [np.array(q.grad.numpy()) for q in self.model.parameters()]

    def params(self):
        return [np.array(q.detach().numpy()) for q in self.model.parameters()]


class Microgradnp(TorchStyleOps, Contender):
    name = "microgradnp"
    key = "microgradnp"

    def __init__(self):
        import microgradnp as mg

        self.mg = mg

    def version(self) -> str:
        return getattr(self.mg, "__version__", "?")

    def trainer(self, p):
        return _MgTrainer(self.mg, p)

    def inference(self, p):
        mg = self.mg
        model, x = _model(mg, p), mg.from_numpy(p.x)

        def run():
            with mg.no_grad():
                return model(x).numpy()

        return run

    def hvp(self, p, v):
        mg = self.mg
        model, x, y = _model(mg, p), mg.from_numpy(p.x), mg.from_numpy(p.y)
        params = list(model.parameters())
        vs = [mg.from_numpy(a) for a in v]
        ce = mg.nn.functional.cross_entropy

        def run():
            g = mg.grad(ce(model(x), y), params, create_graph=True)
            dot = sum((gi * vi).sum() for gi, vi in zip(g, vs, strict=True))
            return [h.numpy() for h in mg.grad(dot, params)]

        return run

    def _leaf(self, a):
        return self.mg.tensor(a, requires_grad=True)


class _RawTrainer(TorchStyleTrainer):
    """The article's style: weights as plain tensors in `(in, out)` layout, the forward
    written with operators (`h @ W + b`), `mg.optim.SGD` for the update."""

    def __init__(self, mg, p: MLPProblem):
        self.Ws = [mg.tensor(np.ascontiguousarray(W.T), requires_grad=True) for W, _ in p.layers]
        self.bs = [mg.tensor(b, requires_grad=True) for _, b in p.layers]
        self.ps = [t for wb in zip(self.Ws, self.bs, strict=True) for t in wb]
        self.opt = mg.optim.SGD(self.ps, lr=p.lr)
        self.x, self.y = mg.from_numpy(p.x), mg.from_numpy(p.y)
        self.ce = mg.nn.functional.cross_entropy
        self.relu = p.act == "relu"

    def model(self, x):
        h = x
        last = len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs, strict=True)):
            h = h @ W + b
            if i < last:
                h = h.relu() if self.relu else h.sigmoid()
        return h

    def _layout(self, ts):  # back to the problem's (out, in) weight layout
        return [np.array(t.T if i % 2 == 0 else t) for i, t in enumerate(ts)]

    def grads(self):
        return self._layout([q.grad.numpy() for q in self.ps])

    def params(self):
        return self._layout([q.detach().numpy() for q in self.ps])


class _Compiled:
    """The same step under `mg.compile`: traced on the first call, replayed after."""

    def __init__(self, mg, inner):
        self.inner = inner
        opt, model, ce = inner.opt, inner.model, inner.ce

        def step(x, y):
            opt.zero_grad()
            loss = ce(model(x), y)
            loss.backward()
            opt.step()
            return loss

        self.fn = mg.compile(step)

    def step(self) -> float:
        return self.fn(self.inner.x, self.inner.y).item()

    def grads(self):
        return self.inner.grads()

    def params(self):
        return self.inner.params()

    def keep_grads(self) -> None:
        pass

    def prepare(self) -> dict:
        self.step()  # the trace (a first signature; the checks may have traced another)
        self.step()
        return {"compile_trace_s": self.fn.trace_seconds}


class _TrainingOnly:
    """Variants of the microgradnp row: the per-op and chain workloads are the eager row's."""

    def op_forward(self, op, a, b):
        raise Unsupported("measured in the eager microgradnp row")

    op_backward = op_grads = op_forward

    def chain(self, n, x, c):
        raise Unsupported("measured in the eager microgradnp row")


class MicrogradnpRaw(_TrainingOnly, Microgradnp):
    name = "microgradnp (raw ops)"
    key = "microgradnp-raw"

    def trainer(self, p):
        return _RawTrainer(self.mg, p)

    def inference(self, p):
        raise Unsupported("the nn-style row measures inference")

    def hvp(self, p, v):
        raise Unsupported("the nn-style row measures the HVP")


class MicrogradnpCompiled(_TrainingOnly, Microgradnp):
    name = "microgradnp compiled"
    key = "microgradnp-compiled"

    def trainer(self, p):
        return _Compiled(self.mg, _MgTrainer(self.mg, p))

    def inference(self, p):
        raise Unsupported("compiled rows cover the training step")

    def hvp(self, p, v):
        raise Unsupported("mg.compile captures .backward() into .grad, not mg.grad")


class MicrogradnpRawCompiled(MicrogradnpCompiled):
    name = "microgradnp raw compiled"
    key = "microgradnp-raw-compiled"

    def trainer(self, p):
        return _Compiled(self.mg, _RawTrainer(self.mg, p))
