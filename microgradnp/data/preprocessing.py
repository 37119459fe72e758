"""Preprocessing helpers: `StandardScaler` (scikit-learn's numbers) and `one_hot` for labels.

Scaling is preprocessing, not a differentiable op: results are new arrays (or tensors outside
any graph).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["StandardScaler", "one_hot"]


class StandardScaler:
    """Standardise features to zero mean and unit variance, with scikit-learn's numbers.

    `fit` learns per-column `mean_`, `var_` (population variance, ddof=0) and `scale_`
    (`sqrt(var_)`, with 1.0 for constant columns so they are centred but not divided).
    NaN marks a missing value, as in scikit-learn: `fit` leaves it out of its column's
    statistics (`n_samples_seen_` then counts per column) and `transform` keeps it NaN.
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
        if data.shape[0] == 0:
            raise ValueError("StandardScaler.fit: X has 0 samples")
        wide = data.astype(np.float64)
        # NaN marks a missing value: it is left out of each column's statistics (as in
        # scikit-learn); a column with no values at all gets mean, var and scale NaN
        seen = np.count_nonzero(~np.isnan(wide), axis=0)
        n: Any = seen if (seen != data.shape[0]).any() else data.shape[0]
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean = np.nanmean(wide, axis=0)
            var = np.nanvar(wide, axis=0)
        # A column is constant when its variance is within rounding error of 0 (sklearn's
        # test: var <= n*eps*var + (n*mean*eps)^2); such columns keep scale 1.
        eps = np.finfo(np.float64).eps
        constant = var <= seen * eps * var + (seen * mean * eps) ** 2
        self.n_features_in_ = data.shape[1]
        self.n_samples_seen_ = n
        self.mean_: Any = mean if self.with_mean else None
        self.var_ = var if self.with_std else None
        self.scale_: Any = np.where(constant, 1.0, np.sqrt(var)) if self.with_std else None
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
        if data.dtype.kind == "f" and np.isinf(data).any():
            raise ValueError(
                f"StandardScaler.{method}: X contains infinity (NaN marks a missing value; "
                f"infinity has no mean or scale)"
            )
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
        return from_numpy(out) if isinstance(X, Tensor) else out


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = None) -> Any:
    """Encode integer class labels as one-hot rows: shape `labels.shape + (num_classes,)`.

    This is the data-preparation helper (targets for `MSELoss`/`BCELoss`, plots); it returns
    the default float dtype unless `dtype` is given, and an mg tensor only when given one.
    `one_hot` is the differentiable-graph op on tensors, which returns int64 like PyTorch.

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
    return from_numpy(out) if isinstance(labels, Tensor) else out
