"""Module API: registration, naming and order, shared parameters, re-assignment, freezing,
state dicts and strict loading, hooks, train/eval, containers, reprs (compared with
torch.nn), and an end-to-end training run on a real data set."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn as nn
from microgradnp.nn import functional as F


class Block(nn.Module):
    """A module with a parameter, a buffer, a child and a container, for naming tests."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(mg.ones(3))
        self.register_buffer("running", mg.zeros(3))
        self.fc = nn.Linear(3, 3)
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Sequential(nn.Tanh(), nn.Linear(3, 1))])

    def forward(self, x):
        h = self.fc(x) * self.scale
        return self.heads[0](h), self.heads[1](h)


def _torch_block(torch):
    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.register_buffer("running", torch.zeros(3))
            self.fc = torch.nn.Linear(3, 3)
            self.heads = torch.nn.ModuleList(
                [torch.nn.Linear(3, 2), torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(3, 1))]
            )

    return TBlock()


# ---- registration and naming ------------------------------------------------------------------
def test_names_and_order_match_torch(torch):
    ours, theirs = Block(), _torch_block(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters()] == [
        "scale",
        "fc.weight",
        "fc.bias",
        "heads.0.weight",
        "heads.0.bias",
        "heads.1.1.weight",
        "heads.1.1.bias",
    ]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:4] == ["scale", "running", "fc.weight", "fc.bias"]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_buffers()] == ["running"]
    assert [n for n, _ in ours.named_children()] == ["fc", "heads"]
    assert len(list(ours.modules())) == 7
    assert [id(p) for p in ours.parameters()] == [id(p) for _, p in ours.named_parameters()]
    assert [n for n, _ in ours.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in ours.named_parameters(prefix="model")][1] == "model.fc.weight"
    assert ours.get_submodule("heads.1.0").__class__ is nn.Tanh
    with pytest.raises(AttributeError, match="no submodule `2`"):
        ours.get_submodule("heads.2")


def test_shared_parameters_and_modules_counted_once(torch):
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [id(p) for p in model.parameters()] == [id(shared.weight), id(shared.bias)]
    deep = nn.Sequential(nn.Sequential(shared, nn.Linear(2, 1)), model, nn.Linear(1, 1))
    assert [id(p) for p in deep.parameters()] == [id(p) for _, p in deep.named_parameters()]
    assert len(list(deep.parameters())) == 6
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch
    tshared = torch.nn.Linear(2, 2)
    tmodel = torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    assert list(model.state_dict()) == list(tmodel.state_dict())

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["emb.weight"]
    loss = tied.out(tied.emb(mg.tensor([1, 2]))).sum()
    loss.backward()  # both uses accumulate into the one parameter
    assert tied.emb.weight.grad is not None


def test_reassignment_leaves_no_stale_entries():
    m = nn.Module()
    m.x = nn.Parameter(mg.zeros(2))
    assert list(m._parameters) == ["x"]
    m.x = nn.Linear(2, 2)
    assert list(m._parameters) == [] and list(m._modules) == ["x"]
    assert [n for n, _ in m.named_parameters()] == ["x.weight", "x.bias"]
    m.x = nn.Parameter(mg.ones(1))
    assert list(m._modules) == [] and m.x.tolist() == [1.0]
    m.x = None  # a declared, absent parameter
    assert m._parameters == {"x": None} and list(m.parameters()) == []
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'x'"):
        m.x = mg.zeros(2)
    m.register_buffer("buf", mg.zeros(2))
    m.buf = mg.ones(2)
    assert m.state_dict()["buf"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="as buffer 'buf'"):
        m.buf = [1.0, 2.0]
    m.sub = nn.ReLU()
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 3
    del m.sub
    assert "sub" not in m._modules and not hasattr(m, "sub")
    m.plain = 5  # plain attributes are not registered
    assert m.plain == 5 and "plain" not in m.state_dict()


def test_registration_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="empty or contain"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("a", 3)
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", mg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_parameter("forward", nn.Parameter(mg.zeros(1)))
    with pytest.raises(TypeError, match="mg.nn.Parameter or None required"):
        m.register_parameter("p", mg.zeros(1))
    m.register_buffer("tmp", mg.zeros(2), persistent=False)
    assert "tmp" not in m.state_dict() and [n for n, _ in m.named_buffers()] == ["tmp"]

    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Forgetful()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 2).wieght  # noqa: B018


def test_parameter_is_a_lean_tensor():
    p = nn.Parameter(mg.tensor([1.0, 2.0]))
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf
    assert not hasattr(p, "__dict__")
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert type(p * 2) is mg.Tensor and type(p.detach()) is mg.Tensor
    t = mg.zeros(2)
    shared = nn.Parameter(t)
    shared.data[0] = 5.0
    assert t.tolist() == [5.0, 0.0]  # shares memory, as torch.nn.Parameter
    assert not nn.Parameter(mg.zeros(1), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(mg.tensor([1, 2]))


# ---- gradients, freezing, modes -------------------------------------------------------------
def test_freezing_leaves_frozen_grads_none():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    assert model[0].requires_grad_(False) is model[0]
    F.cross_entropy(model(mg.randn(5, 3)), mg.tensor([0, 1, 1, 0, 1])).backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None and model[2].weight.grad.shape == (2, 4)
    model.requires_grad_(True)
    assert all(p.requires_grad for p in model.parameters())


def test_zero_grad():
    model = nn.Sequential(nn.Linear(3, 2))
    model(mg.ones(1, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert model[0].weight.grad.tolist() == [[0.0] * 3] * 2
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_eval_propagates_and_switches_dropout():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Dropout(0.5), nn.ReLU()))
    assert model.training and model[1][0].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = mg.ones(2, 4)
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert all(m.training for m in model.modules())
    mg.manual_seed(0)
    dropped = model[1][0](mg.ones(1000))
    assert 0.4 < (dropped.data == 0).mean() < 0.6
    with pytest.raises(TypeError, match="boolean"):
        model.train("yes")


def test_scope_is_restored_even_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    net = nn.Sequential(nn.Linear(2, 2), Boom())
    with pytest.raises(RuntimeError, match="boom"):
        net(mg.ones(1, 2))
    assert mg.grad_mode.context().modules == ()


def test_to_double_keeps_identity_and_casts_grads():
    layer = nn.Linear(2, 2)
    w = layer.weight
    layer(mg.ones(1, 2)).sum().backward()
    assert layer.double() is layer and layer.weight is w
    assert w.dtype == np.float64 and w.grad.dtype == np.float64
    assert layer.float().weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        layer.to(mg.int64)


# ---- state dicts -----------------------------------------------------------------------------
def test_state_dict_round_trip_and_sharing():
    a, b = Block(), Block()
    x = mg.randn(4, 3)
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not v.requires_grad for v in sd.values())
    assert sd["fc.weight"].data is a.fc.weight.data  # detached, shares memory (PyTorch)
    result = b.load_state_dict(sd)
    assert result == ([], []) and result.missing_keys == []
    for oa, ob in zip(a(x), b(x), strict=True):
        np.testing.assert_array_equal(oa.data, ob.data)
    assert b.fc.weight._version > 0  # copied in place: the same Parameter objects


def test_load_state_dict_strict_errors_list_every_problem():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    before = model[0].weight.data.copy()
    sd = {k: v.data.copy() for k, v in model.state_dict().items()}
    del sd["2.bias"]
    sd["extra.weight"] = np.zeros(1)
    sd["0.weight"] = np.zeros((2, 4))
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(sd)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert (
        "size mismatch for 0.weight: copying a param with shape (2, 4) from checkpoint, "
        "the shape in current model is (2, 3)."
    ) in msg
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing was copied
    with pytest.raises(RuntimeError, match="size mismatch"):  # even when not strict
        model.load_state_dict(sd, strict=False)
    sd["0.weight"] = np.ones((2, 3))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert (missing, unexpected) == (["2.bias"], ["extra.weight"])
    assert model[0].weight.data.tolist() == [[1.0] * 3] * 2
    with pytest.raises(RuntimeError, match="value for 0.bias is a ndarray of dtype complex128"):
        model.load_state_dict({**sd, "0.bias": np.array([1.0 + 1j, 0j])}, strict=False)
    model.register_buffer("steps", mg.tensor(3))
    with pytest.raises(RuntimeError, match="dtype mismatch for steps: cannot copy float64"):
        model.load_state_dict({"steps": np.array(1.5)}, strict=False)
    model.load_state_dict({"steps": np.array(4, dtype=np.int32)}, strict=False)
    assert model.steps.item() == 4 and model.steps.dtype == np.int64


def test_state_dict_loads_into_and_from_torch(torch, rng):
    ours = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 3))
    ours.load_state_dict(theirs.state_dict())  # torch tensors are array-like
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours(mg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )


def test_deepcopy_gives_an_independent_model():
    model = nn.Sequential(nn.Linear(2, 2))
    clone = copy.deepcopy(model)
    assert clone[0].weight is not model[0].weight
    assert isinstance(clone[0].weight, nn.Parameter)
    np.testing.assert_array_equal(clone[0].weight.data, model[0].weight.data)
    clone[0].weight.data[...] = 0
    assert (model[0].weight.data != 0).any()
    assert [n for n, _ in clone.named_parameters()] == ["0.weight", "0.bias"]


# ---- hooks -----------------------------------------------------------------------------------
def test_forward_hooks_modify_and_remove():
    layer = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append(("pre", module))
        return args[0] * 0  # replace the input

    def post(module, args, out):
        calls.append(("post", args[0].tolist()))
        return out + 1

    h1 = layer.register_forward_pre_hook(pre)
    h2 = layer.register_forward_hook(post)
    out = layer(mg.ones(1, 2))
    np.testing.assert_allclose(out.data, layer.bias.data[None] + 1, rtol=1e-6)
    assert calls == [("pre", layer), ("post", [[0.0, 0.0]])]
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    np.testing.assert_allclose(
        layer(mg.ones(1, 2)).data, (mg.ones(1, 2) @ layer.weight.T + layer.bias).data, rtol=1e-6
    )
    with layer.register_forward_hook(lambda m, a, o: o * 0):
        assert (layer(mg.ones(1, 2)).data == 0).all()
    assert (layer(mg.ones(1, 2)).data != 0).any()


# ---- containers and repr ---------------------------------------------------------------------
def test_repr_matches_torch(torch):
    ours = nn.Sequential(
        nn.Linear(3, 4),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Sequential(nn.Linear(4, 4, bias=False), nn.Tanh()),
        nn.ModuleList([nn.Identity(), nn.Flatten()]),
        nn.ModuleDict({"emb": nn.Embedding(5, 2), "norm": nn.LayerNorm(2), "sm": nn.Softmax(1)}),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False), torch.nn.Tanh()),
        torch.nn.ModuleList([torch.nn.Identity(), torch.nn.Flatten()]),
        torch.nn.ModuleDict(
            {
                "emb": torch.nn.Embedding(5, 2),
                "norm": torch.nn.LayerNorm(2),
                "sm": torch.nn.Softmax(1),
            }
        ),
    )
    assert repr(ours) == repr(theirs)
    assert repr(ours).splitlines()[:3] == [
        "Sequential(",
        "  (0): Linear(in_features=3, out_features=4, bias=True)",
        "  (1): ReLU()",
    ]
    assert repr(Block()).startswith("Block(\n  (fc): Linear(in_features=3, out_features=3")


def test_sequential_container_behaviour(torch):
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]  # as torch
    np.testing.assert_array_equal(seq(mg.ones(1, 2)).data, c(b(a(mg.ones(1, 2)))).data)
    with pytest.raises(IndexError, match="index 3 is out of range for length 3"):
        seq[3]  # noqa: B018
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    seq.append(nn.Sigmoid())
    seq[0] = nn.Linear(2, 3)
    assert seq[0] is not a and len(seq) == 4
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias"]
    tnamed = torch.nn.Sequential(
        OrderedDict([("hidden", torch.nn.Linear(2, 2)), ("act", torch.nn.ReLU())])
    )
    assert repr(named) == repr(tnamed)


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in layers] == [
        "Sigmoid",
        "Linear",
        "Linear",
        "Linear",
        "ReLU",
        "Tanh",
    ]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    assert [n for n, _ in layers.named_parameters()][0] == "0.weight"
    layers[4] = nn.Identity()
    assert isinstance(layers[-1], nn.Identity)
    with pytest.raises(TypeError, match="iterable of modules"):
        layers.extend(nn.ReLU())
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    heads.update([("c", nn.ReLU())])
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(heads.pop("c"), nn.ReLU) and list(heads.keys()) == ["a", "b"]
    del heads["a"]
    assert list(heads.items())[0][0] == "b"
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        heads["keys"] = nn.ReLU()
    heads.clear()
    assert len(heads) == 0 and list(heads.parameters()) == []


# ---- end to end ------------------------------------------------------------------------------
class _HandAdam:
    """Adam as in Kingma & Ba (PyTorch's defaults), written out for this test."""

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad.data
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def _optimizer(kind, params):
    if kind == "hand":
        return _HandAdam(params, lr=1e-2)
    optim = pytest.importorskip("microgradnp.optim")
    return optim.Adam(params, lr=1e-2)


@pytest.mark.parametrize("kind", ["hand", "mg.optim"])
def test_softmax_network_learns_digits_with_adam(kind):
    """The article's network, Linear -> Sigmoid -> Linear -> cross-entropy, trained with Adam
    on the bundled 8x8 digits reaches >= 93% accuracy on 30% held-out images."""
    from microgradnp.datasets import load_digits

    X, y = load_digits()
    X = X / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    split = int(0.7 * len(X))
    train, test = order[:split], order[split:]
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = _optimizer(kind, model.parameters())
    batches = np.random.default_rng(1)
    first = last = None
    for _epoch in range(15):
        perm = batches.permutation(train)
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = loss_fn(model(mg.tensor(X[idx])), mg.tensor(y[idx]))
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
            last = loss.item()
    model.eval()
    with mg.no_grad():
        pred = model(mg.tensor(X[test])).data.argmax(axis=1)
    accuracy = (pred == y[test]).mean()
    assert last < first / 5
    assert accuracy >= 0.93, accuracy
