"""Activation functions: `gelu`, `silu`, `leaky_relu`, `elu`, `softplus` (PyTorch's
definitions), as composites of differentiable ops.

Branches that a `where` discards are computed on clamped inputs, so that no inf/NaN is
made there (a NaN in the discarded branch would still poison the gradient: 0 * inf).
"""

from __future__ import annotations

import math
from typing import Any

from .. import ops
from ..compile.hooks import greater_mask
from ..ops.special import erf
from ..primitive import raw


def _check(name: str, x: Any) -> None:
    if raw(x).dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {raw(x).dtype}")


def gelu(input: Any, approximate: str = "none") -> Any:  # noqa: A002
    """GELU: x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)); with approximate='tanh',
    x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0], dtype=mg.float64)
        >>> round(mg.nn.functional.gelu(x).item(), 6)
        0.841345
    """
    _check("gelu", input)
    if approximate == "none":
        return input * 0.5 * (1.0 + erf(input * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = (input + 0.044715 * input * input * input) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + ops.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> Any:  # noqa: A002
    """SiLU (swish): x * sigmoid(x).

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.silu(mg.tensor([0.0, 1.0])).tolist()[0]
        0.0
    """
    _check("silu", input)
    return input * ops.sigmoid(input)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:  # noqa: A002
    """x where x > 0, negative_slope * x elsewhere.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.leaky_relu(mg.tensor([-2.0, 3.0]), 0.5).tolist()
        [-1.0, 3.0]
    """
    _check("leaky_relu", input)
    return ops.where(greater_mask(raw(input), 0), input, input * negative_slope)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:  # noqa: A002
    """x where x > 0, alpha * (exp(x) - 1) elsewhere.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.elu(mg.tensor([0.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    _check("elu", input)
    positive = greater_mask(raw(input), 0)
    negative_part = ops.where(positive, 0.0, input)  # exp never sees the large positives
    return ops.where(positive, input, ops.expm1(negative_part) * alpha)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:  # noqa: A002
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (PyTorch's
    switch to the linear function for numerical stability).

    Example:
        >>> import microgradnp as mg
        >>> round(mg.nn.functional.softplus(mg.tensor([0.0])).item(), 6)
        0.693147
    """
    _check("softplus", input)
    scaled = input * beta
    linear = greater_mask(raw(scaled), threshold)
    safe = ops.where(linear, 0.0, scaled)
    return ops.where(linear, input, ops.log1p(ops.exp(safe)) * (1.0 / beta))
