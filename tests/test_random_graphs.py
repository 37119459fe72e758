"""Property-based tests: random graphs with node reuse, against finite differences and
PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg

UNARY = {
    "tanh": (mg.tanh, "tanh"),
    "sigmoid": (mg.sigmoid, "sigmoid"),
    "sin": (mg.sin, "sin"),
    "exp_small": (lambda t: mg.exp(t * 0.3), lambda torch, t: torch.exp(t * 0.3)),
    "square": (lambda t: t * t, lambda torch, t: t * t),
}
BINARY = ["add", "sub", "mul", "div_safe"]


def _build(program, leaves, lib, torch=None):
    """Evaluate a random program: each step combines earlier nodes (reuse allowed)."""
    nodes = list(leaves)
    for kind, op, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if kind == "u":
            fn, tfn = UNARY[op]
            if lib == "mg":
                nodes.append(fn(a))
            else:
                nodes.append(getattr(torch, tfn)(a) if isinstance(tfn, str) else tfn(torch, a))
        elif op == "add":
            nodes.append(a + b)
        elif op == "sub":
            nodes.append(a - b)
        elif op == "mul":
            nodes.append(a * b)
        else:
            nodes.append(a / (b * b + 1.0))
    return nodes[-1]


step = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("b"), st.sampled_from(BINARY), st.integers(0, 50), st.integers(0, 50)),
)


@settings(max_examples=40, deadline=None)
@given(program=st.lists(step, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_random_graph_against_finite_differences(program, seed):
    rng = np.random.default_rng(seed)
    leaves = [
        mg.tensor(rng.uniform(-1, 1, size=(2, 3)), requires_grad=True),
        mg.tensor(rng.uniform(-1, 1, size=(3,)), requires_grad=True),
    ]
    assert mg.gradcheck(lambda a, b: _build(program, [a, b], "mg"), leaves, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(program=st.lists(step, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_random_graph_against_torch(program, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a_np, b_np = rng.uniform(-1, 1, size=(2, 3)), rng.uniform(-1, 1, size=(3,))
    a, b = mg.tensor(a_np, requires_grad=True), mg.tensor(b_np, requires_grad=True)
    out = _build(program, [a, b], "mg")
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    tout = _build(program, [ta, tb], "torch", torch)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    if out.requires_grad:
        out.sum().backward()
        tout.sum().backward()
        for ours, theirs in ((a, ta), (b, tb)):
            expected = np.zeros_like(ours.data) if theirs.grad is None else theirs.grad.numpy()
            got = np.zeros_like(ours.data) if ours.grad is None else ours.grad.data
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
