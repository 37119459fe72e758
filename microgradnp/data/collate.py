"""Collation: turning a list of samples into a batch of tensors, as PyTorch's `default_collate`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..dtypes import get_default_dtype
from ..ops import stack
from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples into a batch of tensors, field by field, as PyTorch does.

    Tensors and ndarrays are stacked along a new first axis (ndarrays keep their dtype);
    Python floats become the default float dtype, ints `int64`, bools `bool`; strings stay a
    list; tuples and lists of fields give a list of batches; dicts a dict of batches.

    Example:
        >>> xb, yb = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
        >>> xb.shape, yb.tolist()
        ((2, 2), [1, 0])
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, (np.ndarray, np.generic)):
        return from_numpy(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return from_numpy(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return from_numpy(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return from_numpy(np.array(batch, dtype=get_default_dtype()))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in elem}
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise ValueError("default_collate: each sample in a batch must have the same size")
        fields = [default_collate(list(field)) for field in zip(*batch, strict=True)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
            return type(elem)(*fields)
        return fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """Turn ndarrays into tensors, inside tuples, lists and dicts too; leave the rest as is.

    What a `DataLoader` with `batch_size=None` (no batching) applies to each sample, as in
    PyTorch.

    Example:
        >>> x, label = default_convert((np.zeros(2), 3))
        >>> type(x).__name__, x.shape, label
        ('Tensor', (2,), 3)
    """
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return from_numpy(data)
    if isinstance(data, Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(d) for d in data)
    return data
