"""Adagrad (Duchi et al.): per-coordinate steps shrinking with the sum of squared gradients.

`adagrad_update` is the pure kernel (arrays in, updated in place); `Adagrad` is the thin
`Optimizer` around it. Same update rule as `torch.optim.Adagrad`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, check_nonnegative, decayed_grad


def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    step: int,
    *,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None:
    """One Adagrad step (step = t, counted from 1) on `param` and `state_sum`, in place.

    Math (g = ∇ or -∇ when maximizing, λ weight decay):
        g = g + λ θ
        η = lr / (1 + (t - 1) lr_decay)
        S = S + g²
        θ = θ - η g / (√S + ε)

    Example:
        >>> p, s = np.array([1.0]), np.zeros(1)
        >>> adagrad_update(p, np.array([4.0]), s, 1, lr=0.1, eps=0.0)
        >>> p.tolist(), s.tolist()
        ([0.9], [16.0])
    """
    if weight_decay != 0 or maximize:
        grad = decayed_grad(param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    scratch = np.multiply(grad, grad)
    state_sum += scratch
    std = np.sqrt(state_sum, out=scratch)
    std += eps
    param -= np.multiply(np.divide(grad, std, out=std), clr, out=std)


class Adagrad(Optimizer):
    """Adagrad, as `torch.optim.Adagrad`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr: learning rate.
        lr_decay: the step size is lr / (1 + (t - 1) lr_decay).
        weight_decay: L2 penalty.
        initial_accumulator_value: starting value of the sum of squares.
        eps: added to the denominator.
        maximize: ascend instead.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0, 1.0], requires_grad=True)
        >>> w.grad = mg.tensor([2.0, -0.5])
        >>> mg.optim.Adagrad([w], lr=0.1).step()   # the first step is lr · sign(g)
        >>> [round(v, 6) for v in w.tolist()]
        [0.9, 1.1]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, options: dict[str, Any]) -> None:
        check_nonnegative(
            lr=options["lr"],
            lr_decay=options["lr_decay"],
            weight_decay=options["weight_decay"],
            initial_accumulator_value=options["initial_accumulator_value"],
            eps=options["eps"],
        )

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param.data, group["initial_accumulator_value"])
        state["step"] += 1
        adagrad_update(
            param.data,
            grad,
            state["sum"],
            state["step"],
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )
