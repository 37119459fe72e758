"""tinygrad on its CPU backend: lazy tensors compiled to C kernels by clang.

Two contenders: ``tinygrad`` (eager: every step builds, schedules and runs its graph; kernels
stay cached in memory) and ``tinygrad JIT`` (the step wrapped in ``TinyJit``, which replays
the captured kernels). The JIT's first calls (kernel compilation and capture) are reported
separately as its cold time. ``DEV=CPU``, ``NUM_CPU_THREADS`` and ``CACHELEVEL=0`` (no
on-disk kernel cache, so a cold start is cold) are set before tinygrad is imported, unless
already set. Needs ``clang`` (or ``$CC``) on the PATH.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

from benchmarks.contenders.base import Contender, MLPProblem, Trainer, Unsupported


def _import():
    os.environ.setdefault("DEV", "CPU")
    os.environ.setdefault("CACHELEVEL", "0")
    if shutil.which(os.environ.get("CC", "clang")) is None:
        raise ImportError("tinygrad's CPU backend needs clang (apt-get install clang)")
    import tinygrad
    from tinygrad.nn.optim import SGD

    return tinygrad, SGD


def _model(T, p: MLPProblem):
    ps = [T(np.ascontiguousarray(a)) for wb in p.layers for a in wb]

    def forward(x):
        n_layers = len(ps) // 2
        for i in range(n_layers):
            x = x.linear(ps[2 * i].T, ps[2 * i + 1])
            if i < n_layers - 1:
                x = x.sigmoid() if p.act == "sigmoid" else x.relu()
        return x

    return ps, forward


class _TinygradTrainer(Trainer):
    def __init__(self, tg, SGD, p: MLPProblem, jit: bool):
        T = tg.Tensor
        self.tg = tg
        self.ps, self.forward = _model(T, p)
        self.opt = SGD(self.ps, lr=p.lr)
        self.x, self.y = T(p.x), T(p.y.astype(np.int32))
        self.run = tg.TinyJit(self._step) if jit else self._step
        self.jit = jit
        self.want_grads = False

    def keep_grads(self):
        self.want_grads = not self.jit  # the JIT's gradients stay inside its kernels

    def _step(self):
        with self.tg.Context(TRAINING=1):
            self.opt.zero_grad()
            loss = self.forward(self.x).sparse_categorical_crossentropy(self.y)
            loss.backward()
            # one schedule for loss and update: realized after the update, the lazy loss
            # (and gradients) would be recomputed from the updated weights
            extra = [q.grad for q in self.ps] if self.want_grads else []
            self.tg.Tensor.realize(loss, *extra, *self.opt.schedule_step())
        return loss

    def step(self) -> float:
        return self.run().item()

    def prepare(self) -> dict:
        if not self.jit:
            return super().prepare()
        times = []
        for _ in range(3):  # call 1 runs eagerly, call 2 captures, call 3 replays
            t0 = time.perf_counter()
            self.step()
            times.append(time.perf_counter() - t0)
        return {"jit_first_calls_s": times}

    def grads(self):
        if not self.want_grads:
            raise Unsupported("gradients stay inside the JIT")
        return [q.grad.numpy() for q in self.ps]

    def params(self):
        return [q.numpy() for q in self.ps]


class Tinygrad(Contender):
    name = "tinygrad"
    key = "tinygrad"
    memory_probe = "none"
    jit = False

    def __init__(self):
        self.tg, self.SGD = _import()

    def version(self) -> str:
        from importlib.metadata import version

        return f"{version('tinygrad')} (DEV={os.environ.get('DEV')})"

    def trainer(self, p):
        return _TinygradTrainer(self.tg, self.SGD, p, self.jit)

    def inference(self, p):
        ps, forward = _model(self.tg.Tensor, p)
        x = self.tg.Tensor(p.x)

        def run():
            return forward(x).realize()

        compiled = self.tg.TinyJit(run) if self.jit else run
        return lambda: compiled().numpy()

    def hvp(self, p, v):
        if self.jit:
            raise Unsupported("timed without JIT only (see tinygrad)")
        T = self.tg.Tensor
        ps, forward = _model(T, p)
        x, y = T(p.x), T(p.y.astype(np.int32))
        vs = [T(a) for a in v]

        def run():
            loss = forward(x).sparse_categorical_crossentropy(y)
            gs = loss.gradient(*ps)
            dot = sum((g * vi).sum() for g, vi in zip(gs, vs, strict=True))
            return [h.numpy() for h in dot.gradient(*ps)]

        return run

    def op_forward(self, op, a, b):
        raise Unsupported("lazy: an op does no work until realized; see op+backward")

    def op_backward(self, op, a, b):
        if self.jit:
            raise Unsupported("timed without JIT only (see tinygrad)")
        T = self.tg.Tensor
        ta, tb = T(a), T(b)
        f = {
            "add": lambda: ta + tb,
            "mul": lambda: ta * tb,
            "matmul": lambda: ta @ tb,
            "sum": lambda: ta.sum(),
            "getitem": lambda: ta[1:3],
        }[op]
        uses_b = op in ("add", "mul", "matmul")

        def run():
            ta.grad = tb.grad = None
            f().sum().backward()
            T.realize(ta.grad, tb.grad) if uses_b else ta.grad.realize()
            return (ta.grad, tb.grad) if uses_b else (ta.grad,)

        return run

    def op_grads(self, op, a, b):
        return [g.numpy() for g in self.op_backward(op, a, b)()]

    def chain(self, n, x, c):
        raise Unsupported("lazy graph compiler: a long chain is fused into one kernel")


class TinygradJit(Tinygrad):
    name = "tinygrad JIT"
    key = "tinygrad-jit"
    jit = True

    def op_forward(self, op, a, b):
        raise Unsupported("timed without JIT only (see tinygrad)")
