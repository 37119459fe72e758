"""RNN, LSTM, GRU and their cells against PyTorch: the same constructor, PyTorch's weights
loaded by key, forward values and every gradient (input, initial state, parameters) equal
in float64; the CMU 10-414 (needle) hw4 sequence-model grid of shapes; finite differences
of first and second order; a 2-layer LSTM language model loaded from PyTorch.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from torch_compare import _close, _float64, _load  # noqa: F401 (_float64: an autouse fixture)

import microgradnp as mg


def _flat(out):
    if isinstance(out, tuple):
        return [t for o in out for t in _flat(o)]
    return [out]


def _check_against_torch(torch, model, tmodel, inputs, rng, train=True):
    """Forward both with the same float64 inputs (None stays None, tuples of states are
    kept); compare every output, then backprop random cotangents and compare the gradients
    of every input and parameter."""
    model.train(train)
    tmodel.train(train)

    def conv(x, make):
        if x is None:
            return None
        if isinstance(x, tuple):
            return tuple(conv(a, make) for a in x)
        return make(x)

    ours_in = [conv(x, lambda a: mg.tensor(a, requires_grad=True)) for x in inputs]
    theirs_in = [conv(x, lambda a: torch.tensor(a, requires_grad=True)) for x in inputs]
    ours = _flat(model(*ours_in))
    theirs = _flat(tmodel(*theirs_in))
    assert len(ours) == len(theirs)
    loss_o, loss_t = 0.0, 0.0
    for k, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        assert o.shape == tuple(t.shape), f"output {k}: {o.shape} vs {tuple(t.shape)}"
        _close(o.data, t.detach().numpy(), f"output {k}")
        u = rng.standard_normal(o.shape)
        loss_o = loss_o + (o * mg.tensor(u)).sum()
        loss_t = loss_t + (t * torch.tensor(u)).sum()
    loss_o.backward()
    loss_t.backward()
    for k, (o, t) in enumerate(zip(_flat(tuple(ours_in)), _flat(tuple(theirs_in)), strict=True)):
        if o is not None:
            _close(o.grad.data, t.grad.numpy(), f"gradient of input {k}")
    params = dict(model.named_parameters())
    for name, p in tmodel.named_parameters():
        _close(params[name].grad.data, p.grad.numpy(), f"gradient of {name}")


# ---- the needle hw4 grid: cells --------------------------------------------------------------
CELL_GRID = list(itertools.product([1, 15], [1, 11], [1, 12], [True, False], [True, False]))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_grid(torch, nonlinearity):
    rng = np.random.default_rng(3)
    for batch, n_in, hidden, bias, init_hidden in CELL_GRID:
        tcell = torch.nn.RNNCell(n_in, hidden, bias=bias, nonlinearity=nonlinearity).double()
        cell = mg.nn.RNNCell(n_in, hidden, bias=bias, nonlinearity=nonlinearity)
        _load(cell, tcell)
        h0 = rng.standard_normal((batch, hidden)) if init_hidden else None
        _check_against_torch(torch, cell, tcell, [rng.standard_normal((batch, n_in)), h0], rng)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_gated_cell_grid(torch, kind):
    rng = np.random.default_rng(3)
    for batch, n_in, hidden, bias, init_hidden in CELL_GRID:
        tcell = getattr(torch.nn, kind)(n_in, hidden, bias=bias).double()
        cell = getattr(mg.nn, kind)(n_in, hidden, bias=bias)
        _load(cell, tcell)
        state = None
        if init_hidden:
            state = rng.standard_normal((batch, hidden))
            if kind == "LSTMCell":
                state = (state, rng.standard_normal((batch, hidden)))
        _check_against_torch(torch, cell, tcell, [rng.standard_normal((batch, n_in)), state], rng)


# ---- the needle hw4 grid: stacks -------------------------------------------------------------
STACK_GRID = list(itertools.product([1, 15], [1, 11], [1, 12], [True, False], [True, False]))


def _initial_state(rng, kind, layers, batch, hidden):
    h0 = rng.standard_normal((layers, batch, hidden))
    return (h0, rng.standard_normal((layers, batch, hidden))) if kind == "LSTM" else h0


@pytest.mark.parametrize("seq_len", [1, 13])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["RNN_tanh", "RNN_relu", "LSTM", "GRU"])
def test_stack_grid(torch, kind, num_layers, seq_len):
    rng = np.random.default_rng(3)
    name, _, nonlinearity = kind.partition("_")
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    for batch, n_in, hidden, bias, init_hidden in STACK_GRID:
        tmodel = getattr(torch.nn, name)(n_in, hidden, num_layers, bias=bias, **kw).double()
        model = getattr(mg.nn, name)(n_in, hidden, num_layers, bias=bias, **kw)
        _load(model, tmodel)
        x = rng.standard_normal((seq_len, batch, n_in))
        hx = _initial_state(rng, name, num_layers, batch, hidden) if init_hidden else None
        _check_against_torch(torch, model, tmodel, [x, hx], rng)


# ---- options beyond the grid -----------------------------------------------------------------
OPTIONS = [
    {"bidirectional": True},
    {"batch_first": True},
    {"bidirectional": True, "batch_first": True, "num_layers": 3},
    {"num_layers": 2, "dropout": 0.0, "bias": False, "bidirectional": True},
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())
)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_options(torch, kind, options, train):
    rng = np.random.default_rng(0)
    tmodel = getattr(torch.nn, kind)(4, 5, **options).double()
    model = getattr(mg.nn, kind)(4, 5, **options)
    _load(model, tmodel)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    x = rng.standard_normal((3, 6, 4) if options.get("batch_first") else (6, 3, 4))
    _check_against_torch(torch, model, tmodel, [x, None], rng, train)
    hx = _initial_state(rng, kind, layers, 3, 5)
    _check_against_torch(torch, model, tmodel, [x, hx], rng, train)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched(torch, kind):
    rng = np.random.default_rng(0)
    tmodel = getattr(torch.nn, kind)(4, 5, num_layers=2, bidirectional=True).double()
    model = getattr(mg.nn, kind)(4, 5, num_layers=2, bidirectional=True)
    _load(model, tmodel)
    h0 = rng.standard_normal((4, 5))
    hx = (h0, rng.standard_normal((4, 5))) if kind == "LSTM" else h0
    _check_against_torch(torch, model, tmodel, [rng.standard_normal((6, 4)), hx], rng)
    tcell = getattr(torch.nn, kind + "Cell")(4, 5).double()
    cell = getattr(mg.nn, kind + "Cell")(4, 5)
    _load(cell, tcell)
    h = rng.standard_normal(5)
    _check_against_torch(
        torch, cell, tcell, [rng.standard_normal(4), (h, h) if kind == "LSTM" else h], rng
    )


def test_language_model_loads_from_torch(torch):
    """A 2-layer LSTM language model (Embedding -> LSTM -> Linear) defined in PyTorch loads
    its state_dict into the same microgradnp model and gives the same outputs and grads."""
    vocab, emb, hidden = 50, 16, 24

    def build(nn):
        class LanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(vocab, emb)
                self.lstm = nn.LSTM(emb, hidden, num_layers=2, dropout=0.2)
                self.decoder = nn.Linear(hidden, vocab)

            def forward(self, tokens, state=None):
                out, state = self.lstm(self.embedding(tokens), state)
                return self.decoder(out), state

        return LanguageModel()

    tmodel = build(torch.nn).double()
    model = build(mg.nn)
    _load(model, tmodel)
    tokens = np.random.default_rng(0).integers(0, vocab, size=(12, 4))
    for train in (False,):  # dropout 0.2 between the layers: compare in eval mode
        model.train(train)
        tmodel.train(train)
        logits, (h, c) = model(mg.tensor(tokens))
        tlogits, (th, tc) = tmodel(torch.tensor(tokens))
        _close(logits.data, tlogits.detach().numpy(), "logits")
        _close(c.data, tc.detach().numpy(), "c_n")
        loss = mg.nn.functional.cross_entropy(logits.reshape(-1, vocab), tokens.reshape(-1))
        tloss = torch.nn.functional.cross_entropy(
            tlogits.reshape(-1, vocab), torch.tensor(tokens.reshape(-1))
        )
        loss.backward()
        tloss.backward()
        params = dict(model.named_parameters())
        for name, p in tmodel.named_parameters():
            _close(params[name].grad.data, p.grad.numpy(), name)


# every third point of the 128-point grid: each value of each axis still occurs
NEEDLE_LM_GRID = list(
    itertools.product([1, 13], [1, 2], [1, 15], [1, 34], [1, 12], [True, False], [1, 1000])
)[::3]


@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_language_model_grid(torch, kind):
    """needle hw4's language-model grid (sequence length, layers, batch, embedding size,
    hidden size, initial state, vocabulary), compared with PyTorch value for value."""
    rng = np.random.default_rng(0)
    for seq_len, layers, batch, emb, hidden, init_hidden, vocab in NEEDLE_LM_GRID:
        modules = []
        for nn in (torch.nn, mg.nn):
            modules.append(
                (
                    nn.Embedding(vocab, emb),
                    getattr(nn, kind)(emb, hidden, layers),
                    nn.Linear(hidden, vocab),
                )
            )
        for ours, theirs in zip(modules[1], modules[0], strict=True):
            theirs.double()
            _load(ours, theirs)
        tokens = rng.integers(0, vocab, size=(seq_len, batch))
        hx = _initial_state(rng, kind, layers, batch, hidden) if init_hidden else None
        (e, r, d), (te, tr, td) = modules[1], modules[0]
        out, _ = r(e(mg.tensor(tokens)), None if hx is None else _tensors(mg, hx))
        tout, _ = tr(te(torch.tensor(tokens)), None if hx is None else _tensors(torch, hx))
        logits, tlogits = d(out).reshape(-1, vocab), td(tout).reshape(-1, vocab)
        _close(logits.data, tlogits.detach().numpy(), "logits")
        logits.sum().backward()
        tlogits.sum().backward()
        for ours, theirs in ((e, te), (r, tr), (d, td)):
            params = dict(ours.named_parameters())
            for name, p in theirs.named_parameters():
                _close(params[name].grad.data, p.grad.numpy(), name)


def _tensors(lib, hx):
    return tuple(lib.tensor(h) for h in hx) if isinstance(hx, tuple) else lib.tensor(hx)


# ---- finite differences ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_gradcheck(kind):
    mg.manual_seed(0)
    model = getattr(mg.nn, kind)(2, 2, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    params = list(model.parameters())
    if kind == "LSTM":
        c0 = mg.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)

        def fn(x, h0, c0, *ps):
            out, (h, c) = model(x, (h0, c0))
            return out, h, c

        inputs = [x, h0, c0, *params]
    else:

        def fn(x, h0, *ps):
            out, h = model(x, h0)
            return out, h

        inputs = [x, h0, *params]
    assert mg.gradcheck(fn, inputs, atol=1e-7, rtol=1e-6)
    assert mg.gradgradcheck(fn, inputs[:3], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradcheck(kind):
    mg.manual_seed(0)
    cell = getattr(mg.nn, kind)(3, 2)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    c = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    params = list(cell.parameters())
    if kind == "LSTMCell":
        inputs = [x, h, c, *params]

        def fn(x, h, c, *ps):
            return cell(x, (h, c))
    else:
        inputs = [x, h, *params]

        def fn(x, h, *ps):
            return cell(x, h)

    assert mg.gradcheck(fn, inputs, atol=1e-7, rtol=1e-6)
    assert mg.gradgradcheck(fn, inputs, atol=1e-6, rtol=1e-5)


# ---- construction, initialisation, dropout, errors -------------------------------------------
def test_state_dict_keys_and_init(torch):
    model = mg.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    tmodel = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert list(model.state_dict()) == list(tmodel.state_dict())
    for name, p in model.named_parameters():
        assert p.shape == tuple(tmodel.state_dict()[name].shape), name
        assert np.abs(p.data).max() <= 0.5  # U(-1/sqrt(4), 1/sqrt(4))
    big = mg.nn.GRU(8, 100)
    w = big.weight_hh_l0.data
    assert np.abs(w).max() <= 0.1 and abs(w.std() - 0.1 / np.sqrt(3)) < 0.005
    assert list(mg.nn.GRUCell(2, 3).state_dict()) == list(torch.nn.GRUCell(2, 3).state_dict())
    for kind, kw in (
        ("LSTM", {"num_layers": 2, "batch_first": True}),
        ("RNN", {"nonlinearity": "relu", "bias": False, "bidirectional": True}),
        ("GRU", {"dropout": 0.5, "num_layers": 3}),
        ("RNNCell", {"nonlinearity": "relu"}),
        ("LSTMCell", {"bias": False}),
    ):
        assert repr(getattr(mg.nn, kind)(3, 4, **kw)) == repr(getattr(torch.nn, kind)(3, 4, **kw))


def test_dropout_between_layers():
    mg.manual_seed(0)
    model = mg.nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = mg.randn(5, 2, 3)
    model.eval()
    a, b = model(x)[0], model(x)[0]
    np.testing.assert_array_equal(a.data, b.data)  # no dropout in eval mode
    model.train()
    mg.manual_seed(1)
    c = model(x)[0]
    mg.manual_seed(1)
    d = model(x)[0]
    np.testing.assert_array_equal(c.data, d.data)  # seeded
    assert np.abs(c.data - a.data).max() > 1e-3  # dropout changed the second layer's input
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        mg.nn.LSTM(3, 4, dropout=0.5)


def test_errors():
    lstm = mg.nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size. Expected 3, got 5"):
        lstm(mg.zeros(2, 2, 5))
    with pytest.raises(ValueError, match=r"Expected hidden size \(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(mg.zeros(6, 2, 3), (mg.zeros(1, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        lstm(mg.zeros(6, 2, 3), mg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="2D or 3D"):
        mg.nn.GRU(3, 4)(mg.zeros(3))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        mg.nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\)"):
        mg.nn.GRUCell(3, 4)(mg.zeros(2, 5))
    with pytest.raises(NotImplementedError, match="proj_size"):
        mg.nn.LSTM(3, 4, proj_size=2)
