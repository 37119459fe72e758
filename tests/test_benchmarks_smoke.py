"""Smoke tests of the benchmark suite: the hand-written floor is right, the harness runs.

Timings are never asserted (the machine is shared); numbers computed by the floor and the
harness's bookkeeping are.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import checks, report, run
from benchmarks.contenders import load
from benchmarks.contenders.base import MLPProblem, Unsupported
from benchmarks.contenders.hand_numpy import HandNumpy, HandTrainer, hvp_two_layer
from benchmarks.harness import interleaved, relative_error, summarize
from benchmarks.problems import DEEP_CHECK, SIZES, hvp_vector, make_deep, make_mlp, make_problem


def _float64(p: MLPProblem) -> MLPProblem:
    layers = [(W.astype(np.float64), b.astype(np.float64)) for W, b in p.layers]
    return MLPProblem(p.name, p.x.astype(np.float64), p.y, layers, p.act, p.lr)


def _loss(x, y, params, act):
    """Plain float64 reference: MLP, then mean softmax cross-entropy."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = 1 / (1 + np.exp(-h)) if act == "sigmoid" else np.maximum(h, 0)
    lse = np.log(np.exp(h - h.max(1, keepdims=True)).sum(1)) + h.max(1)
    return float(np.mean(lse - h[np.arange(len(y)), y]))


def _fd_grads(p: MLPProblem, eps=1e-6):
    params = [a.copy() for wb in p.layers for a in wb]
    out = []
    for q in params:
        g = np.zeros_like(q)
        for idx in np.ndindex(q.shape):
            old = q[idx]
            q[idx] = old + eps
            up = _loss(p.x, p.y, params, p.act)
            q[idx] = old - eps
            down = _loss(p.x, p.y, params, p.act)
            q[idx] = old
            g[idx] = (up - down) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("act, hidden", [("sigmoid", (4,)), ("relu", (4, 3))])
def test_hand_gradients_match_finite_differences(act, hidden):
    p = _float64(make_problem(5, 3, hidden, 3, act=act, name="fd", seed=3))
    t = HandTrainer(p)
    params = [a.copy() for wb in p.layers for a in wb]
    loss = t.loss_and_grads()
    assert loss == pytest.approx(_loss(p.x, p.y, params, act), rel=1e-12)
    grads = [a.copy() for wb in zip(t.gW, t.gb, strict=True) for a in wb]
    for g, fd in zip(grads, _fd_grads(p), strict=True):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_hand_step_is_sgd_in_place():
    p = _float64(make_mlp((6, 3, 5, 4)))
    t = HandTrainer(p)
    before = t.params()
    t.step()
    for new, old, g in zip(t.params(), before, t.grads(), strict=True):
        np.testing.assert_allclose(new, old - p.lr * g, rtol=1e-12, atol=1e-15)
    assert np.abs(t.grads()[0]).max() > 1e-4  # a real step happened


def test_hand_hvp_matches_finite_differences_of_the_gradient():
    p = _float64(make_mlp((6, 3, 5, 4), seed=2))
    v = [a.astype(np.float64) for a in hvp_vector(p)]
    params = [a for wb in p.layers for a in wb]
    hv = hvp_two_layer(p.x, p.y, *params, *v)
    eps = 1e-5

    def grads_at(sign):
        shifted = [q + sign * eps * d for q, d in zip(params, v, strict=True)]
        layers = [(shifted[i], shifted[i + 1]) for i in (0, 2)]
        t = HandTrainer(MLPProblem("s", p.x, p.y, layers, p.act, p.lr))
        t.loss_and_grads()
        return [a.copy() for wb in zip(t.gW, t.gb, strict=True) for a in wb]

    for h, up, down in zip(hv, grads_at(1), grads_at(-1), strict=True):
        np.testing.assert_allclose(h, (up - down) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_hand_matches_torch_in_float32():
    torch = pytest.importorskip("torch")
    for p in (make_mlp(SIZES["small"]), make_deep(DEEP_CHECK)):
        t = HandTrainer(p)
        loss = t.loss_and_grads()
        ps = [torch.tensor(a, requires_grad=True) for wb in p.layers for a in wb]
        h = torch.from_numpy(p.x)
        for i in range(0, len(ps), 2):
            h = h @ ps[i].T + ps[i + 1]
            if i + 2 < len(ps):
                h = torch.sigmoid(h) if p.act == "sigmoid" else torch.relu(h)
        ref = torch.nn.functional.cross_entropy(h, torch.from_numpy(p.y))
        ref.backward()
        assert loss == pytest.approx(ref.item(), rel=1e-5)
        grads = [a for wb in zip(t.gW, t.gb, strict=True) for a in wb]
        for g, q in zip(grads, ps, strict=True):
            assert g.dtype == np.float32
            assert relative_error(g, q.grad.numpy()) < 1e-5


def test_hand_hvp_matches_torch():
    torch = pytest.importorskip("torch")
    p = make_mlp(SIZES["small"])
    v = hvp_vector(p)
    ps = [torch.tensor(a, requires_grad=True) for wb in p.layers for a in wb]
    z = torch.sigmoid(torch.from_numpy(p.x) @ ps[0].T + ps[1]) @ ps[2].T + ps[3]
    g = torch.autograd.grad(
        torch.nn.functional.cross_entropy(z, torch.from_numpy(p.y)), ps, create_graph=True
    )
    dot = sum((a * torch.from_numpy(b)).sum() for a, b in zip(g, v, strict=True))
    ref = torch.autograd.grad(dot, ps)
    for h, r in zip(HandNumpy().hvp(p, v)(), ref, strict=True):
        assert relative_error(h, r.numpy()) < 1e-5


@pytest.mark.parametrize("op", ["add", "mul", "matmul", "sum", "getitem"])
def test_op_floors_match_finite_differences(op):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    f = {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "matmul": lambda a, b: a @ b,
        "sum": lambda a, b: a.sum(),
        "getitem": lambda a, b: a[1:3],
    }[op]
    got = HandNumpy().op_grads(op, a, b)
    for k, arr in enumerate((a, b)[: len(got)]):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            e = np.zeros_like(arr)
            e[idx] = 1e-6
            args = [(a, b), (a + e, b), (a - e, b)] if k == 0 else [(a, b), (a, b + e), (a, b - e)]
            fd[idx] = (f(*args[1]).sum() - f(*args[2]).sum()) / 2e-6
        np.testing.assert_allclose(got[k], fd, rtol=1e-6, atol=1e-8)


def test_summarize_uses_same_round_ratios():
    s = summarize(
        {"hand": [1.0, 2.0, 4.0], "x": [2.0, 2.0, 8.0], "y": [3.0, math.nan, 3.0]}, "hand"
    )
    assert s["hand"]["ratio"] == 1.0
    assert s["x"]["ratio"] == 2.0  # per-round ratios 2, 1, 2
    assert s["x"]["ratio_q1"] == 1.5 and s["x"]["median_s"] == 2.0
    assert s["y"]["rounds"] == 2 and s["y"]["ratio"] == pytest.approx((3.0 + 0.75) / 2)


def test_interleaved_caps_slow_contenders():
    calls = {"a": 0, "b": 0}

    def make(k):
        return lambda: calls.__setitem__(k, calls[k] + 1)

    out = interleaved(
        {"a": make("a"), "b": make("b")}, rounds=3, target_s=1e-4, max_rounds={"b": 1}
    )
    assert len(out["a"]) == len(out["b"]) == 3
    assert not math.isnan(out["b"][0]) and all(math.isnan(t) for t in out["b"][1:])
    assert all(t > 0 for t in out["a"]) and calls["a"] > 0 and calls["b"] > 0


def test_check_flags_a_wrong_contender():
    hand = HandNumpy()

    class Wrong(HandNumpy):
        name = "wrong"

        def trainer(self, p):
            t = HandTrainer(p)
            t.lr = t.lr * 2  # a wrong update rule
            return t

    p = make_mlp(SIZES["tiny"])
    assert checks.check_training(hand, hand, p) == "ok"
    verdict = checks.check_training(Wrong(), hand, p)
    assert verdict.startswith("loss at step 2")
    notes: list[str] = []
    assert not checks.report("wrong", "Training step", verdict, notes)
    assert notes[0].startswith("MISMATCH: wrong excluded")


@pytest.mark.parametrize(
    "key", ["microgradnp", "torch", "autograd", "mygrad", "dezero", "micrograd"]
)
def test_installed_contenders_agree_with_the_floor(key):
    cs, notes = load([key])
    if len(cs) == 1:
        pytest.skip(notes[0] if notes else f"{key} not installed")
    try:
        verdict = checks.check_training(cs[1], cs[0], make_mlp(SIZES["tiny"]))
    except Unsupported as e:
        pytest.skip(str(e))
    assert verdict == "ok"
    assert not hasattr(np, "int") or np.__version__.startswith("1.")  # shims do not leak


def test_load_rejects_unknown_contenders():
    with pytest.raises(ValueError, match="unknown contender"):
        load(["nonesuch"])
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "nonesuch"])


def _fake_results(ratios: dict[str, float], mem: float, slope: float, n_max: int) -> dict:
    def st(r):
        return {"ratio": r, "ratio_q1": r, "ratio_q3": r, "median_s": r, "min_s": r}

    return {
        "tables": [
            {
                "id": "train",
                "rows": [
                    {"label": k, "results": {"microgradnp": st(v)}} for k, v in ratios.items()
                ],
            },
            {
                "id": "memory",
                "rows": [
                    {"label": "medium", "results": {"microgradnp": {"ratio": mem, "bytes": 2**21}}}
                ],
            },
            {
                "id": "chain",
                "rows": [],
                "linearity": {
                    "microgradnp": {
                        "slope": slope,
                        "slope_top": slope,
                        "n_min": 10_000,
                        "n_top": n_max // 10,
                        "n_max": n_max,
                    }
                },
            },
        ]
    }


def test_target_lines_judge_each_target():
    lines = report.target_lines(_fake_results({"tiny": 1.9, "small": 1.6}, 1.2, 1.02, 10**6))
    assert lines[0].startswith("- PASS: training step at tiny: 1.90×")
    assert lines[1].startswith("- MISS: training step at small: 1.60×")
    assert lines[2].startswith("- NOT MEASURED: training step at medium")
    assert lines[4].startswith("- PASS: peak memory at medium: 1.20×")
    assert lines[5].startswith("- PASS: chain backward: log-log slope 1.02")
    short = report.target_lines(_fake_results({}, 1.4, 1.02, 30_000))
    assert short[4].startswith("- MISS: peak memory") and "partial" in short[5]


def test_quick_round_writes_json_and_markdown(tmp_path):
    args = [
        "--quick",
        "--only",
        "train,ops",
        "--sizes",
        "tiny",
        "--rounds",
        "1",
        "--contenders",
        "torch,microgradnp",
        "--out",
        str(tmp_path),
        "--no-plot",
    ]
    assert run.main(args) == 0
    res = json.loads((tmp_path / "latest.json").read_text())
    train = next(t for t in res["tables"] if t["id"] == "train")
    row = train["rows"][0]
    assert row["label"] == "tiny" and row["results"]["NumPy (hand)"]["ratio"] == 1.0
    assert row["results"]["NumPy (hand)"]["median_s"] > 0
    for name in ("PyTorch", "microgradnp"):  # timed, or skipped with a reason
        assert (
            name in row["results"]
            or any(n.startswith(name) for n in train["notes"])
            or any(name.lower() in n.lower() for n in res["meta"]["notes"])
        )
    ops = next(t for t in res["tables"] if t["id"] == "ops_bwd")
    assert [r["label"] for r in ops["rows"]][:2] == ["a + b (4x4)", "a * b (4x4)"]
    md = (tmp_path / "latest.md").read_text()
    assert "### Training step" in md and "| tiny |" in md
    assert res["meta"]["threads"] == 1 and res["meta"]["machine"]["cores"] >= 1
