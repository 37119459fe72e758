"""Padding by `reflect` and `replicate` (F.pad's non-constant modes).

Each padded axis is one gather with an index array (e.g. reflect of [a b c d] by 2 on
the left reads indices [2 1 0 1 2 3]), so the gradient scatters back and adds up where an
element was copied more than once; second derivatives come for free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import raw
from .shape import _getitem


def _indices(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    i = np.abs(i)  # reflect about the first element ...
    return np.where(i > n - 1, 2 * (n - 1) - i, i)  # ... and about the last


def pad_by_mode(x: Any, width: tuple, mode: str) -> Any:
    """x padded by `width` ((lo, hi) per axis) in mode 'reflect' or 'replicate'."""
    if mode not in ("reflect", "replicate"):
        raise NotImplementedError(
            f"pad: mode {mode!r} is not supported; use 'constant', 'reflect' or 'replicate'"
        )
    shape = raw(x).shape
    for axis, ((lo, hi), n) in enumerate(zip(width, shape, strict=True)):
        if not lo and not hi:
            continue
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: padding ({lo}, {hi}) should be less than the input size {n} of dim "
                f"{axis} in mode 'reflect'"
            )
        if mode == "replicate" and n == 0:
            raise ValueError(f"pad: cannot replicate-pad the empty dim {axis}")
        index = (slice(None),) * axis + (_indices(n, lo, hi, mode),)
        x = _getitem(x, index=index)
    return x
