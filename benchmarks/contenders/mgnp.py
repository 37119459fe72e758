"""microgradnp, through its public PyTorch-like API only.

``mg.nn.Linear`` (weights ``(out, in)``), ``mg.nn.Sigmoid``/``ReLU``, ``mg.nn.Sequential``,
``mg.nn.functional.cross_entropy``, ``mg.optim.SGD``, ``loss.backward()``,
``opt.zero_grad()``, ``mg.no_grad()``, ``mg.grad(..., create_graph=True)``. Until
``mg.nn`` and ``mg.optim`` exist, the MLP workloads raise ``Unsupported`` and the report
says so; the per-op and long-chain workloads need only the core.
"""

from __future__ import annotations

import contextlib
import importlib

import numpy as np

from benchmarks.contenders.base import (
    Contender,
    MLPProblem,
    TorchStyleOps,
    TorchStyleTrainer,
    Unsupported,
)


def _missing_core(mg) -> list[str]:
    return [n for n in ("tensor", "from_numpy", "no_grad", "grad") if not hasattr(mg, n)]


def _missing_nn(mg) -> list[str]:
    """What the MLP workloads need from ``mg.nn`` and ``mg.optim`` and is not there yet."""
    for sub in ("nn", "optim"):  # `import microgradnp.nn` works even before a re-export
        with contextlib.suppress(ImportError):
            importlib.import_module(f"microgradnp.{sub}")
    if not hasattr(mg, "nn") or not hasattr(mg, "optim"):
        return [n for n in ("nn", "optim") if not hasattr(mg, n)]
    missing = [
        f"nn.{n}"
        for n in ("Linear", "Sigmoid", "ReLU", "Sequential", "functional")
        if not hasattr(mg.nn, n)
    ]
    return missing + ([] if hasattr(mg.optim, "SGD") else ["optim.SGD"])


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

        if missing := _missing_core(mg):
            raise ImportError(f"microgradnp lacks {', '.join(missing)}")
        self.mg = mg

    def _need_nn(self) -> None:
        if missing := _missing_nn(self.mg):
            raise Unsupported(f"microgradnp lacks {', '.join(missing)} (not built yet)")

    def version(self) -> str:
        return getattr(self.mg, "__version__", "?")

    def trainer(self, p):
        self._need_nn()
        return _MgTrainer(self.mg, p)

    def inference(self, p):
        self._need_nn()
        mg = self.mg
        model, x = _model(mg, p), mg.from_numpy(p.x)

        def run():
            with mg.no_grad():
                return model(x).numpy()

        return run

    def hvp(self, p, v):
        self._need_nn()
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
