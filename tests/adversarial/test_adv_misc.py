"""Seeds, tensor creation, gradient clipping and data loading given odd input."""

import re

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.data import DataLoader, TensorDataset


@pytest.mark.parametrize("seed", [1.5, 2.0, "3", None, [1]])
def test_manual_seed_refuses_what_is_not_an_integer(seed):
    with pytest.raises(TypeError, match="manual_seed: the seed must be an integer"):
        mg.manual_seed(seed)


@pytest.mark.parametrize("seed", [-(2**63) - 1, 2**64])
def test_manual_seed_refuses_out_of_range(seed):
    with pytest.raises(ValueError, match="manual_seed"):
        mg.manual_seed(seed)


def test_manual_seed_accepts_integers_like_torch():
    draws = []
    for seed in (-1, 2**64 - 1, np.int64(-1)):
        mg.manual_seed(seed)
        draws.append(mg.rand(3).tolist())
    assert draws[0] == draws[1] == draws[2]
    mg.manual_seed(True)  # bool is an int, as for torch.manual_seed


@pytest.mark.parametrize(
    "data",
    [np.array([object()]), np.array(["x"]), np.array([1 + 2j]), np.array(["2020"], "M8[D]")],
    ids=["object", "str", "complex", "datetime"],
)
def test_tensor_refuses_arrays_of_non_numeric_dtype(data):
    with pytest.raises(TypeError, match=re.escape(f"dtype {data.dtype}")):
        mg.tensor(data)


def _clip_both(torch, grads, **kwargs):
    ours = [mg.tensor(np.zeros(len(g), np.float32), requires_grad=True) for g in grads]
    theirs = [torch.zeros(len(g), requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad, q.grad = mg.tensor(np.array(g, np.float32)), torch.tensor(g)
    results = []
    for lib, params in ((mg, ours), (torch, theirs)):
        try:
            total = lib.nn.utils.clip_grad_norm_(params, 1.0, **kwargs)
            results.append((float(total), [p.grad.numpy().tolist() for p in params]))
        except RuntimeError as e:
            results.append(("raised", [p.grad.numpy().tolist() for p in params], str(e)[:20]))
    return results


@pytest.mark.parametrize(
    "grads",
    [
        [[np.nan, 1.0], [3.0, 4.0]],
        [[np.inf, 1.0], [3.0, 4.0]],
        [[-np.inf, np.inf], [3.0, 4.0]],
        [[0.1, 0.2], [0.0, 0.1]],
        [[3.0, 4.0], [0.0, 0.0]],
    ],
    ids=["nan", "inf", "both infs", "small", "large"],
)
@pytest.mark.parametrize("error_if_nonfinite", [False, True])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_with_non_finite_gradients_matches_torch(
    torch, grads, error_if_nonfinite, norm_type
):
    ours, theirs = _clip_both(
        torch, grads, error_if_nonfinite=error_if_nonfinite, norm_type=norm_type
    )
    np.testing.assert_allclose(np.asarray(ours[1]), np.asarray(theirs[1]), rtol=1e-6)
    if ours[0] == "raised" or theirs[0] == "raised":
        assert ours[0] == theirs[0] == "raised" and ours[2] == theirs[2]
    else:
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)


X = np.arange(10.0, dtype=np.float32).reshape(5, 2)
Y = np.arange(5)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])  # None means no batching, as PyTorch
def test_dataloader_refuses_bad_batch_sizes(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(mg.tensor(X), mg.tensor(Y)), batch_size=batch_size)


def test_dataloader_edges_match_torch(torch):
    from torch.utils import data as tdata

    for size, drop in ((10, True), (2, True), (2, False), (10, False)):
        ours = DataLoader(TensorDataset(mg.tensor(X), mg.tensor(Y)), size, drop_last=drop)
        theirs = tdata.DataLoader(
            tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)), size, drop_last=drop
        )
        assert len(ours) == len(theirs)
        assert [b[0].shape for b in ours] == [tuple(b[0].shape) for b in theirs]
    assert list(DataLoader(TensorDataset(mg.tensor(X[:0]), mg.tensor(Y[:0])), 2)) == []
    with pytest.raises(IndexError):
        TensorDataset(mg.tensor(X), mg.tensor(Y))[5]
    with pytest.raises(ValueError, match="same size"):
        TensorDataset(mg.tensor(X), mg.tensor(Y[:3]))
