"""Post-training quantization of whole models, with `torch.ao.quantization`'s entry points.

- `quantize_dynamic(model, {nn.Linear, nn.Conv2d}, dtype='int8')`: a copy whose layers of
  those types are `QuantizedLinear` / `QuantizedConv2d` with activation scales chosen per
  input at run time.
- Static: `prepared = prepare(model)` (a copy whose quantizable layers have an
  `input_observer` and an `output_observer`), run calibration batches through `prepared`,
  then `convert(prepared)` (a copy with static quantized layers, scales fixed by the
  observers).

Example:
    >>> import microgradnp as mg
    >>> net = mg.nn.Sequential(mg.nn.Linear(8, 16), mg.nn.ReLU(), mg.nn.Linear(16, 3))
    >>> qnet = quantize_dynamic(net, {mg.nn.Linear}, dtype="int8")
    >>> [type(m).__name__ for m in qnet]
    ['QuantizedLinear', 'ReLU', 'QuantizedLinear']
    >>> prepared = prepare(net)
    >>> for _ in range(4):
    ...     _ = prepared(mg.randn(32, 8))
    >>> snet = convert(prepared)
    >>> snet[0]
    QuantizedLinear(in_features=8, out_features=16, static)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..nn.conv import Conv2d
from ..nn.layers import Linear
from ..nn.module import Module
from .modules import QuantizedConv2d, QuantizedLinear
from .observer import MinMaxObserver

__all__ = ["convert", "prepare", "quantize_dynamic"]

_MAPPING: dict[type, Any] = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d}
_INT8 = ("int8", "qint8", np.int8, np.dtype(np.int8))


def _spec(qconfig_spec: Iterable[type] | None) -> tuple[type, ...]:
    types = (Linear,) if qconfig_spec is None else tuple(qconfig_spec)
    for t in types:
        if t not in _MAPPING:
            raise ValueError(
                f"cannot quantize {getattr(t, '__name__', t)!r}: supported layer types are "
                + ", ".join(k.__name__ for k in _MAPPING)
            )
    return types


def _swap(model: Module, make: Callable[[Module], Module | None]) -> Module:
    """Replace every module m for which make(m) is not None (the model itself included)."""
    top = make(model)
    if top is not None:
        return top
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            new = make(child) if child is not None else None
            if new is not None:
                setattr(parent, name, new)
    return model


def quantize_dynamic(
    model: Module,
    qconfig_spec: Iterable[type] | None = None,
    dtype: Any = "int8",
    inplace: bool = False,
) -> Module:
    """Replace the layers of the types in `qconfig_spec` (default `{nn.Linear}`) by int8
    quantized layers with per-input activation scales; returns the model (a copy unless
    `inplace`).

    Example:
        >>> import microgradnp as mg
        >>> quantize_dynamic(mg.nn.Linear(3, 2))
        QuantizedLinear(in_features=3, out_features=2, dynamic)
    """
    if not any(dtype is d or dtype == d for d in _INT8):
        raise ValueError(f"quantize_dynamic: only dtype='int8' is supported, got {dtype!r}")
    if not isinstance(model, Module):
        raise TypeError(f"quantize_dynamic expects an mg.nn.Module, got {type(model).__name__}")
    types = _spec(qconfig_spec)
    model = model if inplace else copy.deepcopy(model)

    def make(m: Module) -> Module | None:
        return _MAPPING[type(m)].from_float(m) if type(m) in types else None

    return _swap(model, make)


def prepare(
    model: Module,
    qconfig_spec: Iterable[type] | None = None,
    observer: Callable[[], Module] = MinMaxObserver,
    inplace: bool = False,
) -> Module:
    """Attach an `input_observer` and an `output_observer` (made by `observer()`) to each
    layer of the types in `qconfig_spec` (default `{nn.Linear, nn.Conv2d}`); calling the
    model then records activation ranges. Returns the model (a copy unless `inplace`).

    Example:
        >>> import microgradnp as mg
        >>> p = prepare(mg.nn.Linear(2, 2))
        >>> _ = p(mg.tensor([[1.0, -3.0]])); p.input_observer.min_val.item()
        -3.0
    """
    if not isinstance(model, Module):
        raise TypeError(f"prepare expects an mg.nn.Module, got {type(model).__name__}")
    types = _spec((Linear, Conv2d) if qconfig_spec is None else qconfig_spec)
    model = model if inplace else copy.deepcopy(model)
    for m in list(model.modules()):
        if type(m) in types and "input_observer" not in m._modules:
            m.input_observer = observer()
            m.output_observer = observer()
            m.register_forward_pre_hook(_observe_input)
            m.register_forward_hook(_observe_output)
    return model


def _observe_input(module: Module, args: tuple) -> None:
    module.input_observer(args[0])


def _observe_output(module: Module, args: tuple, out: Any) -> None:
    module.output_observer(out)


def convert(model: Module, inplace: bool = False) -> Module:
    """Replace each observed layer (see `prepare`) by its static quantized version, with the
    input and output scales its observers chose. Returns the model (a copy unless
    `inplace`).

    Example:
        >>> import microgradnp as mg
        >>> p = prepare(mg.nn.Linear(2, 2))
        >>> _ = p(mg.randn(16, 2))
        >>> convert(p).state_dict()["input_zero_point"].dtype
        dtype('int64')
    """
    if not isinstance(model, Module):
        raise TypeError(f"convert expects an mg.nn.Module, got {type(model).__name__}")
    model = model if inplace else copy.deepcopy(model)
    found = []

    def make(m: Module) -> Module | None:
        if type(m) not in _MAPPING or "input_observer" not in m._modules:
            return None
        q = _MAPPING[type(m)].from_float(m, static=True)
        q.set_activation_qparams(
            m.input_observer.calculate_qparams(), m.output_observer.calculate_qparams()
        )
        found.append(q)
        return q

    model = _swap(model, make)
    if not found:
        raise ValueError("convert: no observed layer found; call prepare(model) first")
    return model
