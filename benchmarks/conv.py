"""Conv2d forward + backward: microgradnp against a hand-written NumPy floor, PyTorch (CPU,
one thread) and DeZero (0.0.13, its im2col conv2d), float32, BLAS on one thread.

One step: out = conv2d(x, w, b); backward with a fixed upstream gradient g, giving the
gradients of x, w and b. Shapes: LeNet's two convolutions (N=64, 1->6 5x5 on 28x28, 6->16
5x5 on 12x12) and a ResNet block's (N=16, 64->64 3x3, padding 1, on 32x32).

The floor is the fastest im2col + GEMM convolution written here: a strided view of the
windows copied once into a (C*kh*kw, N*Ho*Wo) matrix (kept for the weight gradient), one
GEMM forward, per-sample GEMMs that read the upstream gradient in place for the weight and
input gradients, col2im as kh*kw strided adds; output, gradient and column buffers
preallocated and reused, so it never pays for fresh memory (page faults).

A second section times a CNN training step (`--step`): the MNIST CNN with batch
normalisation (conv 1->8 3x3 pad 1, BatchNorm, ReLU, 2x2 max pooling, conv 8->16, BatchNorm,
ReLU, max pooling, linear 784->10; batch 64, 28x28, cross-entropy, SGD with momentum 0.9),
in microgradnp eager, microgradnp under `mg.compile` and PyTorch eager, interleaved round by
round (`benchmarks.harness`; medians, ratios of same-round times). The compiled step's losses
and parameters equal eager's bit for bit (checked before timing); its trace (the first
call) is timed apart.

Run:
    python -m benchmarks.conv [--rounds N] [--write-results]
    python -m benchmarks.conv --step [--rounds N] [--write-results]    # the CNN step only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

SHAPES = {
    "LeNet conv1 (64, 1->6, 5x5, 28x28)": (64, 1, 28, 6, 5, 0),
    "LeNet conv2 (64, 6->16, 5x5, 12x12)": (64, 6, 12, 16, 5, 0),
    "ResNet block (16, 64->64, 3x3 pad 1, 32x32)": (16, 64, 32, 64, 3, 1),
}
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Convolution (Conv2d forward + backward)"
STEP_SECTION = "## CNN training step (`python -m benchmarks.conv --step`)"
STEP_BATCH = 64


class NumpyConv:
    """The floor: im2col + GEMM with every buffer preallocated (stride 1, square kernel)."""

    def __init__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> None:
        n, c, h, wd = x.shape
        o, _, k, _ = w.shape
        self.x, self.w, self.b, self.pad, self.k = x, w, b, pad, k
        self.hp, self.wp = h + 2 * pad, wd + 2 * pad
        self.ho, self.wo = self.hp - k + 1, self.wp - k + 1
        self.xp = np.zeros((n, c, self.hp, self.wp), dtype=x.dtype)
        self.cols = np.empty((c * k * k, n * self.ho * self.wo), dtype=x.dtype)
        self.prod = np.empty((o, n * self.ho * self.wo), dtype=x.dtype)
        self.out = np.empty((n, o, self.ho, self.wo), dtype=x.dtype)
        self.gcols = np.empty((n, c * k * k, self.ho * self.wo), dtype=x.dtype)
        self.gw_per_sample = np.empty((n, o, c * k * k), dtype=x.dtype)
        self.gw = np.empty_like(w)
        self.gxp = np.zeros_like(self.xp)

    def step(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, w, p, k = self.x, self.w, self.pad, self.k
        n, c, h, wd = x.shape
        o = w.shape[0]
        ho, wo = self.ho, self.wo
        xp = self.xp
        if p:
            xp[:, :, p : p + h, p : p + wd] = x
        else:
            xp = x
        a, bs, r, q = xp.strides
        win = as_strided(xp, (c, k, k, n, ho, wo), (bs, r, q, a, r, q), writeable=False)
        np.copyto(self.cols.reshape(c, k, k, n, ho, wo), win)  # im2col: one copy
        w2 = w.reshape(o, -1)
        np.matmul(w2, self.cols, out=self.prod)
        np.add(self.prod.reshape(o, n, ho, wo), self.b.reshape(o, 1, 1, 1),
               out=self.out.transpose(1, 0, 2, 3))  # fmt: skip
        # backward: GEMMs per sample read g and the columns in place (no transposed copies)
        g3 = g.reshape(n, o, ho * wo)
        per_sample = self.cols.reshape(c * k * k, n, ho * wo).transpose(1, 2, 0)
        np.matmul(g3, per_sample, out=self.gw_per_sample)
        np.add.reduce(self.gw_per_sample, axis=0, out=self.gw.reshape(o, -1))
        gb = np.add.reduce(g, axis=(0, 2, 3))
        np.matmul(w2.T, g3, out=self.gcols)
        gxp = self.gxp
        gxp[...] = 0
        blocks = self.gcols.reshape(n, c, k, k, ho, wo)
        for i in range(k):
            for j in range(k):
                gxp[:, :, i : i + ho, j : j + wo] += blocks[:, :, i, j]
        gx = gxp[:, :, p : p + h, p : p + wd]
        return gx, self.gw, gb


def _microgradnp(x, w, b, g, pad):
    import microgradnp as mg

    xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = mg.tensor(g)

    def step():
        for t in (xt, wt, bt):
            t.grad = None
        out = mg.nn.functional.conv2d(xt, wt, bt, padding=pad)
        out.backward(gt)
        return xt.grad.data, wt.grad.data, bt.grad.data

    return step


def _torch(x, w, b, g, pad):
    import torch

    torch.set_num_threads(1)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = torch.tensor(g)

    def step():
        for t in (xt, wt, bt):
            t.grad = None
        out = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
        out.backward(gt)
        return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    return step


def _dezero(x, w, b, g, pad):
    from benchmarks.contenders.peer_dezero import _import

    dezero = _import()
    from dezero.functions_conv import conv2d

    xt, wt, bt = (dezero.Variable(a.copy()) for a in (x, w, b))

    def step():
        for t in (xt, wt, bt):
            t.cleargrad()
        out = conv2d(xt, wt, bt, stride=1, pad=pad)
        out.grad = dezero.Variable(g)
        out.backward()
        return xt.grad.data, wt.grad.data, bt.grad.data

    return step


def _time_interleaved(steps: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds per call of each step: the best of `rounds` rounds, the contenders taking turns
    within each round (so that a change in the machine's load hits them alike), each round
    running a contender for about 0.1 s."""
    numbers = {}
    for name, fn in steps.items():
        fn()
        start = time.perf_counter()
        fn()
        numbers[name] = max(1, int(0.1 / max(time.perf_counter() - start, 1e-6)))
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / numbers[name])
    return best


def run(rounds: int = 5) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for label, (n, c, h, o, k, pad) in SHAPES.items():
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((o, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        ho = h + 2 * pad - k + 1
        g = rng.standard_normal((n, o, ho, ho)).astype(np.float32)
        floor = NumpyConv(x, w, b, pad)
        makers = {
            "NumPy (hand)": lambda: lambda: floor.step(g),  # noqa: B023 - called in this loop
            "microgradnp": _microgradnp,
            "PyTorch (1 thread)": _torch,
            "DeZero 0.0.13": _dezero,
        }
        reference = [a.copy() for a in floor.step(g)]
        steps, notes = {}, []
        for name, make in makers.items():
            try:
                step = make() if name == "NumPy (hand)" else make(x, w, b, g, pad)
            except ImportError as e:
                notes.append(f"{name} skipped: {e}")
                continue
            for ours, ref in zip(step(), reference, strict=True):  # checked before timing
                np.testing.assert_allclose(ours, ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())
            steps[name] = step
        times = _time_interleaved(steps, rounds)
        rows.append({"shape": label, "times": times, "notes": notes})
        print(label, {k: f"{v * 1e3:.2f} ms" for k, v in times.items()}, flush=True)
    return rows


def _cnn_microgradnp(state: dict[str, np.ndarray], compiled: bool) -> Callable[..., float]:
    import microgradnp as mg

    nn = mg.nn
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )  # fmt: skip
    model.load_state_dict({k: v.copy() for k, v in state.items()})
    opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x: np.ndarray, y: np.ndarray) -> object:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = mg.compile(step) if compiled else step
    return lambda x, y: fn(x, y).item()


def _cnn_torch(state: dict[str, np.ndarray]) -> Callable[..., float]:
    import torch
    from torch import nn

    torch.set_num_threads(1)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )  # fmt: skip
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def run_step(rounds: int = 7, target_s: float = 0.5) -> dict:
    """Time the CNN step: microgradnp eager and compiled, PyTorch eager (see the docstring)."""
    import microgradnp as mg

    from . import harness

    mg.manual_seed(0)
    nn = mg.nn
    ref = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )  # fmt: skip
    state = {k: v.numpy().copy() for k, v in ref.state_dict().items()}
    rng = np.random.default_rng(0)
    batches = [
        (rng.random((STEP_BATCH, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, STEP_BATCH))
        for _ in range(4)
    ]
    eager, compiled = _cnn_microgradnp(state, False), _cnn_microgradnp(state, True)
    steps = {"microgradnp": eager, "microgradnp compiled": compiled}
    notes = []
    try:
        steps["PyTorch eager"] = _cnn_torch(state)
    except ImportError as e:
        notes.append(f"PyTorch skipped: {e}")
    t0 = time.perf_counter()
    losses = {"microgradnp compiled": [compiled(*batches[0])]}
    trace_s = time.perf_counter() - t0
    losses["microgradnp compiled"] += [compiled(x, y) for x, y in batches[1:3]]
    for name in steps:
        if name != "microgradnp compiled":
            losses[name] = [steps[name](x, y) for x, y in batches[:3]]
    if losses["microgradnp compiled"] != losses["microgradnp"]:
        raise AssertionError(f"compiled and eager CNN steps disagree: {losses}")
    if "PyTorch eager" in losses and not np.allclose(
        losses["PyTorch eager"], losses["microgradnp"], rtol=0, atol=1e-4
    ):
        raise AssertionError(f"microgradnp and PyTorch CNN steps disagree: {losses}")
    x, y = batches[3]
    samples = harness.interleaved(
        {name: (lambda f=f: f(x, y)) for name, f in steps.items()},
        rounds=rounds,
        target_s=target_s,
    )
    return {
        "summary": harness.summarize(samples, "microgradnp"),
        "trace_s": trace_s,
        "rounds": rounds,
        "notes": notes,
    }


def step_markdown(res: dict) -> str:
    s = res["summary"]
    names = list(s)
    lines = [
        STEP_SECTION,
        "",
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores shared "
        f"with other work, {res['rounds']} interleaved rounds, float32, one thread. The MNIST "
        f"CNN with batch normalisation (conv 1->8 3x3, BatchNorm, ReLU, 2x2 max pooling, "
        f"conv 8->16 3x3, BatchNorm, ReLU, max pooling, linear 784->10), batch "
        f"{STEP_BATCH} of 28x28, cross-entropy, backward, SGD with momentum. The compiled "
        f"step's losses equal eager's bit for bit (checked before timing).",
        "",
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| CNN step (time per step, median) | "
        + " | ".join(f"{1e3 * s[n]['median_s']:.2f} ms" for n in names)
        + " |",
        "| ratio to microgradnp eager (median [IQR]) | "
        + " | ".join(
            f"{s[n]['ratio']:.2f}x [{s[n]['ratio_q1']:.2f}-{s[n]['ratio_q3']:.2f}]" for n in names
        )  # fmt: skip
        + " |",
        "",
        f"- Trace (the compiled step's first call: an eager step recorded, plus building the "
        f"plan): {1e3 * res['trace_s']:.0f} ms.",
        "- A replay runs the convolutions, the max pooling, the batch normalisation's "
        "means and elementwise steps and the linear layer as NumPy calls into preallocated "
        "buffers (the im2col matrices, the GEMMs' results, the running maxima and their "
        "indices); SGD with momentum runs its own update. Its time, per line of the plan: "
        "the GEMMs and copies about a third, the rest about 100 elementwise passes of "
        "the batch normalisation (forward and backward as composites of ops) and the "
        "pooling. PyTorch's fused batch-norm and pooling kernels make fewer passes.",
    ]
    lines += [f"- {note}" for note in res["notes"]]
    return "\n".join(lines) + "\n"


def write_step_results(text: str, path: Path = RESULTS) -> None:
    """Replace the CNN step section of RESULTS.md, or add it after the convolution one."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if STEP_SECTION in old:
        head, _, tail = old.partition(STEP_SECTION)
        rest = tail.split("\n## ", 1)
        tail = "\n## " + rest[1] if len(rest) > 1 else ""
        path.write_text(head + text + tail, encoding="utf-8")
    elif SECTION in old:
        head, _, tail = old.partition(SECTION)
        rest = tail.split("\n## ", 1)
        after = "\n## " + rest[1] if len(rest) > 1 else ""
        path.write_text(
            head + SECTION + rest[0].rstrip("\n") + "\n\n" + text + after, encoding="utf-8"
        )
    else:
        path.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "2000000000", "MALLOC_TRIM_THRESHOLD_": "2000000000"}


def _table(rows: list[dict], title: str) -> list[str]:
    names = list(rows[0]["times"])
    lines = [
        title,
        "",
        "| shape | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for r in rows:
        floor = r["times"]["NumPy (hand)"]
        cells = [
            f"{t * 1e3:.2f} ms ({t / floor:.2f}x)" if name in r["times"] else "—"
            for name, t in ((n, r["times"].get(n, 0.0)) for n in names)
        ]
        lines.append(f"| {r['shape']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| shape | vs NumPy floor (target <= 1.3x) | vs DeZero (target < 1x) |",
        "|---|---|---|",
    ]
    for r in rows:
        t = r["times"]
        ours = t.get("microgradnp")
        floor_ratio = ours / t["NumPy (hand)"]
        cells = [f"{floor_ratio:.2f}x: {'met' if floor_ratio <= 1.3 else 'missed'}"]
        if "DeZero 0.0.13" in t:
            dz = ours / t["DeZero 0.0.13"]
            cells.append(f"{dz:.2f}x: {'met' if dz < 1 else 'missed'}")
        else:
            cells.append("DeZero not installed")
        lines.append(f"| {r['shape']} | " + " | ".join(cells) + " |")
    for r in rows:
        lines += [f"- {note}" for note in r["notes"]]
    return lines + [""]


def markdown(default: list[dict], tuned: list[dict] | None) -> str:
    lines = [
        SECTION,
        "",
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores shared "
        f"with other work (absolute times are noisy; the contenders take turns within each "
        f"round and the best round counts), float32, BLAS and PyTorch on one thread. One step "
        f"= forward + backward (gradients of input, weight and bias). Targets: microgradnp "
        f"within 1.3x of the NumPy floor, and faster than DeZero. Command: "
        f"`python -m benchmarks.conv --write-results`.",
        "",
    ]
    lines += _table(default, "### glibc's default allocator")
    if tuned is not None:
        lines += _table(tuned, "### Large blocks kept by the allocator")
        lines += [
            "The floor reuses preallocated buffers; a framework allocates its im2col matrix, "
            "output and gradients afresh each step. With glibc's defaults, blocks of a few MB "
            "and more are returned to the system when freed and every reuse pays page faults "
            "(PyTorch avoids this with its caching allocator). The second table runs the "
            "same code with `"
            + " ".join(f"{k}={v}" for k, v in TUNED_MALLOC.items())
            + "` (glibc keeps freed blocks), which shows the cost of the computation itself.",
            "",
        ]
    return "\n".join(lines)


def write_results(text: str) -> None:
    """Replace (or append) the convolution section of RESULTS.md."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if SECTION in old:
        head, _, tail = old.partition(SECTION)
        rest = tail.split("\n## ", 1)
        tail = "\n## " + rest[1] if len(rest) > 1 else ""
        RESULTS.write_text(head + text + tail, encoding="utf-8")
    else:
        RESULTS.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON only")
    parser.add_argument("--step", action="store_true", help="time the CNN training step only")
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass
    if args.step:
        text = step_markdown(run_step(args.rounds))
        print(text)
        if args.write_results:
            write_step_results(text)
        return
    rows = run(args.rounds)
    if args.json:
        print("ROWS " + json.dumps(rows))
        return
    tuned = None
    if not all(os.environ.get(k) == v for k, v in TUNED_MALLOC.items()):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.conv", "--json", "--rounds", str(args.rounds)],
            env={**os.environ, **TUNED_MALLOC},
            capture_output=True,
            text=True,
            check=True,
        )
        tuned = json.loads(done.stdout.split("ROWS ", 1)[1])
    text = markdown(rows, tuned)
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
