"""PyTorch eager on CPU, written the way its tutorials teach.

Example::

    >>> from benchmarks.problems import make_mlp
    >>> t = PyTorch().trainer(make_mlp((4, 2, 8, 2)))  # doctest: +SKIP
"""

from __future__ import annotations

from benchmarks.contenders.base import Contender, MLPProblem, TorchStyleOps, TorchStyleTrainer


def _model(torch, p: MLPProblem):
    mods = []
    for i, (W, b) in enumerate(p.layers):
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(p.layers) - 1:
            mods.append(torch.nn.Sigmoid() if p.act == "sigmoid" else torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


class _TorchTrainer(TorchStyleTrainer):
    def __init__(self, torch, p: MLPProblem):
        self.torch = torch
        self.model = _model(torch, p)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=p.lr)
        self.x, self.y = torch.from_numpy(p.x), torch.from_numpy(p.y)
        self.ce = torch.nn.functional.cross_entropy

    def grads(self):
        return [q.grad.numpy().copy() for q in self.model.parameters()]

    def params(self):
        return [q.detach().numpy().copy() for q in self.model.parameters()]


class PyTorch(TorchStyleOps, Contender):
    name = "PyTorch"
    key = "torch"
    memory_probe = "torch"

    def __init__(self):
        import torch

        self.torch = torch

    def version(self) -> str:
        return self.torch.__version__

    def trainer(self, p):
        return _TorchTrainer(self.torch, p)

    def inference(self, p):
        torch = self.torch
        model, x = _model(torch, p), torch.from_numpy(p.x)

        def run():
            with torch.no_grad():
                return model(x).numpy()

        return run

    def hvp(self, p, v):
        torch = self.torch
        model, x, y = _model(torch, p), torch.from_numpy(p.x), torch.from_numpy(p.y)
        params = list(model.parameters())
        vs = [torch.from_numpy(a) for a in v]
        ce = torch.nn.functional.cross_entropy

        def run():
            g = torch.autograd.grad(ce(model(x), y), params, create_graph=True)
            dot = sum((gi * vi).sum() for gi, vi in zip(g, vs, strict=True))
            return [h.numpy() for h in torch.autograd.grad(dot, params)]

        return run

    def _leaf(self, a):
        return self.torch.tensor(a, requires_grad=True)
