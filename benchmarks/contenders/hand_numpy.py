"""Hand-written NumPy: the floor every framework is measured against.

Written for speed, as a careful programmer would: float32 throughout, every activation and
gradient buffer allocated once, ``out=`` on every array operation, the softmax-cross-entropy
gradient fused into ``(p - onehot) / N``, and the SGD update done in place.

Derivatives (rows are samples, weights in PyTorch's ``(out, in)`` layout)::

    z_l = h_{l-1} W_l^T + b_l,   h_l = act(z_l),   p = softmax(z_L),   L = mean(-log p[y])
    dL/dz_L = (p - onehot(y)) / N
    dL/dW_l = (dL/dz_l)^T h_{l-1},   dL/db_l = sum_rows dL/dz_l,   dL/dh_{l-1} = dL/dz_l W_l
    sigmoid: dL/dz = dL/dh * h * (1 - h)        relu: dL/dz = dL/dh * [h > 0]

Example::

    >>> from benchmarks.problems import make_mlp
    >>> t = HandNumpy().trainer(make_mlp((4, 2, 8, 2)))
    >>> round(t.step(), 4) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.contenders.base import Contender, MLPProblem, Trainer

# Below this many elements per activation, 1 / (1 + exp(-z)) (fewer calls) beats the
# tanh form 0.5 * tanh(z / 2) + 0.5, which is faster on large arrays and never overflows.
_EXP_SIGMOID_MAX = 4096


class HandTrainer(Trainer):
    """Preallocated forward/backward/SGD for an MLP of any depth (sigmoid or ReLU)."""

    def __init__(self, p: MLPProblem):
        self.x, self.y = p.x, p.y
        dt = p.x.dtype
        n = p.x.shape[0]
        self.W = [w.copy() for w, _ in p.layers]
        self.b = [b.copy() for _, b in p.layers]
        self.gW = [np.empty_like(w) for w in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        widths = [w.shape[0] for w in self.W]
        self.z = [np.empty((n, w), dt) for w in widths]  # activations; the last holds logits
        self.d = [np.empty((n, w), dt) for w in widths[:-1]]  # dL/dh of each hidden layer
        c = widths[-1]
        self.flat = np.arange(n) * c + p.y  # flat index of each row's label in the logits
        self.z_flat = self.z[-1].reshape(-1)  # a view: the logits buffer, flattened
        self.zy = np.empty(n, dt)
        self.m = np.empty((n, 1), dt)
        self.s = np.empty((n, 1), dt)
        self.log_s = np.empty((n, 1), dt)
        self.n = n
        self.lr = dt.type(p.lr)
        self.relu = p.act == "relu"
        self.exp_sigmoid = max(n * w for w in widths) <= _EXP_SIGMOID_MAX

    def forward(self) -> np.ndarray:
        """Logits of ``x``, left in the last activation buffer."""
        h = self.x
        last = len(self.W) - 1
        for i, (W, b, z) in enumerate(zip(self.W, self.b, self.z, strict=True)):
            np.matmul(h, W.T, out=z)
            np.add(z, b, out=z)
            if i < last:
                if self.relu:
                    np.maximum(z, 0, out=z)
                elif self.exp_sigmoid:
                    np.negative(z, out=z)
                    np.exp(z, out=z)
                    np.add(z, 1, out=z)
                    np.reciprocal(z, out=z)
                else:
                    np.multiply(z, 0.5, out=z)
                    np.tanh(z, out=z)
                    np.multiply(z, 0.5, out=z)
                    np.add(z, 0.5, out=z)
            h = z
        return h

    def loss_and_grads(self) -> float:
        """Forward, fused softmax-cross-entropy, backward into ``gW``/``gb``."""
        z = self.forward()
        m, s = self.m, self.s
        # (ufunc.reduce and take: the same work as np.max/np.sum/fancy indexing, less overhead)
        np.maximum.reduce(z, axis=1, keepdims=True, out=m)
        np.subtract(z, m, out=z)  # shifted logits: exp cannot overflow
        self.z_flat.take(self.flat, out=self.zy)
        np.exp(z, out=z)
        np.add.reduce(z, axis=1, keepdims=True, out=s)
        np.log(s, out=self.log_s)
        loss = float(np.add.reduce(self.log_s, axis=None) - np.add.reduce(self.zy)) / self.n
        np.multiply(s, self.n, out=s)
        np.divide(z, s, out=z)  # p / N
        self.z_flat[self.flat] -= 1.0 / self.n  # (p - onehot) / N
        g = z
        for i in range(len(self.W) - 1, -1, -1):
            h_in = self.x if i == 0 else self.z[i - 1]
            np.matmul(g.T, h_in, out=self.gW[i])
            np.add.reduce(g, axis=0, out=self.gb[i])
            if i == 0:
                break
            d = self.d[i - 1]
            np.matmul(g, self.W[i], out=d)  # dL/dh; h_in is free to overwrite from here on
            if self.relu:
                np.sign(h_in, out=h_in)  # h >= 0, so sign(h) = [h > 0]
                np.multiply(d, h_in, out=d)
            else:
                np.multiply(d, h_in, out=d)
                np.subtract(1, h_in, out=h_in)
                np.multiply(d, h_in, out=d)  # dL/dh * h * (1 - h)
            g = d
        return loss

    def step(self) -> float:
        loss = self.loss_and_grads()
        # SGD in place; the gradient buffers are scaled by lr on the way (no scratch array)
        for W, b, gW, gb in zip(self.W, self.b, self.gW, self.gb, strict=True):
            np.multiply(gW, self.lr, out=gW)
            np.subtract(W, gW, out=W)
            np.multiply(gb, self.lr, out=gb)
            np.subtract(b, gb, out=b)
        return loss

    def grads(self) -> list[np.ndarray]:
        # undo the in-place lr scaling done by step()
        return [a / self.lr for gw, gb in zip(self.gW, self.gb, strict=True) for a in (gw, gb)]

    def params(self) -> list[np.ndarray]:
        return [a.copy() for wb in zip(self.W, self.b, strict=True) for a in wb]


def hvp_two_layer(x, y, W1, b1, W2, b2, V1, c1, V2, c2) -> list[np.ndarray]:
    """Hessian-vector product of the two-layer sigmoid MLP's mean cross-entropy.

    Pearlmutter's R-operator: R{f} is the derivative of f along the direction
    v = (V1, c1, V2, c2); applied to the gradient it gives H v::

        Rz1 = x V1^T + c1            Rh = s Rz1, s = h (1 - h)
        Rz2 = Rh W2^T + h V2^T + c2  Rp = p (Rz2 - sum_c p Rz2),   Rg2 = Rp / N
        RgW2 = Rg2^T h + g2^T Rh     Rgh = Rg2 W2 + g2 V2
        Rgz1 = Rgh s + gh (1 - 2h) Rh,   RgW1 = Rgz1^T x,   Rgb = column sums
    """
    n = x.shape[0]
    z1 = x @ W1.T + b1
    h = 0.5 * np.tanh(0.5 * z1) + 0.5
    z2 = h @ W2.T + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g2 = p.copy()
    g2[np.arange(n), y] -= 1
    g2 /= n  # (p - onehot) / N
    gh = g2 @ W2
    s = h * (1 - h)
    Rz1 = x @ V1.T + c1
    Rh = s * Rz1
    Rz2 = Rh @ W2.T + h @ V2.T + c2
    Rg2 = p * (Rz2 - (p * Rz2).sum(axis=1, keepdims=True)) / n
    RgW2 = Rg2.T @ h + g2.T @ Rh
    Rgh = Rg2 @ W2 + g2 @ V2
    Rgz1 = Rgh * s + gh * (1 - 2 * h) * Rh
    return [Rgz1.T @ x, Rgz1.sum(axis=0), RgW2, Rg2.sum(axis=0)]


def _op_backward(op: str, a: np.ndarray, b: np.ndarray):
    """Forward of ``op`` and the gradients of ``op(a, b).sum()``, by hand."""
    if op == "add":
        y = a + b
        g = np.ones(y.shape, y.dtype)
        return g, g
    if op == "mul":
        y = a * b
        g = np.ones(y.shape, y.dtype)
        return g * b, g * a
    if op == "matmul":
        y = a @ b
        g = np.ones(y.shape, y.dtype)
        return g @ b.T, a.T @ g
    if op == "sum":
        a.sum()
        return (np.ones(a.shape, a.dtype),)
    if op == "getitem":
        y = a[1:3]
        ga = np.zeros_like(a)
        ga[1:3] = np.ones(y.shape, y.dtype)
        return (ga,)
    raise ValueError(f"unknown op {op!r}")


_OP_FORWARD: dict[str, Callable] = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b,
    "sum": lambda a, b: a.sum(),
    "getitem": lambda a, b: a[1:3],
}


class HandNumpy(Contender):
    """The floor: hand-written NumPy."""

    name = "NumPy (hand)"
    key = "numpy"

    def version(self) -> str:
        return np.__version__

    def trainer(self, p: MLPProblem) -> HandTrainer:
        return HandTrainer(p)

    def inference(self, p: MLPProblem):
        t = HandTrainer(p)
        return t.forward

    def hvp(self, p: MLPProblem, v):
        if len(p.layers) != 2 or p.act != "sigmoid":
            raise ValueError("the hand-written HVP covers the two-layer sigmoid MLP")
        (W1, b1), (W2, b2) = p.layers
        return lambda: hvp_two_layer(p.x, p.y, W1, b1, W2, b2, *v)

    def op_forward(self, op, a, b):
        f = _OP_FORWARD[op]
        return lambda: f(a, b)

    def op_backward(self, op, a, b):
        return lambda: _op_backward(op, a, b)

    def op_grads(self, op, a, b):
        return list(_op_backward(op, a, b))

    def chain(self, n, x, c):
        c = x.dtype.type(c)

        def build():
            y = x.copy()
            for _ in range(n):
                np.multiply(y, c, out=y)
            return y

        def backward(_root):
            g = np.ones_like(x)
            for _ in range(n):
                np.multiply(g, c, out=g)
            return g

        return build, backward
