"""Timing: contenders interleaved round by round, medians, IQRs and per-round ratios.

Every round times each contender once, in an order rotated from round to round, so slow
drift of the machine (other processes, frequency changes) touches all of them alike. A
contender's ratio to the baseline is computed within each round, then summarised.

Example::

    >>> s = summarize({"base": [1.0, 2.0, 1.0], "other": [2.0, 4.0, 3.0]}, "base")
    >>> s["other"]["ratio"], s["other"]["rounds"]
    (2.0, 3)
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable

import numpy as np


def _time(fn: Callable[[], object], number: int) -> float:
    """Seconds per call over ``number`` back-to-back calls.

    The garbage collector stays on: collecting the reference cycles a framework creates is
    part of its cost. (It runs once before each workload row, not before each sample: a
    full collection of a large heap takes longer than many samples.)
    """
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def calibrate(fn: Callable[[], object], target_s: float, max_number: int = 100_000) -> int:
    """How many calls make one sample last about ``target_s`` (at least one)."""
    t = _time(fn, 1)
    if t < target_s / 100:  # a single call is too short to time reliably: re-measure
        t = _time(fn, 100)
    return max(1, min(max_number, math.ceil(target_s / max(t, 1e-9))))


def interleaved(
    fns: dict[str, Callable[[], object]],
    *,
    rounds: int,
    target_s: float,
    max_rounds: dict[str, int] | None = None,
) -> dict[str, list[float]]:
    """Per-call seconds of each callable, one sample per round, order rotated each round.

    ``max_rounds`` caps the rounds of slow contenders; their later rounds are ``nan``.
    """
    max_rounds = max_rounds or {}
    gc.collect()
    numbers = {name: calibrate(fn, target_s) for name, fn in fns.items()}
    names = list(fns)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            if r < max_rounds.get(name, rounds):
                samples[name].append(_time(fns[name], numbers[name]))
            else:
                samples[name].append(float("nan"))
    return samples


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(med), float(q1), float(q3)


def summarize(samples: dict[str, list[float]], baseline: str) -> dict[str, dict]:
    """Median, quartiles and the pairwise (same-round) ratio to ``baseline``."""
    base = samples[baseline]
    out = {}
    for name, ts in samples.items():
        pairs = [(t, b) for t, b in zip(ts, base, strict=True) if not math.isnan(t)]
        if not pairs:
            continue
        med, q1, q3 = _quartiles([t for t, _ in pairs])
        rmed, rq1, rq3 = _quartiles([t / b for t, b in pairs])
        out[name] = {
            "median_s": med,
            "q1_s": q1,
            "q3_s": q3,
            "ratio": rmed,
            "ratio_q1": rq1,
            "ratio_q3": rq3,
            "rounds": len(pairs),
        }
    return out


def relative_error(a: np.ndarray, ref: np.ndarray) -> float:
    """max |a - ref| / max |ref| (an absolute error when ``ref`` is all zeros)."""
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if a.shape != ref.shape:
        return float("inf")
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    return float(np.abs(a - ref).max() / (scale if scale > 0 else 1.0)) if ref.size else 0.0
