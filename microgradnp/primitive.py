"""Primitives: a NumPy forward beside its vector-Jacobian product (VJP), registered by name.

    @primitive
    def exp(x):
        return np.exp(x)

    @exp.defvjp(uses_inputs=False)
    def _exp_vjp(g, out, needs, x):
        return (g * out,)          # d exp(x) = exp(x) dx

A VJP has the signature ``vjp(g, out, needs, *args, **params) -> tuple`` (one gradient or
None per argument; `needs[i]` says whether argument i wants one). It is written with
operators and primitives only, so that one rule serves both backward modes: plain arrays on
the fast path, Tensors when `create_graph=True` (the backward pass is then itself recorded).
Gradients may have the broadcast shape: the engine sums them back to each input's shape.

What a node keeps is declared, never guessed: `uses_inputs=False` (the VJP never reads its
inputs: add, exp, sigmoid) and `uses_out=False` (it never reads the output: mul, log).
Two optional extras, both checked against the plain VJP by the op table for every op that
has them:
- `@primitive(residuals=True)`: the forward returns `(out, residuals)`; the node keeps the
  residuals (arrays the backward can reuse) until backward frees them.
- `@op.deffast`: a NumPy-only VJP for the fast path, ``fast(g, out, needs, res, *arrays,
  **params)`` (`res`: the residuals, or None), when the plain rule would waste passes or
  memory.

Called with a Tensor among its arguments a primitive computes on `.data`, wraps the result
and records a `Node` when grad mode is on and some input requires grad. Called with plain
arrays only it returns a Tensor, except inside a fast backward pass, where VJPs get arrays.

`@primitive` returns the op as a plain function (`exp` above); its record, a `Primitive`
(`exp.prim`, also in `Primitive.registry`), holds the VJPs and flags, and is what nodes
point to.
"""

from __future__ import annotations

import sys
import traceback
import weakref
from collections.abc import Callable
from types import FunctionType
from typing import Any, ClassVar

import numpy as np

from . import graph
from .grad_mode import _local
from .graph import Node, _sequence
from .tensor import Tensor

# Creation traces of nodes recorded under `detect_anomaly` (a side table: no cost otherwise).
TRACES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def raw(x: Any) -> Any:
    """The ndarray behind a Tensor (anything else unchanged): for masks and shapes in VJPs."""
    return x.data if isinstance(x, Tensor) else x


def describe(args: tuple, params: dict | None = None) -> str:
    """Arguments as an error message shows them: shapes and dtypes of arrays."""
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"Tensor(shape={a.shape}, dtype={a.dtype})")
        elif isinstance(a, np.ndarray):
            parts.append(f"ndarray(shape={a.shape}, dtype={a.dtype})")
        elif isinstance(a, (int, float, bool, str, type(None))):
            parts.append(repr(a))
        else:
            parts.append(type(a).__name__)
    for k, v in (params or {}).items():
        if isinstance(v, (int, float, bool, str, tuple, type(None))):
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def op_error(name: str, e: Exception, args: tuple, params: dict | None = None) -> Exception:
    """A clear error for an op that failed in NumPy: the op, the arguments' shapes and dtypes,
    and NumPy's reason. The class is the builtin one (NumPy's ufunc error classes cannot be
    built from a message)."""
    kind: type[Exception] = RuntimeError
    for k in (IndexError, ValueError, TypeError):
        if isinstance(e, k):
            kind = k
            break
    return kind(f"{name}: {e} (arguments: {describe(args, params)})")


class Primitive:
    """A differentiable op's record: `impl` on ndarrays, `vjp` set with `defvjp`. The op
    itself, what `@primitive` returns and users call, is `op`: a plain function (a call to
    it costs half what a call to an object with `__call__` does), with this record's `name`,
    `impl`, `defvjp` and `deffast` as attributes; nodes point to the record."""

    registry: ClassVar[dict[str, Primitive]] = {}
    __slots__ = ("name", "impl", "vjp", "fast", "uses_inputs", "uses_out", "residuals",
                 "view", "op", "eager")  # fmt: skip

    def __init__(
        self,
        impl: Callable[..., Any],
        name: str | None = None,
        residuals: bool = False,
        view: bool = False,
    ) -> None:
        self.name = name or impl.__name__.lstrip("_")  # `_sum` registers as "sum"
        self.impl = impl
        self.vjp: Callable[..., tuple] | None = None
        self.fast: Callable[..., tuple] | None = None
        self.uses_inputs = True
        self.uses_out = True
        self.residuals = residuals
        self.view = view  # the output may share the first input's memory (see `primitive`)
        if self.name in Primitive.registry:
            raise ValueError(f"primitive {self.name!r} is already registered")
        Primitive.registry[self.name] = self
        self.op = _make_op(self, watched=True)
        self.eager = _make_op(self, watched=False)  # what an observer calls (see `observer`)
        op: Any = self.op
        if isinstance(impl, FunctionType):  # found where it is defined (pickle, help)
            op.__name__, op.__qualname__ = impl.__name__, impl.__qualname__
            op.__module__, op.__doc__ = impl.__module__, impl.__doc__
        else:  # a ufunc
            op.__name__ = op.__qualname__ = self.name
            op.__module__ = sys._getframe(2).f_globals["__name__"]  # who called `primitive`
            op.__doc__ = f"The differentiable op `{self.name}`: NumPy's `{impl.__name__}`."
        op.__wrapped__ = impl
        op.prim, op.name, op.impl = self, self.name, impl
        op.defvjp, op.deffast = self.defvjp, self.deffast

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
        self.uses_inputs = uses_inputs
        self.uses_out = uses_out
        return vjp

    def deffast(self, fast: Callable[..., tuple]) -> Callable[..., tuple]:
        """Set a NumPy-only VJP for the fast path (decorator; see the module docstring)."""
        self.fast = fast
        return fast

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def _plain(self, args: tuple, params: dict) -> Any:
        """No Tensor among the arguments: arrays in a fast backward pass, else a Tensor."""
        out = self.impl(*args, **params)
        if self.residuals:
            out = out[0]
        return out if _local.ctx.in_backward else Tensor._wrap(np.asarray(out))


# A function that sees every op call, `observer(prim, args, params)`, or None: how
# `mg.compile` records a step (it calls `prim.eager` to run the op itself).
observer: Callable[[Primitive, tuple, dict], Any] | None = None


def _make_op(prim: Primitive, watched: bool) -> Callable[..., Any]:
    """The function that runs `prim` (one per primitive; `watched`: it reports to
    `observer` when one is set)."""

    def op(*args: Any, **params: Any) -> Any:
        if watched:
            hook = observer
            if hook is not None:
                return hook(prim, args, params)
        # NOTE: the hot path of every op. One to three arguments (nearly all calls) are
        # unrolled; the loop at the end handles the rest.
        n = len(args)
        if n == 1:
            x = args[0]
            if not isinstance(x, Tensor):
                return prim._plain(args, params)
            data: tuple = (x.data,)
            needs: tuple = _NEEDS1 if x._requires_grad else _NEEDS0
        elif n == 2:
            x, y = args
            xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
            if not (xt or yt):
                return prim._plain(args, params)
            data = (x.data if xt else x, y.data if yt else y)
            needs = (xt and x._requires_grad, yt and y._requires_grad)
        elif n == 3:  # linear, where, layer norm, ...
            x, y, z = args
            xt, yt, zt = isinstance(x, Tensor), isinstance(y, Tensor), isinstance(z, Tensor)
            if not (xt or yt or zt):
                return prim._plain(args, params)
            data = (x.data if xt else x, y.data if yt else y, z.data if zt else z)
            needs = (xt and x._requires_grad, yt and y._requires_grad, zt and z._requires_grad)
        else:
            if not any(isinstance(a, Tensor) for a in args):
                return prim._plain(args, params)
            data = tuple([a.data if isinstance(a, Tensor) else a for a in args])
            needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        try:  # (an empty `**params` costs as much as a check)
            out = prim.impl(*data, **params) if params else prim.impl(*data)
        except (ValueError, TypeError, IndexError) as e:
            raise op_error(prim.name, e, args, params) from None
        res = None
        if prim.residuals:
            out, res = out
        if type(out) is not np.ndarray:  # NumPy gives scalars for 0-d results
            out = np.asarray(out)
        ctx = _local.ctx if True in needs else None
        if ctx is not None and ctx.record and out.dtype.kind == "f":
            # Each argument's parent: the node that made it or the leaf itself (those that
            # need a gradient), else the constant.
            if n == 1:
                parents: tuple = (x._node or x,)
            elif n == 2:
                parents = (x._node or x if needs[0] else x, y._node or y if needs[1] else y)
            elif n == 3:
                parents = (x._node or x if needs[0] else x, y._node or y if needs[1] else y,
                           z._node or z if needs[2] else z)  # fmt: skip
            else:
                parents = tuple([a._node or a if g else a
                                 for a, g in zip(args, needs, strict=True)])  # fmt: skip
            # NOTE: `Node(prim, parents, needs, args, data, params, out, res, ctx.modules)`,
            # inlined (the hot path of every recorded op); Node.__init__ is the reference.
            node = _new(Node)
            node.prim = prim
            node.parents = parents
            node.needs = needs
            if prim.uses_inputs:
                node.inputs = args
                node.data = data
            else:
                node.inputs = node.data = None
            node.out = out if prim.uses_out else None
            node.res = res
            node.params = params
            node.shape = out.shape
            node.dtype = out.dtype
            node.seq = next(_sequence)
            node.stamp = graph.clock
            node.scope = ctx.modules
            node.hooks = None
            if ctx.record == 2:
                TRACES[node] = traceback.format_stack()[:-1]
            t = Tensor._from_op(out, node)
        else:
            t = Tensor._wrap(out)
        if prim.view and out.base is not None:
            base = args[0]
            if isinstance(base, Tensor):  # `t._share_memory_with(base)`, inlined (hot path)
                t._base = base if base._base is None else base._base
        return t

    return op


_new = object.__new__
_NEEDS0, _NEEDS1 = (False,), (True,)


def primitive(
    impl: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    residuals: bool = False,
    view: bool = False,
) -> Any:
    """Decorator: turn a NumPy function into a registered `Primitive`.

    `residuals=True`: the forward returns `(out, residuals)`. `view=True`: the output may
    share memory with the first input (reshape, permute, basic indexing); when it does, it
    becomes a view of that tensor: one base, one version counter, as in PyTorch.

    A NumPy ufunc can be the forward itself, with no Python call in between:
    `add = primitive(np.add, name="add")`."""
    if impl is None:
        return lambda f: Primitive(f, name=name, residuals=residuals, view=view).op
    return Primitive(impl, name=name, residuals=residuals, view=view).op
