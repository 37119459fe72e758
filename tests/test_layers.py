"""Layers, initialisers and gradient utilities: values and gradients vs torch.nn for the same
weights, gradcheck in float64, PyTorch's initialisation distributions and reprs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn as nn
from microgradnp.nn import functional as F
from microgradnp.nn import init

TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _to_torch(torch, module, tmodule):
    """Give the torch module our module's weights (through the state dict: same names)."""
    tmodule.load_state_dict({k: torch.tensor(v.data) for k, v in module.state_dict().items()})
    return tmodule


def _compare(torch, module, tmodule, x, dtype, seed=0):
    """Same input and cotangent through both; compare outputs, input and weight gradients."""
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_m, out_t = module(xm), tmodule(xt)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), **TOL[dtype])
    u = np.random.default_rng(seed).standard_normal(out_m.shape).astype(dtype)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), **TOL[dtype])
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), **TOL[dtype])


# ---- Linear --------------------------------------------------------------------------------
def test_linear_shapes_init_and_seed():
    mg.manual_seed(0)
    layer = nn.Linear(50, 40)
    assert layer.weight.shape == (40, 50) and layer.bias.shape == (40,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    bound = 1 / math.sqrt(50)
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(layer.bias.data).max() <= bound
    # U(-b, b): mean 0, variance b^2 / 3 (2000 samples: generous 5-sigma bounds)
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * w.size)
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.1)
    mg.manual_seed(0)
    again = nn.Linear(50, 40)
    np.testing.assert_array_equal(again.weight.data, w)
    np.testing.assert_array_equal(again.bias.data, layer.bias.data)
    assert not np.array_equal(nn.Linear(50, 40).weight.data, w)  # the stream moved on


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(torch, rng, dtype, bias, shape):
    layer = nn.Linear(3, 4, bias=bias, dtype=dtype)
    tlayer = _to_torch(
        torch, layer, torch.nn.Linear(3, 4, bias=bias, dtype=getattr(torch, np.dtype(dtype).name))
    )
    _compare(torch, layer, tlayer, rng.standard_normal(shape).astype(dtype), dtype)


def test_linear_gradcheck_and_repr(torch, rng):
    layer = nn.Linear(3, 2)
    assert (
        repr(layer)
        == repr(torch.nn.Linear(3, 2))
        == "Linear(in_features=3, out_features=2, bias=True)"
    )
    assert repr(nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))
    layer.double()
    x = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert mg.gradcheck(lambda a, w, b: F.linear(a, w, b), (x, layer.weight, layer.bias))
    assert mg.gradcheck(lambda a: layer(a), (x,))


def test_linear_records_the_fused_op_inside_its_scope():
    layer = nn.Linear(3, 2)
    out = layer(mg.ones(1, 3))
    assert out.grad_fn.prim.name == "linear"
    assert out.grad_fn.scope == (layer,)
    net = nn.Sequential(layer, nn.Sigmoid())
    out = net(mg.ones(1, 3))
    assert out.grad_fn.scope == (net, net[1])
    assert out.grad_fn.parents[0].scope == (net, layer)
    assert mg.grad_mode.context().modules == ()


# ---- activations, Identity, Flatten -----------------------------------------------------------
ACTIVATIONS = [
    ("Sigmoid", (), {}),
    ("ReLU", (), {}),
    ("Tanh", (), {}),
    ("Softmax", (1,), {}),
    ("Softmax", (-1,), {}),
    ("LogSoftmax", (1,), {}),
    ("LogSoftmax", (0,), {}),
    ("Identity", (), {}),
    ("Flatten", (), {}),
    ("Flatten", (0, 1), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation_layers_match_torch(torch, rng, dtype, name, args, kwargs):
    module = getattr(nn, name)(*args, **kwargs)
    tmodule = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(module) == repr(tmodule)
    x = rng.uniform(-3, 3, (3, 4, 2)).astype(dtype)
    x[0, 0, 0] = 0.5  # keep relu away from its kink: rng values are never exactly 0
    _compare(torch, module, tmodule, x, dtype)


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation_layers_gradcheck(rng, name, args, kwargs):
    module = getattr(nn, name)(*args, **kwargs)
    x = rng.uniform(0.1, 2, (3, 4, 2)) * rng.choice([-1.0, 1.0], (3, 4, 2))
    assert mg.gradcheck(module, (mg.tensor(x, requires_grad=True),))


def test_softmax_extreme_and_implicit_dim(torch):
    x = mg.tensor([[1e4, -1e4, 0.0]])
    np.testing.assert_array_equal(nn.Softmax(dim=1)(x).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(nn.LogSoftmax(dim=1)(x).data, [[0.0, -2e4, -1e4]])
    data = np.random.default_rng(1).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(mg.tensor(data)).data
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.tensor(data)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)  # 3-D: dim 0, as PyTorch
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"


# ---- Dropout --------------------------------------------------------------------------------
def test_dropout_train_scales_survivors_and_zeroes_a_fraction_p():
    mg.manual_seed(3)
    x = mg.tensor(np.arange(1, 20001, dtype=np.float32), requires_grad=True)
    drop = nn.Dropout(0.3)
    out = drop(x)
    zero = out.data == 0
    assert zero.mean() == pytest.approx(0.3, abs=0.015)
    np.testing.assert_allclose(out.data[~zero], x.data[~zero] / 0.7, rtol=1e-6)
    out.sum().backward()  # gradient = the mask: 0 or 1 / (1 - p)
    np.testing.assert_allclose(x.grad.data, np.where(zero, 0.0, 1 / 0.7), rtol=1e-6)


def test_dropout_seeded_eval_identity_and_edge_p():
    x = mg.ones(1000)
    mg.manual_seed(7)
    a = nn.Dropout(0.5)(x).data
    mg.manual_seed(7)
    b = nn.Dropout(0.5)(x).data
    np.testing.assert_array_equal(a, b)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    model.eval()
    assert not model[1].training
    inp = mg.randn(3, 4)
    np.testing.assert_array_equal(model(inp).data, model[0](inp).data)  # identity in eval
    model.train()
    assert model[1].training
    assert (nn.Dropout(1.0)(x).data == 0).all()
    assert nn.Dropout(0.0)(x) is x
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1, but got"):
            nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 2.0)


def test_dropout_gradcheck_with_a_fixed_mask(rng):
    drop = nn.Dropout(0.4)
    x = mg.tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def fn(a):
        mg.manual_seed(5)  # the same mask on every call
        return drop(a)

    assert mg.gradcheck(fn, (x,))
    assert (fn(x).data == 0).any()


def test_dropout_repr(torch):
    assert (
        repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"
    )


# ---- Embedding -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_matches_torch(torch, dtype, padding_idx):
    emb = nn.Embedding(6, 3, padding_idx=padding_idx, dtype=dtype)
    temb = torch.nn.Embedding(
        6, 3, padding_idx=padding_idx, dtype=getattr(torch, np.dtype(dtype).name)
    )
    assert repr(emb) == repr(temb)
    emb.weight.data[:] = np.random.default_rng(0).standard_normal((6, 3))  # padding row too
    _to_torch(torch, emb, temb)
    ids = np.array([[1, 2, 1, 0], [5, 5, 5, 3]])  # repeated ids accumulate their gradients
    out_m, out_t = emb(mg.tensor(ids)), temb(torch.tensor(ids))
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), **TOL[dtype])
    u = np.random.default_rng(1).standard_normal(out_m.shape).astype(dtype)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    np.testing.assert_allclose(emb.weight.grad.data, temb.weight.grad.numpy(), **TOL[dtype])
    if padding_idx is not None:
        assert (emb.weight.grad.data[padding_idx] == 0).all()
    assert emb.weight.grad.data[1] == pytest.approx(u[0, 0] + u[0, 2])


def test_embedding_init_errors_and_pretrained():
    mg.manual_seed(0)
    emb = nn.Embedding(1000, 8, padding_idx=2)
    assert (emb.weight.data[2] == 0).all()
    assert emb.weight.data.std() == pytest.approx(1.0, rel=0.05)  # N(0, 1)
    with pytest.raises(IndexError, match=r"\[0, 1000\), got values in \[-1, 5\]"):
        emb(mg.tensor([5, -1]))
    with pytest.raises(TypeError, match="integers"):
        emb(mg.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    pre = nn.Embedding.from_pretrained(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert not pre.weight.requires_grad and pre(mg.tensor([1])).tolist() == [[3.0, 4.0]]
    w = mg.tensor(np.random.default_rng(0).standard_normal((4, 2)), requires_grad=True)
    ids = mg.tensor([0, 3, 3])
    # (no padding_idx here: its row deliberately gets no gradient although it is used)
    assert mg.gradcheck(lambda ww: F.embedding(ids, ww), (w,))


# ---- LayerNorm -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", [((4, 5), 5), ((2, 3, 4), (3, 4)), ((6,), 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(torch, rng, dtype, shape, normalized, affine):
    ln = nn.LayerNorm(normalized, elementwise_affine=affine, dtype=dtype)
    tln = torch.nn.LayerNorm(
        normalized, elementwise_affine=affine, dtype=getattr(torch, np.dtype(dtype).name)
    )
    assert repr(ln) == repr(tln)
    if affine:
        ln.weight.data[...] = rng.uniform(0.5, 1.5, ln.weight.shape)
        ln.bias.data[...] = rng.standard_normal(ln.bias.shape)
        _to_torch(torch, ln, tln)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, out_t = ln(xm), tln(xt)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), **tol)
    u = rng.standard_normal(shape).astype(dtype)
    out_m.backward(mg.tensor(u))
    out_t.backward(torch.tensor(u))
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), **tol)
    if affine:
        np.testing.assert_allclose(ln.weight.grad.data, tln.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(ln.bias.grad.data, tln.bias.grad.numpy(), **tol)


def test_layer_norm_gradcheck_and_errors(rng):
    ln = nn.LayerNorm(4).double()
    ln.weight.data[...] = rng.uniform(0.5, 1.5, 4)
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda a, w, b: F.layer_norm(a, (4,), w, b), (x, ln.weight, ln.bias))
    with pytest.raises(ValueError, match=r"\(3, 4\) does not end with normalized_shape \(3,\)"):
        F.layer_norm(x, 3)


# ---- init ----------------------------------------------------------------------------------
def test_calculate_gain_matches_torch(torch):
    for name, param in [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv2d", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15
        )
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize(
    "fn,kwargs,expected_std",
    [
        (init.xavier_uniform_, {}, math.sqrt(2 / (300 + 200))),
        (init.xavier_normal_, {"gain": 2.0}, 2 * math.sqrt(2 / (300 + 200))),
        (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2) / math.sqrt(200)),
        (
            init.kaiming_normal_,
            {"mode": "fan_out", "nonlinearity": "relu"},
            math.sqrt(2) / math.sqrt(300),
        ),
        (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(3 * 200)),
        (init.normal_, {"std": 0.02}, 0.02),
        (init.uniform_, {"a": -1.0, "b": 1.0}, 1 / math.sqrt(3)),
        (init.trunc_normal_, {"std": 1.0, "a": -2.0, "b": 2.0}, 0.8796),  # truncated N(0,1) std
    ],
)
def test_random_initialisers_have_pytorch_std(fn, kwargs, expected_std):
    w = nn.Parameter(mg.empty(300, 200))  # fan_in 200, fan_out 300
    version = w._version
    mg.manual_seed(1)
    assert fn(w, **kwargs) is w
    assert w._version > version and w.grad_fn is None and w.requires_grad
    assert w.data.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(w.data.mean()) < 0.02 * expected_std * 10
    mg.manual_seed(1)
    again = fn(mg.empty(300, 200), **kwargs)
    np.testing.assert_array_equal(again.data, w.data)
    own = fn(mg.empty(300, 200), **kwargs, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(own.data, w.data)  # same seed, same stream (PCG64)


def test_uniform_bounds_and_deterministic_initialisers():
    w = mg.empty(50, 40)
    bound = math.sqrt(6 / 90)
    assert np.abs(init.xavier_uniform_(w).data).max() <= bound
    t = init.trunc_normal_(mg.empty(10000), mean=1.0, std=2.0, a=0.0, b=2.5)
    assert t.data.min() >= 0.0 and t.data.max() <= 2.5
    assert init.constant_(mg.empty(2, 2), 0.5).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert init.ones_(mg.empty(2)).tolist() == [1.0, 1.0]
    assert init.zeros_(mg.ones(2)).tolist() == [0.0, 0.0]
    assert init.eye_(mg.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(mg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(mg.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(mg.empty(2, 2, 2))


def test_apply_initialises_every_linear():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            init.zeros_(m.weight)
            init.constant_(m.bias, 0.1)

    assert model.apply(zero_linear) is model
    assert all((m.weight.data == 0).all() for m in model if isinstance(m, nn.Linear))
    np.testing.assert_allclose(model(mg.ones(1, 3)).data, [[0.1, 0.1]], rtol=1e-6)


# ---- utils ---------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(torch, rng, norm_type, max_norm):
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2)]]
    ps = [nn.Parameter(mg.zeros(*g.shape)) for g in grads]
    tps = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for p, tp, g in zip(ps, tps, grads, strict=True):
        p.grad, tp.grad = mg.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-6)
    for p, tp in zip(ps, tps, strict=True):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_value_and_vectors(torch, rng):
    g = rng.standard_normal((4, 3)).astype(np.float32)
    p, tp = nn.Parameter(mg.zeros(4, 3)), torch.nn.Parameter(torch.zeros(4, 3))
    p.grad, tp.grad = mg.tensor(g), torch.tensor(g)
    nn.utils.clip_grad_value_(p, 0.5)
    torch.nn.utils.clip_grad_value_(tp, 0.5)
    np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (11,) and vec.requires_grad
    (vec * mg.arange(11, dtype=mg.float32)).sum().backward()
    np.testing.assert_array_equal(model[0].weight.grad.data.reshape(-1), np.arange(6))
    nn.utils.vector_to_parameters(mg.arange(11, dtype=mg.float32), model.parameters())
    assert model[1].bias.tolist() == [10.0]
    with pytest.raises(ValueError, match="1-D vector of 11 elements"):
        nn.utils.vector_to_parameters(mg.zeros(10), model.parameters())
    assert nn.utils.clip_grad_norm_([nn.Parameter(mg.zeros(2))], 1.0).item() == 0.0
