"""`DataLoader`: iterating over a data set in (optionally shuffled) mini-batches.

Follows `torch.utils.data.DataLoader`; samples are stacked by `collate.default_collate`, or
fetched a whole batch at a time from data sets that can (`TensorDataset` and its `Subset`s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..random import default_generator
from .collate import default_collate
from .dataset import Dataset, _batch_fetcher

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over a data set in (optionally shuffled) mini-batches, as `torch.utils.data`.

    Each epoch (each `iter(loader)`) visits every sample once; with `shuffle=True` the order
    is a fresh permutation drawn from `generator`, or from the global generator that
    `mg.manual_seed` seeds. Batches are built by `collate_fn` (default: `default_collate`,
    which stacks samples into tensors). A data set with a `_get_batch` method (such as
    `TensorDataset` and its `Subset`s) is indexed a whole batch at a time when `collate_fn`
    is not given, which is much faster than stacking samples.

    Args:
        dataset: a `Dataset` (anything with `__getitem__` and `__len__`).
        batch_size: samples per batch (a positive int).
        shuffle: reshuffle the samples at every epoch.
        drop_last: drop the last batch when it is smaller than `batch_size`.
        collate_fn: turns a list of samples into a batch.
        generator: `np.random.Generator` used for shuffling.

    Example:
        >>> from microgradnp.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
        >>> loader = DataLoader(ds, batch_size=2)
        >>> len(loader), [tuple(yb.tolist()) for _, yb in loader]
        (3, [(0, 1), (2, 3), (4,)])
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be a np.random.Generator, got "
                f"{type(generator).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = default_generator() if self.generator is None else self.generator
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        stop = len(self) * self.batch_size
        fetch_batch = _batch_fetcher(self.dataset) if self.collate_fn is None else None
        collate = default_collate if self.collate_fn is None else self.collate_fn
        for start in range(0, stop, self.batch_size):
            indices = order[start : start + self.batch_size]
            if fetch_batch is not None:
                yield fetch_batch(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])
