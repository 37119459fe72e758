"""HIPS autograd: NumPy code differentiated by tracing (``value_and_grad``).

autograd records operations only inside ``grad``/``make_vjp``, so it has no per-op forward
workload; the SGD update is in-place NumPy, as autograd leaves optimizers to the user.
"""

from __future__ import annotations

import numpy as np

from benchmarks.contenders.base import OP_FUNCS, Contender, MLPProblem, Trainer, Unsupported


def _forward(anp, params, x, act):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = anp.dot(h, params[2 * i].T) + params[2 * i + 1]
        if i < n_layers - 1:
            h = 1.0 / (1.0 + anp.exp(-h)) if act == "sigmoid" else anp.maximum(h, 0.0)
    return h


def _loss(anp, params, x, y, act):
    z = _forward(anp, params, x, act)
    m = anp.max(z, axis=1, keepdims=True)
    lse = m[:, 0] + anp.log(anp.sum(anp.exp(z - m), axis=1))
    return anp.mean(lse - z[np.arange(len(y)), y])


class _AutogradTrainer(Trainer):
    def __init__(self, ag, anp, p: MLPProblem):
        self.ps = [a.copy() for wb in p.layers for a in wb]
        x, y, act = p.x, p.y, p.act
        self.vg = ag.value_and_grad(lambda ps: _loss(anp, ps, x, y, act))
        self.lr = np.float32(p.lr)
        self.g: list = []

    def step(self) -> float:
        loss, self.g = self.vg(self.ps)
        for q, g in zip(self.ps, self.g, strict=True):
            q -= self.lr * g
        return float(loss)

    def grads(self):
        return [np.array(g) for g in self.g]

    def params(self):
        return [q.copy() for q in self.ps]


class HIPSAutograd(Contender):
    name = "HIPS autograd"
    key = "autograd"

    def __init__(self):
        import autograd
        import autograd.numpy as anp

        self.ag, self.anp = autograd, anp

    def version(self) -> str:
        from importlib.metadata import version

        return version("autograd")

    def trainer(self, p):
        return _AutogradTrainer(self.ag, self.anp, p)

    def inference(self, p):
        ps = [a for wb in p.layers for a in wb]
        return lambda: _forward(self.anp, ps, p.x, p.act)

    def hvp(self, p, v):
        anp, ag = self.anp, self.ag
        ps = [a for wb in p.layers for a in wb]
        gfun = ag.grad(lambda q: _loss(anp, q, p.x, p.y, p.act))
        hv = ag.grad(lambda q: sum(anp.sum(gi * vi) for gi, vi in zip(gfun(q), v, strict=True)))
        return lambda: hv(ps)

    def op_forward(self, op, a, b):
        raise Unsupported("records operations only inside grad(); see the op+backward table")

    def op_backward(self, op, a, b):
        f = OP_FUNCS[op]
        g = self.ag.grad(lambda ab: f(ab[0], ab[1]).sum())
        return lambda: g((a, b))

    def op_grads(self, op, a, b):
        ga, gb = self.op_backward(op, a, b)()
        return [ga, gb] if op in ("add", "mul", "matmul") else [ga]

    def chain(self, n, x, c):
        def f(t):
            for _ in range(n):
                t = t * c
            return t.sum()

        make_vjp = self.ag.make_vjp

        def build():
            return make_vjp(f)(x)

        def backward(root):
            vjp, ans = root
            return vjp(np.ones_like(ans))

        return build, backward
