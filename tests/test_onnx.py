"""mg.onnx.export: the exported models pass onnx.checker and onnxruntime computes what
microgradnp computes (float32, to 1e-5), for an MLP, the CNN example, and a small GPT built
from mg.nn layers; a dynamic batch axis; clear errors for what cannot be exported."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn.functional as F
from microgradnp import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cnn_mnist.py"


def _session(path: Path):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _expected(model: nn.Module, *xs: np.ndarray) -> np.ndarray:
    """The model's output in eval mode (its mode restored afterwards)."""
    training = model.training
    model.eval()
    with mg.no_grad():
        out = model(*(mg.tensor(x) for x in xs))
    model.train(training)
    return (out[0] if isinstance(out, tuple) else out).numpy()


def _roundtrip(model, x: np.ndarray, tmp_path: Path, **kw) -> tuple[float, object]:
    """Export on x; the largest |onnxruntime - microgradnp| on x, and the session."""
    path = tmp_path / "model.onnx"
    mg.onnx.export(model, mg.tensor(x), path, **kw)
    sess = _session(path)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    want = _expected(model, x)
    assert got.shape == want.shape and got.dtype == want.dtype
    return float(np.abs(got - want).max()), sess


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- the models ---------------------------------------------------------------------------
def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 16),
        nn.Tanh(), nn.Linear(16, 4), nn.LogSoftmax(dim=1),
    )  # fmt: skip


def _cnn() -> nn.Module:
    spec = importlib.util.spec_from_file_location("example_cnn_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mg.manual_seed(0)
    model = module.build_model()
    rng = np.random.default_rng(1)
    for m in model.modules():  # running statistics that are not the defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data[:] = rng.standard_normal(m.num_features)
            m.running_var.data[:] = rng.uniform(0.5, 2.0, m.num_features)
    return model


class CausalSelfAttention(nn.Module):
    """Attention written out as in a GPT: masked_fill with a tril buffer, softmax, matmul."""

    def __init__(self, d: int, heads: int, block: int) -> None:
        super().__init__()
        self.c_attn, self.c_proj, self.heads = nn.Linear(d, 3 * d), nn.Linear(d, d), heads
        self.register_buffer("bias", mg.tril(mg.ones(block, block)).reshape(1, 1, block, block))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.heads))
        att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class TinyGPT(nn.Module):
    """Token and position embeddings, pre-norm causal blocks (nn.TransformerEncoderLayer
    with GELU, and a written-out attention block with tanh-GELU), a final LayerNorm and an
    output layer tied to the token embedding."""

    def __init__(self, vocab: int = 23, d: int = 16, heads: int = 2, block: int = 8) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.drop = nn.Dropout(0.1)
        self.layer = nn.TransformerEncoderLayer(
            d, heads, 4 * d, dropout=0.1, activation="gelu", batch_first=True, norm_first=True
        )
        self.ln1, self.attn = nn.LayerNorm(d), CausalSelfAttention(d, heads, block)
        self.ln2, self.fc, self.gelu = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.GELU("tanh")
        self.proj, self.ln_f = nn.Linear(4 * d, d), nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx):
        t = idx.shape[1]
        h = self.drop(self.tok(idx) + self.pos(mg.arange(t)))
        mask = mg.triu(mg.ones(t, t, dtype=mg.bool_), diagonal=1)
        h = self.layer(h, src_mask=mask, is_causal=True)
        h = h + self.attn(self.ln1(h))
        h = h + self.proj(self.gelu(self.fc(self.ln2(h))))
        return self.head(self.ln_f(h))


# ---- round trips --------------------------------------------------------------------------
def test_mlp(tmp_path):
    mg.manual_seed(0)
    model = _mlp()
    diff, _ = _roundtrip(model, _rand(7, 5), tmp_path, input_names=["x"], output_names=["y"])
    assert diff < 1e-5
    m = onnx.load(str(tmp_path / "model.onnx"))
    assert [i.name for i in m.graph.input] == ["x"] and [o.name for o in m.graph.output] == ["y"]
    # parameters are initializers named by their state_dict keys
    assert {i.name for i in m.graph.initializer} == set(model.state_dict())
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("Gemm") == 4 and {"Relu", "Sigmoid", "Tanh", "LogSoftmax"} <= set(ops)


def test_softmax_output(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.Softmax(dim=-1))
    diff, _ = _roundtrip(model, _rand(3, 5), tmp_path)
    assert diff < 1e-6


def test_cnn_eval_batchnorm_dynamic_batch(tmp_path):
    model = _cnn()
    model.train()
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    diff, sess = _roundtrip(model, _rand(2, 1, 28, 28), tmp_path, dynamic_axes=axes)
    assert diff < 1e-5
    assert all(m.training for m in model.modules())  # restored after tracing in eval mode
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert {"Conv", "MaxPool", "Relu", "Gemm", "Reshape"} <= ops and "Gather" not in ops
    assert sess.get_inputs()[0].shape == ["batch", 1, 28, 28]
    x5 = _rand(5, 1, 28, 28, seed=3)  # another batch size than traced
    got = sess.run(None, {"input": x5})[0]
    assert got.shape == (5, 10)
    assert np.abs(got - _expected(model, x5)).max() < 1e-5


def test_gpt_dynamic_batch_and_tied_weight(tmp_path):
    mg.manual_seed(0)
    model = TinyGPT()
    idx = np.random.default_rng(0).integers(0, 23, (2, 8))
    axes = {"tokens": {0: "batch"}, "logits": {0: "batch"}}
    path = tmp_path / "gpt.onnx"
    mg.onnx.export(model, mg.tensor(idx), path, ["tokens"], ["logits"], dynamic_axes=axes)
    sess = _session(path)
    for b in (2, 3):
        x = np.random.default_rng(b).integers(0, 23, (b, 8))
        got = sess.run(None, {"tokens": x})[0]
        assert got.shape == (b, 8, 23)
        assert np.abs(got - _expected(model, x)).max() < 1e-5
    m = onnx.load(str(path))
    names = [i.name for i in m.graph.initializer]
    assert "tok.weight" in names and not any(n.startswith("head.") for n in names)  # tied
    ops = {n.op_type for n in m.graph.node}
    assert {"Gather", "Erf", "Tanh", "Softmax", "Where", "MatMul"} <= ops
    assert ops & {"ReduceMean", "LayerNormalization"}  # LayerNorm, composite or fused


def test_multihead_attention_and_opset_18(tmp_path):
    mg.manual_seed(0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm, self.attn = nn.LayerNorm(8), nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            h = self.norm(x)
            mask = mg.triu(mg.ones(5, 5, dtype=mg.bool_), diagonal=1)
            return x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]

    diff, _ = _roundtrip(Block(), _rand(3, 5, 8), tmp_path, opset_version=18)
    assert diff < 1e-5


def test_more_ops_and_layers(tmp_path):
    mg.manual_seed(0)

    class Misc(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.pool, self.gap = (
                nn.Linear(6, 6),
                nn.AvgPool1d(2),
                nn.AdaptiveAvgPool2d(1),
            )
            self.acts = nn.ModuleList([nn.LeakyReLU(0.2), nn.ELU(), nn.Softplus(2.0)])

        def forward(self, x):
            y = self.lin(x)
            z = mg.cat([y.exp(), y.abs().sqrt(), (y**2).log1p(), y.clamp(-0.5, 0.5),
                        mg.maximum(y, y * 0.3)] + [a(y) for a in self.acts], dim=1)  # fmt: skip
            z = z - z.mean(dim=0) - z.amax(dim=-1, keepdim=True) + z.std(dim=1, keepdim=True)
            z = z + mg.cumsum(z, dim=1) * 0.1 - mg.logsumexp(z, dim=1, keepdim=True)
            w = self.pool(z.reshape(2, 4, 12)).reshape(2, 24)
            u = self.gap(F.pad(z.reshape(2, 6, 8, 1), (1, 1, 1, 1))).reshape(2, 6)
            return mg.cat(
                [
                    w,
                    u,
                    z[:, 1:7:2],
                    z[..., None, -1],
                    z[:, ::-3],
                    mg.tril(z[:, :5]),
                    z[:, None, 2, None][:, 0],
                ],
                dim=1,
            )

    diff, _ = _roundtrip(Misc(), _rand(2, 6), tmp_path)
    assert diff < 1e-5


def test_remaining_primitives_dynamic_batch(tmp_path):
    mg.manual_seed(0)

    class Rest(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=False)
            self.conv1 = nn.Conv1d(2, 3, 3)

        def forward(self, x):
            c = self.conv(x)  # (n, 6, 3, 3)
            f = c.reshape(c.shape[0], 6, 9)
            e = mg.einsum("nij,nkj->nik", f, f).bmm(f)  # (n, 6, 9)
            g = self.conv1(f[:, :2]).reshape(-1, 7).reshape(-1, 3, 7)  # the batch merged
            z = f.unsqueeze(1).expand(f.shape[0], 2, 6, 9).sum(dim=1)
            w = mg.ops.shape.sum_to(f, (1, 6, 1)) + mg.minimum(f.sin(), f.cos()) - (-f).amin()
            v = (f.abs() + 1.0) ** f.sigmoid() + f.expm1() / 3.0 + f.clone().double().float()
            return mg.cat([e, z + w, v, mg.triu(f, 1)], dim=2).sum(dim=(1, 2)) + g.sum(dim=(1, 2))

    model = Rest()
    axes = {"input": {0: "n"}, "output": {0: "n"}}
    diff, sess = _roundtrip(model, _rand(2, 4, 7, 7), tmp_path, dynamic_axes=axes)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert {"Einsum", "Expand", "ReduceSum", "ReduceMin", "Pow", "Min", "Cast", "Trilu"} <= ops
    x = _rand(3, 4, 7, 7, seed=5)  # another batch size
    want = _expected(model, x)
    scale = np.abs(want).max()
    assert diff / scale < 1e-6
    assert np.abs(sess.run(None, {"input": x})[0] - want).max() / scale < 1e-6


@pytest.mark.parametrize(
    "kw",
    [{"stride": 1}, {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 2}],
)
def test_conv_transpose2d_dynamic_batch(tmp_path, kw):
    mg.manual_seed(0)
    model = nn.ConvTranspose2d(4, 6, 3, **kw)
    axes = {"input": [0], "output": [0]}
    diff, sess = _roundtrip(model, _rand(2, 4, 5, 5), tmp_path, dynamic_axes=axes)
    assert diff < 1e-5
    x = _rand(3, 4, 5, 5, seed=1)
    assert np.abs(sess.run(None, {"input": x})[0] - _expected(model, x)).max() < 1e-5


def test_package_gpt(tmp_path):
    """The GPT of `mg.models.gpt` (weight tying, causal attention, tanh-GELU)."""
    if "models" not in mg.__all__:
        pytest.skip("this version of the package has no mg.models")
    gpt = pytest.importorskip("microgradnp.models.gpt")
    mg.manual_seed(0)
    config = gpt.GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16)
    model = gpt.GPT(config)
    idx = np.random.default_rng(0).integers(0, 30, (2, 16))
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    mg.onnx.export(model, mg.tensor(idx), tmp_path / "gpt.onnx", dynamic_axes=axes)
    sess = _session(tmp_path / "gpt.onnx")
    x = np.random.default_rng(1).integers(0, 30, (3, 16))
    assert np.abs(sess.run(None, {"input": x})[0] - _expected(model, x)).max() < 1e-5


def test_two_inputs_float64(tmp_path):
    mg.manual_seed(0)

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 3).double()

        def forward(self, x, y):
            return F.softmax(self.lin(x * y), dim=-1), self.lin(y[:, :1] + x).sum()

    model = Two()
    x, y = _rand(5, 4).astype(np.float64), _rand(5, 4, seed=1).astype(np.float64)
    path = tmp_path / "two.onnx"
    mg.onnx.export(model, (mg.tensor(x), mg.tensor(y)), path, ["x", "y"], ["p", "s"])
    sess = _session(path)
    got = sess.run(None, {"x": x, "y": y})
    with mg.no_grad():
        want = model(mg.tensor(x), mg.tensor(y))
    assert got[0].dtype == np.float64 and got[1].shape == ()
    for g, w in zip(got, want, strict=True):
        assert np.abs(g - w.numpy()).max() < 1e-12


def test_the_docs_page_runs(tmp_path, monkeypatch):
    page = Path(__file__).resolve().parent.parent / "docs" / "onnx.md"
    blocks = re.findall(r"(?ms)^```python\n(.*?)^```", page.read_text(encoding="utf-8"))
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/onnx.md", "exec"), namespace)
    assert namespace["probs"].shape == (32, 3)
    assert np.allclose(namespace["probs"].sum(axis=1), 1.0, atol=1e-6)


# ---- errors -------------------------------------------------------------------------------
def test_unsupported_op_is_named(tmp_path):
    with pytest.raises(NotImplementedError, match="no mapping for primitive 'lstm_recurrence'"):
        mg.onnx.export(nn.LSTM(4, 3), mg.randn(5, 2, 4), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_constant_computed_from_the_input_is_refused():
    class Leaky(nn.Module):  # the functional form compares raw values: a frozen mask
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(6, 6)

        def forward(self, x):
            return F.leaky_relu(self.lin(x), 0.1)

    with pytest.raises(NotImplementedError, match="'where' .*computed from the input's values"):
        mg.onnx.export(Leaky(), mg.randn(4, 6), None)

    class Sorted(nn.Module):
        def forward(self, x):
            return mg.sort(x * 2.0, dim=1)[0]

    with pytest.raises(NotImplementedError, match="advanced indexing"):
        mg.onnx.export(Sorted(), mg.randn(4, 6), None)


def test_constant_sized_by_the_batch_is_refused_with_a_dynamic_batch():
    class Offset(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x) + mg.tensor(np.ones((x.shape[0], 3), np.float32))

    assert mg.onnx.export(Offset(), mg.randn(2, 3), None) is not None  # a fixed batch: fine
    with pytest.raises(NotImplementedError, match=r"'add' .*shape \(2, 3\) sized by a dynamic"):
        mg.onnx.export(Offset(), mg.randn(2, 3), None, dynamic_axes={"input": [0]})


def test_bad_arguments():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="opset_version must lie in"):
        mg.onnx.export(model, mg.randn(2, 3), None, opset_version=11)
    with pytest.raises(ValueError, match="dynamic_axes names 'x'"):
        mg.onnx.export(model, mg.randn(2, 3), None, dynamic_axes={"x": [0]})
    with pytest.raises(ValueError, match="input_names must be 1 distinct names"):
        mg.onnx.export(model, mg.randn(2, 3), None, input_names=["a", "b"])
    with pytest.raises(TypeError, match="must be a Tensor or an ndarray"):
        mg.onnx.export(model, [[1.0, 2.0, 3.0]], None)


def test_missing_onnx_package_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'microgradnp\[onnx\]'"):
        mg.onnx.export(nn.Linear(3, 2), mg.randn(2, 3), None)
