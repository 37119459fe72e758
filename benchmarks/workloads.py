"""The workloads: each checks its contenders against the floor, then times them.

Every function returns a table (see :mod:`benchmarks.tables`). The graph-overhead
workloads (per-op, long chain) are in :mod:`benchmarks.overhead`.

Example::

    >>> from benchmarks.contenders import load
    >>> from benchmarks.settings import Settings
    >>> s = Settings(rounds=1, target_s=0.001, train_sizes=["tiny"])
    >>> table = train(load(["numpy"])[0], s)
    >>> table["rows"][0]["results"]["NumPy (hand)"]["ratio"]
    1.0
"""

from __future__ import annotations

import time

from benchmarks import checks
from benchmarks.contenders.base import Contender, Unsupported
from benchmarks.memory import peak_torch, peak_tracemalloc
from benchmarks.problems import DEEP, DEEP_CHECK, SIZES, hvp_vector, make_deep, make_mlp
from benchmarks.settings import Settings
from benchmarks.tables import allowed, log, new_table, skip, slow, timed


def _mlp_rows(
    table: dict,
    contenders: list[Contender],
    s: Settings,
    problems: list,
    check_problem,
    workload: str,
) -> list[Contender]:
    hand = contenders[0]
    ok = []
    for c in contenders:
        if not allowed(c, workload, s, table):
            continue
        t0 = time.perf_counter()
        try:
            verdict = checks.check_training(c, hand, check_problem(c))
            slow(f"check {c.name}", t0)
        except Unsupported as e:
            skip(table, c, str(e))
            continue
        table.setdefault("checks", {})[c.name] = verdict
        if checks.report(c.name, table["title"], verdict, table["notes"]):
            ok.append(c)
    for label, p in problems:
        fns, extra, max_rounds = {}, {}, {}
        for c in ok:
            if c.key == "micrograd" and label not in s.micrograd_sizes:
                skip(table, c, f"run only at {', '.join(s.micrograd_sizes)} (a scalar engine)")
                continue
            t0 = time.perf_counter()
            try:
                t = c.trainer(p)
            except Unsupported as e:
                skip(table, c, f"{label}: {e}")
                continue
            if c.key == "micrograd" and label in s.micrograd_rounds:
                max_rounds[c.name] = s.micrograd_rounds[label]
            else:
                info = t.prepare()
                if info:
                    extra[c.name] = info
            slow(f"warm-up {c.name} at {label}", t0)
            fns[c.name] = t.step
        timed(table, label, fns, s, hand.name, shape=p.meta, extra=extra, max_rounds=max_rounds)
    return ok


def train(contenders: list[Contender], s: Settings) -> dict:
    """The training step of the two-layer sigmoid MLP at each size."""
    table = new_table("train", "Training step")
    small = make_mlp(SIZES["small"], name="small")
    tiny = make_mlp(SIZES["tiny"], name="tiny")

    def check_problem(c):  # micrograd takes seconds per step at small: checked at tiny
        return tiny if c.key == "micrograd" else small

    problems = [(size, make_mlp(SIZES[size], name=size)) for size in s.train_sizes]
    table["ok"] = [c.key for c in _mlp_rows(table, contenders, s, problems, check_problem, "train")]
    return table


def deep(contenders: list[Contender], s: Settings) -> dict:
    """The deeper ReLU MLP (4 hidden layers of 512)."""
    table = new_table("deep", "Deep MLP training step")
    check = make_deep(DEEP_CHECK, name="deep-check")
    cs = [c for c in contenders if c.key != "micrograd"]
    _mlp_rows(table, cs, s, [("deep", make_deep(DEEP))], lambda c: check, "deep")
    return table


def infer(contenders: list[Contender], s: Settings) -> dict:
    """Forward pass only, with gradient recording off (``no_grad``)."""
    table = new_table("infer", "Inference (no_grad forward)")
    hand = contenders[0]
    for size in s.infer_sizes:
        p = make_mlp(SIZES[size], name=size)
        ref = hand.inference(p)().copy()
        fns = {}
        for c in contenders:
            if not allowed(c, "infer", s, table) or c.key == "micrograd":
                continue
            try:
                fn = c.inference(p)
            except Unsupported as e:
                if size == s.infer_sizes[0]:
                    skip(table, c, str(e))
                continue
            if checks.report(
                c.name, f"inference at {size}", checks.check_arrays(c, fn(), ref), table["notes"]
            ):
                fns[c.name] = fn
        timed(table, size, fns, s, hand.name, shape=p.meta)
    return table


def hvp(contenders: list[Contender], s: Settings) -> dict:
    """A Hessian-vector product of the small MLP's loss (double backward)."""
    table = new_table("hvp", "Hessian-vector product")
    hand = contenders[0]
    p = make_mlp(SIZES["small"], name="small")
    v = hvp_vector(p)
    ref = hand.hvp(p, v)()
    fns = {}
    for c in contenders:
        if not allowed(c, "hvp", s, table) or c.key == "micrograd":
            continue
        try:
            fn = c.hvp(p, v)
        except Unsupported as e:
            skip(table, c, str(e))
            continue
        if checks.report(c.name, "HVP", checks.check_arrays(c, fn(), ref), table["notes"]):
            fns[c.name] = fn
    timed(table, "small", fns, s, hand.name, shape=p.meta)
    return table


def memory(contenders: list[Contender], s: Settings, train_ok: list[str] | None) -> dict:
    """Peak memory of one training step, relative to the hand-written step's."""
    table = new_table("memory", "Peak memory of a training step", unit="bytes")
    hand = contenders[0]
    probes = {"tracemalloc": peak_tracemalloc, "torch": peak_torch}
    measured = []
    for c in contenders:
        if c.key == "micrograd" or (train_ok is not None and c.key not in train_ok):
            continue
        if c.memory_probe not in probes:
            skip(table, c, "no allocator hook to measure (buffers live outside Python)")
            continue
        if train_ok is None:  # the training workload did not run: check here
            try:
                verdict = checks.check_training(c, hand, make_mlp(SIZES["small"]))
            except Unsupported as e:
                skip(table, c, str(e))
                continue
            if not checks.report(c.name, table["title"], verdict, table["notes"]):
                continue
        measured.append(c)
    for size in s.memory_sizes:
        p = make_mlp(SIZES[size], name=size)
        results = {}
        for c in measured:
            probe = probes[c.memory_probe]
            try:
                results[c.name] = {
                    "bytes": probe(lambda c=c, p=p: c.trainer(p)),
                    "probe": c.memory_probe,
                }
            except Unsupported as e:
                if size == s.memory_sizes[0]:
                    skip(table, c, str(e))
        base = results[hand.name]["bytes"]
        for st in results.values():
            st["ratio"] = st["bytes"] / base
        table["rows"].append({"label": size, "shape": p.meta, "results": results})
        log(f"  memory {size}: done")
    return table
