"""Special functions: the error function `erf` (forward beside its VJP).

NumPy has no erf; the forward maps the C library's `math.erf` over the array (accurate to
about one ulp, the function PyTorch's CPU kernel approximates), in float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .elementwise import exp

_erf_float64 = np.vectorize(math.erf, otypes=[np.float64])
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@primitive
def _erf(x):
    return np.asarray(_erf_float64(x), dtype=x.dtype)


@_erf.defvjp(uses_out=False)
def _erf_vjp(g, out, needs, x):
    # d/dx erf(x) = 2 / sqrt(pi) * exp(-x^2)
    return (g * _TWO_OVER_SQRT_PI * exp(-(x * x)),)


def erf(input: Any) -> Any:  # noqa: A002
    """The error function erf(x) = 2 / sqrt(pi) * integral from 0 to x of exp(-t^2) dt.

    Example:
        >>> import microgradnp as mg
        >>> round(mg.erf(mg.tensor(0.5, dtype=mg.float64)).item(), 10)
        0.5204998778
    """
    if raw(input).dtype.kind != "f":
        raise TypeError(f"erf: expected a floating-point tensor, got dtype {raw(input).dtype}")
    return _erf(input)
