"""mg.adversarial: FGSM against PyTorch, PGD's constraints and strength, the model left intact."""

from __future__ import annotations

import numpy as np
import pytest
from explain_models import cnn, digits, mlp, torch_twin

import microgradnp as mg
from microgradnp import adversarial, nn
from microgradnp.nn import functional as F


def _batch(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    X, y = digits()
    return X[-n:], y[-n:]


def _losses(model: nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with mg.no_grad():
        return F.cross_entropy(model(mg.tensor(x)), mg.tensor(y), reduction="none").numpy()


@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_matches_torch(torch, targeted) -> None:
    x, y = _batch()
    labels = (y + 1) % 10 if targeted else y
    ours = adversarial.fgsm(mlp(), nn.CrossEntropyLoss(), x, labels, 0.1, targeted=targeted)
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch_twin(mlp(), torch)(xt), torch.tensor(labels))
    (g,) = torch.autograd.grad(loss, xt)
    step = -0.1 * g.sign() if targeted else 0.1 * g.sign()
    expected = (xt + step).clamp(0, 1).detach().numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert np.abs(ours - x).max() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1


def test_fgsm_raises_the_loss_and_keeps_tensor_inputs_as_tensors() -> None:
    x, y = _batch()
    adv = adversarial.fgsm(mlp(), F.cross_entropy, mg.tensor(x), mg.tensor(y), 0.1)
    assert isinstance(adv, mg.Tensor) and not adv.requires_grad
    assert _losses(mlp(), adv.numpy(), y).mean() > _losses(mlp(), x, y).mean() + 0.5


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_every_pgd_iterate_stays_in_the_ball_and_the_range(norm) -> None:
    x, y = _batch(16)
    eps = 0.1 if norm == "inf" else 1.0
    iterates: dict[int, np.ndarray] = {}
    adv = adversarial.pgd(
        mlp(), nn.CrossEntropyLoss(), x, y, eps, alpha=eps / 2, steps=8, norm=norm, seed=0,
        callback=lambda step, it: iterates.__setitem__(step, it.copy()),
    )  # fmt: skip
    assert sorted(iterates) == list(range(9))
    np.testing.assert_array_equal(iterates[8], adv)
    for it in iterates.values():
        delta = (it.astype(np.float64) - x).reshape(len(x), -1)
        size = np.abs(delta).max(1) if norm == "inf" else np.sqrt((delta**2).sum(1))
        assert size.max() <= eps + 1e-5
        assert it.min() >= 0.0 and it.max() <= 1.0
    # the attack uses its budget: most samples end on the boundary of the ball
    delta = (adv.astype(np.float64) - x).reshape(len(x), -1)
    size = np.abs(delta).max(1) if norm == "inf" else np.sqrt((delta**2).sum(1))
    assert np.mean(size > 0.9 * eps) > 0.8


@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_pgd_is_at_least_as_strong_as_fgsm(eps) -> None:
    x, y = _batch()
    loss_fn = nn.CrossEntropyLoss()
    fgsm_loss = _losses(mlp(), adversarial.fgsm(mlp(), loss_fn, x, y, eps), y)
    adv = adversarial.pgd(mlp(), loss_fn, x, y, eps, alpha=eps / 4, steps=10, seed=0)
    pgd_loss = _losses(mlp(), adv, y)
    fraction = np.mean(pgd_loss >= fgsm_loss - 1e-6)
    assert pgd_loss.mean() > fgsm_loss.mean()
    assert fraction >= 0.95, fraction


def test_targeted_pgd_reaches_the_target() -> None:
    x, y = _batch(32)
    target = (y + 3) % 10
    adv = adversarial.pgd(
        mlp(), nn.CrossEntropyLoss(), x, target, 0.3, alpha=0.05, steps=20, seed=0, targeted=True
    )
    with mg.no_grad():
        predicted = mlp()(mg.tensor(adv)).numpy().argmax(1)
    assert np.mean(predicted == target) > 0.9


def test_pgd_is_reproducible_and_starts_at_x_without_random_start() -> None:
    x, y = _batch(8)
    loss_fn = nn.CrossEntropyLoss()
    a = adversarial.pgd(mlp(), loss_fn, x, y, 0.1, 0.02, 3, seed=5, norm="2")
    b = adversarial.pgd(mlp(), loss_fn, x, y, 0.1, 0.02, 3, seed=5, norm="2")
    np.testing.assert_array_equal(a, b)
    same = adversarial.pgd(mlp(), loss_fn, x, y, 0.1, 0.02, 0, random_start=False)
    np.testing.assert_array_equal(same, x)
    one = adversarial.pgd(mlp(), loss_fn, x, y, 0.1, 0.1, 1, random_start=False)
    np.testing.assert_allclose(one, adversarial.fgsm(mlp(), loss_fn, x, y, 0.1), atol=1e-7)


def test_model_is_left_as_it_was() -> None:
    x, y = _batch(4)
    model = nn.Sequential(nn.Linear(64, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 10))
    model.train()
    model[0].weight.requires_grad_(False)
    adversarial.fgsm(model, nn.CrossEntropyLoss(), x, y, 0.1)
    adversarial.pgd(model, nn.CrossEntropyLoss(), x, y, 0.1, 0.05, 2, norm="2")
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [False, True, True, True]
    assert all(p.grad is None for p in model.parameters())


def test_bad_arguments_are_named() -> None:
    x, y = _batch(4)
    loss_fn = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="one entry per sample"):
        adversarial.fgsm(mlp(), loss_fn, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="eps must be"):
        adversarial.fgsm(mlp(), loss_fn, x, y, -0.1)
    with pytest.raises(ValueError, match="norm must be"):
        adversarial.pgd(mlp(), loss_fn, x, y, 0.1, 0.01, 2, norm="1")
    with pytest.raises(ValueError, match="scalar"):
        adversarial.fgsm(mlp(), nn.CrossEntropyLoss(reduction="none"), x, y, 0.1)
    with pytest.raises(ValueError, match="clamp"):
        adversarial.fgsm(mlp(), loss_fn, x, y, 0.1, clamp=(1, 0))


def test_cnn_fgsm_matches_torch_where_the_gradient_has_a_sign(torch) -> None:
    if not hasattr(nn, "Conv2d"):
        pytest.skip("needs nn.Conv2d")
    x, y = _batch()
    images = x.reshape(-1, 1, 8, 8)
    ours = adversarial.fgsm(cnn(), nn.CrossEntropyLoss(), images, y, 0.1)
    xt = torch.tensor(images, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch_twin(cnn(), torch)(xt), torch.tensor(y))
    (g,) = torch.autograd.grad(loss, xt)
    expected = (xt + 0.1 * g.sign()).clamp(0, 1).detach().numpy()
    # float32 rounding may flip the sign of a gradient of size ~1e-10; nowhere else
    clear = np.abs(g.numpy()) > 1e-7
    assert clear.mean() > 0.9
    np.testing.assert_allclose(ours[clear], expected[clear], atol=1e-6)
