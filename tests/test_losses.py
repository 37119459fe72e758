"""Losses: values and gradients vs PyTorch (every reduction and option), gradcheck in float64,
extreme logits without warnings, and clear errors for bad targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn as nn
from microgradnp.nn import functional as F

REDUCTIONS = ("mean", "sum", "none")
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _run_both(torch, mg_fn, torch_fn, diff_arrays, consts=(), seed=0):
    """Run mg_fn(*diff, *consts) and torch_fn(...) on the same values; backward a random
    cotangent through both. Returns (mg value, torch value, mg grads, torch grads)."""
    ms = [mg.tensor(a, requires_grad=True) for a in diff_arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in diff_arrays]
    mc = [mg.tensor(c) if isinstance(c, np.ndarray) else c for c in consts]
    tc = [torch.tensor(c) if isinstance(c, np.ndarray) else c for c in consts]
    out_m = mg_fn(*ms, *mc)
    out_t = torch_fn(*ts, *tc)
    u = np.random.default_rng(seed).standard_normal(out_m.shape).astype(out_m.dtype)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    return (
        out_m.data,
        out_t.detach().numpy(),
        [t.grad.data for t in ms],
        [t.grad.numpy() for t in ts],
    )


def _assert_same(torch, mg_fn, torch_fn, diff_arrays, consts=(), dtype=np.float64):
    vm, vt, gm, gt = _run_both(torch, mg_fn, torch_fn, diff_arrays, consts)
    assert vm.dtype == dtype and vm.shape == vt.shape
    np.testing.assert_allclose(vm, vt, **TOL[dtype])
    for a, b in zip(gm, gt, strict=True):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


def _logits(rng, shape, dtype=np.float64, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ---- cross_entropy ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_fast_path_matches_torch(torch, rng, dtype, reduction):
    x = _logits(rng, (6, 5), dtype)
    t = rng.integers(0, 5, 6)
    _assert_same(
        torch,
        lambda a, b: F.cross_entropy(a, b, reduction=reduction),
        lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction),
        [x],
        [t],
        dtype,
    )


def test_cross_entropy_fast_path_uses_fused_op(rng):
    x = mg.tensor(_logits(rng, (4, 3)), requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([0, 1, 2, 1]))
    assert loss.grad_fn.prim.name == "softmax_cross_entropy"
    loss = F.cross_entropy(x, mg.tensor([0, 1, 2, 1]), label_smoothing=0.1)
    assert loss.grad_fn.prim.name != "softmax_cross_entropy"


OPTIONS = [
    dict(weight=True),
    dict(ignore_index=1),
    dict(ignore_index=-100, ignored=True),
    dict(label_smoothing=0.2),
    dict(weight=True, ignore_index=2, label_smoothing=0.3),
    dict(weight=True, label_smoothing=0.1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3), (4,)])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_cross_entropy_index_targets_options(torch, rng, dtype, reduction, shape, opts):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x = _logits(rng, shape, dtype)
    t = rng.integers(0, c, tshape)
    ignore_index = opts.get("ignore_index", -100)
    if opts.get("ignored") or "ignore_index" in opts:
        t = np.where(rng.random(tshape) < 0.3, ignore_index, t)
        t.reshape(-1)[:1] = 0 if ignore_index != 0 else 1  # at least one kept target
    kw = dict(
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=opts.get("label_smoothing", 0.0),
    )
    w = rng.uniform(0.5, 2.0, c).astype(dtype) if opts.get("weight") else None
    consts = [t] if w is None else [t, w]

    def ours(a, b, weight=None):
        return F.cross_entropy(a, b, weight, **kw)

    def theirs(a, b, weight=None):
        return torch.nn.functional.cross_entropy(a, b, weight, **kw)

    _assert_same(torch, ours, theirs, [x], consts, dtype)
    mod_kw = dict(kw)
    module = nn.CrossEntropyLoss(weight=w, **mod_kw)
    direct = ours(mg.tensor(x), mg.tensor(t), None if w is None else mg.tensor(w))
    np.testing.assert_array_equal(module(mg.tensor(x), mg.tensor(t)).data, direct.data)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 2, 2), (4,)])
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets(torch, rng, reduction, shape, weight, smoothing):
    c = shape[0] if len(shape) == 1 else shape[1]
    axis = 0 if len(shape) == 1 else 1
    x = _logits(rng, shape)
    p = rng.random(shape)
    p /= p.sum(axis=axis, keepdims=True)
    w = rng.uniform(0.5, 2.0, c) if weight else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    # the target is differentiable too (PyTorch supports gradients w.r.t. probabilities)
    _assert_same(
        torch,
        lambda a, b, *ww: F.cross_entropy(a, b, *ww, **kw),
        lambda a, b, *ww: torch.nn.functional.cross_entropy(a, b, *ww, **kw),
        [x, p],
        [] if w is None else [w],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"ignore_index": 0}])
def test_cross_entropy_extreme_logits_finite_without_warnings(torch, reduction, kw):
    x = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4], [0.0, 1e4, -1e4]], dtype=np.float32
    )
    t = np.array([0, 0, 1, 2])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        vm, vt, (gm,), (gt,) = _run_both(
            torch,
            lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kw),
            lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction, **kw),
            [x],
            [t],
        )
    assert np.isfinite(vm).all() and np.isfinite(gm).all()
    np.testing.assert_allclose(vm, vt, rtol=1e-6, atol=1e-3)  # losses are ~1e4 here
    np.testing.assert_allclose(gm, gt, rtol=1e-6, atol=1e-6)


def test_cross_entropy_known_values():
    # -log softmax([0, ln 3])[1] = -log(3/4)
    x = mg.tensor([[0.0, np.log(3.0)]], dtype=mg.float64, requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([1]))
    assert loss.item() == pytest.approx(-np.log(0.75), rel=1e-14)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [[0.25, -0.25]], rtol=1e-14)


def test_cross_entropy_all_ignored_mean_is_nan_like_torch(torch):
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = F.cross_entropy(mg.tensor(x), mg.tensor(t)).item()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    assert np.isnan(ours) and np.isnan(theirs)


@pytest.mark.parametrize("case", ["fast", "weight", "smooth_ignore", "spatial", "probs"])
def test_cross_entropy_gradcheck(rng, case):
    x = mg.tensor(_logits(rng, (2, 3, 2) if case == "spatial" else (4, 3)), requires_grad=True)
    if case == "probs":
        p = rng.random((4, 3))
        p = mg.tensor(p / p.sum(1, keepdims=True), requires_grad=True)
        assert mg.gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), (x, p))
        return
    t = mg.tensor(rng.integers(0, 3, (2, 2) if case == "spatial" else (4,)))
    kw = {
        "fast": {},
        "weight": {"weight": mg.tensor([0.5, 1.0, 2.0], dtype=mg.float64)},
        "smooth_ignore": {"label_smoothing": 0.2, "ignore_index": int(t.data.reshape(-1)[0])},
        "spatial": {"reduction": "sum"},
    }[case]
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, **kw), (x,))
    if case == "fast":
        assert mg.gradgradcheck(lambda a: F.cross_entropy(a, t), (x,))


def test_cross_entropy_errors_name_the_problem():
    x = mg.zeros(3, 4)
    with pytest.raises(ValueError, match=r"target 4 is out of bounds.*\[0, 4\)"):
        F.cross_entropy(x, mg.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="target -1 is out of bounds"):
        F.cross_entropy(x, mg.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"\(3, 4\) needs a target of shape \(3,\), got \(2,\)"):
        F.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(TypeError, match="dtype float32 and shape"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(
        TypeError,
        match=r"probabilities of the input's shape \(3, 4\)\); got "
        r"dtype float32 and shape \(3, 3\)",
    ):
        F.cross_entropy(x, mg.zeros(3, 3))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), weight=mg.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


# ---- nll_loss ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (3,)])
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_nll_loss_matches_torch(torch, rng, reduction, shape, weight, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    logp = np.log(rng.dirichlet(np.ones(c), size=int(np.prod(tshape))))  # rows of log-probs
    logp = np.moveaxis(logp.reshape(tshape + (c,)), -1, 0 if len(shape) == 1 else 1)
    t = rng.integers(0, c, tshape)
    kw = {"reduction": reduction}
    if ignore:
        kw["ignore_index"] = int(t.reshape(-1)[-1])
        t.reshape(-1)[0] = (kw["ignore_index"] + 1) % c  # at least one kept target
    consts = [t, rng.uniform(0.5, 2.0, c)] if weight else [t]
    _assert_same(
        torch,
        lambda a, *r: F.nll_loss(a, *r, **kw),
        lambda a, *r: torch.nn.functional.nll_loss(a, *r, **kw),
        [logp],
        consts,
    )


def test_nll_loss_gradcheck_and_module(rng):
    logp = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = mg.tensor([0, 2, 1, 2])
    w = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64)
    assert mg.gradcheck(lambda a: F.nll_loss(a, t, w, ignore_index=1), (logp,))
    loss = nn.NLLLoss(weight=w)(logp, t)
    expected = -(logp.data[[0, 1, 2, 3], [0, 2, 1, 2]] * [1, 3, 2, 3]).sum() / 9
    assert loss.item() == pytest.approx(expected, rel=1e-14)


# ---- binary cross-entropies -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [False, True])
def test_binary_cross_entropy_matches_torch(torch, rng, dtype, reduction, weight):
    x = rng.uniform(0.02, 0.98, (4, 3)).astype(dtype)
    y = rng.random((4, 3)).astype(dtype)  # soft targets get gradients too
    w = [rng.uniform(0.5, 2.0, (3,)).astype(dtype)] if weight else []
    _assert_same(
        torch,
        lambda a, b, *ww: F.binary_cross_entropy(a, b, *ww, reduction=reduction),
        lambda a, b, *ww: torch.nn.functional.binary_cross_entropy(a, b, *ww, reduction=reduction),
        [x, y],
        w,
        dtype,
    )


def test_binary_cross_entropy_at_zero_and_one_is_finite_like_torch(torch):
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        vm, vt, (gx,), (gt,) = _run_both(
            torch,
            lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
            lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
            [x],
            [y],
        )
    np.testing.assert_allclose(vm, [0.0, 0.0, 100.0, 100.0, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(vm, vt, rtol=1e-6)
    assert np.isfinite(gx).all()
    np.testing.assert_allclose(gx, gt, rtol=1e-6)  # (x - y) / max(x (1 - x), 1e-12)


def test_binary_cross_entropy_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"target shape \(2, 1\) differs from input shape"):
        nn.BCELoss()(mg.tensor([0.5, 0.5]), mg.tensor([[1.0], [0.0]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits_matches_torch(torch, rng, dtype, reduction, weight, pos_weight):
    x = _logits(rng, (5, 3), dtype, scale=3.0)
    x[0, 0] = 0.0  # the kink of max(x, 0) and |x|: the gradient must still be sigma(0) - y
    y = rng.random((5, 3)).astype(dtype)
    consts = [rng.uniform(0.5, 2.0, 3).astype(dtype) if weight else None]
    consts.append(rng.uniform(0.5, 3.0, 3).astype(dtype) if pos_weight else None)

    def ours(a, b, w, pw):
        return F.binary_cross_entropy_with_logits(a, b, w, reduction, pw)

    def theirs(a, b, w, pw):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, w, reduction=reduction, pos_weight=pw
        )

    _assert_same(torch, ours, theirs, [x, y], consts, dtype)
    module = nn.BCEWithLogitsLoss(consts[0], reduction, consts[1])
    np.testing.assert_array_equal(
        module(mg.tensor(x), mg.tensor(y)).data, ours(mg.tensor(x), mg.tensor(y), *consts).data
    )


@pytest.mark.parametrize("pos_weight", [None, np.array([2.0, 0.5])])
def test_bce_with_logits_extreme_logits(torch, pos_weight):
    x = np.array([[1e4, -1e4], [-1e4, 1e4], [0.0, 1e4]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    pw = None if pos_weight is None else pos_weight.astype(np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        vm, vt, (gm,), (gt,) = _run_both(
            torch,
            lambda a, b, p: F.binary_cross_entropy_with_logits(a, b, None, "none", p),
            lambda a, b, p: torch.nn.functional.binary_cross_entropy_with_logits(
                a, b, reduction="none", pos_weight=p
            ),
            [x],
            [y, pw],
        )
    assert np.isfinite(vm).all() and np.isfinite(gm).all()
    np.testing.assert_allclose(vm, vt, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gm, gt, rtol=1e-6, atol=1e-6)
    assert vm[0, 0] == 0.0 and vm[1, 0] == pytest.approx(1e4 * (1 if pw is None else pw[0]))


def test_binary_losses_gradcheck_including_targets_and_pos_weight(rng):
    x = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    y = mg.tensor(rng.random((3, 2)), requires_grad=True)
    pw = mg.tensor([1.5, 0.5], dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(
        lambda a, b, p: F.binary_cross_entropy_with_logits(a, b, pos_weight=p), (x, y, pw)
    )
    assert mg.gradgradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b), (x, y))
    probs = mg.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    assert mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), (probs, y))
    assert mg.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), (probs, y))


def test_bce_accepts_integer_labels():
    loss = F.binary_cross_entropy_with_logits(mg.tensor([0.0, 0.0]), mg.tensor([1, 0]))
    assert loss.dtype == np.float32 and loss.item() == pytest.approx(np.log(2), rel=1e-6)


# ---- mse ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(torch, rng, dtype, reduction):
    a, b = rng.standard_normal((2, 4, 3)).astype(dtype)
    _assert_same(
        torch,
        lambda x, y: nn.MSELoss(reduction)(x, y),
        lambda x, y: torch.nn.functional.mse_loss(x, y, reduction=reduction),
        [a, b],
        (),
        dtype,
    )


def test_mse_gradcheck_and_errors(rng):
    a = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert mg.gradcheck(lambda x, y: F.mse_loss(x, y), (a, b))
    assert F.mse_loss(mg.tensor([1.0, 3.0]), [0.0, 0.0], reduction="sum").item() == 10.0
    with pytest.raises(
        ValueError,
        match=r"target shape \(3, 1\) differs from input shape "
        r"\(3,\)",
    ):
        F.mse_loss(mg.zeros(3), mg.zeros(3, 1))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="elementwise")


def test_loss_modules_repr_and_buffers():
    loss = nn.CrossEntropyLoss(weight=mg.tensor([1.0, 2.0]))
    assert repr(loss) == "CrossEntropyLoss()"
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=mg.ones(2)).state_dict()) == ["pos_weight"]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int32])
def test_cross_entropy_any_integer_label_dtype_equals_int64(dtype):
    # uint64 labels used to fail inside the fused path (int64 + uint64 promotes to float)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 2, 3])
    results = []
    for lab in (labels.astype(np.int64), labels.astype(dtype)):
        xt = mg.tensor(x, requires_grad=True)
        loss = mg.nn.functional.cross_entropy(xt, mg.from_numpy(lab))
        loss.backward()
        results.append((loss.item(), xt.grad.data))
    # (uint64 takes the general path, whose rounding differs from the fused one's)
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-15)
