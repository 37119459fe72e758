"""Normalisation functions: `batch_norm` and `group_norm` (`layer_norm` is in
`functional.py`). Composites of differentiable ops; running statistics are updated in place
on their buffers' arrays, outside the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..grad_mode import no_grad
from ..primitive import raw
from ..tensor import Tensor


def _channel_shape(ndim: int, c: int) -> tuple[int, ...]:
    return (1, c) + (1,) * (ndim - 2)


def _move_towards(running: Any, value: Any, momentum: float) -> None:
    """running <- (1 - momentum) running + momentum value, in place, outside the graph (an
    in-place op on a tensor, so version counters and captured steps see it)."""
    with no_grad():
        if isinstance(running, Tensor):
            running.mul_(1.0 - momentum).add_(value.detach() * momentum)
        else:
            running *= 1.0 - momentum
            running += momentum * raw(value)


def batch_norm(
    input: Any,  # noqa: A002
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Batch normalisation over (N, C, ...), as `torch.nn.functional.batch_norm`.

    Training: normalise by the batch mean and biased variance per channel, and move
    `running_mean`/`running_var` (if given) towards the batch mean and the *unbiased*
    variance by `momentum`. Evaluation: normalise by the running statistics.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([[1.0], [3.0]])
        >>> rm, rv = mg.zeros(1), mg.ones(1)  # momentum 0.1: rm = 0.1 * 2, rv = 0.9 + 0.1 * 2
        >>> y = mg.nn.functional.batch_norm(x, rm, rv, training=True)
        >>> [round(v, 3) for v in y.data.ravel().tolist()], round(rm.item(), 6), round(rv.item(), 6)
        ([-1.0, 1.0], 0.2, 1.1)
    """
    xr = raw(input)
    if xr.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims, got shape {xr.shape}")
    c = xr.shape[1]
    shape = _channel_shape(xr.ndim, c)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and raw(t).shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {raw(t).shape}")
    if training:
        axes = (0,) + tuple(range(2, xr.ndim))
        count = xr.size // max(c, 1)
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {xr.shape}"
            )
        mean = ops.mean(input, dim=axes, keepdim=True)
        centred = input - mean
        var = ops.mean(centred * centred, dim=axes, keepdim=True)  # biased, to normalise
        if running_mean is not None:
            _move_towards(running_mean, ops.reshape(mean, (c,)), momentum)
        if running_var is not None:  # the unbiased variance
            _move_towards(running_var, ops.reshape(var, (c,)) * (count / (count - 1)), momentum)
        out = centred / ops.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in eval mode")
        # with ops (no gradient flows to the statistics): mg.compile reads them at replay
        inv_std = 1.0 / ops.sqrt(ops.reshape(running_var, shape) + eps)
        if raw(inv_std).dtype != xr.dtype:
            inv_std = ops.astype(inv_std, xr.dtype)
        out = (input - ops.reshape(running_mean, shape)) * inv_std
    if weight is not None:
        out = out * ops.reshape(weight, shape)
    if bias is not None:
        out = out + ops.reshape(bias, shape)
    return out


def group_norm(
    input: Any,  # noqa: A002
    num_groups: int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Any:
    """Group normalisation, as `torch.nn.functional.group_norm`: the C channels of each
    sample are split into `num_groups` groups, each normalised by its own mean and biased
    variance, then scaled and shifted per channel.

    Example:
        >>> import microgradnp as mg
        >>> y = mg.nn.functional.group_norm(mg.tensor([[1.0, 3.0, 5.0, 9.0]]), 2)
        >>> [round(v, 3) for v in y.tolist()[0]]
        [-1.0, 1.0, -1.0, 1.0]
    """
    xr = raw(input)
    if xr.ndim < 2:
        raise ValueError(f"group_norm: expected an input of at least 2 dims, got shape {xr.shape}")
    n, c = xr.shape[:2]
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or c % num_groups:
        raise ValueError(
            f"group_norm: Expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {xr.shape} and num_groups={num_groups}"
        )
    groups = ops.reshape(input, (n, num_groups, -1))
    centred = groups - ops.mean(groups, dim=2, keepdim=True)
    var = ops.mean(centred * centred, dim=2, keepdim=True)
    out = ops.reshape(centred / ops.sqrt(var + eps), xr.shape)
    shape = _channel_shape(xr.ndim, c)
    if weight is not None:
        out = out * ops.reshape(weight, shape)
    if bias is not None:
        out = out + ops.reshape(bias, shape)
    return out
