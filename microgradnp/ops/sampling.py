"""Sampling from categorical distributions: `multinomial` (no gradient).

Draws come from the generator that `mg.manual_seed` seeds, or from the `generator` passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import raw
from ..random import default_generator
from ..tensor import Tensor

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["multinomial"]


def multinomial(
    input: Any,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Category indices drawn with probabilities proportional to the rows of `input`
    (1-D (C,) or 2-D (N, C) non-negative weights), as `torch.multinomial`; int64.

    Without replacement, each row's samples are distinct (an exponential race: the
    categories with the smallest E_i / p_i, E_i ~ Exp(1), are a weighted draw without
    replacement).

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> mg.multinomial(mg.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
        [1, 1]
    """
    p = np.asarray(raw(input), dtype=np.float64)
    if p.ndim not in (1, 2):
        raise ValueError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {p.shape}")
    if not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    rows = p.reshape(-1, p.shape[-1])
    if not np.all(np.isfinite(rows)) or (rows < 0).any():
        raise ValueError("multinomial: probabilities must be finite and non-negative")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise ValueError("multinomial: every row of probabilities must have a positive sum")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise ValueError(
            f"multinomial: cannot sample {num_samples} samples without replacement from a "
            f"distribution with {int((rows > 0).sum(axis=1).min())} non-zero categories"
        )
    gen = default_generator() if generator is None else generator
    if replacement:
        cdf = np.cumsum(rows / totals[:, None], axis=1)
        u = gen.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u, strict=True)])
        out = np.minimum(out, rows.shape[1] - 1)  # guards a cdf that ends just below 1
    else:
        with np.errstate(divide="ignore"):
            keys = gen.exponential(size=rows.shape) / rows  # zero weight -> inf, never drawn
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return Tensor._wrap(out if p.ndim == 2 else out[0])
