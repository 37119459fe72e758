"""The hooks that compiled functions need outside the engine: `replayable`, `not_replayable`,
and `greater_mask`.

A function decorated with `replayable` (gradient clipping, dropout's mask) is recorded by
`mg.compile` as one call, made again at every replay against the live objects, instead of
being looked into. Its cost when nothing is being traced: one extra call and a global read.
(Optimizers' `step`/`zero_grad` and `Module.zero_grad` are swapped for recording versions
only while a trace runs, so they cost nothing otherwise.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# The tracer recording a compiled function, or None (set by compile/trace.py).
tracer: Any = None


def replayable(fn: Callable[..., Any] | None = None, *, kind: str = "call") -> Any:
    """Mark `fn` as a unit a trace records whole and replays by calling it again.

    `kind` tells the tracer what the call does to gradients: "call" (may read and change
    them), "zero_grad" (resets them).

    Example:
        >>> @replayable
        ... def double(x):
        ...     return 2 * x
        >>> double(3)
        6
    """
    if fn is None:
        return lambda f: replayable(f, kind=kind)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = tracer
        if t is None:
            return fn(*args, **kwargs)
        return t.call(fn, kind, args, kwargs)

    wrapper.__replayable__ = fn  # type: ignore[attr-defined]
    return wrapper


def not_replayable(why: str) -> None:
    """Tell a running trace that the code calling this cannot be replayed (it computes from
    tensor values in NumPy, outside the ops): the compiled function falls back to eager.
    Costs a global read when nothing is being traced.

    Example:
        >>> not_replayable("a row norm computed in NumPy")  # no trace running: nothing
    """
    t = tracer
    if t is not None and t.active():
        t.brk(why)


@replayable
def greater_mask(a: Any, threshold: Any) -> Any:
    """`a > threshold`, for a mask a layer computes from an array's values in NumPy (leaky
    ReLU's `x > 0`): recorded as a replayable call, so that a compiled function recomputes
    it at every replay from the array it reads then, instead of keeping the first call's.

    Example:
        >>> import numpy as np
        >>> greater_mask(np.array([-1.0, 2.0]), 0).tolist()
        [False, True]
    """
    return a > threshold
