"""The command line: ``python -m benchmarks [--quick] [--threads N] [--only ...]``.

Example::

    >>> args = parse_args(["--quick", "--only", "train,ops", "--threads", "2"])
    >>> args.quick, args.only, args.threads
    (True, ['train', 'ops'], 2)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks import overhead, report, workloads
from benchmarks.machine import apply_threads, machine_info, prepare_threads, restore_threads
from benchmarks.settings import WORKLOADS, Settings


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer rounds and sizes")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch/tinygrad threads (1)")
    ap.add_argument(
        "--only",
        type=_csv,
        default=None,
        help=f"comma-separated workloads out of {','.join(WORKLOADS)}",
    )
    ap.add_argument(
        "--contenders",
        type=_csv,
        default=None,
        help="comma-separated contender keys (hand NumPy always runs)",
    )
    ap.add_argument("--sizes", type=_csv, default=None, help="training sizes, e.g. tiny,small")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds per workload")
    ap.add_argument("--out", type=Path, default=report.RESULTS_DIR, help="results folder")
    ap.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    ap.add_argument(
        "--write-results",
        action="store_true",
        help="also rewrite benchmarks/RESULTS.md from this run",
    )
    ap.add_argument(
        "--compile-results",
        action="store_true",
        help="save this run as results/compile.json and rewrite RESULTS.md's mg.compile "
        "section (and compile.png) from it, keeping the rest of RESULTS.md's run",
    )
    args = ap.parse_args(argv)
    if args.compile_results and args.out == report.RESULTS_DIR:
        ap.error("--compile-results: pass --out elsewhere (results/latest.json is the main run)")
    bad = sorted(set(args.only or []) - set(WORKLOADS))
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}")
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    s = Settings.quick() if args.quick else Settings.full()
    if args.only:
        s.workloads = args.only
    if args.sizes:
        s.train_sizes = args.sizes
    if args.rounds:
        s.rounds = args.rounds
    return s


def run(args: argparse.Namespace) -> dict:
    """Run the selected workloads and return the results (not yet saved)."""
    from benchmarks.contenders import load

    t0 = time.perf_counter()
    s = settings_from(args)
    prepare_threads(args.threads)
    contenders, notes = load(args.contenders)
    notes += apply_threads(args.threads)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print("contenders: " + ", ".join(c.name for c in contenders), file=sys.stderr)
    tables, train_ok = [], None
    for w in (w for w in WORKLOADS if w in s.workloads):
        print(f"{w} ...", file=sys.stderr, flush=True)
        if w == "train":
            tables.append(workloads.train(contenders, s))
            train_ok = tables[-1]["ok"]
        elif w == "ops":
            tables.extend(overhead.ops(contenders, s))
        elif w == "chain":
            tables.append(overhead.chain(contenders, s))
        elif w == "memory":
            tables.append(workloads.memory(contenders, s, train_ok))
        else:
            tables.append(getattr(workloads, w)(contenders, s))
    return {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "stamp": time.strftime("%Y%m%d-%H%M%S"),
            "machine": machine_info(),
            "threads": args.threads,
            "versions": {c.name: c.version() for c in contenders},
            "baseline": contenders[0].name,
            "settings": s.as_dict(),
            "argv": sys.argv[1:],
            "notes": notes,
            "wall_s": time.perf_counter() - t0,
        },
        "tables": tables,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        res = run(args)
    finally:
        restore_threads()
    paths = report.save(res, args.out, with_plot=not args.no_plot)
    print(report.to_markdown(res))
    if args.write_results:
        paths.append(report.write_results_md(res))
    if args.compile_results:
        report.COMPILE_JSON.write_text(json.dumps(res, indent=1, default=str))
        main_res = json.loads((report.RESULTS_DIR / "latest.json").read_text())
        paths += [report.COMPILE_JSON, report.write_results_md(main_res, compile_res=res)]
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0
