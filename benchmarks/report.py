"""Results as Markdown, JSON and a plot; ``RESULTS.md`` with the per-target verdicts.

``python -m benchmarks.report [results.json]`` rewrites ``benchmarks/RESULTS.md`` from a
saved run (``benchmarks/results/latest.json`` by default).

Example::

    >>> fmt_time(0.0000123)
    '12.3 µs'
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
OURS = "microgradnp"

#: the issue's targets: training-step ratio to hand NumPy at each size
TRAIN_TARGETS = {"tiny": 2.0, "small": 1.5, "medium": 1.10, "large": 1.05}
MEMORY_TARGET = 1.3
#: a log-log slope of backward time against chain length at most this counts as linear
LINEAR_SLOPE = 1.10
CHAIN_TARGET_N = 1_000_000
#: mg.compile's targets (training step, ratio to hand NumPy), for both compiled rows
COMPILED = ("microgradnp compiled", "microgradnp raw compiled")
COMPILE_TARGETS = {"tiny": 1.3, "small": 1.2, "medium": 1.05, "large": 1.05}


def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b: float) -> str:
    return f"{b / 2**20:.2f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"


def _columns(table: dict) -> list[str]:
    cols: list[str] = []
    for row in table["rows"]:
        cols += [n for n in row["results"] if n not in cols]
    return cols


def _ratio_cell(st: dict) -> str:
    if "ratio_q1" in st:
        return f"{st['ratio']:.2f}× [{st['ratio_q1']:.2f}–{st['ratio_q3']:.2f}]"
    return f"{st['ratio']:.2f}×"


def table_md(table: dict, baseline: str) -> str:
    cols = _columns(table)
    lines = [f"### {table['title']}", ""]
    if not table["rows"]:
        return "\n".join(lines + ["(nothing measured)", ""])
    unit_note = {"bytes": "peak bytes", "s": "median time per call"}[table["unit"]]
    lines.append(
        f"Ratio to {baseline} (median [IQR] of same-round ratios); {baseline} column: {unit_note}."
        if table["unit"] == "s"
        else f"Ratio to {baseline}; {baseline} column: {unit_note}."
    )
    lines += ["", "| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in table["rows"]:
        cells = []
        for name in cols:
            st = row["results"].get(name)
            if st is None:
                cells.append("—")
            elif name == baseline:
                cells.append(
                    fmt_bytes(st["bytes"]) if table["unit"] == "bytes" else fmt_time(st["median_s"])
                )
            else:
                cells.append(_ratio_cell(st))
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    if table["unit"] == "s":
        lines += [
            "",
            "Median time per call:",
            "",
            "| | " + " | ".join(cols) + " |",
            "|---" * (len(cols) + 1) + "|",
        ]
        for row in table["rows"]:
            cells = [
                fmt_time(row["results"][n]["median_s"]) if n in row["results"] else "—"
                for n in cols
            ]
            lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    if table["id"] == "chain" and table.get("linearity"):
        lin = table["linearity"]
        lines += ["", "| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for row in table["rows"]:
            cells = [
                fmt_time(row["results"][n]["per_node_s"]) if n in row["results"] else "—"
                for n in cols
            ]
            lines.append(f"| backward per node, n={row['label']} | " + " | ".join(cells) + " |")
        for key, what in (
            ("slope", "log-log slope, all lengths"),
            ("slope_top", "log-log slope, two largest n"),
        ):
            cells = [f"{lin[n][key]:.2f}" if n in lin else "—" for n in cols]
            lines.append(f"| {what} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Per-node times and slopes use each contender's fastest round "
            "(interference only adds time); a slope of 1.00 is linear.",
        ]
    for row in table["rows"]:
        for name, info in row.get("extra", {}).items():
            if "jit_first_calls_s" in info:
                t = info["jit_first_calls_s"]
                lines.append(
                    f"- {name} at {row['label']}: JIT cold — first call "
                    f"{fmt_time(t[0])}, capture {fmt_time(t[1])}, first replay "
                    f"{fmt_time(t[2])} (warm median above)"
                )
            if "compile_trace_s" in info:
                lines.append(
                    f"- {name} at {row['label']}: trace (first call, eager and recorded, "
                    f"plus building the plan) {fmt_time(info['compile_trace_s'])}"
                )
    lines += [f"- {n}" for n in table["notes"]]
    return "\n".join(lines + [""])


def header_md(meta: dict) -> str:
    m = meta["machine"]
    blas = (
        "; ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
            f"{b.get('num_threads')} threads)"
            for b in m["blas"]
        )
        or "unknown"
    )
    env = ", ".join(f"{k}={v}" for k, v in m["env"].items()) or "none set"
    mode = "--quick" if meta["settings"]["is_quick"] else "full"
    lines = [
        f"- Date: {meta['date']}; mode: {mode}; threads: {meta['threads']}; "
        f"wall time {meta.get('wall_s', 0):.0f} s",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}",
        f"- NumPy {m['numpy']}; BLAS: {blas}",
        f"- Environment: {env}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]
    lines += [f"- {n}" for n in meta.get("notes", [])]
    return "\n".join(lines)


def to_markdown(res: dict) -> str:
    base = res["meta"]["baseline"]
    parts = ["# Benchmark run", "", header_md(res["meta"]), ""]
    parts += [table_md(t, base) for t in res["tables"]]
    return "\n".join(parts)


def _find(res: dict, id_: str) -> dict | None:
    return next((t for t in res["tables"] if t["id"] == id_), None)


def target_lines(res: dict, ours: str = OURS) -> list[str]:
    """One PASS / MISS / NOT MEASURED line per target of the issue."""
    lines = []
    train = _find(res, "train")
    rows = {r["label"]: r["results"] for r in train["rows"]} if train else {}
    for size, limit in TRAIN_TARGETS.items():
        st = rows.get(size, {}).get(ours)
        if st is None:
            lines.append(f"- NOT MEASURED: training step at {size} (target ≤ {limit:.2f}×)")
            continue
        verdict = "PASS" if st["ratio"] <= limit else "MISS"
        torch = rows[size].get("PyTorch")
        vs = f"; PyTorch {torch['ratio']:.2f}×" if torch else ""
        lines.append(
            f"- {verdict}: training step at {size}: {st['ratio']:.2f}× hand NumPy "
            f"[IQR {st['ratio_q1']:.2f}–{st['ratio_q3']:.2f}] (target ≤ {limit:.2f}×"
            f"{vs})"
        )
    mem = _find(res, "memory")
    mem_rows = [(r["label"], r["results"].get(ours)) for r in mem["rows"]] if mem else []
    if not any(st for _, st in mem_rows):
        lines.append(f"- NOT MEASURED: peak memory of a training step (target ≤ {MEMORY_TARGET}×)")
    for size, st in mem_rows:
        if st is not None:
            verdict = "PASS" if st["ratio"] <= MEMORY_TARGET else "MISS"
            lines.append(
                f"- {verdict}: peak memory at {size}: {st['ratio']:.2f}× hand NumPy "
                f"({fmt_bytes(st['bytes'])}; target ≤ {MEMORY_TARGET}×)"
            )
    chain = _find(res, "chain")
    lin = (chain or {}).get("linearity", {})
    if lin.get(ours) is None:
        lines.append("- NOT MEASURED: chain backward linear in its length")
    else:
        ln = lin[ours]
        verdict = "PASS" if ln["slope_top"] <= LINEAR_SLOPE else "MISS"
        if verdict == "PASS" and ln["n_max"] < CHAIN_TARGET_N:
            verdict = "PASS (partial: shorter chains)"
        torch = lin.get("PyTorch")
        vs = f"; PyTorch {torch['slope_top']:.2f}" if torch else ""
        lines.append(
            f"- {verdict}: chain backward: log-log slope {ln['slope_top']:.2f} from "
            f"{ln['n_top']:,} to {ln['n_max']:,} nodes ({ln['slope']:.2f} from "
            f"{ln['n_min']:,}; linear ≤ {LINEAR_SLOPE}{vs}; target length "
            f"{CHAIN_TARGET_N:,})"
        )
    return lines


def compile_target_lines(res: dict) -> list[str]:
    """PASS / MISS per compiled row and size: the ratio target, and faster than PyTorch
    (same-round ratios compared), at each training size and for the deep MLP."""
    lines = []
    for tid in ("train", "deep"):
        t = _find(res, tid)
        for row in (t or {}).get("rows", []):
            limit = COMPILE_TARGETS.get(row["label"])
            torch = row["results"].get("PyTorch")
            for name in COMPILED:
                st = row["results"].get(name)
                if st is None:
                    continue
                what = f"{name} at {row['label']}: {st['ratio']:.2f}× hand NumPy " + (
                    f"[IQR {st['ratio_q1']:.2f}–{st['ratio_q3']:.2f}]"
                )
                if limit is not None:
                    verdict = "PASS" if st["ratio"] <= limit else "MISS"
                    lines.append(f"- {verdict}: {what} (target ≤ {limit:.2f}×)")
                if torch is not None:
                    verdict = "PASS" if st["ratio"] < torch["ratio"] else "MISS"
                    lines.append(
                        f"- {verdict}: {name} at {row['label']} faster than PyTorch eager "
                        f"({st['ratio']:.2f}× vs {torch['ratio']:.2f}×)"
                    )
    return lines


def results_md(res: dict) -> str:
    meta = res["meta"]
    parts = [
        "# Benchmark results",
        "",
        "The latest recorded run of `python -m benchmarks` (see `benchmarks/README.md`).",
        "",
        header_md(meta),
        "",
        "## Targets (microgradnp)",
        "",
        *target_lines(res),
        "",
    ]
    if compiled := compile_target_lines(res):
        parts += ["## Targets (mg.compile)", "", *compiled, "",
                  "Time per step against model size: `benchmarks/compile.png`.", ""]  # fmt: skip
    parts += [
        "## Tables",
        "",
    ]
    parts += [table_md(t, meta["baseline"]) for t in res["tables"]]
    return "\n".join(parts)


def plot(res: dict, path: Path) -> Path | None:
    """Training-step (and inference) ratio to hand NumPy per size, log scale."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    tabs = [t for t in (_find(res, "train"), _find(res, "infer")) if t and t["rows"]]
    if not tabs:
        return None
    fig, axes = plt.subplots(1, len(tabs), figsize=(6.5 * len(tabs), 4.5), squeeze=False)
    # One colour per contender in both panels, and no two alike (the default cycle has ten):
    # tab20's strong colours first, then its light ones, dashed.
    names = list(dict.fromkeys(n for t in tabs for n in _columns(t)))
    palette = plt.get_cmap("tab20").colors
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    style = {n: (palette[order[i % 20]], "-" if i < 10 else "--") for i, n in enumerate(names)}
    for ax, t in zip(axes[0], tabs, strict=True):
        labels = [r["label"] for r in t["rows"]]
        for name in _columns(t):
            xs = [i for i, r in enumerate(t["rows"]) if name in r["results"]]
            ys = [t["rows"][i]["results"][name]["ratio"] for i in xs]
            color, line = style[name]
            ax.plot(xs, ys, line, color=color, marker="o", lw=2.5 if name == OURS else 1.2,
                    label=name)  # fmt: skip
        if t["id"] == "train":
            tx = [i for i, lab in enumerate(labels) if lab in TRAIN_TARGETS]
            ax.scatter(
                tx,
                [TRAIN_TARGETS[labels[i]] for i in tx],
                marker="_",
                s=400,
                color="k",
                label="target",
            )
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylabel("time / hand-written NumPy")
        ax.set_title(t["title"])
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{res['meta']['machine']['cpu']}, {res['meta']['threads']} thread(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: the curves of the compile plot: (column, label, style)
_SIZE_CURVES = (
    ("NumPy (hand)", "hand-written NumPy (floor)", "k--"),
    ("microgradnp", "microgradnp eager", "C0-"),
    ("microgradnp (raw ops)", "microgradnp eager, raw ops", "C0:"),
    ("microgradnp compiled", "microgradnp compiled", "C3-"),
    ("microgradnp raw compiled", "microgradnp compiled, raw ops", "C3:"),
    ("PyTorch", "PyTorch eager", "C2-"),
)


def plot_sizes(res: dict, path: Path) -> Path | None:
    """Time per training step against the model's parameter count (log-log): eager and
    compiled microgradnp, PyTorch eager and the hand-written floor."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    t = _find(res, "train")
    if not t or not any(c in r["results"] for r in t["rows"] for c in COMPILED):
        return None

    def n_params(meta: dict) -> int:
        widths = [meta["D"], *meta["hidden"], meta["C"]]
        return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))

    rows = sorted(t["rows"], key=lambda r: n_params(r["shape"]))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for col, label, style in _SIZE_CURVES:
        pts = [(n_params(r["shape"]), r["results"][col]) for r in rows if col in r["results"]]
        if not pts:
            continue
        xs = [p for p, _ in pts]
        ax.plot(xs, [st["median_s"] * 1e3 for _, st in pts], style, marker="o", label=label)
        ax2.plot(xs, [st["ratio"] for _, st in pts], style, marker="o", label=label)
    for r in rows:
        floor_ms = r["results"]["NumPy (hand)"]["median_s"] * 1e3
        where = (n_params(r["shape"]), floor_ms)
        ax.annotate(r["label"], where, textcoords="offset points", xytext=(4, -12), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (MLP: batch and width grow together)")
    ax.set_ylabel("time per training step (ms)")
    ax.set_title("Training step (SGD), median of interleaved rounds")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("parameters")
    ax2.set_ylabel("time / hand-written NumPy")
    ax2.set_title("Ratio to the floor (same-round medians)")
    for a in (ax, ax2):
        a.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(f"{res['meta']['machine']['cpu']}, {res['meta']['threads']} thread(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save(res: dict, out: Path = RESULTS_DIR, *, with_plot: bool = True) -> list[Path]:
    """Write ``<stamp>.json/.md/.png`` and copies as ``latest.*``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = res["meta"]["stamp"]
    paths = [out / f"{stamp}.json", out / f"{stamp}.md"]
    paths[0].write_text(json.dumps(res, indent=1, default=str))
    paths[1].write_text(to_markdown(res))
    if with_plot and plot(res, out / f"{stamp}.png"):
        paths.append(out / f"{stamp}.png")
    if with_plot and plot_sizes(res, out / f"{stamp}-compile.png"):
        paths.append(out / f"{stamp}-compile.png")
    for p in list(paths):
        latest = out / ("latest" + p.name[len(stamp) :])
        shutil.copyfile(p, latest)
        paths.append(latest)
    return paths


GAPS_MD = HERE / "GAPS.md"  # hand-written: why each missed target is missed (profiles)
GPT_MD = HERE / "GPT.md"  # the GPT training step, recorded by `python -m benchmarks.gpt`


CONV_SECTION = "## Convolution (Conv2d forward + backward)"  # written by benchmarks/conv.py


COMPILE_JSON = HERE / "results" / "compile.json"  # the run behind RESULTS.md's compile section


def compile_md(res: dict) -> str:
    """The mg.compile section of RESULTS.md, from a run of its own (the compiled rows, the
    eager rows, PyTorch and the floor): header, targets, the training tables."""
    parts = [
        "## mg.compile",
        "",
        "From its own run: `python -m benchmarks --only train,deep,memory --rounds 21 "
        "--contenders numpy,microgradnp,microgradnp-raw,microgradnp-compiled,"
        "microgradnp-raw-compiled,torch --out /tmp/compile-run --compile-results` "
        "(a busy shared machine: medians of interleaved same-round ratios; the IQR shows the "
        "spread).",
        "",
        header_md(res["meta"]),
        "",
        "### Targets (mg.compile)",
        "",
        *compile_target_lines(res),
        "",
        "Time per step against model size: `benchmarks/compile.png`.",
        "",
    ]
    parts += ["#" + table_md(t, res["meta"]["baseline"]) for t in res["tables"]]
    return "\n".join(parts)


def write_results_md(res: dict, path: Path = RESULTS_MD, compile_res: dict | None = None) -> Path:
    """RESULTS.md from a run; the mg.compile section from `compile_res` (by default the
    saved `results/compile.json`) when the run itself has no compiled rows."""
    text = results_md(res)
    if compile_res is None and not compile_target_lines(res) and COMPILE_JSON.exists():
        compile_res = json.loads(COMPILE_JSON.read_text())
    if compile_res is not None:
        text = text.rstrip("\n") + "\n\n" + compile_md(compile_res)
    if plot_sizes(compile_res or res, HERE / "compile.png") is None:
        text = text.replace("Time per step against model size: `benchmarks/compile.png`.\n", "")
    for extra in (GPT_MD, GAPS_MD):
        if extra.exists():
            text = text.rstrip("\n") + "\n\n" + extra.read_text()
    old = path.read_text() if path.exists() else ""
    if CONV_SECTION in old:  # the convolution section is measured separately: keep it
        text = text.rstrip("\n") + "\n\n" + old[old.index(CONV_SECTION) :]
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    src = Path(args[0]) if args else RESULTS_DIR / "latest.json"
    res = json.loads(src.read_text())
    print(f"wrote {write_results_md(res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
