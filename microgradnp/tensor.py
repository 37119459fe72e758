"""The Tensor type: an ndarray, its gradient, and the node that produced it.

Operators and methods are one-line delegations to `microgradnp.ops`, where each op's forward
sits beside its backward. The one edge from `Tensor` back to its ops: `ops` imports `Tensor`,
so this module cannot import `ops` at load time; `microgradnp.ops` binds itself as `_ops`
here once it has loaded (the last line of `ops/__init__.py`), and the engine
(`autograd.py`) binds itself as `_autograd` for `backward()`.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import device as _device
from . import dtypes as _dtypes
from . import random as _random
from .graph import OUTPUT_CHANGED, _sequence

# The modules that import this one and that Tensor's methods call: bound by each of them
# when it loads (see the module docstring).
_ops: Any = None  # microgradnp.ops
_autograd: Any = None  # microgradnp.autograd, the engine


def _to_array(data: Any, dtype: Any = None, copy: builtins.bool = True) -> np.ndarray:
    """Convert user data: Python floats become the default dtype, ndarrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        arr = np.array(data, dtype=dtype, copy=copy)
    elif isinstance(data, np.generic):  # a NumPy scalar: always a new 0-d array
        arr = np.array(data, dtype=dtype)
    else:
        arr = np.array(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != _dtypes.get_default_dtype():
            arr = arr.astype(_dtypes.get_default_dtype())
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} (NumPy dtype "
            f"{arr.dtype}); use numbers, lists or ndarrays of bool, integer or float dtype"
        )
    return arr


class _RetainGrad:
    """The hook that `retain_grad()` puts on a non-leaf tensor's node: it accumulates the
    gradient into the tensor's `.grad` (held weakly: the graph must not keep it alive)."""

    __slots__ = ("ref",)

    def __init__(self, t: Tensor) -> None:
        self.ref = weakref.ref(t)


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

    # `_base`: the tensor whose memory a view shares (the root of a chain of views: `detach()`,
    # reshape, basic indexing...), else None. `_vc`: the version counter of a tensor that is
    # no view: the in-place clock (graph.py) at its memory's last in-place change, 0 if
    # never; a view's version is its base's.
    __slots__ = ("data", "_grad", "_requires_grad", "_node", "_vc", "_base", "_hooks",
                 "_post_hooks", "_seq", "__weakref__")  # fmt: skip
    # ndarray (+) Tensor must defer to Tensor's reflected operator, and np.exp(tensor) must
    # fail loudly instead of silently dropping the graph.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: builtins.bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype, copy=False)
        self._grad: Tensor | None = None
        self._node: Any = None
        self._vc = 0
        self._base: Tensor | None = None
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
        t._grad = None
        t._requires_grad = False
        t._node = None
        t._vc = 0
        t._base = None
        t._hooks = None
        t._post_hooks = None
        return t

    @classmethod
    def _from_op(cls, data: np.ndarray, node: Any) -> Tensor:
        """The output of a recorded op: `data` is an ndarray (callers make sure of it)."""
        t = object.__new__(cls)
        t.data = data
        t._grad = None
        t._requires_grad = True
        t._node = node
        t._vc = 0
        t._base = None
        t._hooks = None
        t._post_hooks = None
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def requires_grad(self) -> builtins.bool:
        """Whether gradients are computed for this tensor (only floating tensors can)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: builtins.bool) -> None:
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
        if value and self._node is None and not hasattr(self, "_seq"):
            # A leaf's place in creation order: every op that will use it as a parent is
            # recorded later, so backward can finish its gradient (and run its hooks) as
            # soon as the last of them is done.
            self._seq = next(_sequence)
        self._requires_grad = bool(value)

    @property
    def grad_fn(self) -> Any:
        """The node of the op that produced this tensor (None for a leaf)."""
        return self._node

    @property
    def is_leaf(self) -> builtins.bool:
        """True for a tensor no recorded op produced (parameters, inputs)."""
        return self._node is None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, a tuple of ints."""
        return self.data.shape

    @property
    def ndim(self) -> builtins.int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype."""
        return self.data.dtype

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """All dimensions reversed (a view)."""
        return _ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dimensions swapped (a view)."""
        return _ops.transpose(self, -2, -1)

    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape, or the size of dimension `dim`."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> builtins.int:
        """The number of dimensions."""
        return self.data.ndim

    def numel(self) -> builtins.int:
        """The number of elements."""
        return int(self.data.size)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
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
        """The values as (nested) Python lists."""
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        # np.sum(tensor) etc. raise TypeError naming the function (see __array_ufunc__);
        # use mg.sum(t), or np.sum(t.detach().numpy()) to leave the graph on purpose.
        return NotImplemented

    # ---- gradient, versions, graph -------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a Tensor of this tensor's shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad must be a Tensor or None, got {type(value).__name__}"
                )
            if value.shape != self.data.shape:
                raise RuntimeError(
                    f"assigned grad has shape {value.shape} but the tensor has shape "
                    f"{self.data.shape}"
                )
            if value.dtype != self.data.dtype:
                raise TypeError(
                    f"assigned grad has dtype {value.dtype} but the tensor has dtype "
                    f"{self.data.dtype}"
                )
        self._grad = value

    @property
    def _version(self) -> builtins.int:
        """The in-place clock at the last in-place change of this tensor's memory (through it
        or any view of the same base); 0 if never changed."""
        return self._vc if self._base is None else self._base._vc

    def _share_memory_with(self, other: Tensor) -> None:
        """Make this tensor a view of `other`: one base, hence one version counter."""
        self._base = other if other._base is None else other._base

    def _bump_version(self, clock: builtins.int) -> None:
        """Record an in-place change made at `clock`: the version counter moves, and the node
        that produced this memory (whose backward may read the old output) is marked."""
        root = self if self._base is None else self._base
        root._vc = clock
        for t in (self, self._base):
            if t is not None and t._node is not None and t._node.out is t.data:
                t._node.stamp = OUTPUT_CHANGED

    def detach(self) -> Tensor:
        """A new tensor sharing the data (and its version counter), cut from the graph."""
        t = Tensor._wrap(self.data)
        t._share_memory_with(self)
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place."""
        self._node = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        """Set `requires_grad` in place; returns self."""
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after `backward()`."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is not None and not self.retains_grad:
            self._node.register_prehook(_RetainGrad(self))

    @property
    def retains_grad(self) -> builtins.bool:
        """True for a non-leaf tensor on which `retain_grad()` was called."""
        hooks = self._node.hooks if self._node is not None else None
        return builtins.any(type(h) is _RetainGrad and h.ref() is self for h in hooks or ())

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor
        (of the same shape) replaces the gradient. Returns a function that removes it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is not None:
            return self._node.register_prehook(hook)
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
        hooks.append(hook)
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
        hooks = self._post_hooks
        hooks.append(hook)
        return lambda: hooks.remove(hook) if hook in hooks else None

    def backward(
        self,
        gradient: Any = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad."""
        _autograd.backward(self, gradient, retain_graph, create_graph)

    # ---- dtype and device ------------------------------------------------------------------
    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype (differentiable between floating dtypes)."""
        return _ops.astype(self, dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`t.to(dtype)`, `t.to('cpu')`, `t.to(device, dtype)`, `t.to(other)`, as PyTorch
        (the CPU is the only device)."""
        return _device.tensor_to(self, *args, **kwargs)

    def cpu(self) -> Tensor:
        """This tensor (everything is on the CPU)."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Raises: microgradnp has no GPU support."""
        _device.check_device("cuda")  # raises: there is no GPU
        return self

    @property
    def device(self) -> _device.device:
        """The device: always `device('cpu')`."""
        return _device.device("cpu")

    def float(self) -> Tensor:
        """A float32 copy."""
        return _ops.astype(self, np.float32)

    def double(self) -> Tensor:
        """A float64 copy."""
        return _ops.astype(self, np.float64)

    def half(self) -> Tensor:
        """A float16 copy."""
        return _ops.astype(self, np.float16)

    def long(self) -> Tensor:
        """An int64 copy (no gradient)."""
        return _ops.astype(self, np.int64)

    def int(self) -> Tensor:
        """An int32 copy (no gradient)."""
        return _ops.astype(self, np.int32)

    def bool(self) -> Tensor:
        """A bool copy (no gradient)."""
        return _ops.astype(self, np.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        """A copy in `other`'s dtype."""
        return _ops.astype(self, other.dtype)

    def contiguous(self) -> Tensor:
        """A tensor with its elements in row-major order (self when they already are)."""
        return self if self.data.flags.c_contiguous else _ops.clone(self)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (gradient passes through)."""
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

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter's display: the values as text and, for a tensor an op produced, the graph
        that produced it as SVG (with the values in the output node)."""
        from .viz.display import tensor_svg  # drawing is optional: loaded when displayed

        bundle = {"text/plain": repr(self)}
        svg = tensor_svg(self, show_data=True)
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle

    def __len__(self) -> builtins.int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> builtins.bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {self.shape}); use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __index__(self) -> builtins.int:
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

    def all(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """True where all elements (along `dim`) are nonzero."""
        axis, keepdim = _ops.dim_args(dim, keepdim, kw)
        return Tensor._wrap(np.all(self.data, axis=axis, keepdims=keepdim))

    def any(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """True where any element (along `dim`) is nonzero."""
        axis, keepdim = _ops.dim_args(dim, keepdim, kw)
        return Tensor._wrap(np.any(self.data, axis=axis, keepdims=keepdim))

    def where(self, condition: Any, other: Any) -> Tensor:
        """`mg.where(condition, self, other)`, PyTorch's method spelling."""
        return _ops.where(condition, self, other)

    # ---- in-place ---------------------------------------------------------------------------
    # Outside the graph they write into the array; on a tensor in the graph they are recorded
    # (see ops/inplace.py). Either way the version counter moves.
    def add_(self, other: Any, alpha: Any = 1.0) -> Tensor:
        """In place: self += alpha * other."""
        return _ops.inplace(self, "add", other if alpha == 1.0 else _ops.mul(other, alpha))

    def sub_(self, other: Any, alpha: Any = 1.0) -> Tensor:
        """In place: self -= alpha * other."""
        return _ops.inplace(self, "sub", other if alpha == 1.0 else _ops.mul(other, alpha))

    def mul_(self, other: Any) -> Tensor:
        """In place: self *= other."""
        return _ops.inplace(self, "mul", other)

    def div_(self, other: Any) -> Tensor:
        """In place: self /= other."""
        return _ops.inplace(self, "div", other)

    def pow_(self, exponent: Any) -> Tensor:
        """In place: self **= exponent."""
        return _ops.inplace(self, "pow", exponent)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """In place: clip to [min, max]."""
        return _ops.inplace(self, "clip", None, min=min, max=max)

    clip_ = clamp_

    def zero_(self) -> Tensor:
        """In place: fill with zeros."""
        return _ops.inplace(self, "fill", 0)

    def fill_(self, value: Any) -> Tensor:
        """In place: fill with `value`."""
        return _ops.inplace(self, "fill", value)

    def copy_(self, src: Any) -> Tensor:
        """In place: copy `src` (broadcast) into self."""
        return _ops.inplace(self, "copy", src)

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0) -> Tensor:
        """In place: draw from U(a, b) with the seeded generator."""
        return _ops.inplace(self, "copy", _random.default_generator().uniform(a, b, self.shape))

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Tensor:
        """In place: draw from N(mean, std^2) with the seeded generator."""
        values = _random.default_generator().normal(mean, std, self.shape)
        return _ops.inplace(self, "copy", values)

    def __iadd__(self, other: Any) -> Tensor:
        return _ops.inplace(self, "add", other)

    def __isub__(self, other: Any) -> Tensor:
        return _ops.inplace(self, "sub", other)

    def __imul__(self, other: Any) -> Tensor:
        return _ops.inplace(self, "mul", other)

    def __itruediv__(self, other: Any) -> Tensor:
        return _ops.inplace(self, "div", other)

    # ---- the ops as methods: t.f(*args) is mg.f(t, *args) -----------------------------------
    def exp(self) -> Tensor:
        """`mg.exp(self, ...)`: see that function."""
        return _ops.exp(self)

    def log(self) -> Tensor:
        """`mg.log(self, ...)`: see that function."""
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        """`mg.sqrt(self, ...)`: see that function."""
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        """`mg.abs(self, ...)`: see that function."""
        return _ops.abs(self)

    def sin(self) -> Tensor:
        """`mg.sin(self, ...)`: see that function."""
        return _ops.sin(self)

    def cos(self) -> Tensor:
        """`mg.cos(self, ...)`: see that function."""
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        """`mg.tanh(self, ...)`: see that function."""
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        """`mg.sigmoid(self, ...)`: see that function."""
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        """`mg.relu(self, ...)`: see that function."""
        return _ops.relu(self)

    def log1p(self) -> Tensor:
        """`mg.log1p(self, ...)`: see that function."""
        return _ops.log1p(self)

    def expm1(self) -> Tensor:
        """`mg.expm1(self, ...)`: see that function."""
        return _ops.expm1(self)

    def sign(self) -> Tensor:
        """`mg.sign(self, ...)`: see that function."""
        return _ops.sign(self)

    def neg(self) -> Tensor:
        """`mg.neg(self, ...)`: see that function."""
        return _ops.neg(self)

    def add(self, other: Any, alpha: Any = 1.0) -> Tensor:
        """`mg.add(self, ...)`: see that function."""
        return _ops.add(self, other if alpha == 1.0 else _ops.mul(other, alpha))

    def sub(self, other: Any, alpha: Any = 1.0) -> Tensor:
        """`mg.sub(self, ...)`: see that function."""
        return _ops.sub(self, other if alpha == 1.0 else _ops.mul(other, alpha))

    def mul(self, other: Any) -> Tensor:
        """`mg.mul(self, ...)`: see that function."""
        return _ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        """`mg.div(self, ...)`: see that function."""
        return _ops.div(self, other)

    def amax(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """`mg.amax(self, ...)`: see that function."""
        return _ops.amax(self, axis=dim, keepdims=keepdim)

    def amin(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """`mg.amin(self, ...)`: see that function."""
        return _ops.amin(self, axis=dim, keepdims=keepdim)

    def square(self) -> Tensor:
        """`mg.square(self, ...)`: see that function."""
        return _ops.square(self)

    def pow(self, exponent: Any) -> Tensor:
        """`mg.pow(self, ...)`: see that function."""
        return _ops.pow(self, exponent)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """`mg.clip(self, ...)`: see that function."""
        return _ops.clip(self, min, max)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """`mg.clamp(self, ...)`: see that function."""
        return _ops.clamp(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        """`mg.maximum(self, ...)`: see that function."""
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        """`mg.minimum(self, ...)`: see that function."""
        return _ops.minimum(self, other)

    def sum(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """`mg.sum(self, ...)`: see that function."""
        return _ops.sum(self, dim, keepdim, **kw)

    def mean(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """`mg.mean(self, ...)`: see that function."""
        return _ops.mean(self, dim, keepdim, **kw)

    def var(self, dim: Any = None, **kw: Any) -> Tensor:
        """`mg.var(self, ...)`: see that function."""
        return _ops.var(self, dim, **kw)

    def std(self, dim: Any = None, **kw: Any) -> Tensor:
        """`mg.std(self, ...)`: see that function."""
        return _ops.std(self, dim, **kw)

    def max(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Any:
        """`mg.max(self, ...)`: see that function."""
        return _ops.max(self, dim, keepdim, **kw)

    def min(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Any:
        """`mg.min(self, ...)`: see that function."""
        return _ops.min(self, dim, keepdim, **kw)

    def argmax(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """`mg.argmax(self, ...)`: see that function."""
        return _ops.argmax(self, dim, keepdim, **kw)

    def argmin(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """`mg.argmin(self, ...)`: see that function."""
        return _ops.argmin(self, dim, keepdim, **kw)

    def logsumexp(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        """`mg.logsumexp(self, ...)`: see that function."""
        return _ops.logsumexp(self, dim, keepdim, **kw)

    def softmax(self, dim: builtins.int = -1, **kw: Any) -> Tensor:
        """`mg.softmax(self, ...)`: see that function."""
        return _ops.softmax(self, dim, **kw)

    def log_softmax(self, dim: builtins.int = -1, **kw: Any) -> Tensor:
        """`mg.log_softmax(self, ...)`: see that function."""
        return _ops.log_softmax(self, dim, **kw)

    def matmul(self, other: Any) -> Tensor:
        """`mg.matmul(self, ...)`: see that function."""
        return _ops.matmul(self, other)

    def reshape(self, *shape: Any) -> Tensor:
        """`mg.reshape(self, ...)`: see that function."""
        return _ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """`mg.view(self, ...)`: see that function."""
        return _ops.view(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        """`mg.view_as(self, ...)`: see that function."""
        return _ops.view(self, other.shape)

    def transpose(self, dim0: Any = None, dim1: Any = None) -> Tensor:
        """`mg.transpose(self, ...)`: see that function."""
        return _ops.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        """`mg.permute(self, ...)`: see that function."""
        return _ops.permute(self, *dims)

    def squeeze(self, dim: Any = None) -> Tensor:
        """`mg.squeeze(self, ...)`: see that function."""
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        """`mg.unsqueeze(self, ...)`: see that function."""
        return _ops.unsqueeze(self, dim)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        """`mg.flatten(self, ...)`: see that function."""
        return _ops.flatten(self, start_dim, end_dim)

    def expand(self, *sizes: Any) -> Tensor:
        """`mg.expand(self, ...)`: see that function."""
        return _ops.expand(self, *sizes)

    def expand_as(self, other: Any) -> Tensor:
        """`mg.expand_as(self, ...)`: see that function."""
        return _ops.expand_as(self, other)

    def broadcast_to(self, *shape: Any) -> Tensor:
        """`mg.broadcast_to(self, ...)`: see that function."""
        return _ops.broadcast_to(self, *shape)

    def split(self, split_size_or_sections: Any, dim: builtins.int = 0) -> tuple:
        """`mg.split(self, ...)`: see that function."""
        return _ops.split(self, split_size_or_sections, dim)

    def gather(self, dim: builtins.int, index: Any) -> Tensor:
        """`mg.gather(self, ...)`: see that function."""
        return _ops.gather(self, dim, index)

    def pad(self, pad: Any, mode: str = "constant", value: builtins.float = 0.0) -> Tensor:
        """`mg.pad(self, ...)`: see that function."""
        return _ops.pad(self, pad, mode, value)

    def erf(self) -> Tensor:
        """`mg.erf(self, ...)`: see that function."""
        return _ops.erf(self)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """`mg.masked_fill(self, ...)`: see that function."""
        return _ops.masked_fill(self, mask, value)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        """`mg.tril(self, ...)`: see that function."""
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        """`mg.triu(self, ...)`: see that function."""
        return _ops.triu(self, diagonal)

    def bmm(self, other: Any) -> Tensor:
        """`mg.bmm(self, ...)`: see that function."""
        return _ops.bmm(self, other)

    def cumsum(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        """`mg.cumsum(self, ...)`: see that function."""
        return _ops.cumsum(self, dim, dtype=dtype)

    def sort(self, dim: builtins.int = -1, descending: builtins.bool = False, **kw: Any) -> Any:
        """`mg.sort(self, ...)`: see that function."""
        return _ops.sort(self, dim, descending, **kw)

    def topk(self, k: builtins.int, dim: builtins.int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> Any:  # noqa: A002  # fmt: skip
        """`mg.topk(self, ...)`: see that function."""
        return _ops.topk(self, k, dim, largest, sorted)

    def multinomial(self, num_samples: builtins.int, replacement: builtins.bool = False,
                    **kw: Any) -> Tensor:  # fmt: skip
        """`mg.multinomial(self, ...)`: see that function."""
        return _ops.multinomial(self, num_samples, replacement, **kw)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
