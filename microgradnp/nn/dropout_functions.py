"""Dropout as a function: `dropout(input, p, training)`, as `torch.nn.functional.dropout`
(re-exported by `nn.functional`; the layers call it from here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..compile.hooks import replayable
from ..primitive import raw
from ..random import default_generator
from ..tensor import Tensor


def dropout(
    input: Any,
    p: float = 0.5,
    training: bool = True,  # noqa: A002
    inplace: bool = False,
) -> Tensor:
    """Inverted dropout: zero each element with probability `p` and scale the survivors by
    1 / (1 - p), so the expected value is unchanged; the identity when not `training`.

    The mask is drawn from the generator seeded by `mg.manual_seed`. `inplace` is accepted
    for PyTorch compatibility; the result is always a new tensor.

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> mg.nn.functional.dropout(mg.ones(6), p=0.5).tolist()
        [2.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    xr = raw(input)
    if p == 1.0:
        return input * np.zeros(xr.shape, xr.dtype)
    return input * _dropout_mask(xr.shape, xr.dtype, p)


@replayable  # mg.compile draws a fresh mask at every replay
def _dropout_mask(shape: tuple, dtype: Any, p: float) -> np.ndarray:
    """Bernoulli(1 - p) / (1 - p) in `dtype`, drawn from the seeded generator."""
    draw_dtype = np.float64 if dtype == np.float64 else np.float32
    mask = (default_generator().random(shape, dtype=draw_dtype) >= p).astype(dtype)
    mask /= 1.0 - p  # as PyTorch: bernoulli(1 - p) / (1 - p), in the input's dtype
    return mask
