"""Devices: microgradnp computes on the CPU only, but speaks PyTorch's `device=` language.

`device("cpu")` is the one device; factories and `.to(...)` accept it (or the string "cpu",
or a `torch.device("cpu")`) and say plainly that there is no GPU for anything else.
`check_device` is the one place that decides; `parse_to_args` reads the arguments of
PyTorch's `.to(...)` overloads; `tensor_to` implements `Tensor.to`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_device", "device", "parse_to_args", "tensor_to"]


def _no_gpu(value: Any) -> RuntimeError:
    return RuntimeError(f"microgradnp runs on the CPU only (no GPU): device={value!r}")


class device:  # noqa: N801 - PyTorch's spelling
    """A device, as `torch.device`: only `device("cpu")` (index None or 0) exists here.

    Example:
        >>> device("cpu"), str(device("cpu:0")), device("cpu") == "cpu"
        (device(type='cpu'), 'cpu:0', True)
        >>> device("cuda")
        Traceback (most recent call last):
        ...
        RuntimeError: microgradnp runs on the CPU only (no GPU): device='cuda'
    """

    __slots__ = ("index", "type")
    type: str
    index: int | None

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        given: Any = type
        if isinstance(given, device):
            given, index = given.type, given.index if index is None else index
        name = given if isinstance(given, str) else getattr(given, "type", None)
        if not isinstance(name, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {given!r}")
        kind, _, number = name.partition(":")
        if kind != "cpu":
            raise _no_gpu(given if index is None else f"{name}:{index}")
        if number:
            if not number.isdigit() or index is not None:
                raise ValueError(f"device: invalid device string {name!r}")
            index = int(number)
        if index is not None and index != 0:
            raise _no_gpu(f"cpu:{index}")
        self.type = "cpu"
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, ValueError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def check_device(value: Any) -> None:
    """Accept `None`, "cpu", "cpu:0", `device("cpu")` or a `torch.device("cpu")`; raise
    `RuntimeError("microgradnp runs on the CPU only (no GPU): device=...")` for anything
    else ("cuda", "mps", ...).

    Example:
        >>> check_device("cpu")
        >>> check_device("cuda:1")
        Traceback (most recent call last):
        ...
        RuntimeError: microgradnp runs on the CPU only (no GPU): device='cuda:1'
    """
    if value is not None:
        device(value)


def _is_device(value: Any) -> bool:
    return isinstance(value, (str, device)) or type(value).__name__ == "device"


def _is_tensor(value: Any) -> bool:
    # NOTE: NumPy's scalar types (np.float64) have `dtype` and `shape` too, as class attributes.
    return not isinstance(value, type) and hasattr(value, "dtype") and hasattr(value, "shape")


def parse_to_args(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
    """Read PyTorch's `.to(...)` arguments: `to(dtype)`, `to(device, dtype=None)`,
    `to(other_tensor)`, with the keywords `device`, `dtype`, `non_blocking` (ignored) and
    `copy`. Checks the device; returns `(dtype or None, copy)`.

    Example:
        >>> parse_to_args("cpu", np.float64)
        (dtype('float64'), False)
        >>> parse_to_args(dtype="float32", copy=True)
        (dtype('float32'), True)
    """
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    target_device, dtype = kwargs.get("device"), kwargs.get("dtype")
    positional = list(args)
    if len(positional) > 2:
        raise TypeError(f"to() takes at most 2 positional arguments, got {len(positional)}")
    if positional and _is_tensor(positional[0]):
        other = positional.pop(0)  # to(other): other's dtype (and device, always the CPU)
        dtype = other.dtype if dtype is None else dtype
    elif positional and _is_device(positional[0]):
        try:
            np.dtype(positional[0])  # a dtype name such as "float32" is not a device
        except TypeError:
            target_device = positional.pop(0)
    if positional:
        dtype = positional.pop(0)
        if positional and isinstance(positional[0], bool):
            positional.pop(0)  # non_blocking
    if positional:
        raise TypeError(f"to(): cannot read the arguments {args!r}")
    check_device(target_device)
    return (None if dtype is None else np.dtype(dtype)), bool(kwargs.get("copy", False))


def tensor_to(t: Any, *args: Any, **kwargs: Any) -> Any:
    """`Tensor.to(...)` as in PyTorch: `t` itself when nothing changes (a copy with
    `copy=True`), else a cast (differentiable, as `astype`).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0])
        >>> tensor_to(x, "cpu") is x, tensor_to(x, "cpu", mg.float64).dtype
        (True, dtype('float64'))
    """
    dtype, copy = parse_to_args(*args, **kwargs)
    if dtype is None or dtype == t.dtype:
        return t.clone() if copy else t
    return t.astype(dtype)
