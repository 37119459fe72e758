"""Reductions at their edges: std at zero variance, max/min ties, compared with PyTorch."""

import numpy as np
import pytest

import microgradnp as mg


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_std_of_constant_slices_has_torchs_gradient(torch, dim, correction):
    x = np.array([[1.5, 1.5, 1.5], [1.0, 2.0, 4.0]], dtype=np.float32)
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    mg.std(ours, dim, correction=correction).sum().backward()
    torch.std(theirs, dim=dim, correction=correction).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert np.isfinite(ours.grad.numpy()).all()


def test_standardising_a_constant_vector_matches_torch(torch):
    x = np.full(4, 3.0, dtype=np.float32)
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = (ours - ours.mean()) / (ours.std() + 1e-5)
    z = (theirs - theirs.mean()) / (theirs.std() + 1e-5)
    (y * mg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    (z * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), z.detach().numpy())
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-6)


def test_std_of_one_element_is_nan_as_torch(torch):
    ours = mg.tensor([2.0], requires_grad=True)
    s = ours.std()
    s.backward()
    assert np.isnan(s.item()) and np.isnan(ours.grad.numpy()).all()


def test_std_gradients_check_against_finite_differences_off_zero():
    x = mg.tensor(np.array([[0.3, -1.2, 2.0], [1.0, 1.0, 1.5]]), requires_grad=True)
    assert mg.gradcheck(lambda t: mg.std(t, 1), (x,))
    assert mg.gradgradcheck(lambda t: mg.std(t, 1), (x,))
