"""Gradient clipping and flat parameter vectors (`mg.nn.utils`), as in `torch.nn.utils`,
pruning (`mg.nn.utils.prune`), and `summary` (a model's layers, shapes and parameter counts,
as `torchinfo`).

Example:
    >>> import microgradnp as mg
    >>> p = mg.nn.Parameter(mg.zeros(2)); p.grad = mg.tensor([3.0, 4.0])
    >>> norm = mg.nn.utils.clip_grad_norm_([p], max_norm=1.0)
    >>> norm.item(), [round(g, 5) for g in p.grad.tolist()]
    (5.0, [0.6, 0.8])
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np

from ..autograd import no_grad
from ..compile.hooks import replayable
from ..ops import cat, reshape
from ..tensor import Tensor
from . import prune
from .summary import ModelSummary, summary

# `import microgradnp.nn.utils.prune` works as `import torch.nn.utils.prune` does, although
# this is a module and not a package (the way `os.path` is registered)
sys.modules[__name__ + ".prune"] = prune

__all__ = [
    "ModelSummary",
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "prune",
    "summary",
    "vector_to_parameters",
]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


@replayable  # recorded whole by mg.compile
def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients in place so that their joint `norm_type`-norm (taken over all of
    them, as if concatenated) is at most `max_norm`. Returns the norm before clipping.

    As in PyTorch, the scale is max_norm / (norm + 1e-6), applied only when below 1. A
    NaN or inf gradient makes the norm NaN or inf and every gradient NaN or 0 (PyTorch's
    numbers); `error_if_nonfinite=True` raises instead, leaving the gradients untouched.
    """
    grads = [p.grad.data for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == np.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        per = [np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads]
        total = float(np.linalg.norm(np.asarray(per), ord=norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # NaN too: a NaN norm makes every gradient NaN, as in PyTorch
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as PyTorch gives
            for g in grads:
                g *= np.asarray(coef, dtype=g.dtype)  # .grad arrays are owned by their tensor
    return Tensor._wrap(np.asarray(total, dtype=grads[0].dtype))


@replayable
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D `vec` into the parameters, in place."""
    params = _as_list(parameters)
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    total = sum(p.numel() for p in params)
    if data.ndim != 1 or data.shape[0] != total:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {total} elements "
            f"(the parameters' total size), got shape {data.shape}"
        )
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(data[start : start + n].reshape(p.shape))
            start += n
