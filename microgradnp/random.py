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

import numpy as np

_generator: np.random.Generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the global generator (PCG64) and return it."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator that every random operation draws from by default."""
    return _generator
