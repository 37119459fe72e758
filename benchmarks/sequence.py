"""Sequence-layer benchmarks: an LSTM layer and a Transformer encoder layer, forward +
backward (gradients of the input and of every parameter), microgradnp against the
hand-written NumPy floor (`contenders/hand_sequence.py`) and PyTorch eager on CPU.

Run from the repository root (one BLAS / PyTorch thread unless `--threads`):

    python -m benchmarks.sequence            # prints a Markdown table
    python -m benchmarks.sequence --rounds 5

Every contender is first checked against the floor on the benchmark's own data (outputs
and gradients, float32, relative error below 1e-3); then the rounds are interleaved and
each ratio is the median of same-round ratios (to the floor, and microgradnp to PyTorch
for the targets), as in `python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import machine
from benchmarks.contenders import hand_sequence
from benchmarks.harness import interleaved, relative_error, summarize

#: (name, shape description, targets as the most allowed ratio of microgradnp to PyTorch)
WORKLOADS = {
    "lstm": ("LSTM layer", "B=32, T=35, input 128, H=128", 2.5),
    "encoder": ("TransformerEncoderLayer", "B=16, T=64, D=128, 4 heads, ff 512, dropout 0", 1.5),
}


def _lstm_problem(rng: np.random.Generator, steps=35, batch=32, n_in=128, hidden=128):
    import torch

    torch.manual_seed(0)
    tmodel = torch.nn.LSTM(n_in, hidden)
    params = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
    x = rng.standard_normal((steps, batch, n_in)).astype(np.float32)
    g = rng.standard_normal((steps, batch, hidden)).astype(np.float32)
    return tmodel, params, x, g


def _encoder_problem(rng: np.random.Generator, batch=16, steps=64, d=128, nhead=4, ff=512):
    import torch

    torch.manual_seed(0)
    tmodel = torch.nn.TransformerEncoderLayer(
        d, nhead, dim_feedforward=ff, dropout=0.0, batch_first=True
    )
    params = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
    x = rng.standard_normal((batch, steps, d)).astype(np.float32)
    g = rng.standard_normal((batch, steps, d)).astype(np.float32)
    return tmodel, params, x, g


def _array(grad: Any) -> np.ndarray:
    if grad is None:
        raise AssertionError("a gradient is missing")
    return np.asarray(grad.detach() if hasattr(grad, "detach") else grad)


def _contenders(name: str, small: bool = False) -> dict[str, Callable[[], Any]]:
    """name -> a callable running one forward + backward, returning (out, grads)."""
    import torch

    import microgradnp as mg

    rng = np.random.default_rng(0)
    model: Any
    if name == "lstm":
        sizes = {"steps": 5, "batch": 3, "n_in": 4, "hidden": 6} if small else {}
        tmodel, params, x, g = _lstm_problem(rng, **sizes)
        model = mg.nn.LSTM(x.shape[-1], params["weight_hh_l0"].shape[1])

        def hand() -> tuple:
            return hand_sequence.lstm_step(x, params, g)

        def forward(m, inp):
            return m(inp)[0]
    else:
        sizes = {"batch": 2, "steps": 5, "d": 8, "nhead": 2, "ff": 12} if small else {}
        tmodel, params, x, g = _encoder_problem(rng, **sizes)
        nhead = tmodel.self_attn.num_heads
        d = x.shape[-1]
        ff = params["linear1.weight"].shape[0]
        model = mg.nn.TransformerEncoderLayer(
            d, nhead, dim_feedforward=ff, dropout=0.0, batch_first=True
        )

        def hand() -> tuple:
            return hand_sequence.encoder_step(x, params, g, nhead)

        def forward(m, inp):
            return m(inp)

    model.load_state_dict(params)
    tg = torch.from_numpy(g)

    def ours() -> tuple:
        model.zero_grad()
        inp = mg.tensor(x, requires_grad=True)
        out = forward(model, inp)
        out.backward(g)
        grads = {k: _array(p.grad) for k, p in model.named_parameters()}
        return out.data, {"input": _array(inp.grad), **grads}

    def theirs() -> tuple:
        tmodel.zero_grad(set_to_none=True)
        inp = torch.tensor(x, requires_grad=True)
        out = forward(tmodel, inp)
        out.backward(tg)
        grads = {k: _array(p.grad) for k, p in tmodel.named_parameters()}
        return out.detach().numpy(), {"input": _array(inp.grad), **grads}

    return {"NumPy (hand)": hand, "microgradnp": ours, "PyTorch": theirs}


def check(fns: dict[str, Callable[[], Any]], tol: float = 1e-3) -> dict[str, float]:
    """The largest relative error of each contender's output and gradients to the floor."""
    ref_out, ref_grads = fns["NumPy (hand)"]()
    worst = {}
    for name, fn in fns.items():
        out, grads = fn()
        errors = [relative_error(out, ref_out)]
        errors += [relative_error(grads[k], ref_grads[k]) for k in ref_grads]
        worst[name] = max(errors)
        if worst[name] > tol:
            raise AssertionError(f"{name}: relative error {worst[name]:.2e} to the floor")
    return worst


def run(rounds: int, target_s: float) -> list[dict]:
    rows = []
    for key, (title, shape, target) in WORKLOADS.items():
        fns = _contenders(key)
        errors = check(fns)
        samples = interleaved(fns, rounds=rounds, target_s=target_s)
        stats = summarize(samples, "NumPy (hand)")
        # microgradnp / PyTorch as the median of same-round ratios (robust to a busy machine)
        to_torch = summarize(samples, "PyTorch")["microgradnp"]
        rows.append(
            {
                "title": title,
                "shape": shape,
                "target": target,
                "stats": stats,
                "to_torch": to_torch,
                "met": to_torch["ratio"] <= target,
                "errors": errors,
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| workload | NumPy (hand) | microgradnp | PyTorch | microgradnp / PyTorch | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["stats"]

        def cell(name: str, s: dict = s) -> str:
            v = s[name]
            return (
                f"{v['median_s'] * 1e3:.2f} ms ({v['ratio']:.2f}× "
                f"[{v['ratio_q1']:.2f}–{v['ratio_q3']:.2f}])"
            )

        verdict = "met" if r["met"] else "missed"
        lines.append(
            f"| {r['title']} ({r['shape']}) | {s['NumPy (hand)']['median_s'] * 1e3:.2f} ms "
            f"| {cell('microgradnp')} | {cell('PyTorch')} | {r['to_torch']['ratio']:.2f}× "
            f"[{r['to_torch']['ratio_q1']:.2f}–{r['to_torch']['ratio_q3']:.2f}] "
            f"| ≤ {r['target']}× of PyTorch: **{verdict}** |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--target-s", type=float, default=0.2, help="seconds per sample")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    machine.prepare_threads(args.threads)
    import torch  # noqa: F401 - loaded before the thread limits are applied

    notes = machine.apply_threads(args.threads)
    try:
        rows = run(args.rounds, args.target_s)
    finally:
        machine.restore_threads()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
