"""Learning-rate schedules: lr (and momentum) sequences against torch, state_dict, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import optim
from microgradnp.optim import lr_scheduler

LRS = (0.1, 0.03)  # two param groups with different lrs


def make_optimizer(framework, name="SGD", **kwargs):
    """An optimizer over two single-weight groups, in microgradnp or in torch."""
    if framework == "torch":
        torch = pytest.importorskip("torch")
        params = [torch.zeros(1, requires_grad=True) for _ in LRS]
        cls = getattr(torch.optim, name)
    else:
        params = [mg.tensor([0.0], requires_grad=True) for _ in LRS]
        cls = getattr(optim, name)
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS, strict=True)]
    return cls(groups, **kwargs)


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def sequence(framework, scheduler, kwargs, steps, opt_name="SGD", opt_kwargs=None, metrics=None):
    """Per step: the lrs read from get_last_lr() and from the groups, and the momenta."""
    torch_like = pytest.importorskip("torch").optim if framework == "torch" else optim
    opt = make_optimizer(framework, opt_name, **(opt_kwargs or {}))
    sched = getattr(torch_like.lr_scheduler, scheduler)(opt, **kwargs)
    out = []
    for step in range(steps):
        out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt)))
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[step])
    out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt)))
    return out


def assert_same(ours, theirs, tol=1e-12):
    assert len(ours) == len(theirs)
    for (a_last, a_lr, a_mom), (b_last, b_lr, b_mom) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a_last, [float(v) for v in b_last], rtol=0, atol=tol)
        np.testing.assert_allclose(a_lr, b_lr, rtol=0, atol=tol)
        if b_mom[0] is not None:
            np.testing.assert_allclose(a_mom, b_mom, rtol=0, atol=tol)


def _decay(epoch):
    return 0.95**epoch


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 10)


SCHEDULES = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 20, 20, 61], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.97)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=17, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=1, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=_decay)),
    ("LambdaLR", dict(lr_lambda=[_decay, _warmup])),
]


@pytest.mark.parametrize(
    ("name", "kwargs"), SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)]
)
def test_schedule_matches_torch(name, kwargs):
    theirs = sequence("torch", name, kwargs, 120)
    ours = sequence("mg", name, kwargs, 120)
    assert_same(ours, theirs)
    assert len({round(lrs[0], 12) for _, lrs, _ in ours}) >= 2  # the lr really changed


def test_cosine_annealing_over_many_periods_is_exact_and_periodic():
    ours = sequence("mg", "CosineAnnealingLR", dict(T_max=8, eta_min=0.002), 80)
    theirs = sequence("torch", "CosineAnnealingLR", dict(T_max=8, eta_min=0.002), 80)
    assert_same(ours, theirs, tol=1e-15)
    lr0 = [lrs[0] for _, lrs, _ in ours]
    assert lr0[0] == pytest.approx(0.1) and lr0[8] == pytest.approx(0.002, abs=1e-15)
    assert lr0[16] == pytest.approx(0.1, abs=1e-15) and lr0[72] == pytest.approx(0.002)
    for t in range(50):  # the recursive form stays on the closed form
        closed = 0.002 + (0.1 - 0.002) * (1 + math.cos(math.pi * t / 8)) / 2
        assert lr0[t] == pytest.approx(closed, abs=1e-14)


def test_chained_schedules_match_torch():
    def run(framework):
        torch_like = pytest.importorskip("torch").optim if framework == "torch" else optim
        opt = make_optimizer(framework)
        first = torch_like.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        second = torch_like.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        lrs = []
        for _ in range(30):
            opt.step()
            first.step()
            second.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        return np.array(lrs)

    np.testing.assert_allclose(run("mg"), run("torch"), rtol=0, atol=1e-15)


PLATEAU_METRICS = [
    1.0,
    0.9,
    0.9,
    0.91,
    0.9,
    0.89999,
    0.95,
    0.8,
    0.8,
    0.8,
    0.8,
    0.8,
    0.79,
    0.81,
    0.82,
    0.83,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
] * 3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(patience=1),
        dict(mode="max", patience=2, factor=0.5),
        dict(patience=0, threshold=0.05, threshold_mode="abs", cooldown=2),
        dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs"),
        dict(patience=1, factor=0.2, min_lr=[0.001, 0.0005]),
        dict(patience=1, factor=0.5, min_lr=0.02, eps=1e-3),
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    theirs = sequence(
        "torch", "ReduceLROnPlateau", kwargs, len(PLATEAU_METRICS), metrics=PLATEAU_METRICS
    )
    ours = sequence(
        "mg", "ReduceLROnPlateau", kwargs, len(PLATEAU_METRICS), metrics=PLATEAU_METRICS
    )
    assert_same(ours, theirs, tol=0.0)
    if kwargs.get("patience", 10) < 3:
        assert ours[-1][1][0] < LRS[0]  # it did reduce


ONE_CYCLE = [
    ("SGD", dict(momentum=0.9), dict(max_lr=1.0, total_steps=100)),
    (
        "SGD",
        dict(momentum=0.9),
        dict(max_lr=[0.5, 2.0], epochs=4, steps_per_epoch=25, anneal_strategy="linear"),
    ),
    (
        "SGD",
        dict(momentum=0.9),
        dict(
            max_lr=0.8,
            total_steps=90,
            three_phase=True,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    (
        "SGD",
        dict(momentum=0.9),
        dict(
            max_lr=0.3,
            total_steps=77,
            three_phase=True,
            anneal_strategy="linear",
            base_momentum=[0.8, 0.7],
            max_momentum=0.99,
        ),
    ),
    ("SGD", dict(), dict(max_lr=0.4, total_steps=50, cycle_momentum=False)),
    ("Adam", dict(), dict(max_lr=0.01, total_steps=100)),
    (
        "AdamW",
        dict(betas=(0.9, 0.98)),
        dict(max_lr=0.02, total_steps=64, pct_start=0.5, three_phase=True),
    ),
    ("RMSprop", dict(momentum=0.5), dict(max_lr=0.05, total_steps=40, anneal_strategy="linear")),
]


@pytest.mark.parametrize(
    ("opt_name", "opt_kwargs", "kwargs"),
    ONE_CYCLE,
    ids=[f"{o}-{i}" for i, (o, _, _) in enumerate(ONE_CYCLE)],
)
def test_one_cycle_lr_and_momentum_match_torch(opt_name, opt_kwargs, kwargs):
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    theirs = sequence("torch", "OneCycleLR", kwargs, total - 1, opt_name, opt_kwargs)
    ours = sequence("mg", "OneCycleLR", kwargs, total - 1, opt_name, opt_kwargs)
    assert_same(ours, theirs)
    peak = max(lrs[0] for _, lrs, _ in ours)
    top = kwargs["max_lr"][0] if isinstance(kwargs["max_lr"], list) else kwargs["max_lr"]
    assert peak == pytest.approx(top, rel=0.05)


def test_one_cycle_refuses_to_step_past_the_end():
    opt = make_optimizer("mg", momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(
        ValueError, match="Tried to step 6 times. The specified number of total steps is 5"
    ):
        sched.step()


class _Scaled:
    """A callable with state, which LambdaLR's state_dict saves (functions are not)."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, epoch):
        return self.factor * 0.9**epoch


CHECKPOINTED = [
    ("StepLR", dict(step_size=5, gamma=0.5), {}),
    ("MultiStepLR", dict(milestones=[3, 9, 9], gamma=0.5), {}),
    ("ExponentialLR", dict(gamma=0.9), {}),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001), {}),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=40, three_phase=True), dict(momentum=0.9)),
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1), {}),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "opt_kwargs"), CHECKPOINTED, ids=[c[0] for c in CHECKPOINTED]
)
def test_state_dict_round_trip_continues_identically(name, kwargs, opt_kwargs):
    metrics = PLATEAU_METRICS

    def advance(opt, sched, start, stop, record):
        for step in range(start, stop):
            opt.step()
            sched.step(metrics[step]) if name == "ReduceLROnPlateau" else sched.step()
            record.append(([g["lr"] for g in opt.param_groups], momenta(opt)))

    opt = make_optimizer("mg", **opt_kwargs)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    straight: list = []
    advance(opt, sched, 0, 30, straight)

    opt = make_optimizer("mg", **opt_kwargs)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    resumed: list = []
    advance(opt, sched, 0, 12, resumed)
    saved_sched = json.loads(json.dumps(sched.state_dict()))  # plain data only
    saved_opt = opt.state_dict()
    opt = make_optimizer("mg", **opt_kwargs)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    advance(opt, sched, 12, 30, resumed)
    assert resumed == straight


def test_lambda_state_dict_saves_callable_objects_only():
    opt = make_optimizer("mg")
    scaled = _Scaled(2.0)
    sched = lr_scheduler.LambdaLR(opt, [scaled, _decay])
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"factor": 2.0}, None]
    assert state["last_epoch"] == 3 and "optimizer" not in state
    other = _Scaled(5.0)
    restored = lr_scheduler.LambdaLR(make_optimizer("mg"), [other, _decay])
    restored.load_state_dict(state)
    assert other.factor == 2.0 and restored.last_epoch == 3
    restored.step()
    assert restored.get_last_lr()[0] == pytest.approx(0.1 * 2.0 * 0.9**4, abs=1e-15)


def test_get_last_lr_is_a_copy():
    opt = make_optimizer("mg")
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.get_last_lr()[0] = 123.0
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.015]


def test_resuming_without_initial_lr_is_an_error():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer("mg"), step_size=2, last_epoch=5)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda opt: lr_scheduler.StepLR(object(), step_size=2),
            TypeError,
            "object is not an Optimizer",
        ),
        (
            lambda opt: lr_scheduler.LambdaLR(opt, [_decay]),
            ValueError,
            "Expected 2 lr_lambdas, but got 1",
        ),
        (
            lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0),
            ValueError,
            "Factor should be < 1.0.",
        ),
        (
            lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="up"),
            ValueError,
            "mode up is unknown!",
        ),
        (
            lambda opt: lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="x"),
            ValueError,
            "threshold mode x is unknown!",
        ),
        (
            lambda opt: lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1]),
            ValueError,
            "expected 2 min_lrs, got 1",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0),
            ValueError,
            "You must define either total_steps OR",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=0),
            ValueError,
            "Expected positive integer total_steps, but got 0",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=-1),
            ValueError,
            "Expected positive integer steps_per_epoch, but got -1",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=9, pct_start=1.5),
            ValueError,
            "Expected float between 0 and 1 pct_start, but got 1.5",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(
                opt, max_lr=1.0, total_steps=9, anneal_strategy="exp"
            ),
            ValueError,
            "anneal_strategy must be one of 'cos' or 'linear', instead got exp",
        ),
        (
            lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=[1.0], total_steps=9),
            ValueError,
            "max_lr must have the same length as optimizer.param_groups",
        ),
    ],
)
def test_errors(make, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(make_optimizer("mg"))


def test_one_cycle_needs_a_momentum_to_cycle():
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(make_optimizer("mg", "Adagrad"), max_lr=1.0, total_steps=9)


def test_reduce_on_plateau_after_a_group_is_added():
    opt = make_optimizer("mg")
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=0.04)
    opt.add_param_group({"params": [mg.tensor([0.0], requires_grad=True)], "lr": 1.0})
    sched.step(1.0)
    sched.step(2.0)  # one bad epoch > patience 0: every group reduced, floored at min_lr
    assert sched.get_last_lr() == [0.05, 0.03, 0.5]
    per_group = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0, 0.0])
    opt.add_param_group({"params": [mg.tensor([0.0], requires_grad=True)]})
    per_group.step(1.0)
    with pytest.raises(RuntimeError, match="differs from the number of min_lrs"):
        per_group.step(2.0)
