"""MyGrad: NumPy-backed tensors with a recorded graph, ``mygrad.nnet`` losses/activations.

MyGrad ships no optimizer; the SGD update is in place on each tensor's ``.data``.
It has no higher-order derivatives, so it sits out the Hessian-vector product.
"""

from __future__ import annotations

import numpy as np

from benchmarks.contenders.base import OP_FUNCS, Contender, MLPProblem, Trainer, chain_builder


class _MyGradTrainer(Trainer):
    def __init__(self, owner, p: MLPProblem):
        mg = owner.mg
        self.owner = owner
        self.ps = [mg.tensor(a.copy()) for wb in p.layers for a in wb]
        self.x, self.y, self.act = p.x, p.y, p.act
        self.lr = np.float32(p.lr)

    def step(self) -> float:
        loss = self.owner.loss(self.ps, self.x, self.y, self.act)
        loss.backward()
        for q in self.ps:
            q.data -= self.lr * q.grad
        return loss.item()

    def grads(self):
        return [q.grad.copy() for q in self.ps]

    def params(self):
        return [q.data.copy() for q in self.ps]


class MyGrad(Contender):
    name = "MyGrad"
    key = "mygrad"

    def __init__(self):
        import mygrad
        from mygrad.nnet.activations import relu, sigmoid
        from mygrad.nnet.losses import softmax_crossentropy

        self.mg, self.sigmoid, self.relu, self.sce = mygrad, sigmoid, relu, softmax_crossentropy

    def version(self) -> str:
        return self.mg.__version__

    def forward(self, ps, x, act):
        h = x
        n_layers = len(ps) // 2
        for i in range(n_layers):
            h = self.mg.matmul(h, ps[2 * i].T) + ps[2 * i + 1]
            if i < n_layers - 1:
                h = self.sigmoid(h) if act == "sigmoid" else self.relu(h)
        return h

    def loss(self, ps, x, y, act):
        return self.sce(self.forward(ps, x, act), y)

    def trainer(self, p):
        return _MyGradTrainer(self, p)

    def inference(self, p):
        ps = [self.mg.tensor(a, constant=True) for wb in p.layers for a in wb]

        def run():
            with self.mg.no_autodiff:
                return self.forward(ps, p.x, p.act).data

        return run

    def _leaves(self, a, b):
        return self.mg.tensor(a), self.mg.tensor(b)

    def op_forward(self, op, a, b):
        f, (ta, tb) = OP_FUNCS[op], self._leaves(a, b)
        return lambda: f(ta, tb)

    def op_backward(self, op, a, b):
        f, (ta, tb) = OP_FUNCS[op], self._leaves(a, b)
        return lambda: f(ta, tb).sum().backward()

    def op_grads(self, op, a, b):
        f, (ta, tb) = OP_FUNCS[op], self._leaves(a, b)
        f(ta, tb).sum().backward()
        return [t.grad for t in (ta, tb) if t.grad is not None]

    def chain(self, n, x, c):
        tx = self.mg.tensor(x)
        build = chain_builder(tx, n, c)

        def backward(root):
            root.backward()
            return tx.grad

        return build, backward
