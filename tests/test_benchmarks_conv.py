"""The convolution benchmark's NumPy floor computes the right gradients (PyTorch's)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conv import NumpyConv, markdown


@pytest.mark.parametrize("pad", [0, 1])
def test_numpy_floor_matches_torch(torch, pad):
    rng = np.random.default_rng(0)
    x, w, b = (
        rng.standard_normal((2, 3, 6, 6)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    g = rng.standard_normal((2, 4, 4 + 2 * pad, 4 + 2 * pad))
    floor = NumpyConv(x, w, b, pad)
    for _ in range(2):  # buffers are reused: the second step must give the same numbers
        gx, gw, gb = floor.step(g)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(floor.out, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_markdown_marks_targets():
    rows = [
        {
            "shape": "s",
            "notes": [],
            "times": {
                "NumPy (hand)": 1.0,
                "microgradnp": 1.2,
                "PyTorch (1 thread)": 0.5,
                "DeZero 0.0.13": 1.1,
            },
        }
    ]
    text = markdown(rows, None)
    assert "1.20x: met" in text and "1.09x: missed" in text  # floor met, DeZero missed
    rows[0]["times"]["microgradnp"] = 1.4
    assert "1.40x: missed" in markdown(rows, None) and "1.27x: missed" in markdown(rows, None)


def test_cnn_step_rows_and_section(tmp_path):
    # a one-round run: eager, compiled (equal to eager, checked inside) and PyTorch if present
    from benchmarks.conv import SECTION, STEP_SECTION, run_step, step_markdown, write_step_results

    res = run_step(rounds=1, target_s=0.01)
    assert {"microgradnp", "microgradnp compiled"} <= set(res["summary"]) and res["trace_s"] > 0
    text = step_markdown(res)
    assert text.startswith(STEP_SECTION) and "| CNN step (time per step, median) |" in text
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# R\n\n{SECTION}\n\nconv\n\n## Later\n\nx\n", encoding="utf-8")
    for _ in range(2):  # added after the convolution section, then replaced in place
        write_step_results(text, path)
        out = path.read_text(encoding="utf-8")
        assert out.count(STEP_SECTION) == 1
        assert out.index(SECTION) < out.index(STEP_SECTION) < out.index("## Later")
