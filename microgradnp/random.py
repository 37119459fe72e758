"""One seeded source of randomness for everything in microgradnp.

`manual_seed(n)` re-seeds the global NumPy generator used by the random factories
(`rand`, `randn`, `randint`), initialisers, dropout and data shuffling.

Example:
    >>> import microgradnp as mg
    >>> _ = mg.manual_seed(0); a = mg.randn(3)
    >>> _ = mg.manual_seed(0); b = mg.randn(3)
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import operator

import numpy as np

_generator: np.random.Generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the global generator (PCG64) and return it.

    `seed` is an integer in [-2**63, 2**64) (a negative one counts modulo 2**64, as in
    PyTorch); anything else, such as 1.5, raises rather than being truncated.
    """
    global _generator
    try:
        value = operator.index(seed)
    except TypeError:
        raise TypeError(
            f"manual_seed: the seed must be an integer, got {seed!r} ({type(seed).__name__})"
        ) from None
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"manual_seed: the seed must lie in [-2**63, 2**64), got {value}")
    _generator = np.random.default_rng(value % 2**64)
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator that every random operation draws from by default."""
    return _generator
