"""Sample transforms (`mg.data.transforms`), in the manner of torchvision's: callables applied
to each sample as it is loaded, for data augmentation.

`RandomShift` moves an image by a random whole number of pixels; `Compose` chains transforms;
`TransformedDataset` applies a transform to the inputs of any data set, afresh at every
access, so each epoch sees new variants.

Example:
    >>> import numpy as np
    >>> from microgradnp import data
    >>> ds = data.TensorDataset(np.arange(16.0).reshape(1, 4, 4), np.array([3]))
    >>> shifted = TransformedDataset(ds, RandomShift(1, generator=np.random.default_rng(0)))
    >>> x, y = shifted[0]
    >>> x.shape, int(y), float(x.sum()) <= float(ds[0][0].sum())
    ((4, 4), 3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..random import default_generator
from ..tensor import Tensor
from .dataset import Dataset, _batch_fetcher

__all__ = ["Compose", "RandomShift", "TransformedDataset"]


def _to_array(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


class RandomShift:
    """Shift an image by (dy, dx), each drawn uniformly from [-max_shift, max_shift]; pixels
    moved in from outside are `fill`.

    The sample's last two axes are the image (H, W); a flat sample (for an MLP) is given its
    `image_shape` and returned flat. Draws from `generator`, or from the generator that
    `mg.manual_seed` seeds. Returns the input's type (ndarray or Tensor).

    Example:
        >>> shift = RandomShift(2, generator=np.random.default_rng(1))
        >>> shift.shift(np.eye(3), 1, 0).tolist()   # a fixed shift, one row down
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
        >>> RandomShift(1, image_shape=(28, 28))(np.ones(784)).shape
        (784,)
    """

    def __init__(
        self,
        max_shift: int,
        fill: float = 0.0,
        image_shape: Sequence[int] | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)):
            raise TypeError(f"RandomShift: max_shift must be an int, got {max_shift!r}")
        if max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be >= 0, got {max_shift}")
        self.max_shift, self.fill = int(max_shift), float(fill)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.generator = generator

    @staticmethod
    def shift(img: np.ndarray, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
        """img (..., H, W) moved dy rows down and dx columns right."""
        h, w = img.shape[-2:]
        out = np.full_like(img, fill)
        if abs(dy) < h and abs(dx) < w:
            src = img[..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
            out[..., max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)] = src
        return out

    def __call__(self, x: Any) -> Any:
        """A randomly shifted copy of the sample x."""
        a = _to_array(x)
        if self.image_shape is not None:
            if a.size != int(np.prod(self.image_shape)):
                raise ValueError(
                    f"RandomShift: a sample of shape {a.shape} cannot be viewed as an image "
                    f"of shape {self.image_shape}"
                )
            img = a.reshape(self.image_shape)
        elif a.ndim < 2:
            raise ValueError(
                f"RandomShift: expected an image (..., H, W), got shape {a.shape}; pass "
                "image_shape for flat samples"
            )
        else:
            img = a
        rng = self.generator if self.generator is not None else default_generator()
        dy, dx = rng.integers(-self.max_shift, self.max_shift + 1, size=2)
        out = self.shift(img, int(dy), int(dx), self.fill).reshape(a.shape)
        return from_numpy(out) if isinstance(x, Tensor) else out

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill})"


class Compose:
    """Apply transforms in order.

    Example:
        >>> Compose([lambda x: x + 1, lambda x: x * 2])(3)
        8
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x


class TransformedDataset(Dataset):
    """`dataset` with `transform` applied to each sample's input (its first element), and
    `target_transform` to its target (the second), at every access."""

    def __init__(
        self,
        dataset: Dataset,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.dataset, self.transform, self.target_transform = dataset, transform, target_transform

    def __len__(self) -> int:
        return len(self.dataset)

    def _apply(self, sample: Any) -> Any:
        items = list(sample) if isinstance(sample, (tuple, list)) else [sample]
        if self.transform is not None:
            items[0] = self.transform(items[0])
        if self.target_transform is not None and len(items) > 1:
            items[1] = self.target_transform(items[1])
        return tuple(items) if isinstance(sample, (tuple, list)) else items[0]

    def __getitem__(self, index: int) -> Any:
        return self._apply(self.dataset[index])

    def _get_batch(self, indices: np.ndarray) -> Any:
        fetch = _batch_fetcher(self.dataset)
        if fetch is None:
            from .collate import default_collate

            return default_collate([self[int(i)] for i in indices])
        batch = list(fetch(indices))
        if self.transform is not None:
            xs = _to_array(batch[0])
            batch[0] = from_numpy(np.stack([_to_array(self.transform(x)) for x in xs]))
        if self.target_transform is not None and len(batch) > 1:
            ys = _to_array(batch[1])
            batch[1] = from_numpy(np.stack([_to_array(self.target_transform(v)) for v in ys]))
        return batch
