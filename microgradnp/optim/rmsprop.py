"""RMSprop (Hinton), optionally centered and with momentum.

`rmsprop_update` is the pure kernel (arrays in, updated in place); `RMSprop` is the thin
`Optimizer` around it. Same update rule as `torch.optim.RMSprop`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, check_nonnegative, decayed_grad, lerp_


def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray | None,
    buf: np.ndarray | None,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    maximize: bool = False,
) -> None:
    """One RMSprop step on `param` and its running averages, in place.

    Math (g = ∇ or -∇ when maximizing, λ weight decay, μ momentum):
        g = g + λ θ
        v = α v + (1 - α) g²
        ḡ = ḡ + (1 - α)(g - ḡ)         s = √(v - ḡ²) + ε     (centered: `grad_avg` given)
                                      s = √v + ε            (otherwise)
        b = μ b + g / s,  θ = θ - lr b                      (μ > 0: `buf` given)
        θ = θ - lr g / s                                    (otherwise)

    Example:
        >>> p, v = np.array([1.0]), np.zeros(1)
        >>> rmsprop_update(p, np.array([2.0]), v, None, None, lr=0.01, alpha=0.75, eps=0.0)
        >>> p.tolist(), v.tolist()   # v = 0.25 * 4, step = 0.01 * 2 / 1
        ([0.98], [1.0])
    """
    if weight_decay != 0 or maximize:
        grad = decayed_grad(param, grad, weight_decay, maximize)
    scratch = np.empty_like(param)
    square_avg *= alpha
    square_avg += np.multiply(np.multiply(grad, grad, out=scratch), 1 - alpha, out=scratch)
    if grad_avg is not None:
        lerp_(grad_avg, grad, 1 - alpha, scratch)
        avg = np.subtract(square_avg, np.multiply(grad_avg, grad_avg, out=scratch), out=scratch)
        np.sqrt(avg, out=avg)
    else:
        avg = np.sqrt(square_avg, out=scratch)
    avg += eps
    if buf is not None:
        buf *= momentum
        buf += np.divide(grad, avg, out=avg)
        param -= np.multiply(buf, lr, out=avg)
    else:
        param -= np.multiply(np.divide(grad, avg, out=avg), lr, out=avg)


class RMSprop(Optimizer):
    """RMSprop, as `torch.optim.RMSprop`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr: learning rate. alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator. weight_decay: L2 penalty. momentum: factor μ.
        centered: normalise by the estimated variance instead of the second moment.
        maximize: ascend instead.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0], requires_grad=True)
        >>> w.grad = mg.tensor([3.0])
        >>> mg.optim.RMSprop([w], lr=0.01, alpha=0.0, eps=0.0).step()   # moves by lr·sign
        >>> round(w.item(), 6)
        0.99
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, options: dict[str, Any]) -> None:
        check_nonnegative(
            lr=options["lr"],
            eps=options["eps"],
            momentum=options["momentum"],
            weight_decay=options["weight_decay"],
            alpha=options["alpha"],
        )

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        rmsprop_update(
            param.data,
            grad,
            state["square_avg"],
            state["grad_avg"] if group["centered"] else None,
            state["momentum_buffer"] if group["momentum"] > 0 else None,
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            maximize=group["maximize"],
        )
