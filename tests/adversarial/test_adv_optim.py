"""Optimizers in float16 and optimizer checkpoints of the wrong shape, against PyTorch."""

import numpy as np
import pytest

import microgradnp as mg

OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD-weight-decay": ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    "SGD-nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "Adam": ("Adam", {"lr": 0.1}),
    "Adam-amsgrad": ("Adam", {"lr": 0.1, "amsgrad": True}),
    "AdamW": ("AdamW", {"lr": 0.1}),
    "RMSprop": ("RMSprop", {"lr": 0.01}),
    "RMSprop-centered": ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    "Adagrad": ("Adagrad", {"lr": 0.1}),
}
# Gradients for which PyTorch's float16 state stays in range (|g| < 256, g^2 / 1000 above
# float16's smallest subnormal): there both libraries agree up to float16 rounding.
GRADS = [[30.0, -100.0, 0.5, 0.05], [50.0, 0.25, -3.0, 2.0], [-7.0, 25.0, 0.5, 0.125]]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float16_optimizers_follow_torch(torch, name):
    cls, options = OPTIMIZERS[name]
    start = np.array([1.0, -2.0, 3.0, 0.5], np.float16)
    ours = mg.tensor(start, requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    opt = getattr(mg.optim, cls)([ours], **options)
    topt = getattr(torch.optim, cls)([theirs], **options)
    for g in GRADS:
        ours.grad = mg.tensor(np.array(g, np.float16))
        theirs.grad = torch.tensor(np.array(g, np.float16))
        opt.step()
        topt.step()
        assert ours.dtype == np.float16
        got, want = ours.data.astype(np.float64), theirs.detach().numpy().astype(np.float64)
        # PyTorch rounds its float16 state after each op, we round the parameter once
        np.testing.assert_allclose(got, want, rtol=3e-3, atol=2e-3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float16_optimizers_stay_finite_with_huge_and_tiny_gradients(name):
    # the float16 run follows the float64 run of the same optimizer, rounded to float16
    cls, options = OPTIMIZERS[name]
    start = np.array([1.0, -2.0, 3.0, 0.5], np.float16)
    half = mg.tensor(start, requires_grad=True)
    full = mg.tensor(start.astype(np.float64), requires_grad=True)
    opts = [getattr(mg.optim, cls)([p], **options) for p in (half, full)]
    for g in ([300.0, -1000.0, 60000.0, 1e-3], [500.0, 1e-3, -3.0, 2.0]):
        g = np.array(g, np.float16)
        half.grad, full.grad = mg.tensor(g), mg.tensor(g.astype(np.float64))
        for opt in opts:
            opt.step()
    assert half.dtype == np.float16 and np.isfinite(half.data[:2]).all()
    expected = full.data.astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(half.data.astype(np.float64), expected, rtol=2e-3)


def test_float16_adam_moves_parameters_with_large_gradients():
    w = mg.tensor(np.full(3, 1.0, np.float16), requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.01)
    for _ in range(3):
        w.grad = mg.tensor(np.array([300.0, -400.0, 1000.0], np.float16))
        opt.step()
    assert np.isfinite(w.data).all()
    np.testing.assert_allclose(w.data.astype(float), [0.97, 1.03, 0.97], atol=2e-3)


def _trained(cls, options):
    w = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    b = mg.tensor(np.array([0.5, -0.5]), requires_grad=True)
    opt = getattr(mg.optim, cls)([w, b], **options)
    w.grad, b.grad = mg.tensor(np.ones((2, 2))), mg.tensor(np.array([0.1, -0.2]))
    opt.step()
    return opt


def _corruptions(sd):
    """(description, corrupted copy of the state dict) pairs."""
    import copy

    out = []
    entry = sd["state"].get(0, {})
    arrays = [k for k, v in entry.items() if isinstance(v, np.ndarray)]
    if arrays:
        bad = copy.deepcopy(sd)
        bad["state"][0][arrays[0]] = np.zeros(3)
        out.append(("wrong shape", bad))
        bad = copy.deepcopy(sd)
        bad["state"][1][arrays[0]] = np.zeros((2, 2))
        out.append(("shape of another parameter", bad))
        bad = copy.deepcopy(sd)
        bad["state"][0][arrays[0]] = np.array(["a"] * 4).reshape(2, 2)
        out.append(("string array", bad))
    bad = copy.deepcopy(sd)
    bad["state"][5] = copy.deepcopy(entry)
    out.append(("index 5", bad))
    bad = copy.deepcopy(sd)
    bad["state"]["x"] = {}
    out.append(("index 'x'", bad))
    bad = copy.deepcopy(sd)
    bad["state"][0] = [1, 2]
    out.append(("state not a dict", bad))
    if "step" in entry:
        bad = copy.deepcopy(sd)
        bad["state"][0]["step"] = "three"
        out.append(("step a string", bad))
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["lr"] = -1.0
    out.append(("negative lr", bad))
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["params"] = [0]
    out.append(("group too short", bad))
    out.append(("no state", {"param_groups": sd["param_groups"]}))
    out.append(("not a dict", [sd]))
    return out


CHECKPOINT_CASES = [
    (name, i)
    for name in OPTIMIZERS
    for i in range(len(_corruptions(_trained(*OPTIMIZERS[name]).state_dict())))
]


@pytest.mark.parametrize(("name", "case"), CHECKPOINT_CASES)
def test_optimizer_load_state_dict_refuses_bad_state_and_changes_nothing(name, case):
    opt = _trained(*OPTIMIZERS[name])
    before = opt.state_dict()
    what, bad = _corruptions(before)[case]
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(bad)
    assert "state" in str(info.value) or "lr" in str(info.value) or "learning" in str(info.value)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"], what
    for i, entries in before["state"].items():
        for k, v in entries.items():
            np.testing.assert_array_equal(after["state"][i][k], v)


@pytest.mark.parametrize("name", ["Adam", "SGD-nesterov", "RMSprop-centered", "Adagrad"])
def test_state_from_torch_loads_and_continues_like_torch(torch, name):
    cls, options = OPTIMIZERS[name]
    start = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    theirs = torch.tensor(start, requires_grad=True)
    topt = getattr(torch.optim, cls)([theirs], **options)
    theirs.grad = torch.ones(2, 2)
    topt.step()
    sd = topt.state_dict()
    converted = {
        "state": {
            i: {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in s.items()}
            for i, s in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }
    ours = mg.tensor(theirs.detach().numpy(), requires_grad=True)
    opt = getattr(mg.optim, cls)([ours], **options)
    opt.load_state_dict(converted)
    g = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    ours.grad, theirs.grad = mg.tensor(g), torch.tensor(g)
    opt.step()
    topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6)


def test_float16_state_survives_a_state_dict_round_trip():
    w = mg.tensor(np.array([1.0, -2.0], np.float16), requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.01)
    w.grad = mg.tensor(np.array([3e-3, 1000.0], np.float16))
    opt.step()
    saved = opt.state_dict()
    assert saved["state"][0]["exp_avg_sq"].dtype == np.float32
    fresh = mg.optim.Adam([w], lr=0.01)
    fresh.load_state_dict(saved)
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(fresh.state[w][key], opt.state[w][key])
