"""Optimizers in float16 and optimizer checkpoints of the wrong shape, against PyTorch."""

import numpy as np
import pytest

import microgradnp as mg

OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD-weight-decay": ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    "SGD-nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "Adam": ("Adam", {"lr": 0.1}),
    "Adam-amsgrad": ("Adam", {"lr": 0.1, "amsgrad": True}),
    "AdamW": ("AdamW", {"lr": 0.1}),
    "RMSprop": ("RMSprop", {"lr": 0.01}),
    "RMSprop-centered": ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    "Adagrad": ("Adagrad", {"lr": 0.1}),
}
# Gradients for which PyTorch's float16 state stays in range (|g| < 256, g^2 / 1000 above
# float16's smallest subnormal): there both libraries agree up to float16 rounding.
GRADS = [[30.0, -100.0, 0.5, 0.05], [50.0, 0.25, -3.0, 2.0], [-7.0, 25.0, 0.5, 0.125]]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float16_optimizers_follow_torch(torch, name):
    cls, options = OPTIMIZERS[name]
    start = np.array([1.0, -2.0, 3.0, 0.5], np.float16)
    ours = mg.tensor(start, requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    opt = getattr(mg.optim, cls)([ours], **options)
    topt = getattr(torch.optim, cls)([theirs], **options)
    for g in GRADS:
        ours.grad = mg.tensor(np.array(g, np.float16))
        theirs.grad = torch.tensor(np.array(g, np.float16))
        opt.step()
        topt.step()
        assert ours.dtype == np.float16
        got, want = ours.data.astype(np.float64), theirs.detach().numpy().astype(np.float64)
        # PyTorch rounds its float16 state after each op, we round the parameter once
        np.testing.assert_allclose(got, want, rtol=3e-3, atol=2e-3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float16_optimizers_stay_finite_with_huge_and_tiny_gradients(name):
    # the float16 run follows the float64 run of the same optimizer, rounded to float16
    cls, options = OPTIMIZERS[name]
    start = np.array([1.0, -2.0, 3.0, 0.5], np.float16)
    half = mg.tensor(start, requires_grad=True)
    full = mg.tensor(start.astype(np.float64), requires_grad=True)
    opts = [getattr(mg.optim, cls)([p], **options) for p in (half, full)]
    for g in ([300.0, -1000.0, 60000.0, 1e-3], [500.0, 1e-3, -3.0, 2.0]):
        g = np.array(g, np.float16)
        half.grad, full.grad = mg.tensor(g), mg.tensor(g.astype(np.float64))
        for opt in opts:
            opt.step()
    assert half.dtype == np.float16 and np.isfinite(half.data[:2]).all()
    expected = full.data.astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(half.data.astype(np.float64), expected, rtol=2e-3)


def test_float16_adam_moves_parameters_with_large_gradients():
    w = mg.tensor(np.full(3, 1.0, np.float16), requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.01)
    for _ in range(3):
        w.grad = mg.tensor(np.array([300.0, -400.0, 1000.0], np.float16))
        opt.step()
    assert np.isfinite(w.data).all()
    np.testing.assert_allclose(w.data.astype(float), [0.97, 1.03, 0.97], atol=2e-3)
