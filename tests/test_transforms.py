"""`mg.data.transforms`: RandomShift, Compose and TransformedDataset."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import data
from microgradnp.data.transforms import Compose, RandomShift, TransformedDataset


@pytest.mark.parametrize(("dy", "dx"), [(0, 0), (1, 0), (-2, 1), (3, -3), (0, 5), (-5, 0)])
def test_shift_moves_pixels_and_fills(dy, dx):
    img = np.arange(1.0, 26.0).reshape(5, 5)
    out = RandomShift.shift(img, dy, dx, fill=-1.0)
    for r in range(5):
        for c in range(5):
            src_r, src_c = r - dy, c - dx
            inside = 0 <= src_r < 5 and 0 <= src_c < 5
            assert out[r, c] == (img[src_r, src_c] if inside else -1.0)


def test_random_shift_draws_every_offset_and_keeps_type():
    shift = RandomShift(1, generator=np.random.default_rng(0))
    img = np.zeros((1, 5, 5))
    img[0, 2, 2] = 1.0
    seen = set()
    for _ in range(200):
        out = shift(img)
        assert out.shape == (1, 5, 5) and out.sum() == 1.0
        r, c = np.argwhere(out[0])[0]
        seen.add((int(r) - 2, int(c) - 2))
    assert seen == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    t = shift(mg.tensor(img))
    assert isinstance(t, mg.Tensor) and t.shape == (1, 5, 5)
    flat = RandomShift(2, image_shape=(5, 5), generator=np.random.default_rng(1))
    assert flat(img.reshape(-1)).shape == (25,)


def test_random_shift_follows_manual_seed():
    img = np.random.default_rng(0).random((8, 8))
    mg.manual_seed(4)
    a = [RandomShift(3)(img) for _ in range(5)]
    mg.manual_seed(4)
    b = [RandomShift(3)(img) for _ in range(5)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_transformed_dataset_through_a_loader():
    X = np.random.default_rng(0).random((10, 1, 6, 6)).astype(np.float32)
    y = np.arange(10)
    ds = TransformedDataset(
        data.TensorDataset(X, y),
        transform=RandomShift(2, generator=np.random.default_rng(0)),
        target_transform=lambda v: v + 100,
    )
    xb, yb = next(iter(data.DataLoader(ds, batch_size=10)))
    assert xb.shape == (10, 1, 6, 6) and yb.tolist() == list(range(100, 110))
    assert not np.array_equal(xb.numpy(), X)  # shifted
    x0, y0 = ds[0]
    assert x0.shape == (1, 6, 6) and int(y0) == 100
    assert Compose([RandomShift(0), lambda a: a * 2])(X[0]).tolist() == (X[0] * 2).tolist()


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        RandomShift(-1)
    with pytest.raises(TypeError, match="must be an int"):
        RandomShift(1.5)
    with pytest.raises(ValueError, match="image_shape for flat samples"):
        RandomShift(1)(np.ones(5))
    with pytest.raises(ValueError, match="cannot be viewed"):
        RandomShift(1, image_shape=(3, 3))(np.ones(10))
