"""Gradients of a model's output with respect to its input, leaving the model as it was.

The one capability that `explain` (attributions) and `adversarial` (attacks) share: run a
model in eval mode with its parameters frozen, differentiate a score with respect to the
input only, and afterwards restore every module's train/eval mode and every parameter's
`requires_grad` flag. Parameters never receive a `.grad`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .autograd import enable_grad, grad
from .nn.module import Module
from .tensor import Tensor


@contextmanager
def frozen_eval(model: Module) -> Iterator[Module]:
    """Run `model` in eval mode with frozen parameters; restore both on exit."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be an mg.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad = False
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad = flag


def as_array(x: Any, name: str = "x") -> np.ndarray:
    """`x` (Tensor or array-like) as a floating ndarray with a batch axis."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must hold floating-point values, got dtype {a.dtype}")
    if a.ndim < 2:
        raise ValueError(f"{name} must be a batch of shape (N, ...), got shape {a.shape}")
    return a


def as_targets(target: Any, n: int) -> np.ndarray:
    """An int or one int per sample, as an int64 array of shape (n,)."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"target must be an int or integer array, got dtype {t.dtype}")
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,):
        raise ValueError(f"target must be an int or have shape ({n},), got shape {t.shape}")
    return t.astype(np.int64)


def logits_of(model: Module, x: Tensor, n: int) -> Tensor:
    """`model(x)` checked to be a batch of scores of shape (n, classes)."""
    out = model(x)
    if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != n:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"model must return scores of shape ({n}, classes), got {shape}")
    return out


def input_grad(
    score_fn: Callable[[Tensor], Tensor], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`(score_fn(x) per sample, d sum(score) / dx)`: score_fn maps a batch to shape (N,).

    Samples are independent in eval mode, so the gradient of the summed score is each
    sample's own gradient.
    """
    leaf = Tensor(x.copy(), requires_grad=True)
    with enable_grad():
        score = score_fn(leaf)
        (g,) = grad(score.sum(), [leaf])
    assert g is not None
    return score.data.copy(), g.data


def target_score(model: Module, targets: np.ndarray) -> Callable[[Tensor], Tensor]:
    """The score function 'logit of each sample's target class'."""
    rows = np.arange(len(targets))

    def score(x: Tensor) -> Tensor:
        out = logits_of(model, x, len(targets))
        if targets.max(initial=0) >= out.shape[1] or targets.min(initial=0) < 0:
            raise ValueError(f"target classes must lie in [0, {out.shape[1]}), got {targets}")
        return out[rows, targets]

    return score
