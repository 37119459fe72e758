"""Before anything is timed: does each contender compute the same numbers as the floor?

A contender whose loss, gradients, updated weights, outputs or dtype disagree with the
hand-written NumPy version is reported loudly and left out of that workload's timings.

Example::

    >>> from benchmarks.contenders.hand_numpy import HandNumpy
    >>> from benchmarks.problems import make_mlp
    >>> hand = HandNumpy()
    >>> check_training(hand, hand, make_mlp((4, 2, 8, 2)))
    'ok'
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.contenders.base import Contender, MLPProblem, Unsupported
from benchmarks.harness import relative_error

#: float32 arithmetic in a different order differs by a few ulps; a real bug does not hide here
RTOL = 1e-4
STEPS = 3  # covers a JIT's plain first call, its capture and its first replay


def _dtype_problem(c: Contender, arrays: list[np.ndarray]) -> str | None:
    bad = sorted({str(np.asarray(a).dtype) for a in arrays} - {"float32"})
    if bad and not getattr(c, "dtype_note", None):
        return f"results are {', '.join(bad)}, not float32"
    return None


def _compare(label: str, got: list[np.ndarray], ref: list[np.ndarray]) -> str | None:
    if len(got) != len(ref):
        return f"{label}: {len(got)} arrays, expected {len(ref)}"
    for i, (a, b) in enumerate(zip(got, ref, strict=True)):
        err = relative_error(a, b)
        if not err <= RTOL:
            return f"{label}[{i}] differs: relative error {err:.2e} (shape {np.shape(a)})"
    return None


def check_training(c: Contender, hand: Contender, p: MLPProblem) -> str:
    """'ok', or what differs from the floor over the first steps of training."""
    ref, t = hand.trainer(p), c.trainer(p)
    t.keep_grads()
    for k in range(STEPS):
        ref_loss, loss = ref.step(), t.step()
        if not abs(loss - ref_loss) <= RTOL * max(1.0, abs(ref_loss)):
            return f"loss at step {k + 1} is {loss:.6g}, floor {ref_loss:.6g}"
        if k == 0:
            try:
                grads = t.grads()
            except Unsupported:
                grads = None  # a JIT keeps them inside: the updated weights still tell
            if grads is not None:
                problem = _compare("gradient", grads, ref.grads()) or _dtype_problem(c, grads)
                if problem:
                    return problem
    params = t.params()
    return (
        _compare(f"weights after {STEPS} steps", params, ref.params())
        or _dtype_problem(c, params)
        or "ok"
    )


def check_arrays(c: Contender, got, ref) -> str:
    got = [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]
    ref = [np.asarray(r) for r in (ref if isinstance(ref, (list, tuple)) else [ref])]
    return _compare("result", got, ref) or _dtype_problem(c, got) or "ok"


def report(name: str, workload: str, verdict: str, notes: list[str]) -> bool:
    """Record a failed check loudly; return whether the contender may be timed."""
    if verdict == "ok":
        return True
    msg = f"MISMATCH: {name} excluded from {workload}: {verdict}"
    print(f"\n!!! {msg}\n", file=sys.stderr)
    notes.append(msg)
    return False
