"""mg.data samplers: their semantics, PyTorch's batching of them, and DataLoader's options."""

import collections

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True)])
def test_batch_sampler_matches_torch_for_the_same_indices(torch, n, batch_size, drop_last):
    indices = np.random.default_rng(0).permutation(n).tolist()
    ours = BatchSampler(indices, batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(indices, batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_sequential_sampler_matches_torch(torch):
    data = list(range(7))
    assert list(SequentialSampler(data)) == list(torch.utils.data.SequentialSampler(data))


def test_random_sampler_without_replacement_is_a_permutation_per_pass():
    sampler = RandomSampler(range(5), num_samples=12, generator=np.random.default_rng(0))
    draws = list(sampler)
    assert len(draws) == len(sampler) == 12
    # two whole permutations, then 2 samples of a third, as PyTorch walks them
    assert sorted(draws[:5]) == sorted(draws[5:10]) == list(range(5))
    assert len(set(draws[10:])) == 2
    again = list(RandomSampler(range(5), num_samples=12, generator=np.random.default_rng(0)))
    assert draws == again


def test_random_sampler_with_replacement_draws_uniformly():
    sampler = RandomSampler(range(4), replacement=True, num_samples=4000)
    mg.manual_seed(0)
    counts = collections.Counter(sampler)
    assert sorted(counts) == [0, 1, 2, 3]
    assert all(abs(c / 4000 - 0.25) < 0.03 for c in counts.values())
    mg.manual_seed(0)
    assert collections.Counter(sampler) == counts  # the global generator, read at iter()


def test_subset_random_sampler_permutes_the_given_indices():
    sampler = SubsetRandomSampler([3, 8, 9, 20], generator=np.random.default_rng(1))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == [3, 8, 9, 20]
    assert len(sampler) == 4 and first != second


def test_weighted_random_sampler_frequencies_and_no_replacement():
    weights = [1.0, 0.0, 3.0, 0.0]  # unnormalised, as in PyTorch
    sampler = WeightedRandomSampler(weights, 8000, generator=np.random.default_rng(0))
    counts = collections.Counter(sampler)
    assert set(counts) == {0, 2}
    assert abs(counts[2] / 8000 - 0.75) < 0.02
    no_rep = WeightedRandomSampler([1.0, 1.0, 5.0, 0.5], 4, replacement=False)
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 1)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(TypeError, match="np.random.Generator"):
        SubsetRandomSampler([1], generator=3)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(3), 2, None)


def _labels(loader):
    return [yb.tolist() for _, yb in loader]


def test_dataloader_with_sampler_and_batch_sampler():
    ds = TensorDataset(np.arange(20.0).reshape(10, 2), np.arange(10))
    order = [9, 0, 4, 4, 7]
    assert _labels(DataLoader(ds, batch_size=2, sampler=order)) == [[9, 0], [4, 4], [7]]
    assert _labels(DataLoader(ds, batch_size=2, sampler=order, drop_last=True)) == [
        [9, 0],
        [4, 4],
    ]
    batches = [[1, 2, 3], [0], [5, 5]]
    loader = DataLoader(ds, batch_sampler=batches)
    assert _labels(loader) == batches and len(loader) == 3
    weighted = WeightedRandomSampler([0.0] * 9 + [1.0], 6)
    assert _labels(DataLoader(ds, batch_size=3, sampler=weighted)) == [[9, 9, 9], [9, 9, 9]]


def test_dataloader_without_batching_converts_samples():
    ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.arange(3))
    samples = list(DataLoader(ds, batch_size=None))
    assert len(samples) == 3
    x, y = samples[1]
    assert isinstance(x, mg.Tensor) and x.tolist() == [2.0, 3.0] and int(y) == 1


def test_dataloader_same_batches_as_torch_with_a_batch_sampler(torch):
    X = np.arange(24.0).reshape(12, 2)
    indices = np.random.default_rng(5).permutation(12).tolist()
    ours = DataLoader(TensorDataset(X), batch_size=5, sampler=indices, pin_memory=True)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X)), batch_size=5, sampler=indices
    )
    for (a,), (b,) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_dataloader_option_errors_name_the_conflict():
    ds = TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, timeout=-1)
