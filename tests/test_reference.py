"""The article's two networks: hand-derived = finite differences = autograd, and its mistakes.

Shapes are (N, I, H, O) = (batch, inputs, hidden, outputs) with I, H and O all different, so
that a missing transpose cannot hide behind a square matrix; batches of 1 and more. Everything
is float64. Each test of ``faulty`` demonstrates one entry of ``docs/article-errata.md``.

Tolerances, stated honestly: hand-derived vs finite differences is compared to 1e-10 absolute
(gradients here are of order 0.01-10), which plain central differences cannot reach (their
best, near h = 1e-5, is a few 1e-10); a sixth-order central stencil with h = 2e-3 gets within
a few 1e-12 (largest measured: 4.1e-12). Hand-derived vs autograd is compared to 1e-10
absolute as well; the two agree to rounding (largest measured: 1.8e-15).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

import article_faulty as faulty
import numpy as np
import pytest

from microgradnp.reference import sigmoid_net as net1
from microgradnp.reference import softmax_net as net2

SHAPES = [(1, 3, 5, 2), (7, 4, 6, 3), (16, 5, 3, 4), (4, 2, 7, 1)]  # (N, I, H, O), I, H, O differ
TOL = 1e-10


def _problem(shape: tuple[int, int, int, int], seed: int = 0):
    """Parameters scaled up (so the sigmoids are far from linear), inputs, and three targets."""
    rng = np.random.default_rng(seed)
    n, i, h, o = shape
    params = net1.init_params(i, h, o, rng=rng)
    for k in params:
        params[k] *= 3.0
    X = rng.normal(size=(n, i))
    Y = rng.integers(0, 2, size=(n, o)).astype(np.float64)  # 0/1 targets of network 1
    labels = rng.integers(0, o, size=n)  # class indices of network 2
    probs = net2.softmax(rng.normal(size=(n, o)))  # soft targets of network 2
    return params, X, Y, labels, probs


def numerical_grad(
    f: Callable[[], float], params: dict[str, np.ndarray], h: float = 2e-3
) -> dict[str, np.ndarray]:
    """d f / d params by the sixth-order central stencil
    f'(x) = [45 (f(x+h) - f(x-h)) - 9 (f(x+2h) - f(x-2h)) + (f(x+3h) - f(x-3h))] / (60 h)
    (truncation error O(h^6); rounding about 1e-16 |f| / h)."""
    grads = {}
    for k, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]

            def diff(step: float, idx=idx, old=old, p=p) -> float:
                p[idx] = old + step
                up = f()
                p[idx] = old - step
                down = f()
                p[idx] = old
                return up - down

            g[idx] = (45 * diff(h) - 9 * diff(2 * h) + diff(3 * h)) / (60 * h)
        grads[k] = g
    return grads


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert a.keys() == b.keys()
    for k in a:
        assert np.shape(a[k]) == np.shape(b[k]), k
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


# Hand-derived vs finite differences.


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["bce", "mse"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sigmoid_net_gradient_matches_finite_differences(shape, kind, reduction):
    params, X, Y, _, _ = _problem(shape)
    _, cache = net1.forward(params, X)
    hand = net1.backward(params, X, Y, cache, kind, reduction)
    numeric = numerical_grad(lambda: net1.loss(params, X, Y, kind, reduction), params)
    assert max_abs_diff(hand, numeric) < TOL
    assert max(np.abs(g).max() for g in hand.values()) > 1e-3  # not trivially zero


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("targets", ["indices", "probabilities"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_net_gradient_matches_finite_differences(shape, targets, reduction):
    params, X, _, labels, probs = _problem(shape)
    target = labels if targets == "indices" else probs
    _, cache = net2.forward(params, X)
    hand = net2.backward(params, X, target, cache, reduction)
    numeric = numerical_grad(lambda: net2.loss(params, X, target, reduction), params)
    if shape[3] > 1:  # with one class the loss is constant and every gradient is 0
        assert max(np.abs(g).max() for g in hand.values()) > 1e-3
    assert max_abs_diff(hand, numeric) < TOL


def test_plain_central_differences_are_not_enough_for_1e_10():
    # The reason numerical_grad uses a sixth-order stencil: the best plain central difference
    # on this problem misses 1e-10.
    params, X, Y, _, _ = _problem(SHAPES[1])
    hand = net1.backward(params, X, Y, net1.forward(params, X)[1], "bce", "sum")
    f = lambda: net1.loss(params, X, Y, "bce", "sum")  # noqa: E731
    best = np.inf
    for h in (1e-4, 1e-5, 1e-6):
        central = {}
        for k, p in params.items():
            central[k] = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = f()
                p[idx] = old - h
                down = f()
                p[idx] = old
                central[k][idx] = (up - down) / (2 * h)
        best = min(best, max_abs_diff(hand, central))
    assert 1e-10 < best < 1e-7


# The corrected networks themselves.


def test_sigmoid_is_stable_and_exact():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = net1.sigmoid(np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0]))
    expected = [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-2.0)), 1.0]
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)


def test_bce_loss_value_matches_its_definition():
    params, X, Y, _, _ = _problem(SHAPES[1])
    A2, _ = net1.forward(params, X)
    direct = -(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    assert net1.loss(params, X, Y, "bce", "sum") == pytest.approx(direct.sum(), rel=1e-12)
    assert net1.loss(params, X, Y, "bce", "mean") == pytest.approx(direct.mean(), rel=1e-12)
    assert net1.loss(params, X, Y, "mse", "mean") == pytest.approx(((A2 - Y) ** 2).mean())


def test_bce_loss_from_logits_never_takes_log_of_zero():
    # Output saturated to exactly 0.0 and 1.0 in float64: log(A2) would be -inf.
    params = {
        "W1": np.ones((1, 1)),
        "b1": np.zeros(1),
        "W2": np.full((1, 1), 2e3),
        "b2": np.array([-1e3]),
    }
    X, Y = np.array([[-50.0], [50.0]]), np.array([[1.0], [0.0]])
    A2, _ = net1.forward(params, X)
    assert A2[:, 0].tolist() == [0.0, 1.0]
    value = net1.loss(params, X, Y, "bce", "sum")
    assert value == pytest.approx(2e3, rel=1e-12)  # logits -1000 and +1000, both wrong


def test_mse_delta_differs_from_bce_delta_by_a2_times_one_minus_a2():
    params, X, Y, _, _ = _problem(SHAPES[2])
    A2, cache = net1.forward(params, X)
    g_bce = net1.backward(params, X, Y, cache, "bce", "sum")
    g_mse = net1.backward(params, X, Y, cache, "mse", "sum")
    # db2 is the output delta summed over the batch, so it shows the two deltas directly
    np.testing.assert_allclose(g_bce["b2"], (A2 - Y).sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(g_mse["b2"], (2 * (A2 - Y) * A2 * (1 - A2)).sum(axis=0), rtol=1e-13)
    assert np.max(np.abs(g_bce["b2"] - g_mse["b2"])) > 0.1


def test_softmax_and_log_softmax_are_per_row_and_finite():
    z = np.array([[0.0, 1000.0], [-1000.0, -999.0], [1.0, 2.0]])
    expected_row = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    p = net2.softmax(z)
    np.testing.assert_allclose(p[1], expected_row, rtol=1e-14)
    np.testing.assert_allclose(p[2], expected_row, rtol=1e-14)
    assert p[0].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(net2.log_softmax(z)[0], [-1000.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(net2.softmax(np.array([1.0, 2.0])), expected_row, rtol=1e-14)


def test_cross_entropy_matches_its_definition_for_indices_and_probabilities():
    _, _, _, labels, probs = _problem(SHAPES[1])
    z = np.random.default_rng(1).normal(size=probs.shape)
    logp = np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    n = z.shape[0]
    assert net2.cross_entropy(z, labels) == pytest.approx(-logp[np.arange(n), labels].mean())
    assert net2.cross_entropy(z, labels, "sum") == pytest.approx(-logp[np.arange(n), labels].sum())
    assert net2.cross_entropy(z, probs) == pytest.approx(-(probs * logp).sum() / n)


def test_reference_forward_equals_the_article_forward_in_its_layout():
    # The article's forward is right; ours is the same network with W stored transposed.
    params, X, *_ = _problem(SHAPES[1])
    ours, _ = net1.forward(params, X)
    theirs = faulty.article_forward(X, params["W1"].T, params["b1"], params["W2"].T, params["b2"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)


def test_sigmoid_net_learns_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    params = net1.init_params(2, 8, 1, rng=np.random.default_rng(0))
    history = net1.train(params, X, Y, epochs=3000, lr=2.0)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.05 < history["loss"][0]


def test_softmax_net_learns_three_blobs_and_loss_decreases():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])
    labels = np.repeat([0, 1, 2], 30)
    X = centres[labels] + rng.normal(size=(90, 2))
    params = net2.init_params(2, 8, 3, rng=rng)
    history = net2.train(params, X, labels, epochs=300, lr=1.0)
    assert history["accuracy"][-1] >= 0.95
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert all(
        b <= a + 1e-12 for a, b in zip(history["loss"][:50], history["loss"][1:51], strict=True)
    )


def test_softmax_net_mini_batch_training():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])
    labels = rng.integers(0, 3, size=90)
    X = centres[labels] + rng.normal(size=(90, 2))
    start = net2.init_params(2, 8, 3, rng=rng)
    # one batch holding every sample (in a shuffled order) is full-batch gradient descent
    full, shuffled = ({k: v.copy() for k, v in start.items()} for _ in range(2))
    h_full = net2.train(full, X, labels, epochs=5, lr=1.0)
    h_shuffled = net2.train(
        shuffled, X, labels, epochs=5, lr=1.0, batch_size=90, rng=np.random.default_rng(1)
    )
    np.testing.assert_allclose(h_shuffled["loss"], h_full["loss"], rtol=1e-12)
    assert max_abs_diff(full, shuffled) < 1e-12
    small = {k: v.copy() for k, v in start.items()}
    h_small = net2.train(
        small, X, labels, epochs=20, lr=0.5, batch_size=8, rng=np.random.default_rng(1)
    )
    assert h_small["accuracy"][-1] >= 0.95
    assert h_small["loss"][-1] < 0.5 * h_small["loss"][0]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        net2.train(small, X, labels, epochs=1, lr=0.5, batch_size=0)


def test_article_networks_example_reaches_high_test_accuracy(tmp_path, capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "article_networks.py"
    example = runpy.run_path(str(path))
    accuracies = example["main"](["--graphs", str(tmp_path)])
    out = capsys.readouterr().out
    assert accuracies["network1"] >= 0.97
    assert accuracies["network2"] >= 0.93
    assert "epoch   29" in out and "network 2 test accuracy" in out


def test_bad_input_is_refused_with_the_shapes_named():
    params, X, Y, labels, _ = _problem(SHAPES[3])  # O = 1
    with pytest.raises(ValueError, match=r"Y must have shape \(N, O\) = \(4, 1\), got \(4,\)"):
        net1.loss(params, X, Y[:, 0])
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\)"):
        net1.forward(params, X.T)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        net1.loss(params, X, Y, "bce", "avg")
    with pytest.raises(ValueError, match="kind must be 'bce' or 'mse'"):
        net1.loss(params, X, Y, "hinge")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        net2.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="integer class indices of shape"):
        net2.cross_entropy(np.zeros((4, 3)), labels.astype(float))
    with pytest.raises(ValueError, match="params lacks"):
        net1.forward({"W1": params["W1"]}, X)


# The article's mistakes, shown.


def _article_layout(params):
    return params["W1"].T.copy(), params["b1"], params["W2"].T.copy(), params["b2"]


def _faulty_statement(excinfo) -> str:
    """The source line of article_faulty.py that raised (NumPy raises from C, below our frame)."""
    return str([e for e in excinfo.traceback if e.path.name == "article_faulty.py"][-1].statement)


def test_e1_hidden_delta_is_a_shape_error_when_sizes_differ():
    params, X, Y, *_ = _problem((5, 3, 4, 2))
    w1, b1, w2, b2 = _article_layout(params)
    a2 = faulty.article_forward(X, w1, b1, w2, b2)
    with pytest.raises(ValueError, match="not aligned") as excinfo:
        faulty.article_backward(X, Y, a2, w1, w2, b1, b2)
    assert "delta_hidden = np.dot(delta_output, w2)" in _faulty_statement(excinfo)


def _square_problem(n: int = 6, size: int = 3):
    params, X, _, _, _ = _problem((n, size, size, size), seed=3)
    Y = np.random.default_rng(4).integers(0, 2, size=(n, size)).astype(float)
    return params, X, Y


def test_e1_hidden_delta_is_wrong_where_sizes_match():
    # I = H = O = 3: the article's backward runs, and dW1, db1 are wrong; dW2, db2 are right.
    params, X, Y = _square_problem()
    w1, b1, w2, b2 = _article_layout(params)
    a2 = faulty.article_forward(X, w1, b1, w2, b2)
    dw1, dw2, db1, db2 = faulty.article_backward(X, Y, a2, w1, w2, b1, b2)
    numeric = numerical_grad(lambda: net1.loss(params, X, Y, "bce", "sum"), params)
    assert np.max(np.abs(dw1.T - numeric["W1"])) > 1e-2
    assert np.max(np.abs(db1 - numeric["b1"])) > 1e-2
    assert np.max(np.abs(dw2.T - numeric["W2"])) < TOL
    assert np.max(np.abs(db2 - numeric["b2"])) < TOL


@pytest.mark.parametrize(
    "transpose_w2, derivative_at",
    [(False, "z2"), (True, "z2"), (False, "z1")],
    ids=["article", "transposed-only", "hidden-derivative-only"],
)
def test_e1_each_hidden_delta_mistake_alone_is_wrong(transpose_w2, derivative_at):
    # Fixing one of the two mistakes is not enough: shape error when H != O ...
    params, X, Y, *_ = _problem((5, 3, 4, 2))
    w1, b1, w2, b2 = _article_layout(params)
    _, c = net1.forward(params, X)
    with pytest.raises(ValueError):
        faulty.hidden_delta(c["A2"] - Y, w2, c["Z1"], c["Z2"], transpose_w2, derivative_at)
    # ... and a wrong delta when H == O (w2 is not symmetric).
    params, X, Y = _square_problem()
    w1, b1, w2, b2 = _article_layout(params)
    _, c = net1.forward(params, X)
    right = net1.backward(params, X, Y, c, "bce", "sum")["b1"]
    wrong = faulty.hidden_delta(c["A2"] - Y, w2, c["Z1"], c["Z2"], transpose_w2, derivative_at)
    assert np.max(np.abs(wrong.sum(axis=0) - right)) > 1e-3


def test_e1_hidden_delta_with_both_fixes_is_right():
    params, X, Y, *_ = _problem((5, 3, 4, 2))
    w1, b1, w2, b2 = _article_layout(params)
    _, c = net1.forward(params, X)
    delta = faulty.hidden_delta(c["A2"] - Y, w2, c["Z1"], c["Z2"], True, "z1")
    hand = net1.backward(params, X, Y, c, "bce", "sum")
    np.testing.assert_allclose(delta.sum(axis=0), hand["b1"], rtol=1e-13)
    np.testing.assert_allclose(X.T @ delta, hand["W1"].T, rtol=1e-13)


def test_e2_unused_third_delta_crashes_the_backward_when_input_and_hidden_sizes_differ():
    # H = O, so the hidden delta runs; I != H, so the unused delta_input is a shape error.
    params, X, Y, *_ = _problem((5, 2, 3, 3))
    w1, b1, w2, b2 = _article_layout(params)
    a2 = faulty.article_forward(X, w1, b1, w2, b2)
    with pytest.raises(ValueError, match="not aligned") as excinfo:
        faulty.article_backward(X, Y, a2, w1, w2, b1, b2)
    assert "np.dot(delta_hidden, w1) * article_sigmoid(z1)" in _faulty_statement(excinfo)


def test_e3_backward_ignores_the_forward_output_it_is_given():
    params, X, Y = _square_problem()
    w1, b1, w2, b2 = _article_layout(params)
    a2 = faulty.article_forward(X, w1, b1, w2, b2)
    given = faulty.article_backward(X, Y, a2, w1, w2, b1, b2)
    garbage = faulty.article_backward(X, Y, np.full_like(a2, np.nan), w1, w2, b1, b2)
    for g, h in zip(given, garbage, strict=True):
        np.testing.assert_array_equal(g, h)  # nan in, nothing changes: a2 is never read
    # ours reads the cache: a changed cache changes the gradient
    _, cache = net1.forward(params, X)
    moved = dict(cache, A2=cache["A2"] + 0.1)
    assert not np.allclose(
        net1.backward(params, X, Y, cache)["b2"], net1.backward(params, X, Y, moved)["b2"]
    )


def test_e4_returned_gradients_are_in_a_third_order():
    # forward takes (w1, b1, w2, b2), backward (w1, w2, b1, b2), and returns (dw1, dw2, db1, db2)
    params, X, Y = _square_problem()
    w1, b1, w2, b2 = _article_layout(params)
    grads = faulty.article_backward(X, Y, faulty.article_forward(X, w1, b1, w2, b2), w1, w2, b1, b2)
    forward_order = [w1, b1, w2, b2]
    assert [g.shape for g in grads] != [w.shape for w in forward_order]
    assert [g.shape for g in grads] == [(3, 3), (3, 3), (3,), (3,)]


def test_e5_output_delta_implies_summed_binary_cross_entropy_not_mse():
    # dw2 and db2 use only delta_output = a2 - y, and they match d(sum BCE) exactly ...
    params, X, Y = _square_problem()
    w1, b1, w2, b2 = _article_layout(params)
    _, dw2, _, db2 = faulty.article_backward(
        X, Y, faulty.article_forward(X, w1, b1, w2, b2), w1, w2, b1, b2
    )
    bce = numerical_grad(lambda: net1.loss(params, X, Y, "bce", "sum"), params)
    mse = numerical_grad(lambda: net1.loss(params, X, Y, "mse", "sum"), params)
    mean_bce = numerical_grad(lambda: net1.loss(params, X, Y, "bce", "mean"), params)
    assert np.max(np.abs(db2 - bce["b2"])) < TOL
    assert np.max(np.abs(dw2.T - bce["W2"])) < TOL
    # ... not the squared error, and not the mean (off by the factor N * O)
    assert np.max(np.abs(db2 - mse["b2"])) > 1e-2
    np.testing.assert_allclose(db2 / Y.size, mean_bce["b2"], atol=TOL)


def test_e6_article_sigmoid_overflows_ours_does_not():
    with pytest.warns(RuntimeWarning, match="overflow"):
        faulty.article_sigmoid(np.array([-1000.0]))
    with pytest.warns(RuntimeWarning, match="overflow"):
        faulty.article_sigmoid(np.array([-100.0], dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert net1.sigmoid(np.array([-100.0], dtype=np.float32))[0] == pytest.approx(
            3.7200759760208356e-44, rel=1e-6
        )


def test_e7_article_softmax_global_max_gives_nan_for_a_low_row():
    z = np.array([[0.0, 1000.0], [-1000.0, -999.0]])
    with np.errstate(all="ignore"):
        theirs = faulty.article_softmax(z)
    assert np.isnan(theirs[1]).all()  # exp(-2000) and exp(-1999) are 0 -> 0/0
    np.testing.assert_allclose(net2.softmax(z)[1], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-14)
    # Where nothing underflows the global shift is harmless (softmax ignores constant shifts):
    moderate = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(faulty.article_softmax(moderate), net2.softmax(moderate), rtol=1e-14)


def test_e7_article_softmax_rejects_a_single_sample():
    with pytest.raises(np.exceptions.AxisError):
        faulty.article_softmax(np.array([1.0, 2.0, 3.0]))
    assert net2.softmax(np.array([1.0, 2.0, 3.0])).sum() == pytest.approx(1.0)


def test_e8_article_loss_takes_log_of_zero():
    z = np.array([[0.0, 800.0]])  # confident and right: the loss should be (almost) 0
    with np.errstate(all="ignore"):
        p = faulty.article_softmax(z)
        assert p.tolist() == [[0.0, 1.0]]
        right = faulty.article_cross_entropy_loss(p, np.array([[0.0, 1.0]]))
        wrong = faulty.article_cross_entropy_loss(p, np.array([[1.0, 0.0]]))
    assert np.isnan(right)  # 0 * log(0) = 0 * -inf = nan
    assert wrong == np.inf  # -log(0)
    assert net2.cross_entropy(z, np.array([1])) == 0.0  # exp(-800) is below float64 resolution
    assert net2.cross_entropy(z, np.array([0])) == 800.0


def test_e9_article_train_calls_a_dict():
    params, X, _, labels, _ = _problem((5, 3, 4, 2))
    w1, b1, w2, b2 = _article_layout(params)
    model = {"weights": {"w1": w1, "b1": b1, "w2": w2, "b2": b2}}
    with pytest.raises(TypeError, match="'dict' object is not callable"):
        faulty.article_train(model, X, net2.one_hot(labels, 2), epochs=1, learning_rate=0.1)


class _CallableModel(dict):
    """A dict that can also be called - what the article's ``train`` would need - so the
    errors after the first one can be reached."""

    def __call__(self, x):
        w = self["weights"]
        z1 = x @ w["w1"] + w["b1"]
        z2 = net1.sigmoid(z1) @ w["w2"] + w["b2"]
        self["outputs"] = {"z1": z1, "z2": z2}
        return net2.softmax(z2)


def test_e10_article_train_reads_a_weight_key_that_does_not_exist():
    params, X, _, labels, _ = _problem((5, 3, 3, 3))  # I = H: dW2 = x.T @ dZ has w2's shape
    w1, b1, w2, b2 = _article_layout(params)
    model = _CallableModel(weights={"w1": w1, "b1": b1, "w2": w2, "b2": b2})
    with pytest.raises(KeyError, match="'h2'"):
        faulty.article_train(model, X, net2.one_hot(labels, 3), epochs=1, learning_rate=0.1)


def test_e11_article_train_calls_an_undefined_derivative_function():
    params, X, _, labels, _ = _problem((5, 3, 3, 3))
    w1, b1, w2, b2 = _article_layout(params)
    model = _CallableModel(weights={"w1": w1, "b1": b1, "w2": w2, "b2": b2, "h2": w2})
    with pytest.raises(NameError, match="'sigmoid_derivative' is not defined"):
        faulty.article_train(model, X, net2.one_hot(labels, 3), epochs=1, learning_rate=0.1)


def test_e12_output_weight_gradient_from_the_input_has_the_wrong_shape():
    # H = O (so the sigmoid-derivative line runs) but I != H: dW2 = x.T @ dZ is (I, O), while
    # w2 is (H, O); the article's in-place update then cannot broadcast.
    params, X, _, labels, _ = _problem((5, 2, 4, 4))
    weights = dict(zip(["w1", "b1", "w2", "b2"], _article_layout(params), strict=True))
    _, _, dW2, _ = faulty.article_multiclass_grads(X, net2.one_hot(labels, 4), weights)
    assert dW2.shape == (2, 4) != weights["w2"].shape == (4, 4)
    with pytest.raises(ValueError, match="broadcast"):
        weights["w2"] -= 0.1 * dW2


def test_e13_derivative_of_the_wrong_layer_is_a_shape_error_when_sizes_differ():
    params, X, _, labels, _ = _problem((5, 3, 4, 2))
    weights = dict(zip(["w1", "b1", "w2", "b2"], _article_layout(params), strict=True))
    with pytest.raises(ValueError, match="broadcast") as excinfo:
        faulty.article_multiclass_grads(X, net2.one_hot(labels, 2), weights)
    assert "article_sigmoid(z2)" in _faulty_statement(excinfo)


def test_e12_e13_multiclass_gradients_are_wrong_where_sizes_match():
    # I = H = O = 3: everything runs; only db2 (from dZ = P - Y alone) is right.
    params, X, _, labels, _ = _problem((6, 3, 3, 3), seed=5)
    weights = dict(zip(["w1", "b1", "w2", "b2"], _article_layout(params), strict=True))
    dW1, db1, dW2, db2 = faulty.article_multiclass_grads(X, net2.one_hot(labels, 3), weights)
    numeric = numerical_grad(lambda: net2.loss(params, X, labels, "sum"), params)
    assert np.max(np.abs(db2 - numeric["b2"])) < TOL
    assert np.max(np.abs(dW2.T - numeric["W2"])) > 1e-2
    assert np.max(np.abs(dW1.T - numeric["W1"])) > 1e-3
    assert np.max(np.abs(db1 - numeric["b1"])) > 1e-3


def test_e14_label_vector_broadcasts_silently_in_the_output_delta():
    # The article never checks y's shape: labels as (N,) against a2 (N, 1) give an (N, N) delta.
    a2, y = np.full((4, 1), 0.5), np.array([0.0, 1.0, 1.0, 0.0])
    assert (a2 - y).shape == (4, 4)  # the article's delta_output, silently wrong
    params = net1.init_params(2, 3, 1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"a label vector of shape \(N,\) would broadcast"):
        net1.backward(params, np.zeros((4, 2)), y, net1.forward(params, np.zeros((4, 2)))[1])


# Hand-derived vs autograd.


def _core():
    """microgradnp's core, or a skip while it is not importable."""
    mg = pytest.importorskip("microgradnp")
    if not hasattr(mg, "tensor"):
        pytest.skip("microgradnp core (mg.tensor) not available")
    return mg


def _nn():
    mg = _core()
    try:
        nn = importlib.import_module("microgradnp.nn")
    except ImportError:
        pytest.skip("microgradnp.nn not available")
    if not all(hasattr(nn, name) for name in ("Sequential", "Linear", "Sigmoid")):
        pytest.skip("microgradnp.nn lacks Sequential/Linear/Sigmoid")
    return mg, nn


def _grads_of(tensors: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(t.grad.data) for k, t in tensors.items()}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["bce", "mse"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sigmoid_net_autograd_from_raw_ops_equals_hand(shape, kind, reduction):
    mg = _core()
    from microgradnp.reference import graph_nets

    params, X, Y, _, _ = _problem(shape)
    tensors = graph_nets.to_tensors(params)
    value = graph_nets.sigmoid_net_loss(tensors, mg.tensor(X), mg.tensor(Y), kind, reduction)
    value.backward()
    assert value.dtype == np.float64
    assert value.item() == pytest.approx(net1.loss(params, X, Y, kind, reduction), rel=1e-12)
    hand = net1.backward(params, X, Y, net1.forward(params, X)[1], kind, reduction)
    assert max_abs_diff(hand, _grads_of(tensors)) < TOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("targets", ["indices", "probabilities"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_net_autograd_from_raw_ops_equals_hand(shape, targets, reduction):
    mg = _core()
    from microgradnp.reference import graph_nets

    params, X, _, labels, probs = _problem(shape)
    target = labels if targets == "indices" else probs
    T = net2.one_hot(labels, shape[3]) if targets == "indices" else probs
    tensors = graph_nets.to_tensors(params)
    value = graph_nets.softmax_net_loss(tensors, mg.tensor(X), mg.tensor(T), reduction)
    value.backward()
    assert value.item() == pytest.approx(net2.loss(params, X, target, reduction), rel=1e-12)
    hand = net2.backward(params, X, target, net2.forward(params, X)[1], reduction)
    assert max_abs_diff(hand, _grads_of(tensors)) < TOL
    P = mg.softmax(graph_nets.softmax_net_logits(tensors, mg.tensor(X)), dim=1)
    np.testing.assert_allclose(P.data, net2.forward(params, X)[0], rtol=1e-13)


def _sequential_grads(model, names) -> dict[str, np.ndarray]:
    by_name = dict(model.named_parameters())
    return {k: np.asarray(by_name[names[k]].grad.data) for k in names}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["bce", "mse"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sigmoid_net_autograd_with_sequential_equals_hand(shape, kind, reduction):
    mg, nn = _nn()
    from microgradnp.reference import graph_nets

    params, X, Y, _, _ = _problem(shape)
    model = graph_nets.sigmoid_net_sequential(params)
    criterion = (
        nn.BCELoss(reduction=reduction) if kind == "bce" else nn.MSELoss(reduction=reduction)
    )
    value = criterion(model(mg.tensor(X)), mg.tensor(Y))
    value.backward()
    assert value.item() == pytest.approx(net1.loss(params, X, Y, kind, reduction), rel=1e-12)
    hand = net1.backward(params, X, Y, net1.forward(params, X)[1], kind, reduction)
    assert max_abs_diff(hand, _sequential_grads(model, graph_nets.SEQUENTIAL_NAMES)) < TOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("targets", ["indices", "probabilities"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_net_autograd_with_sequential_equals_hand(shape, targets, reduction):
    mg, nn = _nn()
    from microgradnp.reference import graph_nets

    params, X, _, labels, probs = _problem(shape)
    target = labels if targets == "indices" else probs
    model = graph_nets.softmax_net_sequential(params)
    value = nn.CrossEntropyLoss(reduction=reduction)(model(mg.tensor(X)), mg.tensor(target))
    value.backward()
    assert value.item() == pytest.approx(net2.loss(params, X, target, reduction), rel=1e-12)
    hand = net2.backward(params, X, target, net2.forward(params, X)[1], reduction)
    assert max_abs_diff(hand, _sequential_grads(model, graph_nets.SEQUENTIAL_NAMES)) < TOL
