"""Data loading: datasets, batching, splitting and the usual preprocessing helpers.

`Dataset`, `TensorDataset`, `Subset`, `random_split` and `DataLoader` follow
`torch.utils.data`; `StandardScaler` follows scikit-learn; `one_hot` prepares label arrays.
Bundled and synthetic data sets live in `microgradnp.datasets`; metrics in `microgradnp.metrics`.
Shuffling and splitting draw from the generator that `mg.manual_seed` seeds, unless given one.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

import microgradnp as mg

from .data_distributed import DistributedSampler
from .dtypes import get_default_dtype
from .random import default_generator

__all__ = [
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "StandardScaler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "one_hot",
    "random_split",
]


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
            t if isinstance(t, (mg.Tensor, np.ndarray)) else np.asarray(t) for t in tensors
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
            if isinstance(t, mg.Tensor) and t.requires_grad:
                batch.append(t[indices])  # keep the graph, as torch.stack would
            else:
                batch.append(mg.from_numpy(np.asarray(t)[indices]))
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
    if isinstance(elem, mg.Tensor):
        return mg.stack(batch)
    if isinstance(elem, (np.ndarray, np.generic)):
        return mg.from_numpy(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return mg.from_numpy(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return mg.from_numpy(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return mg.from_numpy(np.array(batch, dtype=get_default_dtype()))
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


class StandardScaler:
    """Standardise features to zero mean and unit variance, with scikit-learn's numbers.

    `fit` learns per-column `mean_`, `var_` (population variance, ddof=0) and `scale_`
    (`sqrt(var_)`, with 1.0 for constant columns so they are centred but not divided).
    Statistics are computed in float64; `transform` returns the input's float dtype
    (float64 for integer input), as an mg tensor when given one (a new tensor, outside any
    graph: scaling is preprocessing, not a differentiable op).

    Example:
        >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
        >>> scaler = StandardScaler().fit(X)
        >>> scaler.mean_, scaler.scale_
        (array([2., 1.]), array([1.63299316, 1.        ]))
        >>> scaler.transform(X)[:, 1]
        array([0., 0., 0.])
    """

    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X: Any) -> StandardScaler:
        """Learn the mean and scale of each column of the 2-D `X` (n_samples, n_features)."""
        data = self._check(X, "fit")
        n = data.shape[0]
        if n == 0:
            raise ValueError("StandardScaler.fit: X has 0 samples")
        mean = data.mean(axis=0, dtype=np.float64)
        var = data.var(axis=0, dtype=np.float64)
        # A column is constant when its variance is within rounding error of 0 (sklearn's
        # test: var <= n*eps*var + (n*mean*eps)^2); such columns keep scale 1.
        eps = np.finfo(np.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        self.n_features_in_ = data.shape[1]
        self.n_samples_seen_ = n
        self.mean_ = mean if self.with_mean else None
        self.var_ = var if self.with_std else None
        self.scale_ = np.where(constant, 1.0, np.sqrt(var)) if self.with_std else None
        return self

    def transform(self, X: Any) -> Any:
        """Return `(X - mean_) / scale_`."""
        data = self._check(X, "transform", fitted=True)
        out = data.astype(np.float64)
        if self.with_mean:
            out = out - self.mean_
        if self.with_std:
            out = out / self.scale_
        return self._wrap(out, X, data)

    def fit_transform(self, X: Any) -> Any:
        """`fit(X)` then `transform(X)`."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> Any:
        """Return `X * scale_ + mean_`, undoing `transform`."""
        data = self._check(X, "inverse_transform", fitted=True)
        out = data.astype(np.float64)
        if self.with_std:
            out = out * self.scale_
        if self.with_mean:
            out = out + self.mean_
        return self._wrap(out, X, data)

    def _check(self, X: Any, method: str, fitted: bool = False) -> np.ndarray:
        data = np.asarray(X)
        if data.ndim != 2:
            raise ValueError(
                f"StandardScaler.{method}: expected a 2-D array (n_samples, n_features), got "
                f"shape {data.shape}; reshape 1-D data with X.reshape(-1, 1)"
            )
        if data.dtype.kind not in "biuf":
            raise TypeError(f"StandardScaler.{method}: expected numbers, got dtype {data.dtype}")
        if fitted:
            if not hasattr(self, "n_features_in_"):
                raise RuntimeError(
                    f"StandardScaler.{method}: this scaler is not fitted yet; call fit(X) first"
                )
            if data.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"StandardScaler.{method}: X has {data.shape[1]} features, but the scaler "
                    f"was fitted on {self.n_features_in_}"
                )
        return data

    @staticmethod
    def _wrap(out: np.ndarray, X: Any, data: np.ndarray) -> Any:
        dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
        out = out.astype(dtype, copy=False)
        return mg.from_numpy(out) if isinstance(X, mg.Tensor) else out


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = None) -> Any:
    """Encode integer class labels as one-hot rows: shape `labels.shape + (num_classes,)`.

    This is the data-preparation helper (targets for `MSELoss`/`BCELoss`, plots); it returns
    the default float dtype unless `dtype` is given, and an mg tensor only when given one.
    `mg.one_hot` is the differentiable-graph op on tensors, which returns int64 like PyTorch.

    Args:
        labels: integer labels in `[0, num_classes)` (array, list or tensor).
        num_classes: number of classes; by default `labels.max() + 1`.
        dtype: dtype of the result.

    Example:
        >>> one_hot([2, 0, 1])
        array([[0., 0., 1.],
               [1., 0., 0.],
               [0., 1., 0.]], dtype=float32)
    """
    values = np.asarray(labels)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    if values.dtype.kind not in "biu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {values.dtype}")
    values = values.astype(np.int64)
    if num_classes is None:
        if values.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass it")
        num_classes = int(values.max()) + 1
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}), got min {values.min()} "
            f"and max {values.max()}"
        )
    dtype = get_default_dtype() if dtype is None else dtype
    out = np.zeros(values.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, values[..., None], 1, axis=-1)
    return mg.from_numpy(out) if isinstance(labels, mg.Tensor) else out
