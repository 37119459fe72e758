"""Tensor creation, dtypes, attributes, operators, numerics and error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import microgradnp as mg


def test_tensor_copies_and_from_numpy_shares():
    a = np.array([1.0, 2.0])
    t = mg.tensor(a)
    s = mg.from_numpy(a)
    a[0] = 5.0
    assert t.tolist() == [1.0, 2.0] and s.tolist() == [5.0, 2.0]
    assert t.dtype == np.float64  # ndarrays keep their dtype


def test_default_dtype():
    assert mg.tensor([1.0]).dtype == np.float32 and mg.get_default_dtype() == np.float32
    assert mg.tensor(1).dtype == np.int64 and mg.tensor(True).dtype == np.bool_
    mg.set_default_dtype(mg.float64)
    assert mg.tensor([1.0]).dtype == np.float64 and mg.zeros(2).dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        mg.set_default_dtype(np.int32)


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.ones((2,)).tolist() == [1.0, 1.0]
    assert mg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert mg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert mg.arange(3).tolist() == [0, 1, 2] and mg.arange(3).dtype == np.int64
    assert mg.arange(0, 1, 0.5).dtype == np.float32
    np.testing.assert_allclose(mg.linspace(0, 1, 3).data, [0.0, 0.5, 1.0])
    assert mg.zeros_like(mg.ones(2, dtype=mg.float64)).dtype == np.float64
    assert mg.empty(4).shape == (4,) and mg.ones_like(mg.zeros(3)).tolist() == [1, 1, 1]
    r = mg.randint(0, 5, (100,))
    assert r.dtype == np.int64 and 0 <= r.data.min() and r.data.max() < 5
    assert mg.randint(3, (2, 2)).shape == (2, 2)
    u = mg.rand(1000)
    assert 0 <= u.data.min() and u.data.max() < 1 and u.dtype == np.float32


def test_manual_seed_reproduces_everything():
    mg.manual_seed(42)
    a = (mg.randn(3).tolist(), mg.rand(2).tolist(), mg.randint(10, (3,)).tolist())
    mg.manual_seed(42)
    b = (mg.randn(3).tolist(), mg.rand(2).tolist(), mg.randint(10, (3,)).tolist())
    assert a == b


def test_attributes_and_methods():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and x.is_leaf
    assert x.T.shape == (3, 2) and x.size(1) == 3 and x.dim() == 2
    assert mg.tensor(3.5).item() == 3.5
    assert np.asarray(x.detach()).shape == (2, 3)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy() is x.data
    y = x * 2
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward"
    assert x.astype(mg.float64).dtype == np.float64
    assert "requires_grad=True" in repr(x) and "grad_fn=<MulBackward>" in repr(y)
    assert len(x) == 2 and [r.shape for r in x] == [(3,), (3,)]


def test_reflected_operators_with_scalars_and_arrays():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([10.0, 20.0], dtype=np.float32)
    out = (2 - x) + (a * x) + (1 / x) + (a - x) + 2**x + a / x + a @ x
    assert isinstance(out, mg.Tensor)
    out.sum().backward()
    expected = (
        -1
        + a
        - 1 / np.array([1, 2]) ** 2
        - 1
        + np.log(2) * 2 ** np.array([1, 2])
        - a / np.array([1, 2]) ** 2
        + 2 * a
    )  # a @ x is a scalar broadcast over 2 elements
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-5)
    assert (-x).tolist() == [-1.0, -2.0]


def test_comparisons_give_bool_tensors_without_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad and m.tolist() == [False, True]
    assert (x == mg.tensor([1.0, 0.0])).tolist() == [True, False]
    assert {x: 1}[x] == 1  # hashable by identity


def test_dim_and_axis_aliases():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=1).tolist() == x.sum(axis=1).tolist() == [3.0, 12.0]
    assert x.mean(0, keepdim=True).shape == x.mean(axis=0, keepdims=True).shape == (1, 3)
    assert x.var(dim=1).tolist() == [1.0, 1.0]  # correction=1 by default
    np.testing.assert_allclose(x.var(axis=1, ddof=0).data, [2 / 3, 2 / 3])
    np.testing.assert_allclose(x.std(dim=1, correction=0).data, np.sqrt([2 / 3, 2 / 3]))
    assert x.argmax(dim=1).tolist() == [2, 2] and x.argmax().item() == 5
    values, indices = x.max(dim=0)
    assert values.tolist() == [3.0, 4.0, 5.0] and indices.tolist() == [1, 1, 1]


def test_shape_functions():
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(1).squeeze(1).shape == x.shape
    assert x.flatten(1).shape == (2, 12) and x.flatten().shape == (24,)
    assert mg.tensor([1.0]).expand(3, -1).shape == (3, 1)
    assert mg.cat([x, x], dim=2).shape == (2, 3, 8) and mg.stack([x, x]).shape == (2, 2, 3, 4)
    assert [p.shape for p in x.split(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert mg.pad(x, (1, 1)).shape == (2, 3, 6)
    idx = mg.tensor([[0], [2]])
    assert mg.gather(mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, idx).tolist() == [
        [1.0],
        [6.0],
    ]
    assert mg.one_hot(mg.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert mg.where(x > 10, x, 0.0).sum().item() == sum(range(11, 24))


def test_numerics_are_stable_and_warning_free():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            s = mg.sigmoid(mg.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], requires_grad=True))
            s.sum().backward()
            assert np.isfinite(s.data).all() and s.data[0] < 1e-37 and s.data[-1] == 1.0
            big = mg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
            lse = mg.logsumexp(big, dim=1)
            np.testing.assert_allclose(lse.data, [1e4, -1e4 + np.log(3)], rtol=1e-6)
            sm, lsm = mg.softmax(big, dim=1), mg.log_softmax(big, dim=1)
            assert np.isfinite(sm.data).all() and np.isfinite(lsm.data).all()
            np.testing.assert_allclose(sm.data.sum(1), [1.0, 1.0], rtol=1e-6)
            (lse.sum() + (sm * 2).sum() + lsm[:, 0].sum()).backward()
            assert np.isfinite(big.grad.data).all()
    x64 = mg.tensor([-30.0, 30.0], dtype=mg.float64)
    np.testing.assert_allclose(mg.sigmoid(x64).data, 1 / (1 + np.exp([30.0, -30.0])), rtol=1e-14)


def test_errors_name_shapes_at_the_call():
    a, b = mg.ones(2, 3, requires_grad=True), mg.ones(4, 5)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2,3\).*\(4,\)|\(2, 3\).*\(4,\)"):
        a + mg.ones(4)
    with pytest.raises(ValueError, match="reshape"):
        a.reshape(5)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        a[5]
    with pytest.raises(ValueError, match="linear"):
        mg.linear(a, mg.ones(2, 4))
    with pytest.raises(TypeError, match="numpy.sum"):
        np.sum(a)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(a)


def test_gradcheck_reports_input_element_and_values():
    class Wrong(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g * 3.0  # wrong on purpose: d/dx x^2 = 2x

    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(mg.GradcheckError, match=r"input 0.*element \(0,\).*analytical.*numerical"):
        mg.gradcheck(Wrong.apply, (x,))
    assert mg.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(TypeError, match="float64"):
        mg.gradcheck(lambda t: t * 2, (mg.tensor([1.0], requires_grad=True),))


def test_every_public_op_is_exported_and_returns_a_tensor_for_arrays():
    a = np.array([[0.5, 1.5], [2.0, 0.25]])
    unary = "abs cos exp expm1 log log1p neg relu sigmoid sign sin sqrt square tanh sum mean"
    unary += " std var logsumexp amax amin argmax argmin flatten softmax log_softmax clone"
    for name in mg.ops.__all__:
        assert getattr(mg, name) is getattr(mg.ops, name), name
    for name in unary.split():
        out = getattr(mg, name)(a)
        assert isinstance(out, mg.Tensor), name
    for name in ("add", "sub", "mul", "div", "maximum", "minimum", "matmul", "pow"):
        assert isinstance(getattr(mg, name)(a, a), mg.Tensor), name


def test_tensor_methods_cover_the_ops_torch_has_as_methods(torch):
    missing = [n for n in mg.ops.__all__ if hasattr(torch.Tensor, n) and not hasattr(mg.Tensor, n)]
    assert missing == [], missing


def test_tensor_from_a_numpy_scalar():
    t = mg.Tensor(np.float32(1.5))
    assert t.shape == () and t.dtype == np.float32 and t.item() == 1.5
    assert mg.tensor(np.int64(3)).dtype == np.int64
