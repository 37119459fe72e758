"""Network 2 of the article, done right: sigmoid hidden layer, softmax output, cross-entropy.

Plain NumPy with a hand-derived backward and a gradient-descent loop that runs. Same layout
and parameters as network 1 (``sigmoid_net``; PyTorch's ``nn.Linear`` layout, ``W`` is
``(out, in)``), so ``params`` map onto ``nn.Sequential(Linear(I, H), Sigmoid(), Linear(H, O))``
followed by ``CrossEntropyLoss`` on the logits.

    N  batch size      I  input features      H  hidden units      O  classes
    X  (N, I)   W1 (H, I)   b1 (H,)   W2 (O, H)   b2 (O,)
    targets: class indices t (N,) in [0, O), or class probabilities T (N, O)

Forward:

    Z1 = X @ W1.T + b1             (N, H)
    A1 = sigmoid(Z1)               (N, H)
    Z2 = A1 @ W2.T + b2            (N, O)    logits
    P  = softmax(Z2, per row)      (N, O)    P[n, k] = exp(Z2[n, k]) / sum_j exp(Z2[n, j])

Loss (indices become the one-hot T first):

    L = -s * sum_{n,k} T[n, k] * log P[n, k],     s = 1/N ("mean", PyTorch) or 1 ("sum", article)

    log P is computed as log_softmax(Z2) = Z2 - m - log(sum_j exp(Z2[:, j] - m)), m the row's
    max, so neither exp overflows nor log(0) occurs, however confident the network is.

Backward:

    d log P[n, k] / d Z2[n, j] = [k == j] - P[n, j], so
    dZ2[n, j] = -s * sum_k T[n, k] ([k == j] - P[n, j]) = s * (P[n, j] * sum_k T[n, k] - T[n, j])
    dZ2 = s * (P - T)                         (N, O)   when each row of T sums to 1 (one-hot)
    dW2 = dZ2.T @ A1      (O, N) @ (N, H) -> (O, H)    the HIDDEN activations, not X
    db2 = dZ2.sum(axis=0)                 -> (O,)
    dA1 = dZ2 @ W2        (N, O) @ (O, H) -> (N, H)    (article layout: dZ2 @ w2.T)
    dZ1 = dA1 * A1 * (1 - A1)             -> (N, H)    sigmoid' at Z1, the hidden layer's
    dW1 = dZ1.T @ X       (H, N) @ (N, I) -> (H, I)
    db1 = dZ1.sum(axis=0)                 -> (H,)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np

from .sigmoid_net import (
    PARAM_NAMES,
    Cache,
    Params,
    check_inputs,
    init_params,
    sigmoid,
)

Reduction = Literal["mean", "sum"]

__all__ = [
    "accuracy",
    "backward",
    "cross_entropy",
    "forward",
    "init_params",
    "log_softmax",
    "loss",
    "loss_from_cache",
    "one_hot",
    "softmax",
    "train",
]


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the maximum of each row (not of the whole array).

    Example:
        >>> softmax(np.array([[0.0, 1000.0], [-1000.0, -999.0]])).round(4).tolist()
        [[0.0, 1.0], [0.2689, 0.7311]]
    """
    z = np.asarray(z)
    # softmax(z) = softmax(z - c) for any c constant along the row; c = the row's max makes the
    # largest exponent exp(0) = 1, so nothing overflows and the denominator is >= 1.
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(z))`` computed without forming ``softmax`` (finite for finite ``z``).

    Example:
        >>> log_softmax(np.array([[0.0, 800.0]])).tolist()  # log(softmax) would give -inf
        [[-800.0, 0.0]]
    """
    z = np.asarray(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def one_hot(
    labels: np.ndarray, num_classes: int, dtype: type | np.dtype = np.float64
) -> np.ndarray:
    """``(N,)`` integer class indices -> ``(N, num_classes)`` one-hot rows.

    Example:
        >>> one_hot(np.array([2, 0]), 3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def _targets(target: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """Class indices (N,) or probabilities (N, O) -> (N, O) float targets."""
    target = np.asarray(target)
    if target.shape == (n,) and np.issubdtype(target.dtype, np.integer):
        return one_hot(target, n_classes)
    if target.shape == (n, n_classes) and np.issubdtype(target.dtype, np.floating):
        return target
    raise ValueError(
        f"target must be integer class indices of shape ({n},) or float "
        f"probabilities of shape ({n}, {n_classes}); got {target.dtype} "
        f"{target.shape}"
    )


def _scale(reduction: str, n: int) -> float:
    if reduction == "sum":
        return 1.0
    if reduction == "mean":
        return 1.0 / n
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def cross_entropy(logits: np.ndarray, target: np.ndarray, reduction: Reduction = "mean") -> float:
    """Cross-entropy of softmax(logits) against class indices or probabilities, as PyTorch's.

    Example:
        >>> z = np.array([[0.0, 800.0], [0.0, 0.0]])
        >>> round(cross_entropy(z, np.array([1, 0])), 6)  # (0 + log 2) / 2, no log(0) -> nan
        0.346574
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, O), got {logits.shape}")
    n, n_classes = logits.shape
    T = _targets(target, n, n_classes)
    return float(-_scale(reduction, n) * (T * log_softmax(logits)).sum())


def forward(params: Mapping[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Class probabilities ``P`` (N, O) and the cache (``Z1, A1, Z2, P``) for the backward.

    Example:
        >>> p = init_params(4, 5, 3, rng=np.random.default_rng(0))
        >>> P, cache = forward(p, np.ones((2, 4)))
        >>> P.shape, np.allclose(P.sum(axis=1), 1.0)
        ((2, 3), True)
    """
    check_inputs(params, X)
    Z1 = X @ params["W1"].T + params["b1"]  # (N, H)
    A1 = sigmoid(Z1)  # (N, H)
    Z2 = A1 @ params["W2"].T + params["b2"]  # (N, O)
    P = softmax(Z2)  # (N, O)
    return P, {"Z1": Z1, "A1": A1, "Z2": Z2, "P": P}


def loss_from_cache(cache: Cache, target: np.ndarray, reduction: Reduction = "mean") -> float:
    """The cross-entropy of an already computed forward pass."""
    return cross_entropy(cache["Z2"], target, reduction)


def loss(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    target: np.ndarray,
    reduction: Reduction = "mean",
) -> float:
    """Cross-entropy of the network's prediction on ``X`` against ``target``."""
    _, cache = forward(params, X)
    return loss_from_cache(cache, target, reduction)


def backward(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    target: np.ndarray,
    cache: Cache,
    reduction: Reduction = "mean",
) -> Params:
    """Gradients of :func:`loss` with respect to ``W1, b1, W2, b2``, from the forward cache.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = init_params(4, 5, 3, rng=rng)
        >>> X, t = rng.normal(size=(6, 4)), np.array([0, 1, 2, 2, 1, 0])
        >>> g = backward(p, X, t, forward(p, X)[1])
        >>> [g[k].shape for k in PARAM_NAMES]
        [(5, 4), (5,), (3, 5), (3,)]
    """
    check_inputs(params, X)
    A1, P = cache["A1"], cache["P"]
    n, n_classes = P.shape
    T = _targets(target, n, n_classes)
    # s * (P * sum_k T - T); equals s * (P - T) for one-hot rows (see the module docstring)
    dZ2 = _scale(reduction, n) * (P * T.sum(axis=1, keepdims=True) - T)  # (N, O)
    dW2 = dZ2.T @ A1  # (O, N) @ (N, H) -> (O, H)
    db2 = dZ2.sum(axis=0)  # (O,)
    dA1 = dZ2 @ params["W2"]  # (N, O) @ (O, H) -> (N, H)
    dZ1 = dA1 * A1 * (1.0 - A1)  # (N, H)
    dW1 = dZ1.T @ X  # (H, N) @ (N, I) -> (H, I)
    db1 = dZ1.sum(axis=0)  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def accuracy(P: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals the target (indices or probabilities)."""
    target = np.asarray(target)
    labels = target if target.ndim == 1 else target.argmax(axis=1)
    return float(np.mean(P.argmax(axis=1) == labels))


def train(
    params: Params,
    X: np.ndarray,
    target: np.ndarray,
    epochs: int,
    lr: float,
    reduction: Reduction = "mean",
    batch_size: int | None = None,
    rng: np.random.Generator | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> dict[str, list[float]]:
    """Gradient descent on the cross-entropy, updating ``params`` in place.

    ``batch_size=None`` is full-batch gradient descent; an int makes it mini-batch SGD over a
    fresh permutation (from ``rng``) each epoch. An epoch's loss and accuracy are those of its
    batches before their updates, averaged over the samples. ``callback(epoch, loss,
    accuracy)`` runs after each epoch. Returns ``{"loss": [...], "accuracy": [...]}``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 2)) + np.repeat([[0, 4], [4, 0], [-4, 0]], 20, axis=0)
        >>> t = np.repeat([0, 1, 2], 20)
        >>> p = init_params(2, 6, 3, rng=rng)
        >>> h = train(p, X, t, epochs=200, lr=1.0)
        >>> h["accuracy"][-1] > 0.95, h["loss"][-1] < h["loss"][0]
        (True, True)
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    check_inputs(params, X)
    n = np.shape(X)[0]
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    rng = np.random.default_rng() if rng is None else rng
    target = np.asarray(target)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for epoch in range(epochs):
        order = np.arange(n) if batch_size is None else rng.permutation(n)
        step = n if batch_size is None else batch_size
        total_loss = total_correct = 0.0
        for start in range(0, n, step):
            rows = order[start : start + step]
            Xb, tb = X[rows], target[rows]
            P, cache = forward(params, Xb)
            value = loss_from_cache(cache, tb, reduction)
            # back to a per-sample sum, so the epoch figure does not depend on the reduction
            total_loss += value * (len(rows) if reduction == "mean" else 1.0)
            total_correct += accuracy(P, tb) * len(rows)
            grads = backward(params, Xb, tb, cache, reduction)
            for k in PARAM_NAMES:
                params[k] -= lr * grads[k]
        history["loss"].append(total_loss / n if reduction == "mean" else total_loss)
        history["accuracy"].append(total_correct / n)
        if callback is not None:
            callback(epoch, history["loss"][-1], history["accuracy"][-1])
    return history
