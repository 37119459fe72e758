"""Samplers: the order in which a `DataLoader` visits sample indices, as `torch.utils.data`.

A sampler is an iterable of indices with a length; `BatchSampler` groups any sampler's
indices into lists. Random samplers draw from their `generator` (an `np.random.Generator`),
or from the global one that `mg.manual_seed` seeds when it is None, at every `iter()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from ..random import default_generator

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


def _check_generator(generator: Any, who: str) -> None:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{who}: generator must be a np.random.Generator or None, got "
            f"{type(generator).__name__}"
        )


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value > 0)


class Sampler:
    """Base class: subclasses define `__iter__` (indices) and usually `__len__`.

    Example:
        >>> class Evens(Sampler):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(0, self.n, 2))
        ...     def __len__(self): return (self.n + 1) // 2
        >>> list(Evens(5)), len(Evens(5))
        ([0, 2, 4], 3)
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices `0, 1, ..., len(data_source) - 1`, in order.

    Example:
        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def _index_array(self) -> np.ndarray:
        """One epoch's indices as an array (what `DataLoader` slices into batches)."""
        return np.arange(len(self.data_source))


class RandomSampler(Sampler):
    """Random indices into `data_source`: a fresh permutation per `iter()`, or, with
    `replacement=True`, `num_samples` independent uniform draws.

    Without replacement, `num_samples` larger than the data set walks through as many whole
    permutations as needed (then part of one more), as PyTorch does.

    Args:
        data_source: the data set (only its length is used).
        replacement: draw with replacement.
        num_samples: how many indices per `iter()` (default `len(data_source)`).
        generator: the `np.random.Generator` to draw from (default: the global one).

    Example:
        >>> sampler = RandomSampler(range(5), generator=np.random.default_rng(0))
        >>> sorted(sampler), len(sampler)
        ([0, 1, 2, 3, 4], 5)
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement!r}"
            )
        if num_samples is not None and not _positive_int(num_samples):
            raise ValueError(
                f"num_samples should be a positive integer value, but got "
                f"num_samples={num_samples!r}"
            )
        _check_generator(generator, "RandomSampler")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self) -> Iterator[int]:
        yield from self._index_array().tolist()

    def _index_array(self) -> np.ndarray:
        """One epoch's indices as an array (what `DataLoader` slices into batches)."""
        n = len(self.data_source)
        rng = default_generator() if self.generator is None else self.generator
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples)
        parts = [rng.permutation(n) for _ in range(self.num_samples // n)]
        parts.append(rng.permutation(n)[: self.num_samples % n])
        return np.concatenate(parts)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given `indices`, in a fresh random order at every `iter()`.

    Example:
        >>> sampler = SubsetRandomSampler([10, 20, 30], generator=np.random.default_rng(0))
        >>> sorted(sampler), len(sampler)
        ([10, 20, 30], 3)
    """

    def __init__(
        self, indices: Sequence[int], generator: np.random.Generator | None = None
    ) -> None:
        _check_generator(generator, "SubsetRandomSampler")
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        rng = default_generator() if self.generator is None else self.generator
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices in `[0, len(weights))`, index `i` drawn with probability
    `weights[i] / sum(weights)` (the weights need not sum to 1), with or without replacement.

    Example:
        >>> sampler = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=6,
        ...                                 generator=np.random.default_rng(0))
        >>> set(sampler) <= {1, 3}, len(sampler)
        (True, 6)
    """

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray,
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not _positive_int(num_samples):
            raise ValueError(
                f"num_samples should be a positive integer value, but got "
                f"num_samples={num_samples!r}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement!r}"
            )
        _check_generator(generator, "WeightedRandomSampler")
        weights_array = np.asarray(weights, dtype=np.float64)
        if weights_array.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape "
                f"{weights_array.shape}"
            )
        if not np.all(np.isfinite(weights_array)) or np.any(weights_array < 0):
            raise ValueError("WeightedRandomSampler: weights must be finite and non-negative")
        if weights_array.sum() <= 0:
            raise ValueError("WeightedRandomSampler: the weights sum to 0")
        positive = int(np.count_nonzero(weights_array))
        if not replacement and num_samples > positive:
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                f"replacement from {positive} indices with a positive weight"
            )
        self.weights = weights_array
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = default_generator() if self.generator is None else self.generator
        p = self.weights / self.weights.sum()
        draws = rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        yield from draws.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of `sampler` (any iterable) into lists of `batch_size`; with
    `drop_last` the last, smaller list is dropped.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6]]
        >>> list(BatchSampler(range(7), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler: Iterable[Any], batch_size: int, drop_last: bool) -> None:
        if not _positive_int(batch_size):
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"drop_last should be a boolean value, but got drop_last={drop_last!r}"
            )
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[Any]]:
        batch: list[Any] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)
