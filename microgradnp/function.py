"""User-defined differentiable ops: `Function` with `forward(ctx, ...)` and
`backward(ctx, grad)`, as `torch.autograd.Function`; available as `mg.autograd.Function`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grad_mode import set_grad_enabled
from .graph import GradMode, Node
from .tensor import Tensor


class FunctionCtx:
    """The `ctx` of a user-defined `Function`: stash tensors and values for backward."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors: Tensor) -> None:
        self.saved_tensors = tensors


class _FunctionPrim:
    """Adapts a `Function` subclass to the engine's primitive interface."""

    __slots__ = ("name", "cls")
    saves_inputs = True  # ctx.save_for_backward decides what backward sees

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.name = cls.__name__

    def vjp(self, g: Any, out: Any, needs: tuple, *args: Any, ctx: FunctionCtx) -> tuple:
        fast = not isinstance(g, Tensor)
        with set_grad_enabled(not fast):
            res = self.cls.backward(ctx, Tensor._wrap(g) if fast else g)
        if not isinstance(res, tuple):
            res = (res,)
        if len(res) != len(args):
            raise RuntimeError(
                f"{self.name}.backward returned {len(res)} gradients but forward took "
                f"{len(args)} inputs"
            )
        if fast:
            return tuple(
                None if r is None else np.asarray(r.data if isinstance(r, Tensor) else r)
                for r in res
            )
        return res


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
    def forward(ctx: FunctionCtx, *args: Any) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        with set_grad_enabled(False):
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            out = Tensor._wrap(np.asarray(out))
        if GradMode.enabled and any(needs):
            prim = cls.__dict__.get("_prim") or _FunctionPrim(cls)
            cls._prim = prim
            data = [a.data if isinstance(a, Tensor) else a for a in args]
            out = Tensor._from_op(out.data, Node(prim, args, data, {"ctx": ctx}, needs))
        return out
