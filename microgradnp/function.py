"""User-defined differentiable ops: `Function` with `forward(ctx, ...)` and
`backward(ctx, *grads)`, as `torch.autograd.Function`; available as `mg.autograd.Function`.

`forward` receives Tensors (and any other arguments as they were passed) and runs with
recording off: compute with microgradnp ops, or leave the graph on purpose with
`x.detach().numpy()`; NumPy functions applied to a Tensor directly raise. It returns one
Tensor or a tuple of them. `backward` receives one gradient per output (zeros for outputs
that were not used) and returns one gradient (or None) per input of `forward`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .grad_mode import context, no_grad
from .graph import Node
from .tensor import Tensor


class FunctionCtx:
    """The `ctx` of a user-defined `Function`: stash tensors and values for backward."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors: Tensor) -> None:
        """Keep tensors for `backward` (read back as `ctx.saved_tensors`)."""
        self.saved_tensors = tensors


class TupleGrad:
    """The gradient of a node with several outputs: one slot per output (None until some
    gradient reaches it). `+` adds slot by slot, which is all the engine asks of it."""

    __slots__ = ("shape", "grads")

    def __init__(self, shape: tuple, grads: list) -> None:
        self.shape = shape  # the outputs' shapes: the engine compares it with Node.shape
        self.grads = grads

    def __add__(self, other: TupleGrad) -> TupleGrad:
        return TupleGrad(
            self.shape,
            [
                b if a is None else a if b is None else a + b
                for a, b in zip(self.grads, other.grads, strict=False)
            ],
        )


class _Select:
    """Output i of a multi-output `Function`: its VJP puts the gradient into slot i."""

    __slots__ = ("name", "index", "shapes")
    uses_inputs = uses_out = False
    fast = None

    def __init__(self, name: str, index: int, shapes: tuple) -> None:
        self.name, self.index, self.shapes = f"{name}_output{index}", index, shapes

    def vjp(self, g: Any, out: Any, needs: tuple, *args: Any) -> tuple:
        grads: list = [None] * len(self.shapes)
        grads[self.index] = g
        return (TupleGrad(self.shapes, grads),)


class _FunctionPrim:
    """Adapts a `Function` subclass to the engine's primitive interface: `vjp` on Tensors
    (create_graph), `fast` on arrays."""

    __slots__ = ("name", "cls", "shapes")
    cls: Any
    uses_inputs = True  # ctx.save_for_backward decides what backward sees
    uses_out = False

    def __init__(self, cls: Any, shapes: tuple | None) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.shapes = shapes  # the outputs' shapes when there are several, else None

    def _grads_in(self, g: Any, zeros: Callable[[tuple, Any], Any]) -> tuple:
        if self.shapes is None:
            return (g,)
        dtype = next(x for x in g.grads if x is not None).dtype
        return tuple(
            zeros(s, dtype) if x is None else x for x, s in zip(g.grads, self.shapes, strict=False)
        )

    def _check(self, res: Any, n_args: int) -> tuple:
        res = res if isinstance(res, tuple) else (res,)
        if len(res) != n_args:
            raise RuntimeError(
                f"{self.name}.backward returned {len(res)} gradients but forward took "
                f"{n_args} inputs"
            )
        return res

    def vjp(self, g: Any, out: Any, needs: tuple, *args: Any, ctx: FunctionCtx) -> tuple:
        grads = self._grads_in(g, lambda s, d: Tensor._wrap(np.zeros(s, d)))
        return self._check(self.cls.backward(ctx, *grads), len(args))

    def fast(self, g: Any, out: Any, needs: tuple, res: Any, *args: Any, ctx: FunctionCtx) -> tuple:
        grads = self._grads_in(g, np.zeros)
        with no_grad():
            result = self.cls.backward(ctx, *[Tensor._wrap(x) for x in grads])
        return tuple(
            None if r is None else np.asarray(r.data if isinstance(r, Tensor) else r)
            for r in self._check(result, len(args))
        )


def once_differentiable(backward: Callable) -> Callable:
    """Decorator for `Function.backward`: it is run with recording off even under
    `create_graph=True` (its result then carries no graph), as in PyTorch."""

    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        with no_grad():
            return backward(ctx, *grads)

    return wrapper


class Function:
    """Define an op by its forward and backward, as with `torch.autograd.Function`.

    Example:
        >>> import microgradnp as mg
        >>> class Cube(mg.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x * x
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return g * 3 * x * x      # d/dx x^3 = 3x^2
        >>> x = mg.tensor([2.0], requires_grad=True)
        >>> Cube.apply(x).backward(mg.tensor([1.0])); x.grad.tolist()
        [12.0]
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        """The op's value from its inputs (Tensors, recording off); one Tensor or a tuple."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> Any:
        """One gradient (or None) per input of `forward`, from one gradient per output."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run `forward` and record the op (when grad mode is on and an input needs grad)."""
        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        with no_grad():
            result = cls.forward(ctx, *args)
        several = isinstance(result, tuple)
        outs = [r if isinstance(r, Tensor) else Tensor._wrap(np.asarray(r)) for r in
                (result if several else (result,))]  # fmt: skip
        if not (context().enabled and any(needs)):
            return tuple(outs) if several else outs[0]
        shapes = tuple(o.shape for o in outs)
        parents = tuple(a._node or a if n else a for a, n in zip(args, needs, strict=False))
        data = tuple(a.data if isinstance(a, Tensor) else a for a in args)
        prim = _FunctionPrim(cls, shapes if several else None)
        node = Node(
            prim, parents, needs, args, data, {"ctx": ctx}, outs[0].data, None, context().modules
        )
        if not several:
            return Tensor._from_op(outs[0].data, node)
        node.shape = shapes
        return tuple(
            Tensor._from_op(
                o.data,
                Node(_Select(cls.__name__, i, shapes), (node,), (True,), (), (), {}, o.data, None),
            )  # fmt: skip
            if o.dtype.kind == "f"
            else o
            for i, o in enumerate(outs)
        )
