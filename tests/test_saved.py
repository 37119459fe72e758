"""What nodes save for backward: an intermediate input that the VJP does not read (sigmoid,
tanh, exp, add, ...) is held weakly, so it is freed right after the forward, as in PyTorch;
gradients, hooks, retain_grad, `mg.grad` and higher order behave as before."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import microgradnp as mg

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def weak_from_any_size(monkeypatch):
    # small inputs are kept by default (cheaper); here every unneeded one is held weakly
    monkeypatch.setattr(mg.graph.GradMode, "weak_min_bytes", 0)


def t64(*shape, positive=False, requires_grad=True):
    a = RNG.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return mg.tensor(a, dtype=mg.float64, requires_grad=requires_grad)


# op on the intermediate, whether the intermediate must be positive
UNSAVED = {
    "sigmoid": (mg.sigmoid, False),
    "tanh": (mg.tanh, False),
    "exp": (mg.exp, False),
    "expm1": (mg.expm1, False),
    "relu": (mg.relu, False),
    "sqrt": (mg.sqrt, True),
    "softmax": (lambda z: mg.softmax(z, dim=1), False),
    "log_softmax": (lambda z: mg.log_softmax(z, dim=1), False),
    "neg": (lambda z: -z, False),
    "add": (lambda z: z + 1.5, False),
    "sub": (lambda z: 2.0 - z, False),
    "clone": (lambda z: z.clone(), False),
}


def _inputs(positive):
    x = t64(3, 4, positive=positive)
    w = t64(4, positive=positive)
    return x, w


@pytest.mark.parametrize("name", sorted(UNSAVED))
def test_unused_intermediate_is_freed_after_forward(name):
    op, positive = UNSAVED[name]
    x, w = _inputs(positive)
    z = x * w
    ref = weakref.ref(z)
    out = op(z)
    del z
    assert ref() is None  # the node of `op` does not keep its input alive
    loss = (out * out).sum()
    loss.backward()
    gx, gw = x.grad.data.copy(), w.grad.data.copy()
    # the same with the intermediate held (strongly) by the user: same gradients
    x.grad = w.grad = None
    z = x * w
    out = op(z)
    (out * out).sum().backward()
    np.testing.assert_allclose(x.grad.data, gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.data, gw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNSAVED))
def test_gradcheck_and_gradgradcheck_through_freed_intermediates(name):
    op, positive = UNSAVED[name]
    x, w = _inputs(positive)

    def fn(a, b):
        # two unsaved ops in a row: the middle tensor dies too, and its node's saved output
        # (or its shape) stands in for it
        return op(mg.tanh(a * b) + 1.0) * a

    assert mg.gradcheck(fn, (x, w))
    if name != "relu":  # relu's second derivative is 0 almost everywhere: checked below
        assert mg.gradgradcheck(fn, (x, w))


def test_freed_output_needed_by_its_own_backward():
    # exp's output dies (tanh holds it weakly) but exp's VJP needs it: the node keeps the array
    x = t64(5)
    e = mg.exp(x * 0.3)
    ref = weakref.ref(e)
    y = mg.tanh(e)
    del e
    assert ref() is None
    y.sum().backward()
    ex = np.exp(x.data * 0.3)
    np.testing.assert_allclose(x.grad.data, (1 - np.tanh(ex) ** 2) * ex * 0.3, rtol=1e-12)


def test_second_derivative_through_freed_outputs():
    x = t64(6)
    y = mg.sigmoid(mg.exp(x * 0.5)).sum()
    (g,) = mg.grad(y, x, create_graph=True)
    (h,) = mg.grad(g.sum(), x)
    # y_i = s(e_i), e_i = exp(x_i / 2): dy/dx = s'(e) e / 2,
    # d2y/dx2 = s''(e) e^2 / 4 + s'(e) e / 4, with s' = s(1 - s), s'' = s'(1 - 2s)
    e = np.exp(x.data * 0.5)
    s = 1 / (1 + np.exp(-e))
    d1 = s * (1 - s)
    d2 = d1 * (1 - 2 * s)
    np.testing.assert_allclose(g.data, d1 * e / 2, rtol=1e-12)
    np.testing.assert_allclose(h.data, d2 * e * e / 4 + d1 * e / 4, rtol=1e-10)


def test_several_consumers_of_a_freed_tensor_share_one_gradient():
    x, w = _inputs(False)
    z = x * w
    a, b, c = mg.sigmoid(z), mg.tanh(z), z + 1.0
    del z
    loss = (a * b * c).sum()
    loss.backward()  # without retain_graph: the mul node must be visited exactly once
    zz = x.data * w.data
    sa, tb = 1 / (1 + np.exp(-zz)), np.tanh(zz)
    dz = sa * (1 - sa) * tb * (zz + 1) + sa * (1 - tb**2) * (zz + 1) + sa * tb
    np.testing.assert_allclose(x.grad.data, dz * w.data, rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, (dz * x.data).sum(0), rtol=1e-12)


def test_hooks_and_retain_grad_on_a_held_intermediate():
    x, w = _inputs(False)
    z = x * w
    z.retain_grad()
    seen = []
    z.register_hook(lambda g: seen.append(g.data.copy()) or g * 2.0)
    mg.sigmoid(z).sum().backward()
    zz = x.data * w.data
    dz = 1 / (1 + np.exp(-zz)) * (1 - 1 / (1 + np.exp(-zz)))
    np.testing.assert_allclose(seen[0], dz, rtol=1e-12)
    np.testing.assert_allclose(z.grad.data, 2 * dz, rtol=1e-12)  # hook runs before retain
    np.testing.assert_allclose(x.grad.data, 2 * dz * w.data, rtol=1e-12)


def test_released_skeleton_shows_a_held_intermediate_retained_grad():
    x, w = _inputs(False)
    z = x * w
    z.retain_grad()
    y = mg.sigmoid(z).sum()
    y.backward()
    (stub,) = y.grad_fn.inputs()[0].grad_fn.inputs()
    assert stub.grad_fn is z.grad_fn and stub.shape == (3, 4)
    np.testing.assert_array_equal(stub.grad.data, z.grad.data)


def test_grad_with_respect_to_a_held_intermediate_and_through_freed_ones():
    x, w = _inputs(False)
    z = x * w
    y = mg.tanh(mg.sigmoid(z) + 1.0).sum()
    gz, gx = mg.grad(y, [z, x], retain_graph=True)
    s = 1 / (1 + np.exp(-z.data))
    dz = (1 - np.tanh(s + 1.0) ** 2) * s * (1 - s)
    np.testing.assert_allclose(gz.data, dz, rtol=1e-12)
    np.testing.assert_allclose(gx.data, dz * w.data, rtol=1e-12)
    (gw,) = mg.grad(y, w)  # pruned walk: the only path to w goes through freed tensors
    np.testing.assert_allclose(gw.data, (dz * x.data).sum(0), rtol=1e-12)
    assert x.grad is None and w.grad is None
    u = t64(4)
    (none,) = mg.grad(mg.sigmoid(x * w).sum(), u, allow_unused=True)
    assert none is None


def test_retain_grad_on_a_freed_intermediate_through_the_graph():
    x, w = _inputs(False)
    loss = mg.sigmoid(x * w).sum()
    (stub,) = loss.grad_fn.inputs()[0].grad_fn.inputs()  # the freed x * w
    assert stub.grad_fn.name() == "MulBackward" and stub.shape == (3, 4)
    assert stub.grad is None and not stub._retains_grad
    stub.retain_grad()
    loss.backward(retain_graph=True)
    s = 1 / (1 + np.exp(-(x.data * w.data)))
    np.testing.assert_allclose(stub.grad.data, s * (1 - s), rtol=1e-12)
    loss.backward()  # accumulates, then releases: the skeleton keeps the retained grad
    (released,) = loss.grad_fn.inputs()[0].grad_fn.inputs()
    np.testing.assert_allclose(released.grad.data, 2 * s * (1 - s), rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_in_place_change_of_a_held_input_still_raises():
    x, w = _inputs(False)
    z = x * w
    y = mg.sigmoid(z).sum()
    z.add_(1.0)
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_small_inputs_are_kept_by_default_large_ones_freed(monkeypatch):
    monkeypatch.undo()
    x = t64(4, 8)
    small = x * 2.0
    ref = weakref.ref(small)
    y = mg.sigmoid(small)
    del small
    assert ref() is not None  # 256 bytes: kept, as by any other op
    x = t64(64, 64)
    large = x * 2.0
    ref = weakref.ref(large)
    z = mg.sigmoid(large)
    del large
    assert ref() is None  # 32 KiB: freed
    (y.sum() + z.sum()).backward()
    assert x.grad.shape == (64, 64)


def test_training_step_peak_memory_drops_the_pre_activation(monkeypatch):
    monkeypatch.undo()  # the default threshold, as in training
    n, d, h = 256, 64, 512
    x = mg.tensor(RNG.standard_normal((n, d)), dtype=mg.float64)
    w1, w2 = t64(h, d), t64(10, h)
    labels = mg.tensor(RNG.integers(0, 10, n))

    def step():
        out = mg.linear(mg.sigmoid(mg.linear(x, w1)), w2)
        mg.nn.functional.cross_entropy(out, labels).backward()

    step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    act = n * h * 8  # one (n, h) float64 activation
    # sigmoid's output, its gradient and the weight gradients, but not the linear output too
    assert peak < 3.5 * act, peak / act
