"""The Tensor type: an ndarray, its gradient, and the node that produced it.

Operators and methods are one-line delegations to `microgradnp.ops`, where each op's forward
sits beside its backward. `ops` imports `Tensor`, so it is imported once, at the bottom of this
file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import dtypes as _dtypes


def _to_array(data: Any, dtype: Any = None, copy: bool = True) -> np.ndarray:
    """Convert user data: Python floats become the default dtype, ndarrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dtype, copy=copy)
    else:
        arr = np.array(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != _dtypes.get_default_dtype():
            arr = arr.astype(_dtypes.get_default_dtype())
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"tensor: cannot make a tensor from {type(data).__name__} "
                f"(NumPy dtype {arr.dtype}); use numbers, lists or ndarrays"
            )
    return arr


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    # `_version`: the in-place clock (graph.GradMode.clock) at this tensor's last in-place
    # change, 0 if never; backward compares it with the recording time of each node.
    __slots__ = (
        "data",
        "grad",
        "_requires_grad",
        "_node",
        "_version",
        "_retains_grad",
        "_hooks",
        "_post_hooks",
        "__weakref__",
    )
    # ndarray (+) Tensor must defer to Tensor's reflected operator, and np.exp(tensor) must
    # fail loudly instead of silently dropping the graph.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype, copy=False)
        self.grad: Tensor | None = None
        self._node = None
        self._version = 0
        self._retains_grad = False
        self._hooks: list | None = None
        self._post_hooks: list | None = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, data: Any) -> Tensor:
        """Fast internal constructor around an ndarray (no copy, no checks)."""
        t = object.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t._requires_grad = False
        t._node = None
        t._version = 0
        t._retains_grad = False
        t._hooks = None
        t._post_hooks = None
        return t

    @classmethod
    def _from_op(cls, data: Any, node: Any) -> Tensor:
        t = object.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t._requires_grad = True
        t._node = node
        t._version = 0
        t._retains_grad = False
        t._hooks = None
        t._post_hooks = None
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating point tensors can require gradients; this one has dtype "
                f"{self.data.dtype}"
            )
        if not value and self._node is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use detach() "
                "to get a tensor outside the graph"
            )
        self._requires_grad = bool(value)

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return _ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return _ops.transpose(self, -2, -1)

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(
                f"item(): only one element tensors can be converted to Python scalars; "
                f"this one has shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shares memory), like `torch.Tensor.numpy()`."""
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()"
            )
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        # np.sum(tensor) etc. raise TypeError naming the function (see __array_ufunc__);
        # use mg.sum(t), or np.sum(t.detach().numpy()) to leave the graph on purpose.
        return NotImplemented

    # ---- graph --------------------------------------------------------------------------
    def detach(self) -> Tensor:
        """A new tensor sharing the data, cut from the graph."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after `backward()`."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a function that removes the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        hooks = self._hooks
        return lambda: hooks.remove(hook) if hook in hooks else None

    def register_post_accumulate_grad_hook(
        self, hook: Callable[[Tensor], None]
    ) -> Callable[[], None]:
        """Call `hook(self)` after backward has accumulated into this leaf's `.grad`
        (PyTorch's name; distributed training averages gradients from here)."""
        if self._node is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        hooks = self._post_hooks
        return lambda: hooks.remove(hook) if hook in hooks else None

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad."""
        if gradient is None and not create_graph and self._node is not None:
            # the common case, `loss.backward()`, without the general argument handling
            one = _autograd._as_root_grad(self, None, False, "backward")
            _autograd._run_backward((self,), (one,), bool(retain_graph), False, None)
            return
        _autograd.backward(self, gradient, retain_graph, create_graph)

    # ---- dtype conversion ----------------------------------------------------------------
    def astype(self, dtype: Any) -> Tensor:
        return _ops.astype(self, dtype)

    def to(self, dtype: Any) -> Tensor:
        return _ops.astype(self, dtype)

    def float(self) -> Tensor:
        return _ops.astype(self, np.float32)

    def double(self) -> Tensor:
        return _ops.astype(self, np.float64)

    def long(self) -> Tensor:
        return _ops.astype(self, np.int64)

    def int(self) -> Tensor:
        return _ops.astype(self, np.int32)

    def bool(self) -> Tensor:
        return _ops.astype(self, np.bool_)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    # ---- Python protocol ---------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in (_dtypes.get_default_dtype(), np.int64, np.bool_):
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {self.shape}); use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data)

    __hash__ = object.__hash__  # identity: == is elementwise, tensors key dicts by object

    # ---- operators ---------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        _ops.setitem_(self, index, value)

    # Comparisons carry no gradient and give bool tensors.
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < _raw(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= _raw(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > _raw(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= _raw(other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == _raw(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != _raw(other))

    def __invert__(self) -> Tensor:
        return Tensor._wrap(~self.data)

    def __and__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data & _raw(other))

    def __or__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data | _raw(other))

    def __xor__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data ^ _raw(other))

    def all(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        axis, keepdim = _ops.dim_args(dim, keepdim, kw)
        return Tensor._wrap(np.all(self.data, axis=axis, keepdims=keepdim))

    def any(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        axis, keepdim = _ops.dim_args(dim, keepdim, kw)
        return Tensor._wrap(np.any(self.data, axis=axis, keepdims=keepdim))

    def where(self, condition: Any, other: Any) -> Tensor:
        """`mg.where(condition, self, other)`, PyTorch's method spelling."""
        return _ops.where(condition, self, other)

    # ---- in-place (for optimizers and initialisers) ---------------------------------------
    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return _ops.inplace(self, "add", other if alpha == 1.0 else _ops.mul(other, alpha))

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return _ops.inplace(self, "sub", other if alpha == 1.0 else _ops.mul(other, alpha))

    def mul_(self, other: Any) -> Tensor:
        return _ops.inplace(self, "mul", other)

    def div_(self, other: Any) -> Tensor:
        return _ops.inplace(self, "div", other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _ops.inplace(self, "clip", None, min=min, max=max)

    clip_ = clamp_

    def zero_(self) -> Tensor:
        return _ops.inplace(self, "fill", 0)

    def fill_(self, value: Any) -> Tensor:
        return _ops.inplace(self, "fill", value)

    def copy_(self, src: Any) -> Tensor:
        return _ops.inplace(self, "copy", src)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        return _ops.inplace(self, "copy", _random.default_generator().uniform(a, b, self.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        return _ops.inplace(self, "copy", _random.default_generator().normal(mean, std, self.shape))


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


# Imported last: these modules need the Tensor class defined above.
from . import autograd as _autograd  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import random as _random  # noqa: E402

# Methods that are the functions of the same name: t.f(*args) == mg.f(t, *args).
_SAME_AS_FUNCTION = (
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "clip",
    "clamp",
    "maximum",
    "minimum",
    "sum",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "argmax",
    "argmin",
    "logsumexp",
    "softmax",
    "log_softmax",
    "reshape",
    "view",
    "transpose",
    "permute",
    "squeeze",
    "unsqueeze",
    "flatten",
    "expand",
    "expand_as",
    "broadcast_to",
    "matmul",
    "pad",
    "gather",
    "split",
    "square",
    "pow",
    "neg",
    "log1p",
    "expm1",
    "sign",
)
for _name in _SAME_AS_FUNCTION:
    setattr(Tensor, _name, getattr(_ops, _name))
del _name
