"""Conv2d forward + backward: microgradnp against a hand-written NumPy floor, PyTorch (CPU,
one thread) and DeZero (0.0.13, its im2col conv2d), float32, BLAS on one thread.

One step: out = conv2d(x, w, b); backward with a fixed upstream gradient g, giving the
gradients of x, w and b. Shapes: LeNet's two convolutions (N=64, 1->6 5x5 on 28x28, 6->16
5x5 on 12x12) and a ResNet block's (N=16, 64->64 3x3, padding 1, on 32x32).

The floor is the fastest im2col + GEMM convolution written here: a strided view of the
windows copied once into a (C*kh*kw, N*Ho*Wo) matrix (kept for the weight gradient), one
GEMM forward, one for the weight gradient, one for the input gradient followed by col2im as
kh*kw strided adds; output, gradient and column buffers preallocated.

Run:
    python -m benchmarks.conv [--rounds N] [--write-results]
"""

from __future__ import annotations

import argparse
import os
import platform
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
        self.g2 = np.empty_like(self.prod)
        self.gcols = np.empty_like(self.cols)
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
        # backward
        np.copyto(self.g2.reshape(o, n, ho, wo), g.transpose(1, 0, 2, 3))
        np.matmul(self.g2, self.cols.T, out=self.gw.reshape(o, -1))
        gb = self.g2.sum(axis=1)
        np.matmul(w2.T, self.g2, out=self.gcols)
        gxp = self.gxp
        gxp[...] = 0
        view = gxp.transpose(1, 0, 2, 3)
        blocks = self.gcols.reshape(c, k, k, n, ho, wo)
        for i in range(k):
            for j in range(k):
                view[:, :, i : i + ho, j : j + wo] += blocks[:, i, j]
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


def _time(fn: Callable[[], object], rounds: int, target_s: float = 0.2) -> float:
    """Best of `rounds` rounds of the mean over enough calls to last about target_s."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    number = max(1, int(target_s / once))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
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
        makers = {"NumPy (hand)": lambda: (lambda: floor.step(g)), "microgradnp": None,
                  "PyTorch (1 thread)": None, "DeZero 0.0.13": None}  # fmt: skip
        makers["microgradnp"] = lambda: _microgradnp(x, w, b, g, pad)
        makers["PyTorch (1 thread)"] = lambda: _torch(x, w, b, g, pad)
        makers["DeZero 0.0.13"] = lambda: _dezero(x, w, b, g, pad)
        reference = [a.copy() for a in floor.step(g)]
        times, notes = {}, []
        for name, make in makers.items():
            try:
                step = make()
            except ImportError as e:
                notes.append(f"{name} skipped: {e}")
                continue
            for ours, ref in zip(step(), reference, strict=True):  # checked before timing
                np.testing.assert_allclose(ours, ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())
            times[name] = _time(step, rounds)
        rows.append({"shape": label, "times": times, "notes": notes})
        print(label, {k: f"{v * 1e3:.2f} ms" for k, v in times.items()}, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    names = list(rows[0]["times"])
    lines = [
        SECTION,
        "",
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores (shared "
        f"with other work, so absolute times are noisy; the ratios were measured in one "
        f"process, side by side), float32, BLAS and PyTorch on one thread. One step = "
        f"forward + backward (gradients of input, weight and bias). Command: "
        f"`python -m benchmarks.conv --write-results`.",
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
        "Targets: microgradnp within 1.3x of the NumPy floor, and faster than DeZero.",
        "",
    ]
    lines += [
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
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass
    text = markdown(run(args.rounds))
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
