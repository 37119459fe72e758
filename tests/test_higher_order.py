"""create_graph=True: second and third derivatives, Hessian-vector products."""

from __future__ import annotations

import numpy as np
import pytest

import microgradnp as mg


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_third_derivative_of_sigmoid_matches_closed_form():
    xs = np.array([-3.0, -0.5, 0.0, 0.7, 2.5])
    x = mg.tensor(xs, requires_grad=True)
    y = mg.sigmoid(x).sum()
    (d1,) = mg.grad(y, x, create_graph=True)
    (d2,) = mg.grad(d1.sum(), x, create_graph=True)
    (d3,) = mg.grad(d2.sum(), x)
    s = _sig(xs)
    np.testing.assert_allclose(d1.data, s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(d2.data, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(
        d3.data, s * (1 - s) * (1 - 6 * s + 6 * s * s), rtol=1e-9, atol=1e-15
    )


def test_backward_create_graph_then_backward_again():
    x = mg.tensor(2.0, dtype=mg.float64, requires_grad=True)
    y = x**4
    y.backward(create_graph=True)
    g = x.grad  # 4x^3 = 32, with a graph
    assert g.item() == 32.0 and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 48.0  # 12x^2


def test_tanh_and_exp_second_derivatives():
    xs = np.linspace(-2, 2, 7)
    x = mg.tensor(xs, requires_grad=True)
    (d1,) = mg.grad(mg.tanh(x).sum(), x, create_graph=True)
    (d2,) = mg.grad(d1.sum(), x)
    t = np.tanh(xs)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t * t), atol=1e-12)


def _mlp_loss(w1, w2, x, y):
    h = mg.tanh(x @ w1)
    return mg.ops.softmax_cross_entropy(h @ w2, y)


def test_hessian_vector_product_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_np, w1_np, w2_np = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 3))
    y_np = np.array([0, 2, 1, 1, 0])
    v1_np, v2_np = rng.normal(size=(3, 4)), rng.normal(size=(4, 3))

    w1 = mg.tensor(w1_np, requires_grad=True)
    w2 = mg.tensor(w2_np, requires_grad=True)
    loss = _mlp_loss(w1, w2, mg.tensor(x_np), mg.tensor(y_np))
    g1, g2 = mg.grad(loss, [w1, w2], create_graph=True)
    dot = (g1 * mg.tensor(v1_np)).sum() + (g2 * mg.tensor(v2_np)).sum()
    h1, h2 = mg.grad(dot, [w1, w2])

    tw1 = torch.tensor(w1_np, requires_grad=True)
    tw2 = torch.tensor(w2_np, requires_grad=True)
    th = torch.tanh(torch.tensor(x_np) @ tw1)
    tl = torch.nn.functional.cross_entropy(th @ tw2, torch.tensor(y_np))
    tg1, tg2 = torch.autograd.grad(tl, [tw1, tw2], create_graph=True)
    tdot = (tg1 * torch.tensor(v1_np)).sum() + (tg2 * torch.tensor(v2_np)).sum()
    th1, th2 = torch.autograd.grad(tdot, [tw1, tw2])
    np.testing.assert_allclose(h1.data, th1.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h2.data, th2.numpy(), rtol=1e-9, atol=1e-12)


def test_hvp_matches_finite_differences_of_gradient():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    v = rng.normal(size=4)

    def grad_at(xv):
        x = mg.tensor(xv, requires_grad=True)
        f = (mg.sin(mg.tensor(a) @ x) ** 2).sum()
        return mg.grad(f, x)[0].data

    x0 = rng.normal(size=4)
    x = mg.tensor(x0, requires_grad=True)
    f = (mg.sin(mg.tensor(a) @ x) ** 2).sum()
    (g,) = mg.grad(f, x, create_graph=True)
    (hv,) = mg.grad((g * mg.tensor(v)).sum(), x)
    eps = 1e-6
    fd = (grad_at(x0 + eps * v) - grad_at(x0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.data, fd, rtol=1e-6, atol=1e-8)


def test_gradient_penalty_style_double_backward():
    # d/dw || d(w.x)/dx ||^2 = d/dw ||w||^2 = 2w
    w = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64, requires_grad=True)
    x = mg.tensor([0.3, 0.1, 0.2], dtype=mg.float64, requires_grad=True)
    (gx,) = mg.grad(mg.tanh((w * x).sum()), x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    assert mg.gradcheck(
        lambda w_: (mg.grad(mg.tanh((w_ * x).sum()), x, create_graph=True)[0] ** 2).sum(), (w,)
    )
