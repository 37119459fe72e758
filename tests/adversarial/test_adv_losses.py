"""Losses given mismatched shapes, all-ignored targets and odd options: refuse with an error
naming the loss where PyTorch refuses, else give PyTorch's loss and gradient."""

import warnings

import numpy as np
import pytest

import microgradnp as mg

from ._compare import same_as_torch

X41 = np.full((4, 1), 0.5, np.float32)
Y41 = np.ones((4, 1), np.float32)
X34 = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
T3 = np.array([0, 1, 3])
P34 = (X34 > 0).astype(np.float32)


def _cases(F, t):
    bce, bcel = F.binary_cross_entropy, F.binary_cross_entropy_with_logits
    w = t
    return [
        ("binary_cross_entropy", lambda: bce(t(X41), t(Y41), weight=w(np.ones(4, np.float32)))),
        ("binary_cross_entropy", lambda: bce(t(X41), t(Y41), weight=w(np.ones((4, 1), "f4")))),
        ("binary_cross_entropy", lambda: bce(t(X41), t(Y41), weight=w(np.ones(1, np.float32)))),
        ("binary_cross_entropy", lambda: bce(t(X41), t(Y41), weight=w(np.ones((2, 4, 1), "f4")))),
        (
            "binary_cross_entropy",
            lambda: bce(t(X41), t(Y41), weight=w(np.ones(4, "f4")), reduction="none"),
        ),
        ("binary_cross_entropy", lambda: bce(t(X41), t(Y41), weight=w(np.float32(2.0)))),
        ("binary_cross_entropy", lambda: bce(t(X41), t(np.ones(4, "f4")))),
        ("binary_cross_entropy", lambda: bce(t(np.array([1.5], "f4")), t(np.ones(1, "f4")))),
        ("binary_cross_entropy", lambda: bce(t(np.array([np.nan], "f4")), t(np.ones(1, "f4")))),
        ("with_logits", lambda: bcel(t(X41), t(Y41), weight=w(np.ones(4, np.float32)))),
        ("with_logits", lambda: bcel(t(X41), t(Y41), pos_weight=w(np.ones(4, np.float32)))),
        ("with_logits", lambda: bcel(t(X41), t(Y41), pos_weight=w(np.full(1, 2.0, "f4")))),
        ("with_logits", lambda: bcel(t(X41), t(Y41), pos_weight=w(np.ones((2, 4, 1), "f4")))),
        ("with_logits", lambda: bcel(t(X41), t(Y41), weight=w(np.ones(3, np.float32)))),
        ("with_logits", lambda: bcel(t(X34), t(P34), pos_weight=w(np.arange(4.0, dtype="f4")))),
        ("with_logits", lambda: bcel(t(X34), t(P34), pos_weight=w(np.ones((3, 1), "f4")))),
        ("with_logits", lambda: bcel(t(X34), t(P34), pos_weight=w(np.ones(3, "f4")))),
        ("with_logits", lambda: bcel(t(X34), t(P34), weight=w(np.ones(3, "f4")))),
        ("mse_loss", lambda: F.mse_loss(t(X34), t(np.zeros(3, "f4")))),
        ("mse_loss", lambda: F.mse_loss(t(X34), t(np.zeros((3, 4), "f4")), reduction="avg")),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.array([0, 1])))),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.array([0, 1, 4])))),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.array([0, 1, -1])))),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.array([0.0, 1.0, 1.0], "f4")))),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.full(3, -100)))),
        ("nll_loss", lambda: F.nll_loss(t(X34), t(np.full(3, -100)), reduction="sum")),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(T3), weight=w(np.ones(3, "f4")))),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(np.ones((3, 3), "f4") / 3))),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(np.ones((3, 4), "f4") / 4))),
        (
            "cross_entropy",
            lambda: F.cross_entropy(t(X34), t(np.eye(4, dtype="f4")[T3]), label_smoothing=0.2),
        ),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(T3), label_smoothing=1.5)),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(T3), label_smoothing=0.3)),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(T3), reduction="avg")),
        ("cross_entropy", lambda: F.cross_entropy(t(np.float32(1.0)), t(np.array(0)))),
        (
            "cross_entropy",
            lambda: F.cross_entropy(t(np.zeros((0, 4), "f4")), t(np.zeros(0, np.int64))),
        ),
        (
            "cross_entropy",
            lambda: F.cross_entropy(t(X34), t(np.ones((3, 4), "f4") / 4), ignore_index=1),
        ),
        ("cross_entropy", lambda: F.cross_entropy(t(X34[0]), t(np.array(2)))),
        ("cross_entropy", lambda: F.cross_entropy(t(X34[0]), t(np.array(-100)))),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(np.full(3, -100)))),
        ("cross_entropy", lambda: F.cross_entropy(t(X34), t(np.array([-100, 2, -100])))),
        (
            "cross_entropy",
            lambda: F.cross_entropy(t(X34), t(np.full(3, -100)), weight=w(np.ones(4, "f4"))),
        ),
        (
            "cross_entropy",
            lambda: F.cross_entropy(t(X34), t(np.full(3, -100)), label_smoothing=0.1),
        ),
    ]


@pytest.mark.parametrize("case", range(len(_cases(mg.nn.functional, mg.tensor))))
def test_loss_refuses_or_matches_torch(torch, case):
    name, ours = _cases(mg.nn.functional, mg.tensor)[case]
    _, theirs = _cases(torch.nn.functional, torch.tensor)[case]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warnings
        same_as_torch(ours, theirs, words=(name,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_every_target_ignored_has_zero_gradient(torch, reduction, smoothing):
    ours = mg.nn.Linear(4, 3)
    theirs = torch.nn.Linear(4, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = np.ones((2, 4), np.float32)
    target = np.array([-100, -100])
    loss = mg.nn.functional.cross_entropy(
        ours(mg.tensor(x)), mg.tensor(target), reduction=reduction, label_smoothing=smoothing
    )
    tloss = torch.nn.functional.cross_entropy(
        theirs(torch.tensor(x)),
        torch.tensor(target),
        reduction=reduction,
        label_smoothing=smoothing,
    )
    np.testing.assert_array_equal(loss.detach().numpy(), tloss.detach().numpy())
    loss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_array_equal(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    assert not ours.weight.grad.numpy().any()
    mg.optim.SGD(ours.parameters(), lr=0.1).step()
    assert np.isfinite(ours.weight.data).all()
