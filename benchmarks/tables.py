"""Result tables and the helpers every workload uses to fill them.

A table is ``{"id", "title", "unit", "rows": [{"label", "results", ...}], "notes"}``;
``results`` maps a contender's name to :func:`benchmarks.harness.summarize`'s statistics
(or, for memory, to bytes and a ratio).

Example::

    >>> t = new_table("x", "Example")
    >>> timed(t, "row", {"a": lambda: None}, Settings(rounds=2, target_s=1e-4), "a")
    >>> t["rows"][0]["results"]["a"]["ratio"]
    1.0
"""

from __future__ import annotations

import sys
import time

from benchmarks.contenders.base import Contender
from benchmarks.harness import interleaved, summarize
from benchmarks.settings import Settings


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def slow(what: str, t0: float, limit: float = 1.0) -> None:
    """Log a preparation step that took long (kernel compilation, a scalar engine)."""
    if (dt := time.perf_counter() - t0) > limit:
        log(f"    {what}: {dt:.1f}s")


def new_table(id_: str, title: str, unit: str = "s") -> dict:
    return {"id": id_, "title": title, "unit": unit, "rows": [], "notes": []}


def skip(table: dict, c: Contender, why: str) -> None:
    note = f"{c.name}: {why}"
    if note not in table["notes"]:
        table["notes"].append(note)


def allowed(c: Contender, workload: str, s: Settings, table: dict) -> bool:
    if c.key.startswith("tinygrad") and workload not in s.tinygrad_workloads:
        skip(table, c, "skipped in --quick (kernel compilation costs seconds per shape)")
        return False
    return True


def timed(table: dict, label: str, fns: dict, s: Settings, hand: str, **extra) -> None:
    t0 = time.perf_counter()
    samples = interleaved(
        fns, rounds=s.rounds, target_s=s.target_s, max_rounds=extra.pop("max_rounds", None)
    )
    table["rows"].append({"label": label, "results": summarize(samples, hand), **extra})
    log(f"  {table['id']} {label}: {len(fns)} contenders, {time.perf_counter() - t0:.1f}s")
