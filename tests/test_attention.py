"""scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer,
TransformerDecoderLayer and KLDivLoss against PyTorch (values and every gradient in
float64, PyTorch's weights loaded by key, train and eval mode, causal / key-padding / bool
/ float masks) and against finite differences of first and second order.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from torch_compare import _close, _float64, _load  # noqa: F401 (_float64: an autouse fixture)

import microgradnp as mg

F = mg.nn.functional


def _compare(torch, fn, tfn, arrays, rng, model=None, tmodel=None):
    """fn(*tensors) and tfn(*torch tensors) on the same float64 arrays: outputs (a tensor or
    a tuple, None allowed), then gradients of every array and every parameter."""
    ours_in = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = fn(*ours_in), tfn(*theirs_in)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    loss_o = loss_t = 0.0
    for k, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        if t is None:
            assert o is None, f"output {k} should be None"
            continue
        assert o.shape == tuple(t.shape), f"output {k}: {o.shape} vs {tuple(t.shape)}"
        _close(o.data, t.detach().numpy(), f"output {k}")
        u = rng.standard_normal(o.shape)
        loss_o = loss_o + (o * mg.tensor(u)).sum()
        loss_t = loss_t + (t * torch.tensor(u)).sum()
    loss_o.backward()
    loss_t.backward()
    for k, (o, t) in enumerate(zip(ours_in, theirs_in, strict=True)):
        _close(o.grad.data, t.grad.numpy(), f"gradient of input {k}")
    if model is not None:
        params = dict(model.named_parameters())
        for name, p in tmodel.named_parameters():
            _close(params[name].grad.data, p.grad.numpy(), f"gradient of {name}")


# ---- scaled_dot_product_attention ------------------------------------------------------------
def _sdpa_masks(rng, length, source):
    keep = rng.random((length, source)) > 0.3
    keep[:, 0] = True  # every query sees at least one key
    yield "none", {}
    yield "causal", {"is_causal": True}
    yield "bool", {"attn_mask": keep}
    yield "bool-broadcast", {"attn_mask": keep[None, None] & (rng.random((2, 1, 1, source)) > -1)}
    yield "float", {"attn_mask": rng.standard_normal((length, source))}
    yield "scale", {"scale": 0.3}


SDPA_SHAPES = [((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)), ((4, 6), (4, 6), (4, 3))]


@pytest.mark.parametrize("shapes", SDPA_SHAPES, ids=["4d", "2d"])
def test_sdpa_against_torch(torch, shapes):
    rng = np.random.default_rng(0)
    sq, sk, sv = shapes
    for _name, kw in _sdpa_masks(rng, sq[-2], sk[-2]):
        if "attn_mask" in kw and kw["attn_mask"].ndim > len(sq):
            continue
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        arrays = [rng.standard_normal(s) for s in shapes]
        _compare(
            torch,
            lambda q, k, v, kw=kw: F.scaled_dot_product_attention(q, k, v, **kw),
            lambda q, k, v, tkw=tkw: torch.nn.functional.scaled_dot_product_attention(
                q, k, v, **tkw
            ),
            arrays,
            rng,
        )


def test_sdpa_finite_differences():
    rng = np.random.default_rng(0)
    q, k, v = (mg.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4),) * 3)
    mask = mg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    for kw in ({}, {"is_causal": True}):
        assert mg.gradcheck(lambda *a, kw=kw: F.scaled_dot_product_attention(*a, **kw), [q, k, v])
        assert mg.gradgradcheck(
            lambda *a, kw=kw: F.scaled_dot_product_attention(*a, **kw), [q, k, v]
        )
    assert mg.gradcheck(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), [q, k, v, mask]
    )


def test_sdpa_dropout_and_errors():
    q = mg.randn(2, 4, 8)
    mg.manual_seed(0)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    mg.manual_seed(0)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    np.testing.assert_array_equal(a.data, b.data)
    assert np.abs(a.data - F.scaled_dot_product_attention(q, q, q).data).max() > 1e-3
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool), is_causal=True)
    with pytest.raises(ValueError, match="do not match"):
        F.scaled_dot_product_attention(q, mg.randn(2, 4, 7), q)
    with pytest.raises(TypeError, match="bool or floating"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), int))


# ---- MultiheadAttention ----------------------------------------------------------------------
def _mha_masks(rng, batch, heads, length, source):
    causal = np.triu(np.ones((length, source), bool), 1)  # True = ignored, in MHA
    padding = np.zeros((batch, source), bool)
    padding[0, -2:] = True
    yield {}
    yield {"attn_mask": causal}
    yield {"attn_mask": causal, "is_causal": True}
    yield {"attn_mask": rng.standard_normal((length, source))}
    yield {"attn_mask": rng.standard_normal((batch * heads, length, source))}
    yield {"key_padding_mask": padding}
    yield {"key_padding_mask": np.where(padding, -1e9, 0.0)}
    yield {"key_padding_mask": padding, "attn_mask": causal}


MHA_CONFIGS = list(itertools.product([False, True], [True, False], [None, (6, 7)]))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "batch_first,bias,kvdim", MHA_CONFIGS, ids=lambda v: str(v).replace(" ", "")
)
def test_mha_against_torch(torch, batch_first, bias, kvdim, train):
    rng = np.random.default_rng(0)
    embed, heads, batch, length, source = 8, 2, 3, 4, 5
    kdim, vdim = kvdim or (None, None)
    kw = {"bias": bias, "kdim": kdim, "vdim": vdim, "batch_first": batch_first}
    tmodel = torch.nn.MultiheadAttention(embed, heads, **kw).double().train(train)
    model = mg.nn.MultiheadAttention(embed, heads, **kw).train(train)
    _load(model, tmodel)

    def shape(n, d):
        return (batch, n, d) if batch_first else (n, batch, d)

    for masks in _mha_masks(rng, batch, heads, length, source):
        tmasks = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()}
        for need_weights, average in ((True, True), (True, False), (False, True)):
            opts = {"need_weights": need_weights, "average_attn_weights": average}
            arrays = [
                rng.standard_normal(shape(length, embed)),
                rng.standard_normal(shape(source, kdim or embed)),
                rng.standard_normal(shape(source, vdim or embed)),
            ]
            model.zero_grad()
            tmodel.zero_grad()
            _compare(
                torch,
                lambda q, k, v, m=masks, o=opts: model(q, k, v, **m, **o),
                lambda q, k, v, m=tmasks, o=opts: tmodel(q, k, v, **m, **o),
                arrays,
                rng,
                model,
                tmodel,
            )


def test_mha_self_attention_and_unbatched(torch):
    rng = np.random.default_rng(1)
    tmodel = torch.nn.MultiheadAttention(6, 3).double()
    model = mg.nn.MultiheadAttention(6, 3)
    _load(model, tmodel)
    _compare(
        torch,
        lambda x: model(x, x, x),
        lambda x: tmodel(x, x, x),
        [rng.standard_normal((5, 2, 6))],
        rng,
        model,
        tmodel,
    )
    pad = np.array([False, False, True, False, False])
    for avg in (True, False):
        model.zero_grad()
        tmodel.zero_grad()
        _compare(
            torch,
            lambda q, k, a=avg: model(q, k, k, key_padding_mask=pad, average_attn_weights=a),
            lambda q, k, a=avg: tmodel(
                q, k, k, key_padding_mask=torch.tensor(pad), average_attn_weights=a
            ),
            [rng.standard_normal((4, 6)), rng.standard_normal((5, 6))],
            rng,
            model,
            tmodel,
        )


def test_mha_init_keys_and_errors(torch):
    model = mg.nn.MultiheadAttention(8, 2)
    tmodel = torch.nn.MultiheadAttention(8, 2)
    assert list(model.state_dict()) == list(tmodel.state_dict())
    assert not model.in_proj_bias.data.any() and not model.out_proj.bias.data.any()
    bound = np.sqrt(6.0 / (8 + 24))  # xavier_uniform on (3E, E)
    assert np.abs(model.in_proj_weight.data).max() <= bound
    assert np.abs(model.out_proj.weight.data).max() <= 1 / np.sqrt(8)
    other = mg.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert list(other.state_dict()) == list(
        torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False).state_dict()
    )
    with pytest.raises(ValueError, match="divisible"):
        mg.nn.MultiheadAttention(8, 3)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        mg.nn.MultiheadAttention(8, 2, add_bias_kv=True)
    x = mg.randn(4, 2, 8)
    with pytest.raises(ValueError, match="give attn_mask"):
        model(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="expected last dims 8"):
        model(mg.randn(4, 2, 7), x, x)
    with pytest.raises(ValueError, match="key_padding_mask must have shape"):
        model(x, x, x, key_padding_mask=np.zeros((3, 4), bool))


def test_mha_finite_differences():
    mg.manual_seed(0)
    model = mg.nn.MultiheadAttention(4, 2, kdim=3, vdim=2)
    rng = np.random.default_rng(0)
    q = mg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = mg.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    v = mg.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)
    params = list(model.parameters())

    def fn(q, k, v, *ps):
        return model(q, k, v)

    assert mg.gradcheck(fn, [q, k, v, *params], atol=1e-7, rtol=1e-6)
    assert mg.gradgradcheck(fn, [q, k, v], atol=1e-6, rtol=1e-5)


# ---- Transformer layers ----------------------------------------------------------------------
LAYER_CONFIGS = list(
    itertools.product([False, True], ["relu", "gelu"], [False, True], [True, False])
)


def _layer_masks(torch, rng, batch, length):
    causal = np.triu(np.ones((length, length), bool), 1)
    padding = np.zeros((batch, length), bool)
    padding[1, -1] = True
    yield {}, {}
    yield {"mask": causal, "causal": True}, {}
    yield {"mask": rng.standard_normal((length, length))}, {}
    yield {}, {"padding": padding}
    yield {"mask": causal}, {"padding": padding}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "norm_first,activation,batch_first,bias", LAYER_CONFIGS, ids=lambda v: str(v)
)
def test_encoder_layer_against_torch(torch, norm_first, activation, batch_first, bias, train):
    rng = np.random.default_rng(0)
    d, batch, length = 8, 3, 5
    kw = {
        "dim_feedforward": 12,
        "dropout": 0.0,
        "activation": activation,
        "batch_first": batch_first,
        "norm_first": norm_first,
        "bias": bias,
    }
    tmodel = torch.nn.TransformerEncoderLayer(d, 2, **kw).double().train(train)
    model = mg.nn.TransformerEncoderLayer(d, 2, **kw).train(train)
    _load(model, tmodel)
    shape = (batch, length, d) if batch_first else (length, batch, d)
    for m, p in _layer_masks(torch, rng, batch, length):
        ours = {"src_mask": m.get("mask"), "src_key_padding_mask": p.get("padding")}
        ours["is_causal"] = m.get("causal", False)
        theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in ours.items()}
        model.zero_grad()
        tmodel.zero_grad()
        _compare(
            torch,
            lambda x, o=ours: model(x, **o),
            lambda x, o=theirs: tmodel(x, **o),
            [rng.standard_normal(shape)],
            rng,
            model,
            tmodel,
        )


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "norm_first,activation,batch_first,bias", LAYER_CONFIGS, ids=lambda v: str(v)
)
def test_decoder_layer_against_torch(torch, norm_first, activation, batch_first, bias, train):
    rng = np.random.default_rng(0)
    d, batch, length, source = 8, 3, 4, 6
    kw = {
        "dim_feedforward": 12,
        "dropout": 0.0,
        "activation": activation,
        "batch_first": batch_first,
        "norm_first": norm_first,
        "bias": bias,
    }
    tmodel = torch.nn.TransformerDecoderLayer(d, 2, **kw).double().train(train)
    model = mg.nn.TransformerDecoderLayer(d, 2, **kw).train(train)
    _load(model, tmodel)

    def shape(n):
        return (batch, n, d) if batch_first else (n, batch, d)

    causal = np.triu(np.ones((length, length), bool), 1)
    mem_pad = np.zeros((batch, source), bool)
    mem_pad[2, :2] = True
    cases = [
        {},
        {"tgt_mask": causal, "tgt_is_causal": True},
        {"tgt_mask": causal, "memory_key_padding_mask": mem_pad},
        {"memory_mask": rng.standard_normal((length, source))},
        {"tgt_key_padding_mask": np.eye(batch, length, dtype=bool)},
    ]
    for ours in cases:
        theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in ours.items()}
        model.zero_grad()
        tmodel.zero_grad()
        _compare(
            torch,
            lambda t, m, o=ours: model(t, m, **o),
            lambda t, m, o=theirs: tmodel(t, m, **o),
            [rng.standard_normal(shape(length)), rng.standard_normal(shape(source))],
            rng,
            model,
            tmodel,
        )


def test_transformer_layers_finite_differences():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    enc = mg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu")
    dec = mg.nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True)
    x = mg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mem = mg.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    assert mg.gradcheck(lambda x, *p: enc(x), [x, *enc.parameters()], atol=1e-7, rtol=1e-6)
    assert mg.gradgradcheck(lambda x: enc(x), [x], atol=1e-6, rtol=1e-5)
    assert mg.gradcheck(lambda x, m: dec(x, m), [x, mem], atol=1e-7, rtol=1e-6)
    assert mg.gradgradcheck(lambda x, m: dec(x, m), [x, mem], atol=1e-6, rtol=1e-5)


def test_transformer_layer_structure_and_dropout(torch):
    layer = mg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    tlayer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [n for n, _ in layer.named_modules()] == [n for n, _ in tlayer.named_modules()]
    dec = mg.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    tdec = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    assert [n for n, _ in dec.named_modules()] == [n for n, _ in tdec.named_modules()]
    assert list(dec.state_dict()) == list(tdec.state_dict())
    assert repr(dec) == repr(tdec) and repr(layer) == repr(tlayer)
    x = mg.randn(5, 2, 8)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, layer(x).data)
    layer.train()
    assert np.abs(layer(x).data - layer.eval()(x).data).max() > 1e-3  # dropout 0.1 acts
    custom = mg.nn.TransformerEncoderLayer(8, 2, 16, activation=mg.tanh)
    assert custom.activation is mg.tanh
    with pytest.raises(ValueError, match="relu/gelu"):
        mg.nn.TransformerEncoderLayer(8, 2, activation="swish")


# ---- KLDivLoss -------------------------------------------------------------------------------
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_against_torch(torch, reduction, log_target):
    rng = np.random.default_rng(0)
    logq = np.log(rng.dirichlet(np.ones(5), size=4))
    p = rng.dirichlet(np.ones(5), size=4)
    p[0, 2] = 0.0  # a zero target contributes 0 (0 log 0 = 0)
    target = np.log(p + 1e-3) if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare(
            torch,
            lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
            lambda x, t: torch.nn.functional.kl_div(
                x, t, reduction=reduction, log_target=log_target
            ),
            [logq, target] if log_target else [logq, target + (target == 0) * 0.1],
            rng,
        )
        loss = mg.nn.KLDivLoss(reduction=reduction, log_target=log_target)
        tloss = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
        _close(
            loss(mg.tensor(logq), mg.tensor(target)).data,
            tloss(torch.tensor(logq), torch.tensor(target)).numpy(),
            "KLDivLoss",
        )
    x = mg.tensor(logq, requires_grad=True)
    t = mg.tensor(target + 0.05, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target)  # noqa: E731
        assert mg.gradcheck(fn, [x, t])
        assert mg.gradgradcheck(fn, [x, t])


def test_kl_div_warning_and_errors():
    x = mg.log(mg.tensor([[0.5, 0.5]]))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, mg.tensor([[0.9, 0.1]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, mg.tensor([[0.9, 0.1]]), reduction="batchmean")  # no warning
    with pytest.raises(ValueError, match="reduction"):
        mg.nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        F.kl_div(x, mg.tensor([0.9, 0.1]), reduction="sum")


def test_fully_masked_rows_as_torch(torch):
    """A query that may attend to nothing: 0 (with zero gradients) from
    scaled_dot_product_attention and from MultiheadAttention without weights, as PyTorch."""
    rng = np.random.default_rng(0)
    keep = np.ones((3, 4), bool)
    keep[1] = False
    _compare(
        torch,
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=torch.tensor(keep)
        ),
        [rng.standard_normal(s) for s in ((2, 3, 5), (2, 4, 5), (2, 4, 2))],
        rng,
    )
    tmodel = torch.nn.MultiheadAttention(4, 2).double()
    model = mg.nn.MultiheadAttention(4, 2)
    _load(model, tmodel)
    padding = np.zeros((2, 3), bool)
    padding[1] = True  # every key of the second sequence ignored
    _compare(
        torch,
        lambda x: model(x, x, x, key_padding_mask=padding, need_weights=False),
        lambda x: tmodel(x, x, x, key_padding_mask=torch.tensor(padding), need_weights=False),
        [rng.standard_normal((3, 2, 4))],
        rng,
        model,
        tmodel,
    )


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_stacks_against_torch(torch, norm_first, train):
    rng = np.random.default_rng(0)
    kw = {"dim_feedforward": 12, "dropout": 0.0, "norm_first": norm_first}
    tenc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, **kw),
        2,
        norm=torch.nn.LayerNorm(8),
        enable_nested_tensor=False,
    )
    tdec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2)
    enc = mg.nn.TransformerEncoder(
        mg.nn.TransformerEncoderLayer(8, 2, **kw), 2, norm=mg.nn.LayerNorm(8)
    )
    dec = mg.nn.TransformerDecoder(mg.nn.TransformerDecoderLayer(8, 2, **kw), 2)
    for ours, theirs in ((enc, tenc), (dec, tdec)):
        theirs.double().train(train)
        ours.train(train)
        _load(ours, theirs)
    causal = np.triu(np.ones((4, 4), bool), 1)
    padding = np.zeros((3, 5), bool)
    padding[0, -1] = True
    _compare(
        torch,
        lambda x: enc(x, mask=causal, src_key_padding_mask=padding[:, :4]),
        lambda x: tenc(
            x, mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(padding[:, :4])
        ),
        [rng.standard_normal((4, 3, 8))],
        rng,
        enc,
        tenc,
    )
    _compare(
        torch,
        lambda t, m: dec(t, m, tgt_mask=causal, memory_key_padding_mask=padding),
        lambda t, m: tdec(
            t, m, tgt_mask=torch.tensor(causal), memory_key_padding_mask=torch.tensor(padding)
        ),
        [rng.standard_normal((4, 3, 8)), rng.standard_normal((5, 3, 8))],
        rng,
        dec,
        tdec,
    )
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight  # copies
