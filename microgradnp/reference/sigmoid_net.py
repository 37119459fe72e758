"""Network 1 of the article, done right: a 2-layer sigmoid network with a hand-derived backward.

Plain NumPy, no autograd. Weights use PyTorch's ``nn.Linear`` layout, ``W`` of shape
``(out_features, in_features)`` and ``z = x @ W.T + b``, so ``params`` map one to one onto
``nn.Sequential(Linear(I, H), Sigmoid(), Linear(H, O), Sigmoid())``. The article stores the
transpose (``w`` of shape ``(in, out)``, ``z = x @ w``); ``docs/article-errata.md`` gives every
formula in both layouts. The faulty original lives, reimplemented, in ``tests/article_faulty.py``.

Notation (all shapes written out):

    N  batch size          I  input features      H  hidden units       O  output units
    X  (N, I)   W1 (H, I)   b1 (H,)   W2 (O, H)   b2 (O,)   Y  (N, O), entries in [0, 1]

Forward:

    Z1 = X @ W1.T + b1      (N, I) @ (I, H) + (H,)  -> (N, H)
    A1 = sigmoid(Z1)                                 -> (N, H)
    Z2 = A1 @ W2.T + b2     (N, H) @ (H, O) + (O,)  -> (N, O)
    A2 = sigmoid(Z2)                                 -> (N, O)

The loss the article's output delta ``A2 - Y`` belongs to is binary cross-entropy (BCE) on
the sigmoid output, summed over the batch (the article never writes its loss down):

    L = s * sum_{n,k} l(A2[n,k], Y[n,k]),   l(a, y) = -(y log a + (1 - y) log(1 - a))

with ``s = 1`` for ``reduction="sum"`` (the article: its gradients are plain sums over the
batch) and ``s = 1 / (N * O)`` for ``reduction="mean"`` (PyTorch's ``BCELoss`` default). The
mean-squared-error variant is ``l(a, y) = (a - y)**2`` (PyTorch's ``MSELoss``, no 1/2).

Backward, one chain-rule step per line (``d`` means dL/d, ``*`` elementwise):

    sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)), so da/dz = a * (1 - a)

    BCE:  dl/da = (a - y) / (a (1 - a));  times da/dz = a (1 - a)  ->  dl/dz = a - y
          dZ2 = s * (A2 - Y)                                  (N, O)   "delta_output"
    MSE:  dl/da = 2 (a - y);              times da/dz           ->  dl/dz = 2 (a - y) a (1 - a)
          dZ2 = s * 2 * (A2 - Y) * A2 * (1 - A2)              (N, O)
          (with the textbook 1/2 (a - y)**2 the factor 2 goes: (a - y) a (1 - a))

    Z2 = A1 @ W2.T + b2  gives
    dW2 = dZ2.T @ A1            (O, N) @ (N, H) -> (O, H)    = W2.shape
    db2 = dZ2.sum(axis=0)                        -> (O,)      = b2.shape
    dA1 = dZ2 @ W2              (N, O) @ (O, H) -> (N, H)    (article layout: dZ2 @ w2.T)
    A1 = sigmoid(Z1) gives
    dZ1 = dA1 * A1 * (1 - A1)                    -> (N, H)    the HIDDEN layer's sigmoid'
    Z1 = X @ W1.T + b1 gives
    dW1 = dZ1.T @ X             (H, N) @ (N, I) -> (H, I)    = W1.shape
    db1 = dZ1.sum(axis=0)                        -> (H,)      = b1.shape

There is no third delta: the input ``X`` has no activation and is not a parameter. Were dL/dX
wanted, it would be ``dZ1 @ W1`` (N, I), with no sigmoid derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np

Params = dict[str, np.ndarray]
Cache = dict[str, np.ndarray]
LossKind = Literal["bce", "mse"]
Reduction = Literal["mean", "sum"]

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` without overflow for any input.

    Only ``exp(-|x|)``, which lies in ``(0, 1]``, is ever computed.

    Example:
        >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x)  (the same number, multiplied by e^x / e^x)
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def init_params(
    n_in: int,
    n_hidden: int,
    n_out: int,
    rng: np.random.Generator | None = None,
    dtype: type | np.dtype = np.float64,
) -> Params:
    """Parameters ``W1 (H, I), b1 (H,), W2 (O, H), b2 (O,)``, drawn as ``nn.Linear`` draws them.

    Every entry is uniform on ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``, PyTorch's default.

    Example:
        >>> p = init_params(4, 3, 2, rng=np.random.default_rng(0))
        >>> [p[k].shape for k in PARAM_NAMES]
        [(3, 4), (3,), (2, 3), (2,)]
    """
    for name, size in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
        if not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"init_params: {name} must be a positive int, got {size!r}")
    rng = np.random.default_rng() if rng is None else rng
    shapes = {"W1": (n_hidden, n_in), "b1": (n_hidden,), "W2": (n_out, n_hidden), "b2": (n_out,)}
    fan_in = {"W1": n_in, "b1": n_in, "W2": n_hidden, "b2": n_hidden}
    return {
        k: rng.uniform(-1.0, 1.0, size=shapes[k]).astype(dtype) / np.sqrt(fan_in[k])
        for k in PARAM_NAMES
    }


def check_inputs(
    params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray | None = None
) -> None:
    """Raise ``ValueError`` unless ``params``, ``X`` (and ``Y`` (N, O), if given) fit together."""
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; expected keys {list(PARAM_NAMES)}")
    W1, b1, W2, b2 = (np.shape(params[k]) for k in PARAM_NAMES)
    if len(W1) != 2 or len(W2) != 2 or b1 != (W1[0],) or W2[1] != W1[0] or b2 != (W2[0],):
        raise ValueError(
            "params do not form a 2-layer network: need W1 (H, I), b1 (H,), W2 (O, H), b2 (O,); "
            f"got W1 {W1}, b1 {b1}, W2 {W2}, b2 {b2}"
        )
    if np.ndim(X) != 2 or np.shape(X)[1] != W1[1]:
        raise ValueError(f"X must have shape (N, {W1[1]}) to match W1 {W1}; got {np.shape(X)}")
    if Y is not None and np.shape(Y) != (np.shape(X)[0], W2[0]):
        raise ValueError(
            f"Y must have shape (N, O) = {(np.shape(X)[0], W2[0])}, got {np.shape(Y)}; a label "
            "vector of shape (N,) would broadcast against (N, 1) into (N, N) - reshape it"
        )


def forward(params: Mapping[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Run the network; return the output ``A2`` (N, O) and the cache the backward pass reads.

    Example:
        >>> p = init_params(2, 3, 1, rng=np.random.default_rng(0))
        >>> A2, cache = forward(p, np.zeros((5, 2)))
        >>> A2.shape, sorted(cache)
        ((5, 1), ['A1', 'A2', 'Z1', 'Z2'])
    """
    check_inputs(params, X)
    Z1 = X @ params["W1"].T + params["b1"]  # (N, H)
    A1 = sigmoid(Z1)  # (N, H)
    Z2 = A1 @ params["W2"].T + params["b2"]  # (N, O)
    A2 = sigmoid(Z2)  # (N, O)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _scale(reduction: str, n_elements: int) -> float:
    if reduction == "sum":
        return 1.0
    if reduction == "mean":
        return 1.0 / n_elements
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def loss_from_cache(
    cache: Cache, Y: np.ndarray, kind: LossKind = "bce", reduction: Reduction = "mean"
) -> float:
    """The loss of an already computed forward pass (see :func:`loss`)."""
    Z2, A2 = cache["Z2"], cache["A2"]
    if np.shape(Y) != A2.shape:
        raise ValueError(f"Y has shape {np.shape(Y)}, the output has shape {A2.shape}")
    s = _scale(reduction, A2.size)
    if kind == "bce":
        # -(y log s(z) + (1-y) log(1-s(z))) = max(z, 0) - y z + log(1 + e^-|z|): from the logit
        # Z2, so log(0) is never evaluated even when A2 rounds to exactly 0 or 1.
        elementwise = np.maximum(Z2, 0) - Y * Z2 + np.log1p(np.exp(-np.abs(Z2)))
    elif kind == "mse":
        elementwise = (A2 - Y) ** 2
    else:
        raise ValueError(f"kind must be 'bce' or 'mse', got {kind!r}")
    return float(s * elementwise.sum())


def loss(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    kind: LossKind = "bce",
    reduction: Reduction = "mean",
) -> float:
    """Binary cross-entropy (``kind="bce"``) or squared error (``"mse"``) of the network on X, Y.

    Example:
        >>> p = {"W1": np.zeros((1, 1)), "b1": np.zeros(1), "W2": np.zeros((1, 1)),
        ...      "b2": np.zeros(1)}
        >>> round(loss(p, np.ones((1, 1)), np.ones((1, 1))), 6)  # output 0.5: -log 0.5
        0.693147
    """
    check_inputs(params, X, Y)
    _, cache = forward(params, X)
    return loss_from_cache(cache, Y, kind, reduction)


def backward(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    cache: Cache,
    kind: LossKind = "bce",
    reduction: Reduction = "mean",
) -> Params:
    """Gradients of :func:`loss` with respect to each parameter, from the forward ``cache``.

    The cache is used, not recomputed (the article recomputes the forward pass and ignores the
    output it is handed). Returns a dict with the keys and shapes of ``params``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = init_params(3, 4, 2, rng=rng)
        >>> X, Y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=(5, 2)).astype(float)
        >>> _, cache = forward(p, X)
        >>> g = backward(p, X, Y, cache)
        >>> all(g[k].shape == p[k].shape for k in PARAM_NAMES)
        True
    """
    check_inputs(params, X, Y)
    W2 = params["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    s = _scale(reduction, A2.size)
    if kind == "bce":
        dZ2 = s * (A2 - Y)  # (N, O): the sigmoid's a(1-a) cancels BCE's 1/(a(1-a))
    elif kind == "mse":
        dZ2 = s * 2.0 * (A2 - Y) * A2 * (1.0 - A2)  # (N, O): here a(1-a) does not cancel
    else:
        raise ValueError(f"kind must be 'bce' or 'mse', got {kind!r}")
    dW2 = dZ2.T @ A1  # (O, N) @ (N, H) -> (O, H)
    db2 = dZ2.sum(axis=0)  # (O,)
    dA1 = dZ2 @ W2  # (N, O) @ (O, H) -> (N, H)
    dZ1 = dA1 * A1 * (1.0 - A1)  # (N, H): sigmoid' of the hidden layer, at Z1
    dW1 = dZ1.T @ X  # (H, N) @ (N, I) -> (H, I)
    db1 = dZ1.sum(axis=0)  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def accuracy(A2: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of entries where ``A2 > 0.5`` agrees with the 0/1 target ``Y``."""
    return float(np.mean((A2 > 0.5) == (Y > 0.5)))


def train(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    epochs: int,
    lr: float,
    kind: LossKind = "bce",
    reduction: Reduction = "mean",
    callback: Callable[[int, float, float], None] | None = None,
) -> dict[str, list[float]]:
    """Full-batch gradient descent, updating ``params`` in place.

    Each epoch: forward, loss and accuracy (before the update), backward,
    ``p -= lr * grad`` for every parameter. ``callback(epoch, loss, accuracy)`` runs each epoch.
    Returns ``{"loss": [...], "accuracy": [...]}``, one entry per epoch.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        >>> Y = np.array([[0], [1], [1], [0]], dtype=float)  # XOR
        >>> p = init_params(2, 8, 1, rng=rng)
        >>> h = train(p, X, Y, epochs=3000, lr=2.0)
        >>> h["accuracy"][-1], h["loss"][-1] < 0.05
        (1.0, True)
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    check_inputs(params, X, Y)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for epoch in range(epochs):
        A2, cache = forward(params, X)
        value, acc = loss_from_cache(cache, Y, kind, reduction), accuracy(A2, Y)
        history["loss"].append(value)
        history["accuracy"].append(acc)
        grads = backward(params, X, Y, cache, kind, reduction)
        for k in PARAM_NAMES:
            params[k] -= lr * grads[k]
        if callback is not None:
            callback(epoch, value, acc)
    return history
