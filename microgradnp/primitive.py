"""Primitives: a NumPy forward plus a vector-Jacobian product (VJP), registered by name.

Calling a primitive with no Tensor among its arguments returns a plain ndarray; this is what
lets VJP rules be written once for both backward modes (raw arrays on the fast path, Tensors
when `create_graph=True`). With a Tensor argument it computes on `.data`, wraps the result,
and records a `Node` when grad mode is on and some input requires grad.

A VJP has the signature ``vjp(g, out, needs, *args, **params) -> tuple`` (one gradient or
None per argument; `needs[i]` says whether argument i wants one). Gradients may have the
broadcast shape: the engine sums them back to each input's shape.

`defvjp(uses_inputs=False)` declares a VJP that never reads its tensor inputs (sigmoid and
tanh use only `out`, add uses nothing): the recorded node then holds intermediate inputs
weakly (from `GradMode.weak_min_bytes` on), and the engine passes None (fast path) or a
stand-in (graph mode) for them.
`uses_out=False` declares one that never reads the values of `out` (its shape and size
may be read); ops that do read them keep the output array in the node, since the output
tensor may be freed while a consumer that holds it weakly still needs its backward.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any, ClassVar

import numpy as np

from .graph import GradMode, Node, WeakInput
from .tensor import Tensor


def raw(x: Any) -> Any:
    """The ndarray behind a Tensor (anything else unchanged): for masks and shapes in VJPs."""
    return x.data if isinstance(x, Tensor) else x


def _describe(args: tuple) -> str:
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"Tensor(shape={a.shape}, dtype={a.dtype})")
        elif isinstance(a, np.ndarray):
            parts.append(f"ndarray(shape={a.shape}, dtype={a.dtype})")
        else:
            parts.append(type(a).__name__)
    return ", ".join(parts)


class Primitive:
    """A differentiable op: `impl` on ndarrays, and `vjp` set with `defvjp`."""

    registry: ClassVar[dict[str, Primitive]] = {}
    __slots__ = ("name", "impl", "vjp", "saves_inputs", "saves_out", "__wrapped__")

    def __init__(self, impl: Callable[..., np.ndarray], name: str | None = None) -> None:
        self.name = name or impl.__name__.lstrip("_")  # `_sum` registers as "sum"
        self.impl = impl
        self.vjp: Callable[..., tuple] | None = None
        self.saves_inputs = True
        self.saves_out = True
        self.__wrapped__ = impl
        if self.name in Primitive.registry:
            raise ValueError(f"primitive {self.name!r} is already registered")
        Primitive.registry[self.name] = self

    def defvjp(
        self,
        vjp: Callable[..., tuple] | None = None,
        *,
        uses_inputs: bool = True,
        uses_out: bool = True,
    ) -> Any:
        """Set the VJP (as a decorator, bare or with flags: see the module docstring)."""
        if vjp is None:
            return lambda f: self.defvjp(f, uses_inputs=uses_inputs, uses_out=uses_out)
        self.vjp = vjp
        self.saves_inputs = uses_inputs
        self.saves_out = uses_out
        return vjp

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # Bind like a function, so that `Tensor.exp = ops.exp` gives the method `t.exp()`.
        return self if obj is None else MethodType(self, obj)

    def __call__(self, *args: Any, **params: Any) -> Any:
        # NOTE: the hot path of every op. Calls of one to three arguments (nearly all) are
        # unrolled; the generic loop at the end handles the rest.
        n = len(args)
        try:
            if n == 1:
                (x,) = args
                if not isinstance(x, Tensor):  # plain NumPy: how VJPs run on the fast path
                    return self.impl(x, **params)
                data: Any = (x.data,)
                out = self.impl(x.data, **params)
                needs: tuple = _NEEDS1 if x._requires_grad else _NEEDS0
            elif n == 2:
                x, y = args
                xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
                if not (xt or yt):
                    return self.impl(x, y, **params)
                data = (x.data if xt else x, y.data if yt else y)
                out = self.impl(*data, **params)
                needs = (xt and x._requires_grad, yt and y._requires_grad)
            elif n == 3:
                x, y, z = args
                xt, yt, zt = isinstance(x, Tensor), isinstance(y, Tensor), isinstance(z, Tensor)
                if not (xt or yt or zt):
                    return self.impl(x, y, z, **params)
                data = (x.data if xt else x, y.data if yt else y, z.data if zt else z)
                out = self.impl(*data, **params)
                needs = (xt and x._requires_grad, yt and y._requires_grad, zt and z._requires_grad)
            else:
                if not any(isinstance(a, Tensor) for a in args):
                    return self.impl(*args, **params)
                data = [a.data if isinstance(a, Tensor) else a for a in args]
                out = self.impl(*data, **params)
                needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(f"{self.name}: {e} (inputs: {_describe(args)})") from None
        if True in needs and GradMode.enabled and out.dtype.kind == "f":
            saved_out = out if self.saves_out else None
            if not self.saves_inputs:  # hold large intermediate inputs weakly (graph.py)
                least = GradMode.weak_min_bytes
                for a in args:
                    if isinstance(a, Tensor) and a._node is not None and a.data.nbytes >= least:
                        return Tensor._from_op(
                            out, _record_unsaved(self, args, data, params, needs, saved_out)
                        )
            return Tensor._from_op(out, Node(self, args, data, params, needs, saved_out))
        return Tensor._wrap(out)


def _record_unsaved(
    prim: Primitive, args: tuple, data: Any, params: dict, needs: tuple, saved_out: Any
) -> Node:
    """A node that holds its large intermediate inputs weakly (its VJP does not read them)."""
    least = GradMode.weak_min_bytes
    args = tuple(
        [
            WeakInput(a)
            if isinstance(a, Tensor) and a._node is not None and a.data.nbytes >= least
            else a
            for a in args
        ]
    )
    data = tuple([None if type(a) is WeakInput else d for a, d in zip(args, data, strict=True)])
    return Node(prim, args, data, params, needs, saved_out)


_NEEDS0, _NEEDS1 = (False,), (True,)


def primitive(impl: Callable[..., np.ndarray]) -> Primitive:
    """Decorator: turn a NumPy function into a registered `Primitive`."""
    return Primitive(impl)
