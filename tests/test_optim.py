"""Optimizers: trajectories against torch.optim, checkpoints, param groups, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import optim
from microgradnp.optim.adagrad import adagrad_update
from microgradnp.optim.adam import adam_update
from microgradnp.optim.sgd import sgd_update

STEPS = 100
SHAPES = [(3, 4), (5,)]

# (optimizer name, keyword arguments): every option of every optimizer, alone and combined.
CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, maximize=True)),
    ("SGD", dict(lr=0.02, momentum=0.5, dampening=0.1, weight_decay=0.2, maximize=True)),
    ("SGD", dict(lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.3, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    (
        "AdamW",
        dict(lr=0.02, betas=(0.3, 0.95), eps=1e-4, weight_decay=0.2, amsgrad=True, maximize=True),
    ),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.5, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    (
        "RMSprop",
        dict(lr=0.003, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.2, maximize=True),
    ),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    (
        "Adagrad",
        dict(
            lr=0.2,
            lr_decay=0.05,
            weight_decay=0.3,
            initial_accumulator_value=0.1,
            eps=1e-6,
            maximize=True,
        ),
    ),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def initial_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=shape) for shape in SHAPES]


def gradients(arrays: list[np.ndarray], step: int) -> list[np.ndarray | None]:
    """Deterministic gradients of a non-convex loss, from the current parameters.

    g = (x - 1) + 0.5 sin(2x) + 0.1 roll(x) (a mild coupling between coordinates); the second
    parameter gets no gradient on every third step, so optimizers must skip it.
    """
    out: list[np.ndarray | None] = []
    for i, x in enumerate(arrays):
        if i == 1 and step % 3 == 2:
            out.append(None)
        else:
            out.append((x - 1.0) + 0.5 * np.sin(2.0 * x) + 0.1 * np.roll(x, 1))
    return out


def run_ours(name: str, kwargs: dict, steps: int, params=None, opt=None, start: int = 0):
    """`steps` steps of our optimizer; returns the parameter history and the optimizer."""
    if params is None:
        params = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    if opt is None:
        opt = getattr(optim, name)(params, **kwargs)
    history = []
    for step in range(start, start + steps):
        for p, g in zip(params, gradients([p.data for p in params], step), strict=True):
            p.grad = None if g is None else mg.tensor(g)
        opt.step()
        history.append([p.data.copy() for p in params])
    return history, params, opt


def run_torch(name: str, kwargs: dict, steps: int):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
    history = []
    for step in range(steps):
        arrays = [p.detach().numpy() for p in params]
        for p, g in zip(params, gradients(arrays, step), strict=True):
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def max_difference(ours, theirs) -> float:
    return max(
        float(np.max(np.abs(a - b)))
        for sa, sb in zip(ours, theirs, strict=True)
        for a, b in zip(sa, sb, strict=True)
    )


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, kwargs):
    theirs = run_torch(name, kwargs, STEPS)
    ours, _, _ = run_ours(name, kwargs, STEPS)
    moved = max_difference(ours[:1], ours[-1:])
    assert moved > 0.1  # the run really went somewhere
    assert max_difference(ours, theirs) < 1e-8


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_stop_and_resume_is_bit_identical(name, kwargs):
    straight, _, _ = run_ours(name, kwargs, STEPS)
    first, params, opt = run_ours(name, kwargs, 40)
    saved = json_roundtrip(opt.state_dict())  # as a checkpoint file would store it
    saved_params = [p.data.copy() for p in params]
    for p in params:  # keep training the old copy: the checkpoint must not change
        p.data += 1.0
    opt.step()
    fresh = [mg.tensor(a, requires_grad=True) for a in saved_params]
    new_opt = getattr(optim, name)(fresh, **kwargs)
    new_opt.load_state_dict(saved)
    second, _, _ = run_ours(name, kwargs, STEPS - 40, params=fresh, opt=new_opt, start=40)
    for a_steps, b_steps in zip(straight, first + second, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(a_steps, b_steps, strict=True))


def json_roundtrip(obj):
    """Send a state dict through JSON (arrays kept aside), checking every value's type."""
    arrays: list[np.ndarray] = []

    def encode(value):
        if isinstance(value, np.ndarray):
            arrays.append(value.copy())
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {key: encode(v) for key, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        assert value is None or isinstance(value, (bool, int, float, str)), type(value)
        return value

    def decode(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return arrays[value["__array__"]]
            return {key: decode(v) for key, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(json.loads(json.dumps(encode(obj))))


def test_real_autograd_training_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, y, w0 = rng.normal(size=(8, 3)), rng.normal(size=(8, 2)), rng.normal(size=(3, 2))
    w = mg.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    ours, theirs = (
        optim.Adam([w], lr=0.05, amsgrad=True),
        torch.optim.Adam([tw], lr=0.05, amsgrad=True),
    )
    for _ in range(50):
        ours.zero_grad()
        (((mg.tensor(x) @ w) - mg.tensor(y)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        (((torch.tensor(x) @ tw) - torch.tensor(y)) ** 2).mean().backward()
        theirs.step()
    assert np.abs(w.data - tw.detach().numpy()).max() < 1e-10
    assert np.abs(w.data - w0).max() > 0.5


def test_param_groups_with_different_options_match_torch():
    torch = pytest.importorskip("torch")
    a0, b0 = initial_arrays()
    a, b = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    ours = optim.SGD(
        [{"params": [a]}, {"params": b, "lr": 0.2, "nesterov": True}], lr=0.01, momentum=0.9
    )
    theirs = torch.optim.SGD(
        [{"params": [ta]}, {"params": tb, "lr": 0.2, "nesterov": True}], lr=0.01, momentum=0.9
    )
    assert [g["lr"] for g in ours.param_groups] == [0.01, 0.2]
    assert ours.param_groups[1]["momentum"] == 0.9
    for step in range(30):
        grads = gradients([a.data, b.data], step)
        for p, t, g in zip((a, b), (ta, tb), grads, strict=True):
            p.grad = None if g is None else mg.tensor(g)
            t.grad = None if g is None else torch.tensor(g)
        ours.step()
        theirs.step()
        if step == 0:  # first step: b = g, θ -= lr b, or lr (g + μ b) with Nesterov
            np.testing.assert_allclose(a0 - a.data, 0.01 * grads[0], rtol=1e-12)
            np.testing.assert_allclose(b0 - b.data, 0.2 * 1.9 * grads[1], rtol=1e-12)
    assert np.abs(a.data - ta.detach().numpy()).max() < 1e-12
    assert np.abs(b.data - tb.detach().numpy()).max() < 1e-12


def test_updates_are_in_place_and_keep_float32():
    for name, kwargs in CONFIGS:
        p = mg.tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)
        array = p.data
        opt = getattr(optim, name)([p], **kwargs)
        for _ in range(3):
            p.grad = mg.tensor(np.full(6, 0.5, dtype=np.float32))
            opt.step()
        assert p.data is array and p.data.dtype == np.float32, name
        assert all(
            v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray)
        ), name
        assert not np.array_equal(array, np.linspace(-1, 1, 6, dtype=np.float32)), name


def test_step_leaves_gradients_untouched_and_skips_missing_ones():
    a, b = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0], requires_grad=True)
    a.grad = mg.tensor([0.5, -0.5])
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.1, maximize=True)
    opt.step()
    assert a.grad.tolist() == [0.5, -0.5]
    assert b.tolist() == [3.0] and b not in opt.state
    assert opt.state[a]["step"] == 1


def test_frozen_parameters_are_accepted_and_left_alone():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    frozen = mg.tensor([5.0])  # requires_grad=False: no gradient ever arrives
    opt = optim.SGD([w, frozen], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert frozen.tolist() == [5.0]
    assert np.allclose(w.data, [0.8, 1.6])


def test_step_bumps_the_version_so_a_stale_graph_refuses_backward():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.grad = mg.tensor([1.0, 1.0])
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        loss.backward()


def test_closure_runs_with_grad_enabled_and_its_loss_is_returned():
    w = mg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert w.item() == 1.5  # 3 - 0.25 * 6


def test_zero_grad_to_none_and_to_zeros():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and w.grad.grad_fn is None
    assert not w.grad.requires_grad and w.grad.dtype == w.dtype
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad(set_to_none=False)  # nothing to zero: stays None
    assert w.grad is None


def test_state_dict_layout_and_copies():
    a, b = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    a.grad, b.grad = mg.tensor([1.0, 1.0]), mg.tensor([2.0])
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert sd["state"][1]["momentum_buffer"].tolist() == [2.0]
    opt.step()  # the saved buffers are copies
    assert sd["state"][0]["momentum_buffer"].tolist() == [1.0, 1.0]
    opt.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][0] = 99.0  # and so are the loaded ones
    assert opt.state[a]["momentum_buffer"].tolist() == [1.0, 1.0]


def test_load_state_dict_rejects_mismatched_groups():
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    sd = optim.Adam([a, b]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([a]).load_state_dict(sd)


def test_state_dict_matches_torch_layout():
    torch = pytest.importorskip("torch")
    w = mg.tensor(np.ones(3), requires_grad=True)
    tw = torch.ones(3, dtype=torch.float64, requires_grad=True)
    ours, theirs = (
        optim.RMSprop([w], momentum=0.9, centered=True),
        torch.optim.RMSprop([tw], momentum=0.9, centered=True),
    )
    w.grad, tw.grad = mg.tensor(np.arange(3.0)), torch.arange(3.0, dtype=torch.float64)
    ours.step()
    theirs.step()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert set(ours_sd["state"][0]) == set(theirs_sd["state"][0])
    for key, value in theirs_sd["state"][0].items():
        np.testing.assert_allclose(np.asarray(ours_sd["state"][0][key]), value.numpy(), rtol=1e-14)
    assert set(ours_sd["param_groups"][0]) <= set(theirs_sd["param_groups"][0])


def test_add_param_group_and_named_parameters():
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    opt = optim.Adam([("weight", a)], lr=0.1, betas=(0.8, 0.9))
    opt.add_param_group({"params": [("bias", b)], "lr": 0.5})
    assert opt.param_groups[0]["param_names"] == ["weight"]
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ("set", TypeError, "ordered collections"),
        ("group_set", TypeError, "ordered collections"),
        ("duplicate", ValueError, "duplicate parameters"),
        ("overlap", ValueError, "more than one parameter group"),
        ("non_leaf", ValueError, "can't optimize a non-leaf Tensor"),
        ("not_tensor", TypeError, "can only optimize Tensors, but one of the params is float"),
        ("empty", ValueError, "optimizer got an empty parameter list"),
        ("tensor", TypeError, "should be an iterable of Tensors or dicts"),
    ],
)
def test_bad_params_are_refused_like_torch(params, error, message):
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([2.0], requires_grad=True)
    given = {
        "set": {a, b},
        "group_set": [{"params": {a}}],
        "duplicate": [a, b, a],
        "overlap": [{"params": [a]}, {"params": [b, a]}],
        "non_leaf": [a * 2.0],
        "not_tensor": [a, 1.0],
        "empty": [],
        "tensor": a,
    }[params]
    with pytest.raises(error, match=message):
        optim.SGD(given, lr=0.1)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
        ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
        ("SGD", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
        ("Adam", dict(lr=-1e-3), "Invalid learning rate: -0.001"),
        ("Adam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
        ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
        ("AdamW", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
        ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
        ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
        ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
        (
            "Adagrad",
            dict(initial_accumulator_value=-1),
            "Invalid initial_accumulator_value value: -1",
        ),
        ("Adagrad", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ],
)
def test_hyper_parameter_errors_match_torch(name, kwargs, message):
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(optim, name)([w], **kwargs)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kwargs)


def test_group_options_are_validated_too():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):
        optim.SGD([{"params": [w], "lr": -0.5}], lr=0.1)


def test_kernels_against_hand_computed_steps():
    # SGD, μ = 0.5, τ = 0.5: b1 = g1 = 2, θ1 = 1 - 0.1·2 = 0.8; b2 = 0.5·2 + 0.5·4 = 3,
    # θ2 = 0.8 - 0.1·3 = 0.5.
    p = np.array([1.0])
    buf = sgd_update(p, np.array([2.0]), None, lr=0.1, momentum=0.5, dampening=0.5)
    sgd_update(p, np.array([4.0]), buf, lr=0.1, momentum=0.5, dampening=0.5)
    assert np.isclose(p[0], 0.5, rtol=0, atol=1e-15) and buf[0] == 3.0
    # Adam, β = (0.5, 0.5), two steps with g = 1 then g = 3:
    # m = 0.5, 1.75; v = 0.5, 4.75; m̂ = 1, 7/3; v̂ = 1, 19/3.
    p, m, v = np.zeros(1), np.zeros(1), np.zeros(1)
    for t, g in enumerate([1.0, 3.0], start=1):
        adam_update(p, np.array([g]), m, v, None, t, lr=1.0, beta1=0.5, beta2=0.5, eps=0.0)
    assert np.isclose(p[0], -1.0 - (7 / 3) / np.sqrt(19 / 3), rtol=1e-14)
    # Adagrad with lr_decay: η2 = 1 / (1 + 1) and S = 9 + 16.
    p, s = np.zeros(1), np.zeros(1)
    adagrad_update(p, np.array([3.0]), s, 1, lr=1.0, lr_decay=1.0, eps=0.0)
    adagrad_update(p, np.array([4.0]), s, 2, lr=1.0, lr_decay=1.0, eps=0.0)
    assert np.isclose(p[0], -1.0 - 0.5 * 4 / 5, rtol=1e-14)
