"""Distributed benchmarks: allreduce time against message size, and data-parallel steps.

Run one launch per world size, from the repository root:

    mpiexec -n 2 python -m benchmarks.distributed [--quick] [--json out.json]
    mpiexec -n 4 python -m benchmarks.distributed
    python -m benchmarks.distributed            # one rank: the compute-only baseline
    python -m benchmarks.distributed --predict  # alpha-beta model: speed-up at 1-64 ranks
    mpiexec -n 2 python -m benchmarks.distributed --only allreduce,cnn   # a part of it

Rank 0 prints Markdown tables (and writes JSON with `--json`):

- allreduce (`mg.distributed.all_reduce`, float32 SUM in place) for 1 KiB to 64 MiB: the
  median time over repetitions of the slowest rank, the algorithm bandwidth (bytes / time)
  and the bus bandwidth (algbw x 2(N-1)/N, what a ring moves per link);
- a training step (forward, backward, Adam step) under DistributedDataParallel of two MLPs,
  and of the MNIST CNN and the GPT where `nn.Conv2d` and `mg.models.gpt` exist,
  at a fixed global batch split over the ranks: `step` (gradients averaged in backward),
  `compute` (the same step under `no_sync`, no communication), `blocking` (no_sync backward,
  then every bucket reduced one after the other, no overlap). Communication share =
  (step - compute) / step; overlapped share = (blocking - step) / (blocking - compute);
- with `--predict` (one rank): the compute time per step fitted as fixed + per-sample cost,
  and the speed-up that the alpha-beta model of a ring allreduce predicts at 1-64 ranks on
  10 and 100 Gb/s networks (their latency and bandwidth are assumptions, see NETWORKS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per rank, before NumPy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import microgradnp as mg  # noqa: E402
from microgradnp import nn  # noqa: E402
from microgradnp.distributed.process_group import mpi  # noqa: E402
from microgradnp.nn.parallel import DistributedDataParallel  # noqa: E402

dist = mg.distributed
SIZES = [2**k for k in range(10, 27, 2)]  # 1 KiB, 4 KiB, ..., 64 MiB


@dataclass
class Workload:
    """A model, a batch maker `(batch, rng) -> (inputs, targets)` and the global batch."""

    name: str
    make_model: Callable[[], nn.Module]
    make_batch: Callable[[int, np.random.Generator], tuple[Any, Any]]
    global_batch: int
    loss_fn: Callable[[Any, Any], Any] = nn.CrossEntropyLoss()


def _mlp(widths: list[int]) -> nn.Module:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _features(shape: tuple[int, ...], classes: int) -> Callable[..., tuple[Any, Any]]:
    def make(batch: int, rng: np.random.Generator) -> tuple[Any, Any]:
        x = rng.normal(size=(batch, *shape)).astype(np.float32)
        return mg.from_numpy(x), mg.from_numpy(rng.integers(0, classes, size=batch))

    return make


def _cnn() -> nn.Module:
    """The MNIST CNN: two 3x3 convolutions (8 and 16 channels) with max pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )  # fmt: skip


GPT_CONFIG = dict(vocab_size=68, block_size=64, n_layer=4, n_head=4, n_embd=128)


def _gpt() -> nn.Module:
    from microgradnp.models.gpt import GPT, GPTConfig

    return GPT(GPTConfig(**GPT_CONFIG))


def _tokens(batch: int, rng: np.random.Generator) -> tuple[Any, Any]:
    ids = rng.integers(0, GPT_CONFIG["vocab_size"], size=(batch, GPT_CONFIG["block_size"] + 1))
    return ids[:, :-1], mg.from_numpy(ids[:, 1:].reshape(-1))


def _next_token_loss(logits: Any, targets: Any) -> Any:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets)


def workloads() -> list[Workload]:
    """The MLPs always; the CNN and the GPT where their layers exist."""
    found = [
        Workload("digits MLP 64-128-10", lambda: _mlp([64, 128, 10]), _features((64,), 10), 64),
        Workload(
            "MLP 784-1024-1024-10",
            lambda: _mlp([784, 1024, 1024, 10]),
            _features((784,), 10),
            128,
        ),
    ]
    if hasattr(nn, "Conv2d") and hasattr(nn, "MaxPool2d"):
        found.append(Workload("MNIST CNN (2 conv + linear)", _cnn, _features((1, 28, 28), 10), 64))
    try:
        import microgradnp.models.gpt  # noqa: F401
    except ImportError:
        pass
    else:
        found.append(
            Workload("GPT 4 layers x 128, context 64", _gpt, _tokens, 32, _next_token_loss)
        )
    return found


def _slowest(seconds: float) -> float:
    """The largest of the ranks' times (a collective is as slow as its slowest rank)."""
    t = np.array([seconds])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t[0])


def _timed(fns: dict[str, Callable[[], None]], reps: int, warmup: int) -> dict[str, float]:
    """Median seconds of each function, run in turn (interleaved, so that load from other
    processes on the machine hits them alike)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            dist.barrier()
            start = time.perf_counter()
            fn()
            times[name].append(_slowest(time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}


def bench_allreduce(quick: bool) -> list[dict]:
    size, rows = dist.get_world_size(), []
    for nbytes in SIZES:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        reps = 5 if nbytes >= 2**24 else (10 if quick else 30)
        seconds = _timed({"allreduce": lambda buf=buf: dist.all_reduce(buf)}, reps, 2)["allreduce"]
        algbw = nbytes / seconds
        busbw = algbw * 2 * (size - 1) / size
        rows.append({"bytes": nbytes, "seconds": seconds, "algbw": algbw, "busbw": busbw})
    return rows


def bench_step(
    work: Workload, global_batch: int, quick: bool, variants: tuple[str, ...] = ()
) -> dict:
    """Time the step variants (default: step, compute, blocking; "copies" is the bucket
    path alone: gradients into the buckets, allreduce, back into `.grad`)."""
    rank, size = dist.get_rank(), dist.get_world_size()
    mg.manual_seed(0)
    model = DistributedDataParallel(work.make_model())
    opt = mg.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = work.loss_fn
    batch = global_batch // size
    x, y = work.make_batch(batch, np.random.default_rng(rank))

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def compute() -> None:
        with model.no_sync():
            step()

    def blocking() -> None:
        opt.zero_grad()
        with model.no_sync():
            loss_fn(model(x), y).backward()
        for bucket in model._buckets:  # reduce after backward, one bucket at a time
            bucket.launch()
            bucket.finish()
        opt.step()

    def copies() -> None:
        for bucket in model._buckets:
            bucket.launch()
            bucket.finish()

    fns = {"step": step, "compute": compute, "blocking": blocking, "copies": copies}
    reps = 10 if quick else 30
    times = _timed({name: fns[name] for name in variants or ("step", "compute", "blocking")},
                   reps, warmup=3)  # fmt: skip
    if variants:
        return times
    comm = max(times["step"] - times["compute"], 0.0)
    exposed = times["blocking"] - times["compute"]
    return {
        **times,
        "params": sum(p.numel() for p in model.parameters()),
        "buckets": len(model._buckets),
        "global_batch": global_batch,
        "samples_per_s": global_batch / times["step"],
        "comm_share": comm / times["step"],
        # undefined when the communication is lost in the noise of the compute
        "overlap_share": (
            (times["blocking"] - times["step"]) / exposed
            if exposed > 0.05 * times["compute"]
            else None
        ),
    }


def ring_allreduce_s(nbytes: float, ranks: int, alpha_s: float, bandwidth: float) -> float:
    """Alpha-beta model of a ring allreduce: 2(N-1) steps, each with latency alpha, moving
    2(N-1)/N of the message through each link at `bandwidth` bytes/s."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * alpha_s + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def predicted_step_s(
    ranks: int, global_batch: int, fixed_s: float, per_sample_s: float, copy_s: float,
    nbytes: float, alpha_s: float, bandwidth: float,
) -> float:  # fmt: skip
    """Step time at `ranks` for a fixed global batch: the per-rank compute (a fixed part, the
    optimizer and per-call overhead, plus a part proportional to the rank's batch), the
    gradient copies into and out of the buckets, and the allreduce, not overlapped."""
    compute = fixed_s + per_sample_s * global_batch / ranks
    if ranks == 1:
        return compute
    return compute + copy_s + ring_allreduce_s(nbytes, ranks, alpha_s, bandwidth)


NETWORKS = {  # assumed, not measured here: name -> (latency alpha, achievable bandwidth)
    "10 Gb/s Ethernet (TCP)": (30e-6, 1.1e9),
    "100 Gb/s (RDMA)": (5e-6, 11e9),
}
PREDICT_RANKS = [1, 2, 4, 8, 16, 32, 64]


def compute_model(work: Workload, quick: bool) -> tuple[float, float, float]:
    """Fit compute(b) = fixed + per_sample * b to one rank's no_sync steps at several batch
    sizes; also return the time of the bucket copies (which do not depend on the batch)."""
    batches = [2, 8, 32, 128]
    times, copy_s = [], []
    for b in batches:
        row = bench_step(work, b, quick, variants=("compute", "copies"))
        times.append(row["compute"])
        copy_s.append(row["copies"])
    per_sample, fixed = np.polyfit(batches, times, 1)
    return max(float(fixed), 0.0), max(float(per_sample), 0.0), float(np.median(copy_s))


def predict(quick: bool, wanted: Callable[[str], bool]) -> None:
    """Print predicted speed-ups for 1-64 ranks from this machine's one-rank compute."""
    for work in workloads():
        if not wanted(work.name):
            continue
        fixed, per_sample, copy_s = compute_model(work, quick)
        nbytes = 4 * sum(p.numel() for p in work.make_model().parameters())
        print(
            f"\n### {work.name}: compute {fixed * 1e3:.3f} ms + {per_sample * 1e6:.2f} us/sample, "
            f"bucket copies {copy_s * 1e3:.2f} ms, gradients {nbytes / 2**20:.2f} MiB\n"
        )
        print("| network | global batch | " + " | ".join(f"N={n}" for n in PREDICT_RANKS) + " |")
        print("|---|---|" + "---|" * len(PREDICT_RANKS))
        for net, (alpha, bandwidth) in NETWORKS.items():
            for batch in (128, 1024):
                args = (batch, fixed, per_sample, copy_s, nbytes, alpha, bandwidth)
                one = predicted_step_s(1, *args)
                speedups = [one / predicted_step_s(n, *args) for n in PREDICT_RANKS]
                cells = " | ".join(f"{x:.2f}" for x in speedups)
                print(f"| {net} | {batch} | {cells} |")


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def _fmt_bytes(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 2**10} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description="allreduce and data-parallel step timings")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", help="also write the results here (rank 0)")
    parser.add_argument(
        "--only",
        help="comma-separated words: 'allreduce' and/or words of the model names (mlp, cnn, gpt)",
    )
    parser.add_argument(
        "--predict", action="store_true", help="one rank: fit compute, predict 1-64 ranks"
    )
    args = parser.parse_args()
    words = args.only.lower().split(",") if args.only else None

    def wanted(name: str) -> bool:
        return words is None or any(word in name.lower() for word in words)

    dist.init_process_group("mpi")
    if args.predict:
        predict(args.quick, wanted)
        dist.destroy_process_group()
        return
    rank, size = dist.get_rank(), dist.get_world_size()
    result: dict = {
        "ranks": size,
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "mpi": mpi().Get_library_version().splitlines()[0].strip(),
        "allreduce": bench_allreduce(args.quick) if size > 1 and wanted("allreduce") else [],
        "steps": {
            w.name: bench_step(w, w.global_batch, args.quick) for w in workloads() if wanted(w.name)
        },
    }
    if rank == 0:
        print(f"## {size} rank(s) on {result['cores']} cores ({result['mpi']})\n")
        if result["allreduce"]:
            print("| message | time | algbw | busbw |\n|---|---|---|---|")
            for row in result["allreduce"]:
                print(
                    f"| {_fmt_bytes(row['bytes'])} | {row['seconds'] * 1e6:,.0f} us | "
                    f"{row['algbw'] / 1e9:.2f} GB/s | {row['busbw'] / 1e9:.2f} GB/s |"
                )
            print()
        print(
            "| model | params | step | compute | blocking | samples/s | comm share | overlapped |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, row in result["steps"].items():
            print(
                f"| {name} | {row['params'] / 1e6:.3g} M | {row['step'] * 1e3:.2f} ms | "
                f"{row['compute'] * 1e3:.2f} ms | "
                f"{row['blocking'] * 1e3:.2f} ms | {row['samples_per_s']:,.0f} | "
                f"{row['comm_share']:.0%} | {_pct(row['overlap_share'])} |"
            )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
