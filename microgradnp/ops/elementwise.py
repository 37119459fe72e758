"""Elementwise primitives, each forward beside its vector-Jacobian product.

Inputs broadcast as in NumPy; VJPs return gradients of the broadcast shape and the engine
sums them back. VJPs use only operators and primitives, so they run on ndarrays (fast path)
and on Tensors (`create_graph=True`); masks that carry no derivative use `raw`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from ..tensor import Tensor

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = [
    "abs",
    "add",
    "clamp",
    "clip",
    "clone",
    "cos",
    "div",
    "exp",
    "expm1",
    "log",
    "log1p",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "pow",
    "relu",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "square",
    "sub",
    "tanh",
    "where",
]


def _mask(cond: np.ndarray, like: Any) -> np.ndarray:
    """A 0/1 mask in the gradient's dtype (so float32 stays float32)."""
    return np.asarray(cond).astype(raw(like).dtype)


# An op whose forward is a NumPy ufunc takes the ufunc itself as its forward: no Python call
# between the op and NumPy (these are the most frequent ops).
neg = primitive(np.negative, name="neg")


@neg.defvjp(uses_inputs=False, uses_out=False)
def _neg_vjp(g, out, needs, x):
    return (-g,)


add = primitive(np.add, name="add")


@add.defvjp(uses_inputs=False, uses_out=False)
def _add_vjp(g, out, needs, x, y):
    return g, g


sub = primitive(np.subtract, name="sub")


@sub.defvjp(uses_inputs=False, uses_out=False)
def _sub_vjp(g, out, needs, x, y):
    return g, (-g if needs[1] else None)


mul = primitive(np.multiply, name="mul")


@mul.defvjp(uses_out=False)
def _mul_vjp(g, out, needs, x, y):
    return (g * y if needs[0] else None), (g * x if needs[1] else None)


div = primitive(np.true_divide, name="div")


@div.defvjp
def _div_vjp(g, out, needs, x, y):
    # d(x/y)/dy = -x/y^2 = -out/y
    return (g / y if needs[0] else None), (-g * out / y if needs[1] else None)


@primitive
def pow_scalar(x, exponent):
    return np.power(x, exponent)


@pow_scalar.defvjp(uses_out=False)
def _pow_scalar_vjp(g, out, needs, x, exponent):
    if exponent == 0:
        return (g * 0.0,)
    if exponent == 1:
        return (g,)
    if exponent == 2:
        return (g * 2.0 * x,)
    return (g * exponent * pow_scalar(x, exponent - 1),)


pow_tensor = primitive(np.power, name="pow_tensor")


@pow_tensor.defvjp
def _pow_tensor_vjp(g, out, needs, x, y):
    gx = g * y * pow_tensor(x, y - 1) if needs[0] else None
    gy = None
    if needs[1]:
        # d(x^y)/dy = x^y log x; taken as 0 where x <= 0 (there x^y is not differentiable in y)
        positive = raw(x) > 0
        gy = g * out * log(where(positive, x, 1.0)) * _mask(positive, g)
    return gx, gy


def pow(x: Any, exponent: Any) -> Any:  # noqa: A001 - PyTorch's name
    """x ** exponent; a Python-number exponent is a constant (no gradient, no log)."""
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        return pow_scalar(x, exponent=exponent)
    return pow_tensor(x, exponent)


exp = primitive(np.exp, name="exp")


@exp.defvjp(uses_inputs=False)
def _exp_vjp(g, out, needs, x):
    return (g * out,)


expm1 = primitive(np.expm1, name="expm1")


@expm1.defvjp(uses_inputs=False)
def _expm1_vjp(g, out, needs, x):
    return (g * (out + 1.0),)


log = primitive(np.log, name="log")


@log.defvjp(uses_out=False)
def _log_vjp(g, out, needs, x):
    return (g / x,)


log1p = primitive(np.log1p, name="log1p")


@log1p.defvjp(uses_out=False)
def _log1p_vjp(g, out, needs, x):
    return (g / (x + 1.0),)


sqrt = primitive(np.sqrt, name="sqrt")


@sqrt.defvjp(uses_inputs=False)
def _sqrt_vjp(g, out, needs, x):
    return (g / (out * 2.0),)


abs = primitive(np.abs, name="abs")  # noqa: A001


@abs.defvjp(uses_out=False)
def _abs_vjp(g, out, needs, x):
    return (g * np.sign(raw(x)),)  # subgradient 0 at 0, as PyTorch


sin = primitive(np.sin, name="sin")


@sin.defvjp(uses_out=False)
def _sin_vjp(g, out, needs, x):
    return (g * cos(x),)


cos = primitive(np.cos, name="cos")


@cos.defvjp(uses_out=False)
def _cos_vjp(g, out, needs, x):
    return (-g * sin(x),)


tanh = primitive(np.tanh, name="tanh")


@tanh.defvjp(uses_inputs=False)
def _tanh_vjp(g, out, needs, x):
    # d tanh = 1 - tanh^2: reuse the output
    return (g * (1.0 - out * out),)


@tanh.deffast
def _tanh_fast(g, out, needs, res, x):
    r = np.multiply(out, out, out=np.empty_like(out))  # one new array, not three
    np.subtract(1.0, r, out=r)
    r *= g
    return (r,)


@primitive
def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise: exact in both tails, 0 where exp(-x) overflows."""
    # NOTE: 1 / (1 + exp(-x)) keeps full relative precision in both tails (exp is accurate
    # relative to its value), unlike 0.5*tanh(x/2)+0.5, and is 10x faster than
    # exp(-logaddexp(0, -x)). For x below about -709 (float64; -88 in float32) exp(-x)
    # overflows to inf and 1/(1+inf) is exactly 0, the correctly rounded value: one code
    # path, so every array size gives the same answer (as PyTorch).
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if x.ndim == 0:  # NumPy returns scalars for 0-d inputs; the in-place steps need an array
        return sigmoid.impl(x.reshape(1)).reshape(())
    out = _exp_neg(x)
    out += 1.0
    return np.reciprocal(out, out=out)


@np.errstate(over="ignore")  # (as a decorator it costs half what a `with` block does)
def _exp_neg(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """exp(-x), in `out` or a new array: inf, without a warning, where it overflows."""
    out = np.negative(x, out=out)
    return np.exp(out, out=out)


@sigmoid.defvjp(uses_inputs=False)
def _sigmoid_vjp(g, out, needs, x):
    # d sigma = sigma (1 - sigma): reuse the output
    return (g * out * (1.0 - out),)


@sigmoid.deffast
def _sigmoid_fast(g, out, needs, res, x):
    r = np.subtract(1.0, out)  # one new array, not three
    r *= out
    r *= g
    return (r,)


@primitive
def relu(x):
    """max(x, 0), elementwise (the gradient at 0 is 0, as PyTorch's)."""
    return np.maximum(x, 0)


@relu.defvjp(uses_inputs=False)
def _relu_vjp(g, out, needs, x):
    return (g * _mask(raw(out) > 0, g),)


@relu.deffast
def _relu_fast(g, out, needs, res, x):
    return (np.multiply(g, out > 0),)  # a bool mask multiplies without a float copy


def _balanced(x: Any, y: Any, g: Any) -> np.ndarray:
    """Weight of x in max(x, y): 1 where x wins, 1/2 on ties (the gradient splits evenly)."""
    xr, yr = raw(x), raw(y)
    return _mask(xr > yr, g) + 0.5 * _mask(xr == yr, g)


maximum = primitive(np.maximum, name="maximum")


@maximum.defvjp(uses_out=False)
def _maximum_vjp(g, out, needs, x, y):
    w = _balanced(x, y, g)
    return g * w, g * (1.0 - w)


minimum = primitive(np.minimum, name="minimum")


@minimum.defvjp(uses_out=False)
def _minimum_vjp(g, out, needs, x, y):
    w = _balanced(y, x, g)  # 1 where y > x: there x is the minimum (1/2 on ties)
    return g * w, g * (1.0 - w)


@primitive
def where(condition, x, y):
    """x where `condition` holds, else y (broadcast together); gradients go to the branch
    that was taken."""
    return np.where(condition, x, y)


@where.defvjp(uses_out=False)
def _where_vjp(g, out, needs, condition, x, y):
    c = np.asarray(raw(condition), dtype=bool)
    return None, g * _mask(c, g), g * _mask(~c, g)


@primitive
def clip(x, min=None, max=None):  # noqa: A002
    """x limited to [min, max] (either may be None); the gradient is 0 where x lay outside."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return np.clip(x, min, max)


@clip.defvjp(uses_out=False)
def _clip_vjp(g, out, needs, x, min=None, max=None):  # noqa: A002
    # gradient passes where min <= x <= max (bounds included, as PyTorch's clamp)
    xr = raw(x)
    keep = np.ones(xr.shape, dtype=bool)
    if min is not None:
        keep &= xr >= raw(min)
    if max is not None:
        keep &= xr <= raw(max)
    return (g * _mask(keep, g),)


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """PyTorch's name for `clip`."""
    return clip(x, min=raw(min), max=raw(max))


def square(x: Any) -> Any:
    """x ** 2, elementwise.

    Example:
        >>> import microgradnp as mg
        >>> mg.square(mg.tensor([-2.0, 3.0])).tolist()
        [4.0, 9.0]
    """
    return pow_scalar(x, exponent=2)


def sign(x: Any) -> Any:
    """sign(x), with no gradient (its derivative is 0 almost everywhere)."""
    return Tensor._wrap(np.sign(raw(x)))


@primitive
def astype(x, dtype):
    return x.astype(dtype)


@astype.defvjp(uses_inputs=False, uses_out=False)
def _astype_vjp(g, out, needs, x, dtype):
    return (astype(g, raw(x).dtype),)


@primitive
def clone(x):
    """A copy of x with its own memory (differentiable: the gradient passes through)."""
    return x.copy()


@clone.defvjp(uses_inputs=False, uses_out=False)
def _clone_vjp(g, out, needs, x):
    return (g,)
