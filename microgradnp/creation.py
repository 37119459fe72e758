"""Making tensors: `tensor`, `from_numpy` and the factories (zeros, randn, arange, ...).

Float factories use the default dtype (float32 unless `set_default_dtype` says otherwise);
random ones draw from the generator seeded by `mg.manual_seed`. Every factory takes PyTorch's
`device=` keyword: "cpu" (the only device) or None; anything else says there is no GPU.
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
    """A tensor that shares memory with `array` (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.zeros(_size(size), _dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.ones(_size(size), _dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
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
    check_device(device)
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _make(np.full(_size((size,)), fill_value, _dtype(dtype)), requires_grad)


def zeros_like(
    t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    check_device(device)
    a = np.asarray(t)
    return _make(np.zeros(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def ones_like(
    t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
    check_device(device)
    a = np.asarray(t)
    return _make(np.ones(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def full_like(
    t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None
) -> Tensor:
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
    """Like `torch.arange`: int64 when every bound is an int, else the default dtype."""
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
    check_device(device)
    return _make(np.linspace(start, end, steps, dtype=_dtype(dtype)), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform on [0, 1)."""
    check_device(device)
    arr = default_generator().random(_size(size), dtype=np.float64).astype(_dtype(dtype))
    return _make(arr, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal."""
    check_device(device)
    arr = default_generator().standard_normal(_size(size)).astype(_dtype(dtype))
    return _make(arr, requires_grad)


def randint(
    low: int, high: Any = None, size: Any = (), dtype: Any = None, *, device: Any = None
) -> Tensor:
    """Integers in [low, high) (or [0, low) when `high` is omitted), int64 by default."""
    check_device(device)
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    arr = default_generator().integers(low, high, size=tuple(size), dtype=np.int64)
    return Tensor._wrap(arr if dtype is None else arr.astype(dtype))
