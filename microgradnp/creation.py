"""Making tensors: `tensor`, `from_numpy` and the factories (zeros, randn, arange, ...).

Float factories use the default dtype (float32 unless `set_default_dtype` says otherwise);
random ones draw from the generator seeded by `mg.manual_seed`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .device import check_device
from .random import default_generator
from .tensor import Tensor, _to_array


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad = True  # checks the dtype
    return t


def tensor(
    data: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    """A new tensor holding a copy of `data`.

    Python floats and lists become the default dtype (float32); integers become int64;
    an ndarray keeps its dtype. Only floating tensors can require grad.

    Example:
        >>> import microgradnp as mg
        >>> mg.tensor([1.0, 2.0]).dtype, mg.tensor([1, 2]).dtype
        (dtype('float32'), dtype('int64'))
    """
    check_device(device)
    return _make(_to_array(data, dtype, copy=True), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with `array` (changes show in both).

    Example:
        >>> import numpy as np
        >>> import microgradnp as mg
        >>> a = np.zeros(2)
        >>> t = mg.from_numpy(a)
        >>> a[0] = 5.0
        >>> t.tolist(), t.dtype
        ([5.0, 0.0], dtype('float64'))
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros of the given size, in the default dtype unless `dtype` says otherwise.

    The size is given as separate ints or as one tuple, as in `torch.zeros`.

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 3).shape, mg.zeros((2, 3)).tolist()[0]
        ((2, 3), [0.0, 0.0, 0.0])
    """
    check_device(device)
    return _make(np.zeros(_size(size), _dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones of the given size (ints or one tuple), in the default dtype.

    Example:
        >>> import microgradnp as mg
        >>> mg.ones(3, requires_grad=True).requires_grad, mg.ones(2, dtype="int64").tolist()
        (True, [1, 1])
    """
    check_device(device)
    return _make(np.ones(_size(size), _dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """An uninitialised tensor of the given size: its values are whatever memory held.

    Example:
        >>> import microgradnp as mg
        >>> mg.empty(2, 4).shape
        (2, 4)
    """
    check_device(device)
    return _make(np.empty(_size(size), _dtype(dtype)), requires_grad)


def full(
    size: Any,
    fill_value: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    *,
    device: Any = None,
) -> Tensor:
    """A tensor of `size` filled with `fill_value`.

    As in `torch.full`, the dtype follows the fill value when `dtype` is omitted: bool for a
    bool, int64 for an int, the default float dtype for a float.

    Example:
        >>> import microgradnp as mg
        >>> mg.full((2, 2), 7).tolist(), mg.full((2,), 0.5).dtype
        ([[7, 7], [7, 7]], dtype('float32'))
    """
    check_device(device)
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _make(np.full(_size((size,)), fill_value, _dtype(dtype)), requires_grad)


def zeros_like(
    t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    """Zeros with the shape and (unless `dtype` is given) the dtype of `t`.

    Example:
        >>> import microgradnp as mg
        >>> z = mg.zeros_like(mg.tensor([[1.0, 2.0]]))
        >>> z.shape, z.dtype
        ((1, 2), dtype('float32'))
    """
    check_device(device)
    a = np.asarray(t)
    return _make(np.zeros(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def ones_like(
    t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    """Ones with the shape and (unless `dtype` is given) the dtype of `t`.

    Example:
        >>> import microgradnp as mg
        >>> mg.ones_like(mg.arange(3)).tolist()
        [1, 1, 1]
    """
    check_device(device)
    a = np.asarray(t)
    return _make(np.ones(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def full_like(
    t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    """`fill_value` everywhere, with the shape and (unless `dtype` is given) the dtype of `t`.

    Example:
        >>> import microgradnp as mg
        >>> mg.full_like(mg.zeros(2), 3.5).tolist()
        [3.5, 3.5]
    """
    check_device(device)
    a = np.asarray(t)
    return _make(np.full(a.shape, fill_value, a.dtype if dtype is None else dtype), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = None,
    requires_grad: bool = False,
    *,
    device: Any = None,
) -> Tensor:
    """The `n` x `m` identity matrix (`m` defaults to `n`), in the default dtype.

    Example:
        >>> import microgradnp as mg
        >>> mg.eye(2).tolist(), mg.eye(2, 3).shape
        ([[1.0, 0.0], [0.0, 1.0]], (2, 3))
    """
    check_device(device)
    return _make(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    *,
    device: Any = None,
) -> Tensor:
    """Values from `start` up to, not including, `end` in steps of `step`, as `torch.arange`.

    int64 when every bound is an int, else the default dtype; `arange(n)` counts from 0.

    Example:
        >>> import microgradnp as mg
        >>> mg.arange(4).tolist(), mg.arange(0, 1, 0.25).tolist()
        ([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])
    """
    check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else dtypes.get_default_dtype()
    return _make(np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    requires_grad: bool = False,
    *,
    device: Any = None,
) -> Tensor:
    """`steps` evenly spaced values from `start` to `end`, both included (the default dtype).

    Example:
        >>> import microgradnp as mg
        >>> mg.linspace(0, 1, 5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    check_device(device)
    return _make(np.linspace(start, end, steps, dtype=_dtype(dtype)), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1), drawn from the generator `mg.manual_seed` seeds.

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> x = mg.rand(1000)
        >>> bool((x.numpy() >= 0).all() and (x.numpy() < 1).all())
        True
    """
    check_device(device)
    arr = default_generator().random(_size(size), dtype=np.float64).astype(_dtype(dtype))
    return _make(arr, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Samples of the standard normal distribution, drawn from the seeded generator.

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> a = mg.randn(2, 3)
        >>> _ = mg.manual_seed(0)
        >>> a.shape, a.tolist() == mg.randn(2, 3).tolist()
        ((2, 3), True)
    """
    check_device(device)
    arr = default_generator().standard_normal(_size(size)).astype(_dtype(dtype))
    return _make(arr, requires_grad)


def randint(
    low: int, high: Any = None, size: Any = (), dtype: Any = None, *, device: Any = None
) -> Tensor:
    """Integers in [low, high) (or [0, low) when `high` is omitted), int64 by default.

    `randint(high, size)` is accepted as in PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.randint(0, 10, (100,))
        >>> x.dtype, 0 <= int(x.numpy().min()) and int(x.numpy().max()) < 10
        (dtype('int64'), True)
    """
    check_device(device)
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    arr = default_generator().integers(low, high, size=tuple(size), dtype=np.int64)
    return Tensor._wrap(arr if dtype is None else arr.astype(dtype))
