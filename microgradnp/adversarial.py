"""Adversarial examples: small input changes that raise a model's loss.

`fgsm` (one signed-gradient step, Goodfellow et al., 2015) and `pgd` (projected gradient
descent, Madry et al., 2018, in the L-infinity or L2 ball), untargeted or targeted. The model
runs in eval mode with frozen parameters and is left as it was: same modes, same
`requires_grad` flags, no `.grad` on parameters. `examples/adversarial_mnist.py` uses them for
adversarial training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._inputgrad import as_array, frozen_eval, input_grad, logits_of
from .nn.module import Module
from .tensor import Tensor

__all__ = ["fgsm", "pgd"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _loss_grad(model: Module, loss_fn: LossFn, x: np.ndarray, y: Tensor) -> np.ndarray:
    """d loss(model(x), y) / dx."""

    def loss(inp: Tensor) -> Tensor:
        value = loss_fn(logits_of(model, inp, len(x)), y)
        if value.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {value.shape}")
        return value.reshape(1)

    return input_grad(loss, x)[1]


def _check(x: Any, y: Any, eps: float, clamp: tuple[float, float] | None) -> tuple:
    xs = as_array(x)
    labels = Tensor(np.asarray(y.data if isinstance(y, Tensor) else y))
    if labels.shape[:1] != xs.shape[:1]:
        raise ValueError(f"y must have one entry per sample ({len(xs)}), got shape {labels.shape}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if clamp is not None and not clamp[0] < clamp[1]:
        raise ValueError(f"clamp must be (low, high) with low < high, got {clamp}")
    return xs, labels


def _like(x: Any, adv: np.ndarray) -> Any:
    return Tensor(adv) if isinstance(x, Tensor) else adv


def fgsm(
    model: Module,
    loss_fn: LossFn,
    x: Any,
    y: Any,
    eps: float,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    targeted: bool = False,
) -> Any:
    """Fast gradient sign method: x + eps * sign(d loss / dx), clipped to `clamp`.

    Args:
        loss_fn: maps (logits, y) to a scalar loss, e.g. `mg.nn.CrossEntropyLoss()`.
        y: the true labels, or with `targeted=True` the labels to push towards (the step then
            descends the loss: x - eps * sign(d loss / dx)).
        clamp: the valid input range, or None for no clipping.

    Returns:
        The adversarial batch, a Tensor if `x` is one, else an ndarray.

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(2, 2, bias=False)
        >>> model.weight.data[:] = [[1.0, -1.0], [-1.0, 1.0]]
        >>> x = np.array([[0.5, 0.5]], np.float32)
        >>> adv = fgsm(model, mg.nn.CrossEntropyLoss(), x, np.array([0]), eps=0.1)
        >>> adv.astype(np.float64).round(6).tolist()
        [[0.4, 0.6]]
    """
    xs, labels = _check(x, y, eps, clamp)
    with frozen_eval(model):
        g = _loss_grad(model, loss_fn, xs, labels)
    adv = xs - eps * np.sign(g) if targeted else xs + eps * np.sign(g)
    if clamp is not None:
        adv = np.clip(adv, *clamp)
    return _like(x, adv.astype(xs.dtype))


def _l2(v: np.ndarray) -> np.ndarray:
    """Per-sample L2 norms with the batch's other dims kept as size 1, for broadcasting."""
    return np.sqrt((v.reshape(len(v), -1) ** 2).sum(axis=1)).reshape(-1, *[1] * (v.ndim - 1))


def pgd(
    model: Module,
    loss_fn: LossFn,
    x: Any,
    y: Any,
    eps: float,
    alpha: float,
    steps: int,
    norm: str = "inf",
    random_start: bool = True,
    seed: int | None = None,
    targeted: bool = False,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> Any:
    """Projected gradient descent in the `norm` ball of radius `eps` around `x`.

    Each step moves by `alpha` along sign(grad) (norm 'inf') or grad / ||grad||_2 (norm '2'),
    per sample, up the loss (or down it with `targeted=True`), then projects back onto the
    eps-ball and clips to `clamp`; clipping only shrinks the perturbation, so every iterate
    lies in both. A random start draws uniformly from the ball.

    Args:
        callback: called as `callback(step, x_adv)` after the start (step 0) and after
            every step, with the iterate as an ndarray.

    Returns:
        The last iterate, a Tensor if `x` is one, else an ndarray.

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(2, 2, bias=False)
        >>> model.weight.data[:] = [[1.0, -1.0], [-1.0, 1.0]]
        >>> x = np.array([[0.5, 0.5]], np.float32)
        >>> adv = pgd(model, mg.nn.CrossEntropyLoss(), x, np.array([0]), eps=0.1, alpha=0.05,
        ...           steps=5, seed=0)
        >>> adv.astype(np.float64).round(6).tolist()
        [[0.4, 0.6]]
    """
    xs, labels = _check(x, y, eps, clamp)
    if norm not in ("inf", "2"):
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
    if steps < 0 or alpha <= 0:
        raise ValueError(f"pgd needs steps >= 0 and alpha > 0, got steps={steps}, alpha={alpha}")
    rng = np.random.default_rng(seed)
    x64 = xs.astype(np.float64)

    def project(adv: np.ndarray) -> np.ndarray:
        delta = adv - x64
        if norm == "inf":
            delta = np.clip(delta, -eps, eps)
        else:
            delta = delta * np.minimum(1.0, eps / np.maximum(_l2(delta), 1e-12))
        adv = x64 + delta
        return adv if clamp is None else np.clip(adv, *clamp)

    adv = x64.copy()
    if random_start and norm == "inf":
        adv = adv + rng.uniform(-eps, eps, size=xs.shape)
    elif random_start:
        # uniform in the L2 ball: a Gaussian direction, a radius eps * u^(1/d)
        direction = rng.standard_normal(xs.shape)
        radius = eps * rng.uniform(size=(len(xs),)) ** (1.0 / xs[0].size)
        adv = adv + direction / np.maximum(_l2(direction), 1e-12) * radius.reshape(_l2(xs).shape)
    adv = project(adv)
    if callback is not None:
        callback(0, adv.astype(xs.dtype))
    sign = -1.0 if targeted else 1.0
    with frozen_eval(model):
        for step in range(1, steps + 1):
            g = _loss_grad(model, loss_fn, adv.astype(xs.dtype), labels).astype(np.float64)
            move = np.sign(g) if norm == "inf" else g / np.maximum(_l2(g), 1e-12)
            adv = project(adv + sign * alpha * move)
            if callback is not None:
                callback(step, adv.astype(xs.dtype))
    return _like(x, adv.astype(xs.dtype))
