"""mg.data: datasets, DataLoader batching and shuffling, random_split, StandardScaler, one_hot."""

import collections

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.data import (
    DataLoader,
    Dataset,
    StandardScaler,
    Subset,
    TensorDataset,
    default_collate,
    one_hot,
    random_split,
)


class RangeDataset(Dataset):
    """Sample i is (a vector filled with i, the label i % 3), fetched one at a time."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.full(2, float(index), dtype=np.float32), index % 3


def _identity(batch):
    return batch


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_tensor_dataset_items_and_size_check():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ds = TensorDataset(X, y)
    assert len(ds) == 6
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3, [6.0, 7.0])
    assert y3 == 3
    with pytest.raises(ValueError, match=r"same size in the first dimension.*\(6, 2\), \(5,\)"):
        TensorDataset(X, np.arange(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))


def test_tensor_dataset_of_tensors():
    ds = TensorDataset(mg.tensor(np.arange(8.0).reshape(4, 2)), mg.tensor([0, 1, 0, 1]))
    x, y = ds[2]
    assert isinstance(x, mg.Tensor)
    np.testing.assert_array_equal(x.numpy(), [4.0, 5.0])
    assert y.item() == 0


@pytest.mark.parametrize(
    "n,batch_size,drop_last,expected",
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, False, [3, 3, 3]),
        (9, 3, True, [3, 3, 3]),
        (2, 5, False, [2]),
        (2, 5, True, []),
        (4, 1, False, [1, 1, 1, 1]),
    ],
)
def test_batch_sizes_and_len(n, batch_size, drop_last, expected):
    for ds in (RangeDataset(n), TensorDataset(np.arange(n * 2.0).reshape(n, 2), np.arange(n))):
        loader = DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
        assert len(loader) == len(expected)
        assert [len(xb) for xb, _ in loader] == expected


def test_unshuffled_batches_are_in_order_and_stacked_into_tensors():
    loader = DataLoader(RangeDataset(5), batch_size=2)
    batches = list(loader)
    xb, yb = batches[0]
    assert isinstance(xb, mg.Tensor) and isinstance(yb, mg.Tensor)
    assert xb.shape == (2, 2) and xb.dtype == np.float32
    assert yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), [[0.0, 0.0], [1.0, 1.0]])
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 0], [1]]


def test_tensor_dataset_fast_path_gives_the_same_batches_as_stacking():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(23, 3)).astype(np.float32)
    y = rng.integers(0, 4, 23)
    fast = DataLoader(
        TensorDataset(X, y), batch_size=5, shuffle=True, generator=np.random.default_rng(7)
    )
    slow = DataLoader(
        TensorDataset(X, y),
        batch_size=5,
        shuffle=True,
        generator=np.random.default_rng(7),
        collate_fn=default_collate,
    )
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert isinstance(xf, mg.Tensor) and xf.dtype == np.float32 and yf.dtype == np.int64
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_fast_path_through_subsets_and_tensor_sources():
    X = mg.tensor(np.arange(20.0).reshape(10, 2))
    y = mg.tensor(np.arange(10))
    train, _ = random_split(TensorDataset(X, y), [6, 4], generator=np.random.default_rng(0))
    seen = []
    for xb, yb in DataLoader(train, batch_size=4):
        np.testing.assert_array_equal(xb.numpy(), 2 * yb.numpy()[:, None] + [0.0, 1.0])
        seen += yb.tolist()
    assert seen == list(train.indices)


def test_shuffle_visits_every_sample_once_per_epoch_and_reshuffles():
    loader = DataLoader(
        RangeDataset(17),
        batch_size=4,
        shuffle=True,
        collate_fn=_identity,
        generator=np.random.default_rng(0),
    )
    epochs = [[int(x[0]) for batch in loader for x, _ in batch] for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(17))
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[0] != list(range(17))


def test_shuffle_is_reproducible_with_a_generator_and_with_manual_seed():
    ds = TensorDataset(np.arange(30))

    def order(loader):
        return [i for (batch,) in loader for i in batch.tolist()]

    first = order(DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3)))
    second = order(DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3)))
    assert first == second and sorted(first) == list(range(30))

    loader = DataLoader(ds, batch_size=8, shuffle=True)
    mg.manual_seed(42)
    run_a = [order(loader), order(loader)]
    mg.manual_seed(42)
    run_b = [order(loader), order(loader)]
    assert run_a == run_b and run_a[0] != run_a[1]
    mg.manual_seed(43)
    assert order(loader) != run_a[0]


def test_default_collate_structures():
    xb, yb = default_collate([(np.zeros(3, np.float64), 1), (np.ones(3, np.float64), 2)])
    assert xb.shape == (2, 3) and xb.dtype == np.float64
    assert yb.tolist() == [1, 2] and yb.dtype == np.int64
    floats = default_collate([0.5, 1.5])
    assert floats.dtype == mg.get_default_dtype() and floats.tolist() == [0.5, 1.5]
    assert default_collate([True, False]).dtype == np.bool_
    batch = default_collate(
        [{"x": mg.tensor([1.0, 2.0]), "name": "a"}, {"x": mg.tensor([3.0, 4.0]), "name": "b"}]
    )
    assert batch["name"] == ["a", "b"]
    np.testing.assert_array_equal(batch["x"].numpy(), [[1.0, 2.0], [3.0, 4.0]])
    Pair = collections.namedtuple("Pair", "left right")
    pair = default_collate([Pair(1, 2.0), Pair(3, 4.0)])
    assert isinstance(pair, Pair) and pair.left.tolist() == [1, 3]
    with pytest.raises(TypeError, match="cannot batch"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="same size"):
        default_collate([(1, 2), (3,)])


def test_dataloader_argument_errors():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(RangeDataset(3), batch_size=0)
    with pytest.raises(TypeError, match="np.random.Generator"):
        DataLoader(RangeDataset(3), shuffle=True, generator=0)


def test_random_split_sizes_disjoint_and_reproducible():
    ds = RangeDataset(10)
    parts = random_split(ds, [5, 3, 2], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    indices = [i for p in parts for i in p.indices]
    assert sorted(indices) == list(range(10))
    again = random_split(ds, [5, 3, 2], generator=np.random.default_rng(0))
    assert [p.indices for p in parts] == [p.indices for p in again]
    assert parts[1][0][1] == parts[1].indices[0] % 3  # a Subset item is the parent's item
    # fractions: floors 3, 3, 3 of 10, the one left over goes to the first split (PyTorch)
    assert [len(p) for p in random_split(ds, [1 / 3] * 3)] == [4, 3, 3]
    assert [len(p) for p in random_split(RangeDataset(1797), [0.8, 0.1, 0.1])] == [1438, 180, 179]
    mg.manual_seed(1)
    first = [p.indices for p in random_split(ds, [0.5, 0.5])]
    mg.manual_seed(1)
    assert first == [p.indices for p in random_split(ds, [0.5, 0.5])]
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="non-negative ints"):
        random_split(ds, [0.5, 9.5])
    with pytest.warns(UserWarning, match="index 1 is 0"):
        random_split(RangeDataset(2), [1.0, 0.0])


def test_subset_indexing():
    sub = Subset(RangeDataset(10), [9, 2, 5])
    assert len(sub) == 3
    assert [int(sub[i][0][0]) for i in range(3)] == [9, 2, 5]
    assert int(sub[-1][0][0]) == 5


def test_standard_scaler_matches_sklearn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(50, 4))
    X[:, 2] = 7.0  # a constant column is centred, not divided
    ours, theirs = StandardScaler().fit(X), preprocessing.StandardScaler().fit(X)
    for attribute in ("mean_", "var_", "scale_"):
        np.testing.assert_allclose(getattr(ours, attribute), getattr(theirs, attribute), rtol=1e-12)
    assert ours.scale_[2] == 1.0
    X_new = rng.normal(size=(5, 4))
    np.testing.assert_allclose(ours.transform(X_new), theirs.transform(X_new), rtol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(X), theirs.fit_transform(X), atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X_new)), X_new, atol=1e-12)
    for options in ({"with_mean": False}, {"with_std": False}):
        np.testing.assert_allclose(
            StandardScaler(**options).fit_transform(X),
            preprocessing.StandardScaler(**options).fit_transform(X),
            atol=1e-12,
        )


def test_standard_scaler_dtypes_tensors_and_errors():
    X = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    out = StandardScaler().fit_transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1.0, -1.0], [1.0, 1.0]])
    assert StandardScaler().fit_transform(np.array([[1, 2], [3, 6]])).dtype == np.float64
    scaled = StandardScaler().fit_transform(mg.tensor(X))
    assert isinstance(scaled, mg.Tensor) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.numpy(), [[-1.0, -1.0], [1.0, 1.0]])
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(X)
    with pytest.raises(ValueError, match="2-D"):
        StandardScaler().fit(np.arange(3.0))
    with pytest.raises(ValueError, match="3 features, but the scaler was fitted on 2"):
        StandardScaler().fit(X).transform(np.zeros((1, 3)))


def test_one_hot():
    encoded = one_hot([2, 0, 1, 2])
    assert encoded.dtype == mg.get_default_dtype()
    np.testing.assert_array_equal(encoded, np.eye(3)[[2, 0, 1, 2]])
    assert one_hot(np.array([[0], [1]]), num_classes=4).shape == (2, 1, 4)
    assert one_hot([1, 0], dtype=np.int64).dtype == np.int64
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    tensor_out = one_hot(mg.tensor([1, 0]), num_classes=3)
    assert isinstance(tensor_out, mg.Tensor)
    np.testing.assert_array_equal(tensor_out.numpy(), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        one_hot([0, 2], num_classes=2)
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        one_hot([-1, 2])
    with pytest.raises(TypeError, match="integers"):
        one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="empty"):
        one_hot([])
