"""Map-style data sets: `Dataset`, `TensorDataset`, `Subset` and `random_split`, as in
`torch.utils.data`.

Batching lives in `loader.py` (with `collate.py` and `sampler.py`); preprocessing helpers in
`preprocessing.py`. Splitting draws from the generator that `mg.manual_seed` seeds, unless
given one.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Dataset", "Subset", "TensorDataset", "random_split"]


class Dataset(ABC):
    """A map-style data set: `len(ds)` samples, `ds[i]` is sample `i` for `0 <= i < len(ds)`.

    Subclasses implement `__getitem__` and `__len__`. A subclass may also define
    `_get_batch(indices)` returning an already-collated batch for an integer index array;
    `DataLoader` then fetches whole batches at once instead of stacking samples one by one.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 4
        ...     def __getitem__(self, i): return i * i
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    @abstractmethod
    def __len__(self) -> int: ...


def _first_dim(t: Any) -> int:
    shape = t.shape  # tensors refuse NumPy's functions (np.shape), so ask the object itself
    if len(shape) == 0:
        raise ValueError(
            "TensorDataset: every tensor needs a first (sample) dimension; got a 0-d one"
        )
    return int(shape[0])


class TensorDataset(Dataset):
    """Samples are the rows of tensors (or ndarrays) that share their first dimension.

    `ds[i]` is the tuple `(t[i] for t in tensors)`.

    Example:
        >>> X, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 0])
        >>> ds = TensorDataset(X, y)
        >>> x1, y1 = ds[1]
        >>> len(ds), x1.tolist(), int(y1)
        (3, [2.0, 3.0], 1)
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(
            t if isinstance(t, (Tensor, np.ndarray)) else np.asarray(t) for t in tensors
        )
        sizes = [_first_dim(t) for t in tensors]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in the first dimension, "
                f"got shapes {shapes}"
            )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return _first_dim(self.tensors[0])

    def _get_batch(self, indices: np.ndarray) -> list[Any]:
        # NOTE: fancy indexing copies, so sharing the result with from_numpy is safe.
        batch = []
        for t in self.tensors:
            if isinstance(t, Tensor) and t.requires_grad:
                batch.append(t[indices])  # keep the graph, as torch.stack would
            else:
                batch.append(from_numpy(np.asarray(t)[indices]))
        return batch


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order.

    Example:
        >>> ds = TensorDataset(np.arange(5))
        >>> sub = Subset(ds, [4, 0])
        >>> len(sub), int(sub[0][0])
        (2, 4)
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._index_array = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self._index_array[index])]

    def __len__(self) -> int:
        return len(self._index_array)


def _batch_fetcher(dataset: Any) -> Callable[[np.ndarray], Any] | None:
    """A function fetching a whole collated batch by index array, when `dataset` has one."""
    if isinstance(dataset, Subset):
        inner = _batch_fetcher(dataset.dataset)
        if inner is None:
            return None
        index_array = dataset._index_array
        return lambda indices: inner(index_array[indices])
    return getattr(dataset, "_get_batch", None)


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    `lengths` are sample counts summing to `len(dataset)`, or fractions summing to 1; as in
    PyTorch, fractions are floored and the samples left over are dealt one at a time to the
    splits in order (round robin).

    Args:
        dataset: the data set to split.
        lengths: sizes (ints) or fractions (floats) of the splits.
        generator: the `np.random.Generator` to draw the permutation from; by default the
            global one that `mg.manual_seed` seeds.

    Example:
        >>> ds = TensorDataset(np.arange(10))
        >>> a, b, c = random_split(ds, [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
        >>> len(a), len(b), len(c)
        (5, 3, 2)
        >>> sorted(a.indices + b.indices + c.indices) == list(range(10))
        True
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0:
        if any(not 0.0 <= frac <= 1.0 for frac in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0", stacklevel=2)
        lengths = counts
    if any(int(length) != length or length < 0 for length in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of lengths {sum(lengths)} does not equal the length of the "
            f"dataset {n}"
        )
    rng = default_generator() if generator is None else generator
    perm = rng.permutation(n).tolist()
    splits, offset = [], 0
    for length in lengths:
        splits.append(Subset(dataset, perm[offset : offset + int(length)]))
        offset += int(length)
    return splits
