"""Special functions: the error function `erf` (forward beside its VJP).

NumPy has no erf. The forward evaluates W. J. Cody's rational Chebyshev approximations
("Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
631-638; the coefficients of his Argonne routine CALERF), vectorised over three ranges of
|x|; they are accurate to a few ulp in float64, like the C library's erf.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .elementwise import exp

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["erf"]


# erf(x) = x * R(x^2) for |x| <= 0.46875
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
# erfc(x) = exp(-x^2) * R(|x|) for 0.46875 < |x| <= 4
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
# erfc(x) = exp(-x^2) / |x| * (1/sqrt(pi) - R(1/x^2) / x^2) for |x| > 4
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _rational(t: np.ndarray, num: tuple, den: tuple) -> np.ndarray:
    """num(t) / den(t) in Cody's nested form: num's last coefficient leads, den is monic."""
    n = len(den)
    top, bottom = num[-1] * t, t
    for i in range(n - 1):
        top = (top + num[i]) * t
        bottom = (bottom + den[i]) * t
    return (top + num[n - 1]) / (bottom + den[n - 1])


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    # NOTE: exp(-y^2) split as exp(-r^2) exp(-(y - r)(y + r)), r = y rounded down to 1/16,
    # so that the rounding error of y*y is not amplified by exp (Cody's trick)
    r = np.trunc(y * 16.0) / 16.0
    return np.exp(-r * r) * np.exp(-(y - r) * (y + r))


def erf_float64(x: np.ndarray) -> np.ndarray:
    """erf of a float64 array."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(x)
    small = y <= 0.46875
    middle = (y > 0.46875) & (y <= 4.0)
    large = y > 4.0
    out[small] = x[small] * _rational(x[small] * x[small], _A, _B)
    ym = y[middle]
    erfc = _exp_minus_square(ym) * _rational(ym, _C, _D)
    out[middle] = np.copysign((0.5 - erfc) + 0.5, x[middle])
    yl = np.minimum(y[large], 27.0)  # erfc underflows to 0 beyond 26.5: erf is +-1
    inv = 1.0 / (yl * yl)
    erfc = _exp_minus_square(yl) * (1.0 / math.sqrt(math.pi) - inv * _rational(inv, _P, _Q)) / yl
    out[large] = np.copysign((0.5 - erfc) + 0.5, x[large])
    nan = np.isnan(x)
    if nan.any():
        out[nan] = np.nan
    return out


@primitive
def _erf(x):
    return erf_float64(x).astype(x.dtype, copy=False)


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
