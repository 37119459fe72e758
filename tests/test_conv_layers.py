"""Convolution, pooling, normalisation and activation layers against torch.nn.

Each case builds the same layer in both frameworks, loads PyTorch's weights into ours by
`state_dict` key, and compares, in float64, the output and every gradient (input and
parameters) in train and eval mode, plus the buffers PyTorch updates. The shapes include
the public course suites' cases: MiniTorch Module 4 (tests/test_conv.py, tests/test_nn.py)
and CMU 10-414 needle hw4 (tests/hw4/test_conv.py: its 17 convolution shapes, its
nn.Conv forward and backward cases). `docs/conformance.md` counts them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn as nn
from microgradnp.nn import functional as F

# PyTorch warns that it copies the input for padding='same' with an even kernel; so do we
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

RTOL, ATOL = 1e-8, 1e-11

# (layer name, constructor args, constructor kwargs, input shape); the same constructor call
# is made on torch.nn and on mg.nn
CASES = [
    # needle hw4 test_nn_conv_forward (s, cin, cout, k, stride; padding k // 2; batch 10)
    *[
        ("Conv2d", (cin, cout, k), {"stride": st, "padding": k // 2}, (10, cin, s, s))
        for s, cin, cout, k, st in [
            (4, 8, 16, 3, 1),
            (32, 8, 16, 3, 2),
            (32, 8, 8, 3, 2),
            (32, 16, 8, 3, 1),
            (32, 16, 8, 3, 2),
        ]
    ],
    # needle hw4 test_nn_conv_backward (batch 1)
    *[
        ("Conv2d", (cin, cout, k), {"stride": st, "padding": k // 2}, (1, cin, s, s))
        for s, cin, cout, k, st in [
            (4, 1, 1, 3, 1),
            (14, 8, 16, 3, 1),
            (14, 8, 16, 3, 2),
            (14, 8, 8, 3, 1),
            (14, 8, 8, 3, 2),
            (14, 16, 8, 3, 1),
            (14, 16, 8, 3, 2),
        ]
    ],
    # MiniTorch test_conv, test_conv_batch, test_conv_channel
    ("Conv2d", (1, 1, (2, 4)), {}, (1, 1, 6, 6)),
    ("Conv2d", (1, 1, (2, 4)), {}, (2, 1, 6, 6)),
    ("Conv2d", (2, 3, (2, 4)), {}, (2, 2, 6, 6)),
    # the arguments PyTorch offers
    ("Conv2d", (4, 6, 3), {"groups": 2, "dilation": (2, 1), "bias": False}, (2, 4, 9, 7)),
    ("Conv2d", (3, 4, (4, 3)), {"padding": "same", "dilation": 2}, (2, 3, 8, 7)),
    ("Conv2d", (3, 4, 3), {"padding": "valid", "stride": (1, 2)}, (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 3, 5, 6)),
    ("Conv2d", (3, 4, 3), {"padding": (1, 2), "padding_mode": "replicate"}, (2, 3, 5, 6)),
    ("Conv2d", (3, 6, 1), {"groups": 3}, (3, 5, 4)),  # unbatched, depthwise
    # MiniTorch test_conv1d, test_conv1d_channel
    ("Conv1d", (1, 1, 4), {}, (1, 1, 6)),
    ("Conv1d", (2, 3, 2), {}, (2, 2, 6)),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, (2, 4, 11)),
    ("Conv1d", (3, 4, 4), {"padding": "same"}, (2, 3, 9)),
    ("Conv1d", (3, 4, 3), {"padding": 1, "padding_mode": "reflect", "bias": False}, (3, 8)),
    ("ConvTranspose2d", (3, 2, 3), {}, (2, 3, 4, 5)),
    (
        "ConvTranspose2d",
        (4, 6, 3),
        {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        (2, 4, 3, 4),
    ),  # fmt: skip
    (
        "ConvTranspose2d",
        (2, 3, (2, 3)),
        {"stride": (2, 1), "dilation": 2, "bias": False},
        (1, 2, 3, 3),
    ),  # fmt: skip
    ("ConvTranspose2d", (16, 8, 2), {"stride": 2}, (2, 16, 7, 7)),  # U-Net upsampling
    # MiniTorch test_max_pool (kernels (2, 2), (2, 1), (1, 2) on 4x4)
    ("MaxPool2d", ((2, 2),), {}, (1, 1, 4, 4)),
    ("MaxPool2d", ((2, 1),), {}, (1, 1, 4, 4)),
    ("MaxPool2d", ((1, 2),), {}, (1, 1, 4, 4)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "dilation": 2, "ceil_mode": True}, (2, 2, 10, 9)),
    ("MaxPool2d", (2,), {}, (3, 6, 6)),  # unbatched
    ("MaxPool1d", (2,), {}, (2, 3, 8)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 10)),
    # MiniTorch test_avg (kernels (2, 2), (2, 1), (1, 2) on 4x4)
    ("AvgPool2d", ((2, 2),), {}, (1, 1, 4, 4)),
    ("AvgPool2d", ((2, 1),), {}, (1, 1, 4, 4)),
    ("AvgPool2d", ((1, 2),), {}, (1, 1, 4, 4)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 9, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 10, 10)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (2, 3, 6, 6)),
    ("AvgPool1d", (2,), {}, (2, 3, 8)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 4, 7, 5)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}, (2, 4, 7, 5)),
    ("AdaptiveAvgPool2d", ((4, None),), {}, (2, 3, 9, 6)),
    ("AdaptiveAvgPool2d", (5,), {}, (3, 10, 10)),
    ("BatchNorm1d", (3,), {}, (6, 3)),
    ("BatchNorm1d", (3,), {"momentum": None}, (4, 3, 5)),
    ("BatchNorm1d", (3,), {"affine": False, "eps": 1e-3}, (5, 3)),
    ("BatchNorm2d", (4,), {}, (3, 4, 5, 5)),
    ("BatchNorm2d", (4,), {"momentum": None}, (3, 4, 2, 3)),
    ("BatchNorm2d", (4,), {"momentum": 0.5, "affine": False}, (2, 4, 3, 3)),
    ("BatchNorm2d", (4,), {"track_running_stats": False}, (3, 4, 2, 2)),
    ("BatchNorm2d", (4,), {"bias": False}, (3, 4, 2, 2)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5)),
    ("GroupNorm", (3, 6), {"eps": 1e-3, "affine": False}, (2, 6, 3, 3)),
    ("GroupNorm", (1, 4), {"bias": False}, (2, 4)),
    ("LayerNorm", ((4, 5),), {}, (3, 4, 5)),
    ("GELU", (), {}, (4, 7)),
    ("GELU", (), {"approximate": "tanh"}, (2, 3, 5)),
    ("SiLU", (), {}, (4, 7)),
    ("LeakyReLU", (), {}, (4, 7)),
    ("LeakyReLU", (0.2,), {}, (2, 3, 5)),
    ("ELU", (), {}, (4, 7)),
    ("ELU", (0.5,), {}, (2, 3, 5)),
    ("Softplus", (), {}, (4, 7)),
    ("Softplus", (), {"beta": 2.0, "threshold": 3.0}, (2, 3, 5)),
    ("Unflatten", (1, (2, 5)), {}, (3, 10)),
    ("Unflatten", (-1, (2, -1)), {}, (3, 2, 6)),
]


def _ids(cases):
    counts: dict[str, int] = {}
    out = []
    for name, *_ in cases:
        counts[name] = counts.get(name, 0) + 1
        out.append(f"{name}-{counts[name] - 1}")
    return out


def _pair_of_layers(torch, name, args, kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _input(rng, name, shape):
    if name.startswith("MaxPool"):  # distinct values: the maximum of every window is unique
        return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.01 - 1.0
    return rng.standard_normal(shape) * 2.0


def _check_step(torch, ours, theirs, x, rng):
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_m, out_t = ours(xm), theirs(xt)
    assert out_m.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    u = rng.standard_normal(out_m.shape)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    tparams = dict(theirs.named_parameters())
    for key, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[key].grad.numpy(), rtol=RTOL, atol=ATOL)
    tstate = theirs.state_dict()
    for key, value in ours.state_dict().items():  # running statistics, num_batches_tracked
        np.testing.assert_allclose(value, tstate[key].numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=_ids(CASES))
def test_layer_matches_torch(torch, name, args, kwargs, shape, mode):
    ours, theirs = _pair_of_layers(torch, name, args, kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(0)
    for module in (ours, theirs):
        module.train(mode == "train")
    steps = 1 if np.prod(shape) > 20_000 else 2  # (PyTorch's float64 conv is slow)
    for _ in range(steps):  # two steps: running statistics move, gradients accumulate
        _check_step(torch, ours, theirs, _input(rng, name, shape), rng)


# needle hw4 test_op_conv: (input NHWC, weight (kh, kw, C_in, C_out), stride, padding)
NEEDLE_OP_CONV = [
    ((3, 14, 14, 8), (3, 3, 8, 16), 1, 0),
    ((3, 14, 14, 8), (3, 3, 8, 16), 1, 1),
    ((3, 16, 16, 8), (3, 3, 8, 16), 1, 2),
    ((3, 16, 16, 8), (3, 3, 8, 14), 1, 0),
    ((3, 16, 16, 2), (3, 3, 2, 14), 1, 0),
    ((3, 14, 14, 8), (3, 3, 8, 16), 2, 0),
    ((3, 14, 14, 8), (3, 3, 8, 16), 2, 1),
    ((3, 16, 16, 8), (3, 3, 8, 16), 2, 2),
    ((3, 16, 16, 8), (3, 3, 8, 14), 2, 0),
    ((3, 16, 16, 2), (3, 3, 2, 14), 2, 0),
    ((3, 16, 16, 24), (3, 3, 24, 14), 1, 0),
    ((3, 14, 14, 8), (5, 5, 8, 16), 1, 0),
    ((3, 17, 17, 8), (5, 5, 8, 16), 1, 0),
    ((3, 17, 17, 1), (5, 5, 1, 16), 1, 0),
    ((3, 17, 17, 16), (5, 5, 16, 1), 1, 0),
    ((3, 17, 17, 16), (1, 1, 16, 1), 1, 0),
    ((1, 14, 14, 2), (3, 3, 2, 2), 1, 0),
]


@pytest.mark.parametrize("z_shape,w_shape,stride,padding", NEEDLE_OP_CONV)
def test_needle_conv_shapes_match_torch(torch, z_shape, w_shape, stride, padding):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(z_shape).transpose(0, 3, 1, 2) * 5  # NHWC -> NCHW
    w = rng.standard_normal(w_shape).transpose(3, 2, 0, 1) * 5  # (kh, kw, I, O) -> (O, I, kh, kw)
    zm, wm = mg.tensor(z, requires_grad=True), mg.tensor(w, requires_grad=True)
    zt, wt = torch.tensor(z, requires_grad=True), torch.tensor(w, requires_grad=True)
    out_m = F.conv2d(zm, wm, stride=stride, padding=padding)
    out_t = torch.nn.functional.conv2d(zt, wt, stride=stride, padding=padding)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=1e-9)
    out_m.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(zm.grad.data, zt.grad.numpy(), rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(wm.grad.data, wt.grad.numpy(), rtol=RTOL, atol=1e-9)


# small shapes for finite differences (one per layer kind and notable option)
GRAD_CASES = [
    ("Conv2d", (2, 3, 2), {"stride": 2, "padding": 1}, (2, 2, 4, 5)),
    ("Conv2d", (2, 2, 3), {"groups": 2, "dilation": 2, "padding": "same"}, (1, 2, 5, 5)),
    ("Conv1d", (2, 3, 2), {}, (2, 2, 6)),
    ("ConvTranspose2d", (2, 3, 2), {"stride": 2, "output_padding": 1}, (1, 2, 3, 3)),
    ("MaxPool2d", (2,), {"padding": 1}, (1, 2, 4, 5)),
    ("MaxPool1d", (3,), {"stride": 2}, (2, 2, 7)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (1, 2, 5, 5)),
    ("AvgPool1d", (2,), {}, (2, 2, 6)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (1, 2, 5, 4)),
    ("BatchNorm1d", (3,), {}, (5, 3)),
    ("BatchNorm2d", (2,), {}, (3, 2, 2, 2)),
    ("GroupNorm", (2, 4), {}, (2, 4, 3)),
    ("LayerNorm", (3,), {}, (2, 2, 3)),
    ("GELU", (), {}, (2, 4)),
    ("GELU", (), {"approximate": "tanh"}, (2, 4)),
    ("SiLU", (), {}, (2, 4)),
    ("LeakyReLU", (0.1,), {}, (2, 4)),
    ("ELU", (), {}, (2, 4)),
    ("Softplus", (2.0,), {}, (2, 4)),
    ("Unflatten", (1, (2, 2)), {}, (2, 4)),
]


def _layer_and_inputs(name, args, kwargs, shape, mode):
    """The layer, and its input and parameters as the inputs to check (the layer reads the
    parameters that gradcheck perturbs in place)."""
    mg.manual_seed(0)
    layer = getattr(nn, name)(*args, **kwargs).double().train(mode == "train")
    rng = np.random.default_rng(0)
    if name.startswith("Max"):
        x = _input(rng, name, shape)
    else:  # away from the kinks of LeakyReLU and ELU at 0
        x = rng.uniform(0.2, 1.5, shape) * rng.choice([-1, 1], shape)
    params = list(layer.parameters())
    for p in params:  # away from the initial ones and zeros, so that every term matters
        p.data[...] = rng.uniform(0.5, 1.5, p.shape)
    return layer, [mg.tensor(x, requires_grad=True)] + params


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name,args,kwargs,shape", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_layer_gradcheck(name, args, kwargs, shape, mode):
    layer, inputs = _layer_and_inputs(name, args, kwargs, shape, mode)
    assert mg.gradcheck(lambda x, *params: layer(x), inputs, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name,args,kwargs,shape", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_layer_gradgradcheck(name, args, kwargs, shape, mode):
    layer, inputs = _layer_and_inputs(name, args, kwargs, shape, mode)
    assert mg.gradgradcheck(lambda x, *params: layer(x), inputs, atol=1e-6, rtol=1e-5)


def test_initialisation_follows_pytorch():
    # kaiming_uniform(a=sqrt(5)): weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    # fan_in = in_channels / groups * kernel area (out_channels / groups for the transpose)
    mg.manual_seed(0)
    for layer, fan_in in (
        (nn.Conv2d(8, 64, 5, groups=2), 4 * 25),
        (nn.Conv1d(16, 32, 7), 16 * 7),
        (nn.ConvTranspose2d(64, 8, 3), 8 * 9),
    ):
        bound = 1 / math.sqrt(fan_in)
        w = layer.weight.data
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
        assert w.var() == pytest.approx(bound**2 / 3, rel=0.1)
        assert np.abs(layer.bias.data).max() <= bound
    bn = nn.BatchNorm2d(3)
    assert bn.weight.tolist() == [1.0] * 3 and bn.bias.tolist() == [0.0] * 3
    assert bn.running_var.tolist() == [1.0] * 3 and bn.num_batches_tracked.dtype == np.int64


def test_small_cnn_loads_a_pytorch_state_dict(torch):
    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(1, 4, 3, padding=1),
            lib.nn.BatchNorm2d(4),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(4, 8, 3),
            lib.nn.BatchNorm2d(8),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Flatten(),
            lib.nn.Linear(8 * 2 * 2, 10),
        )

    torch.manual_seed(0)
    theirs = build(torch).double()
    theirs.train()
    with torch.no_grad():  # move the running statistics away from 0 and 1
        theirs(torch.randn(16, 1, 12, 12, dtype=torch.float64))
    ours = build(mg).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 1, 12, 12))
    for train in (False, True):
        ours.train(train)
        theirs.train(train)
        out_m = ours(mg.tensor(x))
        out_t = theirs(torch.tensor(x))
        np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_minitorch_literal_cases():
    # MiniTorch test_conv1d_simple: its conv1d pads on the right; as PyTorch, pad first
    t = mg.tensor([[[0.0, 1.0, 2.0, 3.0]]])
    out = F.conv1d(F.pad(t, (0, 2)), mg.tensor([[[1.0, 2.0, 3.0]]]))
    assert out.tolist() == [[[8.0, 14.0, 8.0, 3.0]]]
    # MiniTorch test_conv2: rows 0..3 summed by a 2x2 kernel of ones
    x = mg.tensor([[0.0, 1.0, 2.0, 3.0]] * 4, requires_grad=True).reshape(1, 1, 4, 4)
    w = mg.ones(1, 1, 2, 2, requires_grad=True)
    out = F.conv2d(x, w)
    assert out.tolist() == [[[[2.0, 6.0, 10.0]] * 3]]
    out.sum().backward()
    assert w.grad.tolist() == [[[[9.0, 18.0], [9.0, 18.0]]]]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: F.conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(2, 2, 3, 3)), "to have 2 channels"),
        (lambda: F.conv2d(mg.zeros(1, 1, 2, 2), mg.zeros(2, 1, 3, 3)), "smaller than the"),
        (
            lambda: F.conv2d(mg.zeros(1, 1, 5, 5), mg.zeros(2, 1, 3, 3), stride=2, padding="same"),
            "strided",
        ),  # fmt: skip
        (lambda: F.conv2d(mg.zeros(5, 5), mg.zeros(2, 1, 3, 3)), "3-D (unbatched) or 4-D"),
        (
            lambda: F.conv2d(mg.zeros(1, 1, 5, 5, dtype=mg.int64), mg.zeros(1, 1, 3, 3)),
            "floating-point",
        ),  # fmt: skip
        (
            lambda: F.conv_transpose2d(
                mg.zeros(1, 2, 3, 3), mg.zeros(2, 1, 3, 3), output_padding=1
            ),
            "output padding",
        ),  # fmt: skip
        (lambda: F.max_pool2d(mg.zeros(1, 1, 4, 4), 2, padding=2), "at most half"),
        (lambda: F.fold(mg.zeros(1, 4, 5), (3, 3), 2), "does not match"),
        (lambda: nn.BatchNorm2d(3)(mg.zeros(2, 3, 4)), "expected 4D input"),
        (lambda: nn.BatchNorm1d(3)(mg.zeros(1, 3)), "more than 1 value per channel"),
        (lambda: F.group_norm(mg.zeros(2, 5, 3), 2), "divisible by num_groups"),
        (lambda: F.pad(mg.zeros(1, 2, 3), (3, 0), mode="reflect"), "less than the input size"),
        (lambda: mg.topk(mg.zeros(3), 4), "out of range"),
        (lambda: mg.multinomial(mg.tensor([0.0, 1.0]), 2), "without replacement"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError, IndexError), match=message.replace("(", r"\(")
                       .replace(")", r"\)")):  # fmt: skip
        call()


def test_sort_topk_namedtuples_and_indices(torch):
    x = np.random.default_rng(0).permutation(12).reshape(3, 4).astype(np.float64)
    for ours, theirs in (
        (mg.sort(mg.tensor(x), dim=0, descending=True), torch.sort(torch.tensor(x), 0, True)),
        (mg.topk(mg.tensor(x), 2, dim=1, largest=False), torch.topk(torch.tensor(x), 2, 1, False)),
    ):
        values, indices = ours
        assert indices.dtype == np.int64 and ours.values is values
        np.testing.assert_array_equal(indices.data, theirs.indices.numpy())
        np.testing.assert_array_equal(values.data, theirs.values.numpy())


def test_multinomial_is_seeded_and_has_the_right_frequencies():
    p = mg.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]])
    mg.manual_seed(0)
    a = mg.multinomial(p, 4000, replacement=True)
    mg.manual_seed(0)
    b = mg.multinomial(p, 4000, replacement=True)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.int64 and a.shape == (2, 4000)
    freq = np.bincount(a.data[0], minlength=4) / 4000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.03)
    draws = mg.multinomial(p, 3).data  # without replacement: distinct, never the zero weight
    assert all(len(set(row)) == 3 for row in draws.tolist()) and 1 not in draws[0]
    # the exponential race draws the first sample with probability p_i / sum(p)
    gen = np.random.default_rng(1)
    firsts = [int(mg.multinomial(p[0], 2, generator=gen)[0].item()) for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 3000, [0.1, 0, 0.6, 0.3],
                               atol=0.03)  # fmt: skip


def test_max_pool_return_indices_match_torch(torch):
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 1.0
    out, idx = F.max_pool2d(mg.tensor(x), 3, stride=2, padding=1, return_indices=True)
    tout, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    np.testing.assert_array_equal(out.data, tout.numpy())


def test_conv_float32_stays_float32():
    conv = nn.Conv2d(2, 3, 3)
    x = mg.randn(2, 2, 5, 5, requires_grad=True)
    out = conv(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert conv.weight.grad.dtype == np.float32


def test_conv_transpose_output_size_matches_torch(torch):
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 5))
    for size in ((7, 9), (8, 10), (1, 2, 8, 9)):
        out_t = theirs(torch.tensor(x), output_size=size)
        out_m = ours(mg.tensor(x), output_size=size)
        np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    unbatched = F.conv_transpose2d(mg.tensor(x[0]), ours.weight, ours.bias, stride=2)
    expected = torch.nn.functional.conv_transpose2d(
        torch.tensor(x[0]), theirs.weight, theirs.bias, stride=2
    )
    np.testing.assert_allclose(unbatched.data, expected.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_erf_is_accurate_to_a_few_ulp_everywhere():
    x = np.concatenate(
        [
            np.random.default_rng(0).standard_normal(20_000) * 3,
            np.linspace(-30, 30, 20_001),
            [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 26.5, 1e-300, -1e-20, np.inf, -np.inf],
        ]
    )
    expected = np.array([math.erf(v) for v in x])
    got = mg.erf(mg.tensor(x)).data
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-300)
    assert np.isnan(mg.erf(mg.tensor([np.nan])).item())
    assert mg.erf(mg.tensor([0.5], dtype=mg.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "kwargs",
    [{"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}, {"scale_grad_by_freq": True},
     {"padding_idx": 1, "scale_grad_by_freq": True, "max_norm": 2.0}],
)  # fmt: skip
def test_embedding_options_match_torch(torch, kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(6, 4, **kwargs).double()
    ours = nn.Embedding(6, 4, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    idx = np.array([[0, 2, 2, 5], [1, 2, 0, 3]])
    out_m, out_t = ours(mg.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    u = np.random.default_rng(0).standard_normal(out_m.shape)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=RTOL)
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=RTOL)
