"""examples/distill.py: the distillation loss equals PyTorch's on fixed logits (values and
gradients), and a student trains with it (the full run's table is in the README)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load():
    sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_distill", EXAMPLES / "distill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_loss(torch, s, t, y, T, alpha):
    F = torch.nn.functional
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1),
                    reduction="batchmean", log_target=True)  # fmt: skip
    return alpha * T * T * soft + (1 - alpha) * F.cross_entropy(s, y)


@pytest.mark.parametrize(("T", "alpha"), [(1.0, 0.5), (4.0, 0.9), (10.0, 1.0)])
def test_distillation_loss_matches_torch(torch, T, alpha):
    example = _load()
    rng = np.random.default_rng(0)
    s = (3 * rng.standard_normal((6, 10))).astype(np.float64)
    t = (3 * rng.standard_normal((6, 10))).astype(np.float64)
    y = rng.integers(0, 10, 6)
    ms = mg.tensor(s, requires_grad=True)
    loss = example.distillation_loss(ms, mg.tensor(t), mg.tensor(y), T, alpha)
    loss.backward()
    ts = torch.tensor(s, requires_grad=True)
    tloss = _torch_loss(torch, ts, torch.tensor(t), torch.tensor(y), T, alpha)
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    np.testing.assert_allclose(ms.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)
    # the soft term vanishes when the student already matches the teacher
    same = example.distillation_loss(mg.tensor(t), mg.tensor(t), mg.tensor(y), T, 1.0)
    assert abs(same.item()) < 1e-12


def test_distillation_loss_gradcheck():
    example = _load()
    rng = np.random.default_rng(1)
    t = mg.tensor(rng.standard_normal((3, 4)))
    y = mg.tensor(np.array([0, 3, 1]))
    s = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda s: example.distillation_loss(s, t, y, 3.0, 0.7), (s,))


def test_student_trains_with_the_teacher_logits():
    example = _load()
    X, y = example.mnist_split(0)["train"]
    X, y = X[:512], y[:512]
    teacher_logits = np.eye(10, dtype=np.float32)[y] * 5  # a confident teacher
    student = example.train_student(X, y, teacher_logits, epochs=4, seed=0)
    assert example.n_params(student) == 4 * 25 + 4 + 196 * 10 + 10
    with mg.no_grad():
        fit = (student(mg.from_numpy(X)).numpy().argmax(1) == y).mean()
    assert fit > 0.8
