"""Gradient checking against central finite differences, in float64.

`gradcheck(fn, inputs)` contracts the outputs with a fixed random cotangent u, so that
s(x) = <u, fn(x)> is a scalar; it compares the engine's ds/dx for every element of every
input with (s(x + eps e_i) - s(x - eps e_i)) / (2 eps). A random u catches any error in the
Jacobian with probability 1. `gradgradcheck` does the same for the gradient function built
with `create_graph=True`, with respect to the inputs and the cotangent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytical gradient disagrees with finite differences."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float64_inputs(inputs: Sequence[Any], who: str) -> list[int]:
    diff = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != np.float64:
                raise TypeError(
                    f"{who}: input {i} has dtype {t.dtype}; finite differences need float64 "
                    "inputs (use mg.tensor(..., dtype=mg.float64))"
                )
            diff.append(i)
    if not diff:
        raise ValueError(f"{who}: no input is a Tensor with requires_grad=True")
    return diff


def _scalarized(fn: Callable, inputs: Sequence[Any], us: list[np.ndarray] | None):
    outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    if us is None:
        rng = np.random.default_rng(1234)
        us = [rng.standard_normal(o.shape) for o in outs]
    return outs, us


def _value(fn: Callable, inputs: Sequence[Any], us: list[np.ndarray]) -> float:
    outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]
    return float(sum(np.sum(u * o.data) for u, o in zip(us, outs, strict=False)))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of `fn` at `inputs` against central finite differences.

    Every float64 input with `requires_grad=True` is checked, element by element. On a
    mismatch a `GradcheckError` names the input, the element and both values.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([0.5, -1.0], dtype=mg.float64, requires_grad=True)
        >>> mg.gradcheck(lambda t: mg.tanh(t) * t, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff = _float64_inputs(inputs, "gradcheck")
    outs, us = _scalarized(fn, inputs, None)
    if not outs:
        raise ValueError("gradcheck: fn returned no output that requires grad")
    analytic = grad(
        outs, [inputs[i] for i in diff], grad_outputs=[Tensor(u) for u in us], allow_unused=True
    )
    for i, a in zip(diff, analytic, strict=True):
        x = inputs[i]
        a_arr = np.zeros(x.shape) if a is None else a.data
        flat = x.data.reshape(-1)  # a view: perturb in place, restore after
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = _value(fn, inputs, us)
            flat[k] = orig - eps
            minus = _value(fn, inputs, us)
            flat[k] = orig
            numeric = (plus - minus) / (2 * eps)
            analytic_k = a_arr.reshape(-1)[k]
            if not np.isclose(analytic_k, numeric, atol=atol, rtol=rtol):
                if not raise_exception:
                    return False
                idx = np.unravel_index(k, x.shape) if x.shape else ()
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for input {i} (shape {x.shape}) at element "
                    f"{tuple(int(j) for j in idx)}: analytical {analytic_k!r} vs numerical "
                    f"{numeric!r} (eps={eps}, atol={atol}, rtol={rtol})"
                )
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of (x, v) -> vjp(fn, x)(v) built with create_graph.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([0.3, 2.0], dtype=mg.float64, requires_grad=True)
        >>> mg.gradgradcheck(lambda t: mg.sigmoid(t) ** 2, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff = _float64_inputs(inputs, "gradgradcheck")
    outs, us = _scalarized(fn, inputs, None)
    if grad_outputs is None:
        vs = [Tensor(u, requires_grad=True) for u in us]
    else:
        vs = [
            Tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
            for v in _as_tuple(grad_outputs)
        ]
    n = len(inputs)

    def vjp_fn(*args: Any) -> tuple:
        xs, v = args[:n], args[n:]
        out = [o for o in _as_tuple(fn(*xs)) if isinstance(o, Tensor) and o.requires_grad]
        gs = grad(
            out, [xs[i] for i in diff], grad_outputs=list(v), create_graph=True, allow_unused=True
        )
        return tuple(g for g in gs if g is not None and g.requires_grad)

    return gradcheck(
        vjp_fn,
        tuple(inputs) + tuple(vs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )
