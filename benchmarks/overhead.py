"""The graph-overhead workloads: per-op cost on tiny tensors and long-chain backward.

Both return tables in the format of :mod:`benchmarks.workloads`.

Example::

    >>> from benchmarks.contenders import load
    >>> from benchmarks.settings import Settings
    >>> s = Settings(rounds=1, target_s=0.001, chain_ns=[100, 1000], chain_rounds=1)
    >>> t = chain(load(["numpy"])[0], s)
    >>> [row["n"] for row in t["rows"]], round(t["rows"][0]["results"]["NumPy (hand)"]["ratio"])
    ([100, 1000], 1)
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import checks
from benchmarks.contenders.base import OPS, Contender, Unsupported
from benchmarks.harness import summarize
from benchmarks.settings import Settings
from benchmarks.tables import allowed, log, new_table, skip, timed


def ops(contenders: list[Contender], s: Settings) -> tuple[dict, dict]:
    """Per-op overhead on 4x4 float32 tensors: forward with the graph recorded, and
    op + sum + backward; both against NumPy doing the same work by hand."""
    fwd = new_table("ops_fwd", "Per-op forward (graph recorded)")
    bwd = new_table("ops_bwd", "Per-op forward + sum + backward")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4), dtype=np.float32)
    b = rng.standard_normal((4, 4), dtype=np.float32)
    hand = contenders[0]
    cs = [
        c
        for c in contenders
        if c.key != "micrograd" and all([allowed(c, "ops", s, t) for t in (fwd, bwd)])
    ]
    for op, label in OPS.items():
        ref = hand.op_grads(op, a, b)
        for table, make in ((fwd, "op_forward"), (bwd, "op_backward")):
            fns = {}
            for c in cs:
                try:
                    fn = getattr(c, make)(op, a, b)
                    if make == "op_backward":
                        verdict = checks.check_arrays(c, c.op_grads(op, a, b), ref)
                        if not checks.report(c.name, f"{op} backward", verdict, table["notes"]):
                            continue
                except Unsupported as e:
                    skip(table, c, str(e))
                    continue
                fns[c.name] = fn
            timed(table, label, fns, s, hand.name)
    return fwd, bwd


CHAIN_CHECK_N = 1000
#: contenders run at every chain length; the others stop at Settings.chain_peer_max_n
LONG_CHAIN_KEYS = ("numpy", "microgradnp", "torch")


def chain(contenders: list[Contender], s: Settings) -> dict:
    """Backward through a chain ``y = x * c`` repeated n times: time per node vs n."""
    table = new_table("chain", "Long chain backward")
    x = np.ones(4, dtype=np.float32)
    c_ = 1.000001
    cs, builders = [], {}
    for c in contenders:
        if not allowed(c, "chain", s, table):
            continue
        try:
            build, backward = c.chain(CHAIN_CHECK_N, x, c_)
        except Unsupported as e:
            skip(table, c, str(e))
            continue
        # float32 rounding grows with n; at 1,000 links it stays well inside the tolerance
        expect = np.full(4, np.float32(c_) ** CHAIN_CHECK_N, dtype=np.float32)
        if checks.report(
            c.name, "chain", checks.check_arrays(c, backward(build()), expect), table["notes"]
        ):
            cs.append(c)
    for n in s.chain_ns:
        t0 = time.perf_counter()
        long = [c for c in cs if n <= s.chain_peer_max_n or c.key in LONG_CHAIN_KEYS]
        for c in cs:
            if c not in long:
                skip(table, c, f"chains above {s.chain_peer_max_n:,} nodes not run (time)")
        builders = {c.name: c.chain(n, x, c_) for c in long}
        times: dict[str, dict[str, list[float]]] = {c.name: {"fwd": [], "bwd": []} for c in long}
        names = list(builders)
        for r in range(s.chain_rounds):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                build, backward = builders[name]
                t1 = time.perf_counter()
                root = build()
                t2 = time.perf_counter()
                backward(root)
                t3 = time.perf_counter()
                del root
                times[name]["fwd"].append(t2 - t1)
                times[name]["bwd"].append(t3 - t2)
        results = summarize({k: v["bwd"] for k, v in times.items()}, contenders[0].name)
        for name, st in results.items():
            st["fwd_median_s"] = float(np.median(times[name]["fwd"]))
            st["min_s"] = float(np.min(times[name]["bwd"]))
            st["per_node_s"] = st["min_s"] / n
        table["rows"].append({"label": f"{n:,}", "n": n, "results": results})
        log(f"  chain n={n:,}: {time.perf_counter() - t0:.1f}s")
    table["linearity"] = _linearity(table)
    return table


def _slope(a: dict, b: dict, name: str) -> float:
    """Log-log slope of the fastest backward time against n between rows a and b."""
    ta, tb = a["results"][name]["min_s"], b["results"][name]["min_s"]
    return float(np.log(tb / ta) / np.log(b["n"] / a["n"]))


def _linearity(table: dict) -> dict:
    """Per contender: the log-log slope of backward time against n over all its lengths,
    and between its two largest (where every graph is far larger than the CPU caches, so
    a slope above 1 is the algorithm's, not the memory hierarchy's). The fastest round is
    used: on a shared machine interference only ever adds time."""
    out = {}
    names = {n for row in table["rows"] for n in row["results"]}
    for name in sorted(names):
        rows = [r for r in table["rows"] if name in r["results"]]
        if len(rows) >= 2:
            out[name] = {
                "slope": _slope(rows[0], rows[-1], name),
                "slope_top": _slope(rows[-2], rows[-1], name),
                "n_min": rows[0]["n"],
                "n_top": rows[-2]["n"],
                "n_max": rows[-1]["n"],
            }
    return out
