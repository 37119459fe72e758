"""Adam and AdamW (decoupled weight decay), with AMSGrad and maximize.

`adam_update` is the pure kernel (arrays in, updated in place); `Adam` and `AdamW` are thin
`Optimizer`s around it. Same update rules as `torch.optim.Adam` / `torch.optim.AdamW`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, check_nonnegative, decayed_grad, lerp_


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    step: int,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    """One Adam step (step = t, counted from 1) on `param` and its moments, in place.

    Math (g = ∇ or -∇ when maximizing, λ weight decay):
        θ = θ (1 - lr λ)                    (decoupled, AdamW)   or   g = g + λ θ  (Adam)
        m = m + (1 - β1)(g - m)
        v = β2 v + (1 - β2) g²
        v̂ = max(v̂, v)                      (AMSGrad: `max_exp_avg_sq` given)   else v̂ = v
        θ = θ - lr / (1 - β1^t) · m / (√v̂ / √(1 - β2^t) + ε)

    Example:
        >>> p, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
        >>> adam_update(p, np.array([0.5]), m, v, None, 1, lr=0.1, beta1=0.9, beta2=0.999,
        ...             eps=1e-8)
        >>> round(float(p[0]), 6)   # the first step moves each coordinate by about lr
        0.9
    """
    l2 = weight_decay
    if decoupled_weight_decay and weight_decay != 0:
        param *= 1 - lr * weight_decay
        l2 = 0.0
    if l2 != 0 or maximize:
        grad = decayed_grad(param, grad, l2, maximize)
    scratch = np.empty_like(param)
    lerp_(exp_avg, grad, 1 - beta1, scratch)
    exp_avg_sq *= beta2
    exp_avg_sq += np.multiply(np.multiply(grad, grad, out=scratch), 1 - beta2, out=scratch)
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    step_size = lr / (1 - beta1**step)
    denom = np.sqrt(exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq, out=scratch)
    denom /= (1 - beta2**step) ** 0.5
    denom += eps
    param -= np.multiply(np.divide(exp_avg, denom, out=denom), step_size, out=denom)


class Adam(Optimizer):
    """Adam (Kingma & Ba), as `torch.optim.Adam`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr: learning rate.
        betas: (β1, β2) decay rates of the moment estimates.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient (decoupled from it, as in AdamW,
            when `decoupled_weight_decay=True`).
        amsgrad: use the running maximum of v.
        maximize: ascend instead.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([3.0], requires_grad=True)
        >>> opt = mg.optim.Adam([w], lr=0.1)
        >>> for _ in range(100):
        ...     opt.zero_grad()
        ...     ((w - 1.0) ** 2).sum().backward()
        ...     opt.step()
        >>> abs(w.item() - 1.0) < 0.1
        True
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, options: dict[str, Any]) -> None:
        check_nonnegative(lr=options["lr"], eps=options["eps"])
        for i, beta in enumerate(options["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        check_nonnegative(weight_decay=options["weight_decay"])

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adam_update(
            param.data,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["max_exp_avg_sq"] if group["amsgrad"] else None,
            state["step"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`.

    The parameters shrink by `lr * weight_decay` times themselves before the Adam step,
    instead of adding `weight_decay * θ` to the gradient. Default `weight_decay=1e-2`.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([2.0], requires_grad=True)
        >>> w.grad = mg.tensor([0.0])
        >>> mg.optim.AdamW([w], lr=0.1, weight_decay=0.5).step()   # zero gradient: decay only
        >>> round(w.item(), 6)
        1.9
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
