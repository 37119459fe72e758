"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

`sgd_update` is the pure kernel (arrays in, updated in place); `SGD` is the thin
`Optimizer` around it. Same update rule as `torch.optim.SGD`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, check_nonnegative, decayed_grad


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    buf: np.ndarray | None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> np.ndarray | None:
    """One SGD step on `param` in place; returns the momentum buffer (new on the first step).

    Math (g = ∇ or -∇ when maximizing, μ momentum, τ dampening, λ weight decay):
        d = g + λ θ
        b = d on the first step, then b = μ b + (1 - τ) d
        d = d + μ b  (Nesterov)   or   d = b  (plain momentum)   [skipped when μ = 0]
        θ = θ - lr d

    Example:
        >>> p = np.array([1.0, 2.0])
        >>> buf = sgd_update(p, np.array([1.0, -1.0]), None, lr=0.5, momentum=0.9)
        >>> p.tolist(), buf.tolist()
        ([0.5, 2.5], [1.0, -1.0])
    """
    if momentum == 0 and weight_decay == 0 and not maximize:  # plain SGD
        # NOTE: one transient temporary; a persistent scratch buffer would save the
        # allocation but raise the peak memory of a step by the largest parameter's size
        param -= np.multiply(grad, lr)
        return buf
    d = decayed_grad(param, grad, weight_decay, maximize)  # the one scratch array
    if momentum != 0:
        if buf is None:
            buf = d.copy()
        else:
            buf *= momentum
            if dampening == 0:
                buf += d
            else:
                buf += np.multiply(d, 1 - dampening, out=d)  # d is not needed again
        if nesterov:  # θ -= lr (d + μ b), as two scaled subtractions through the scratch
            param -= np.multiply(d, lr, out=d)
            param -= np.multiply(buf, lr * momentum, out=d)
            return buf
        d = np.multiply(buf, lr, out=d)
    else:
        d *= lr
    param -= d
    return buf


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as `torch.optim.SGD`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr: learning rate. momentum: factor μ. dampening: τ. weight_decay: L2 penalty λ.
        nesterov: Nesterov momentum (needs μ > 0 and τ = 0). maximize: ascend instead.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = mg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()   # gradient 2w
        ...     opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.46, -0.92]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, options: dict[str, Any]) -> None:
        check_nonnegative(
            lr=options["lr"], momentum=options["momentum"], weight_decay=options["weight_decay"]
        )
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group: dict[str, Any], clock: int) -> None:
        if group["momentum"] or group["weight_decay"] or group["maximize"]:
            super()._update_group(group, clock)
            return
        # Plain SGD, the common case, without the per-parameter call: θ -= lr g
        lr, state = group["lr"], self.state
        for p in group["params"]:
            g = p._grad
            if g is None:
                continue
            data = p.data
            if data.itemsize < 4:  # float16: computed in float32 (see Optimizer)
                self._update_widened(p, g.data, state[p], group)
                continue
            state[p]  # noqa: B018 - an (empty) state entry per parameter, as torch.optim
            data -= np.multiply(g.data, lr)
            if p._base is None:  # the version stamp (see `stamp`), inlined: the hot loop
                p._vc = clock
            else:
                p._base._vc = clock

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        buf = sgd_update(
            param.data,
            grad,
            state.get("momentum_buffer"),
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if buf is not None:
            state["momentum_buffer"] = buf
