"""Primitives: a NumPy forward plus a vector-Jacobian product (VJP), registered by name.

Calling a primitive with no Tensor among its arguments returns a plain ndarray; this is what
lets VJP rules be written once for both backward modes (raw arrays on the fast path, Tensors
when `create_graph=True`). With a Tensor argument it computes on `.data`, wraps the result,
and records a `Node` when grad mode is on and some input requires grad.

A VJP has the signature ``vjp(g, out, needs, *args, **params) -> tuple`` (one gradient or
None per argument; `needs[i]` says whether argument i wants one). Gradients may have the
broadcast shape: the engine sums them back to each input's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any, ClassVar

import numpy as np

from .graph import GradMode, Node
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
    __slots__ = ("name", "impl", "vjp", "__wrapped__")

    def __init__(self, impl: Callable[..., np.ndarray], name: str | None = None) -> None:
        self.name = name or impl.__name__.lstrip("_")  # `_sum` registers as "sum"
        self.impl = impl
        self.vjp: Callable[..., tuple] | None = None
        self.__wrapped__ = impl
        if self.name in Primitive.registry:
            raise ValueError(f"primitive {self.name!r} is already registered")
        Primitive.registry[self.name] = self

    def defvjp(self, vjp: Callable[..., tuple]) -> Callable[..., tuple]:
        self.vjp = vjp
        return vjp

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # Bind like a function, so that `Tensor.exp = ops.exp` gives the method `t.exp()`.
        return self if obj is None else MethodType(self, obj)

    def __call__(self, *args: Any, **params: Any) -> Any:
        # NOTE: the hot path of every op. One- and two-argument calls (nearly all of them)
        # are unrolled; the generic loop below handles the rest.
        n = len(args)
        if n == 1:
            (x,) = args
            if not isinstance(x, Tensor):  # plain NumPy: how VJPs run on the fast path
                return self.impl(x, **params)
            data = (x.data,)
            out = self._impl(args, data, params)
            if x._requires_grad and GradMode.enabled and out.dtype.kind == "f":
                return Tensor._from_op(out, Node(self, args, data, params, (True,)))
            return Tensor._wrap(out)
        if n == 2:
            x, y = args
            xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
            if not (xt or yt):
                return self.impl(x, y, **params)
            data = (x.data if xt else x, y.data if yt else y)
            out = self._impl(args, data, params)
            nx, ny = xt and x._requires_grad, yt and y._requires_grad
            if (nx or ny) and GradMode.enabled and out.dtype.kind == "f":
                return Tensor._from_op(out, Node(self, args, data, params, (nx, ny)))
            return Tensor._wrap(out)
        for a in args:
            if isinstance(a, Tensor):
                break
        else:
            return self.impl(*args, **params)
        data = [a.data if isinstance(a, Tensor) else a for a in args]
        out = self._impl(args, data, params)
        needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        if True in needs and GradMode.enabled and out.dtype.kind == "f":
            return Tensor._from_op(out, Node(self, args, data, params, needs))
        return Tensor._wrap(out)

    def _impl(self, args: tuple, data: Any, params: dict) -> Any:
        try:
            return self.impl(*data, **params)
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(f"{self.name}: {e} (inputs: {_describe(args)})") from None


def primitive(impl: Callable[..., np.ndarray]) -> Primitive:
    """Decorator: turn a NumPy function into a registered `Primitive`."""
    return Primitive(impl)
