"""`DataLoader`: iterating over a data set in mini-batches, in this process or in workers.

Follows `torch.utils.data.DataLoader`: a sampler orders the indices (`sampler.py`), a batch
sampler groups them, each group becomes a batch through `collate_fn` (`collate.py`) or, for
data sets that can (`TensorDataset` and its `Subset`s), one indexing of the whole batch. With
`num_workers > 0` worker processes build the batches (`worker.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .dataset import Dataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker import Fetcher, MultiProcessIter

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over a data set in (optionally shuffled) mini-batches, as `torch.utils.data`.

    Each epoch (each `iter(loader)`) visits the indices of `sampler` (default: in order, or
    with `shuffle=True` a fresh permutation drawn from `generator` or from the global
    generator that `mg.manual_seed` seeds), grouped by `batch_sampler` (default: `batch_size`
    at a time). Batches are built by `collate_fn` (default: `default_collate`, which stacks
    samples into tensors). A data set with a `_get_batch` method (such as `TensorDataset` and
    its `Subset`s) is indexed a whole batch at a time when `collate_fn` is not given, which is
    much faster than stacking samples.

    With `num_workers > 0`, that many processes (started with 'fork' where the platform has
    it, else 'spawn') build the batches and the loader returns them in order. Worker `i` is
    seeded (`mg.manual_seed`, `random`, NumPy's legacy global generator) with `base_seed + i`,
    `base_seed` being drawn from `generator` (or the global generator) when the workers start;
    `get_worker_info()` describes the worker inside it. An exception in a worker is raised in
    this process with the worker's traceback in its message. Workers stop when the epoch ends
    (or the iterator is deleted, or fails), unless `persistent_workers=True` keeps them for
    the next epoch.

    Args:
        dataset: a `Dataset` (anything with `__getitem__` and `__len__`).
        batch_size: samples per batch (a positive int), or None to yield samples one by one.
        shuffle: reshuffle the samples at every epoch (exclusive with `sampler`).
        sampler: an iterable of indices (e.g. a `RandomSampler`), the order of one epoch.
        batch_sampler: an iterable of index lists, one per batch (exclusive with
            `batch_size`, `shuffle`, `sampler` and `drop_last`).
        num_workers: worker processes (0: load in this process).
        collate_fn: turns a list of samples into a batch.
        pin_memory: accepted for PyTorch compatibility; does nothing (CPU only).
        drop_last: drop the last batch when it is smaller than `batch_size`.
        timeout: seconds to wait for a batch from the workers (0: forever).
        worker_init_fn: called as `worker_init_fn(worker_id)` in each worker after seeding.
        multiprocessing_context: a start method name ("fork", "spawn", "forkserver") or a
            `multiprocessing` context; default 'fork' where available, else 'spawn'.
        generator: `np.random.Generator` for shuffling and the workers' base seed.
        prefetch_factor: batches loaded in advance per worker (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.

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
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[Any] | None = None,
        batch_sampler: Sampler | Iterable[list[Any]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}"
            )
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be a np.random.Generator, got "
                f"{type(generator).__name__}"
            )
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"DataLoader: num_workers must be an int, got {num_workers!r}")
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing. Let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (
            not isinstance(prefetch_factor, (int, np.integer)) or prefetch_factor < 1
        ):
            raise ValueError(f"prefetch_factor must be a positive int, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self._iterator: MultiProcessIter | None = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable[Any]:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]

    def _index_batches(self) -> Iterator[Any]:
        """One epoch of index batches. For a `BatchSampler` over the default samplers, these
        are slices of one index array (the same indices, without a Python list per batch)."""
        batches = self.batch_sampler
        if type(batches) is BatchSampler and hasattr(batches.sampler, "_index_array"):
            order = batches.sampler._index_array()
            size = batches.batch_size
            stop = len(order) - len(order) % size if batches.drop_last else len(order)
            return (order[start : start + size] for start in range(0, stop, size))
        return iter(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return self._single_process_iter()
        if self.persistent_workers and self._iterator is not None:
            self._iterator._reset()
            return self._iterator
        iterator = MultiProcessIter(self)
        if self.persistent_workers:
            self._iterator = iterator
        return iterator

    def _single_process_iter(self) -> Iterator[Any]:
        fetch = Fetcher(self.dataset, self._auto_collation, self.collate_fn)
        for index in self._index_batches():
            yield fetch(index)
