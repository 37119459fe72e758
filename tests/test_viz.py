"""Tests for mg.viz: the DOT text (counts, sharing, determinism, labels, gradients, modules,
a 100,000-op chain), rendering through the real Graphviz `dot`, and the missing-dot error."""

from __future__ import annotations

import re
import shutil
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import viz
from microgradnp.grad_mode import context
from microgradnp.viz import style

NODE_RE = re.compile(r"^\s*(n\d+|m\d+|legend) \[", re.M)
EDGE_RE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


def counts(dot: str) -> tuple[int, int]:
    return len(NODE_RE.findall(dot)), len(EDGE_RE.findall(dot))


def cluster_labels(dot: str) -> list[str]:
    return re.findall(r"<TD>([^<]+)</TD><TD WIDTH", dot)


def node_line(dot: str, text: str) -> str:
    lines = [line for line in dot.splitlines() if NODE_RE.match(line) and text in line]
    assert len(lines) == 1, f"{text!r} is in {len(lines)} node statements"
    return lines[0]


# A minimal stand-in for nn modules: PyTorch's named_parameters / named_modules API, and the
# scope bookkeeping that nn.Module.__call__ does around forward.
class FakeModule:
    def __init__(self, **children):
        self.children = children

    def __call__(self, *args):
        ctx = context()
        previous = ctx.modules
        ctx.modules = previous + (self,)
        try:
            return self.forward(*args)
        finally:
            ctx.modules = previous

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self):
        for mod_name, mod in self.named_modules():
            for name, p in getattr(mod, "params", {}).items():
                yield (f"{mod_name}.{name}" if mod_name else name), p


class Linear(FakeModule):
    def __init__(self, n_in, n_out, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {
            "weight": mg.tensor(rng.normal(size=(n_out, n_in)), requires_grad=True),
            "bias": mg.tensor(np.zeros(n_out), requires_grad=True),
        }

    def forward(self, x):
        return mg.linear(x, self.params["weight"], self.params["bias"])


class Sigmoid(FakeModule):
    def forward(self, x):
        return mg.sigmoid(x)


class Sequential(FakeModule):
    def __init__(self, *layers):
        super().__init__(**{str(i): m for i, m in enumerate(layers)})

    def forward(self, x):
        for m in self.children.values():
            x = m(x)
        return x


def two_layer_net():
    return Sequential(Linear(2, 3, 0), Sigmoid(), Linear(3, 1, 1), Sigmoid())


def small_graph():
    x = mg.tensor([1.0, 2.0, 3.0])
    w = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    return x, w, (x * w).sum()


def test_small_graph_exact_nodes_edges_and_text():
    x, w, loss = small_graph()
    dot = viz.to_dot(loss, params={"w": w})
    # tensors x, w, x*w, loss and ops mul, sum
    assert counts(dot) == (6, 5)
    assert EDGE_RE.findall(dot) == [
        ("n1", "n0"),
        ("n2", "n1"),
        ("n3", "n2"),
        ("n4", "n3"),
        ("n5", "n3"),
    ]
    assert "<TD>sum</TD>" in node_line(dot, "n1 [")
    assert "<B>w</B>" in node_line(dot, "n5 [") and "(3,) float32" in node_line(dot, "n5 [")
    assert "<B>input</B>" in node_line(dot, "n4 [")
    assert "<B>output</B>" in node_line(dot, "n0 [") and "penwidth=2" in node_line(dot, "n0 [")
    fills = {
        nid: re.search(r'fillcolor="([^"]+)"', node_line(dot, f"{nid} [")).group(1)
        for nid in ("n0", "n2", "n4", "n5")
    }
    assert fills == {"n0": "#d1e7dd", "n2": "#ffffff", "n4": "#e9ecef", "n5": "#cfe2ff"}


def test_shared_nodes_drawn_once():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    b = a + a  # a used twice by one op
    c = b * b + a  # b twice, a again through another path
    dot = viz.to_dot(c)
    # tensors x, a, b, b*b, c; ops mul, add, mul, add
    assert counts(dot) == (9, 11)
    defined = NODE_RE.findall(dot)
    assert len(defined) == len(set(defined))
    assert dot.count("<B>leaf</B>") == 1  # x: an unnamed leaf that requires grad
    mul_id = next(nid for nid in defined if "mul(·, 2)" in node_line(dot, f"{nid} ["))
    (tensor_a,) = [dst for src, dst in EDGE_RE.findall(dot) if src == mul_id]
    uses = [dst for src, dst in EDGE_RE.findall(dot) if src == tensor_a]
    assert len(uses) == 3  # b = a + a (twice) and c = ... + a


def test_list_of_roots_shares_their_subgraph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = mg.sigmoid(x)
    dot = viz.to_dot([h.sum(), (h * h).mean()])
    # outputs 2, sums 2 ops, h, sigmoid, x, mul, h*h
    assert counts(dot) == (9, 9)
    assert dot.count("<B>output</B>") == 2


def test_deterministic_same_graph_and_rebuilt_graph():
    def build():
        model = two_layer_net()
        x = mg.tensor(np.linspace(-1, 1, 8).reshape(4, 2))
        return model, (model(x) - 1.0).sum()

    model1, out1 = build()
    model2, out2 = build()
    first = viz.to_dot(out1, params=model1, show_data=True)
    assert first == viz.to_dot(out1, params=model1, show_data=True)
    assert first == viz.to_dot(out2, params=model2, show_data=True)
    assert "0x" not in first  # no memory addresses


def test_op_labels_show_attributes_and_constants():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    out = (1.0 - x).sum(dim=1).mean() ** 2
    labels = [style.op_label(n) for n in (out._node, out._node.parents[0])]
    assert labels == [["pow", "exponent=2"], ["mean"]]
    dot = viz.to_dot(out)
    assert "<TD>sub(1, ·)</TD>" in dot
    detail = '<FONT POINT-SIZE="9" COLOR="#495057">'
    assert f"<TD>sum</TD></TR><TR><TD>{detail}dim=1</FONT>" in dot
    assert f"<TD>pow</TD></TR><TR><TD>{detail}exponent=2</FONT>" in dot
    with_array = style.op_label((mg.sigmoid(x) * np.ones((2, 3)) + 0.5)._node.parents[0])
    assert with_array == ["mul(·, array(2, 3))"]
    long_name = SimpleNamespace(
        prim=SimpleNamespace(name="binary_cross_entropy"),
        parents=(x, np.zeros((2, 3))),
        params={"reduction": "sum"},
    )
    assert style.op_label(long_name) == [
        "binary_cross_entropy",
        "(·, array(2, 3))",
        "reduction=sum",
    ]
    assert style.op_label(mg.softmax(x * np.full((2, 3), 2.0), dim=0)._node) == ["softmax", "dim=0"]


def test_params_from_a_model_name_and_place_parameters():
    model = two_layer_net()
    out = model(mg.tensor(np.ones((5, 2))))
    dot = viz.to_dot(out, params=model)
    for name, shape in [
        ("0.weight", "(3, 2)"),
        ("0.bias", "(3,)"),
        ("2.weight", "(1, 3)"),
        ("2.bias", "(1,)"),
    ]:
        assert f"{shape} float64" in node_line(dot, f"<B>{name}</B>")
    labels = cluster_labels(dot)
    assert labels == ["Sigmoid 3", "Linear 2", "Sigmoid 1", "Linear 0"]
    # each Linear cluster holds its op, its output and its two parameters
    block = dot.split("<TD>Linear 0</TD>")[1].split("}")[0]
    assert len(NODE_RE.findall(block)) == 4 and "<B>0.weight</B>" in block


def test_nested_modules_give_nested_clusters_and_collapse():
    inner = Sequential(Linear(2, 2, 0), Sigmoid())
    model = Sequential(inner, Linear(2, 1, 1))
    out = model(mg.tensor(np.ones((3, 2))))
    dot = viz.to_dot(out, params=model)
    assert cluster_labels(dot) == ["Linear 1", "Sequential 0", "Sigmoid 0.1", "Linear 0.0"]
    # Sequential 0 contains Linear 0.0 and Sigmoid 0.1, one level deeper
    assert re.search(r"\tsubgraph cluster_\d+ \{\n\t\tlabel=<<TABLE[^\n]*<TD>Sequential 0<", dot)
    assert re.search(r"\t\tsubgraph cluster_\d+ \{\n\t\t\tlabel=<<TABLE[^\n]*<TD>Linear 0.0<", dot)
    collapsed = viz.to_dot(out, params=model, collapse_modules=True)
    # input, module Sequential 0, its output, module Linear 1, the output
    assert counts(collapsed) == (5, 4)
    assert "subgraph" not in collapsed
    assert "<B>Sequential 0</B>" in collapsed and "0.0.weight (2, 2)" in collapsed
    assert "<B>Linear 1</B>" in collapsed and "1.weight (1, 2)" in collapsed
    with_legend = viz.to_dot(out, params=model, collapse_modules=True, legend=True)
    assert "module (collapsed)" in with_legend and "gradient max" not in with_legend
    assert "module (collapsed)" not in viz.to_dot(out, params=model, legend=True)
    ungrouped = viz.to_dot(out, params=model, group_modules=False)
    assert "subgraph" not in ungrouped and counts(ungrouped) == counts(dot)


def test_modules_without_names_are_labelled_by_class():
    model = two_layer_net()
    dot = viz.to_dot(model(mg.tensor(np.ones((1, 2)))))
    labels = cluster_labels(dot)
    assert labels == ["Sequential", "Sigmoid", "Linear", "Sigmoid", "Linear"]


def test_grad_annotations_absent_before_and_present_after_backward():
    model = two_layer_net()
    loss = model(mg.tensor(np.ones((4, 2)))).mean()
    before = viz.to_dot(loss, params=model, show_grad=True)
    assert "grad norm" not in before
    assert "legend" in before and "vanishing" in before
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    after = viz.to_dot(loss, params=model, show_grad=True)
    # 4 parameters + 7 non-leaf tensors (4 layer outputs... and the loss), all retained
    n_nonleaf = len(re.findall(r"<TD>(linear|sigmoid|mean)</TD>", after))
    assert after.count("grad norm") == 4 + n_nonleaf == 9
    w = model.children["0"].params["weight"]
    expected = f"grad norm {style.num(float(np.linalg.norm(w.grad.data)))}"
    assert expected in node_line(after, "<B>0.weight</B>")
    assert "grad norm" not in viz.to_dot(loss, params=model)  # show_grad off


def test_drawing_after_backward_released_the_graph():
    x, w, loss = small_graph()
    viz.retain_grads(loss)
    loss.backward()  # frees the intermediates' data, keeps shapes and retained grads
    dot = viz.to_dot(loss, params={"w": w}, show_grad=True, show_data=True)
    assert dot.count("grad norm") == 3  # w, x * w and the loss
    assert "grad norm 3.74, max 3" in node_line(dot, "<B>w</B>")  # grad = x = [1, 2, 3]
    product = node_line(dot, "n2 [")
    assert "data freed" in product and "(3,) float32" in product
    assert "grad norm 1.73, max 1" in product  # d sum / d(x * w) = ones(3)
    # the graph lets go of inputs that need no gradient (as PyTorch keeps nothing after
    # backward): their shape remains; parameters stay (they are the model)
    assert "data freed" in node_line(dot, "<B>input</B>")
    assert counts(dot) == (7, 5)  # the same 6 nodes, and the legend


@pytest.mark.parametrize(
    "value, fill",
    [
        (0.0, style.GRAD_ZERO[1]),
        (1e-8, "#2c7bb6"),
        (1e-4, "#abd9e9"),
        (0.5, "#a6d96a"),
        (50.0, "#fdae61"),
        (1e5, "#8c510a"),
        (np.nan, "#e31a1c"),
        (np.inf, "#e31a1c"),
    ],
)
def test_grad_colour_scale(value, fill):
    text, got, _ = style.grad_style(np.array([value, 0.0]))
    assert got == fill
    if not np.isfinite(value):
        assert text in ("grad 1 NaN!", "grad 1 inf!")


def test_nan_and_inf_gradients_marked_red():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    loss = mg.sqrt(x).sum()  # d sqrt(x)/dx = 1 / (2 sqrt(x)): inf at 0
    with np.errstate(divide="ignore"):
        loss.backward()
    line = node_line(viz.to_dot(loss, params={"x": x}, show_grad=True), "<B>x</B>")
    assert 'BGCOLOR="#e31a1c"' in line and "grad 1 inf!" in line
    x.grad = mg.tensor([np.nan, 1.0])
    line = node_line(viz.to_dot(loss, params={"x": x}, show_grad=True), "<B>x</B>")
    assert 'BGCOLOR="#e31a1c"' in line and "grad 1 NaN!" in line


def test_show_data_small_values_and_large_summaries():
    small = mg.tensor([1.5, -2.0], requires_grad=True)
    big = mg.tensor(np.arange(10.0), requires_grad=True)
    dot = viz.to_dot(small.sum() + big.sum(), params={"small": small, "big": big}, show_data=True)
    assert "[ 1.5, -2. ]" in node_line(dot, "<B>small</B>")
    big_line = node_line(dot, "<B>big</B>")
    assert "mean 4.5, std 2.87" in big_line and "min 0, max 9" in big_line
    assert "<TD>44.5</TD>" in node_line(dot, "<B>output</B>")
    assert "mean 4.5" not in viz.to_dot(big.sum(), params={"big": big})


def test_broadcast_edges_annotated():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    out = (x + b).sum()
    dot = viz.to_dot(out, params={"b": b})
    edges = [line for line in dot.splitlines() if "broadcast" in line]
    assert len(edges) == 1 and "broadcast (3,) -> (2, 3)" in edges[0]
    assert "broadcast" not in viz.to_dot(out, show_broadcast=False)
    # matmul changes shapes without broadcasting: not annotated
    assert "broadcast" not in viz.to_dot((x @ x.T).sum())


def test_max_nodes_truncates_breadth_first():
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20):
        y = mg.sigmoid(y)
    dot = viz.to_dot(y, max_nodes=7)
    assert counts(dot) == (7, 6)
    assert dot.count("(inputs not drawn)</") == 1 and "max_nodes=7" in dot
    with pytest.raises(ValueError, match="max_nodes"):
        viz.to_dot(y, max_nodes=0)


def test_long_chain_drawing_uses_no_recursion():
    x = mg.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = mg.sigmoid(y)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # any recursion over the chain would fail at once
    try:
        dot = viz.to_dot(y)
    finally:
        sys.setrecursionlimit(limit)
    assert counts(dot) == (20_001, 20_000)


def test_retain_grads_marks_intermediates():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (mg.sigmoid(x * 2.0)).sum()
    assert viz.retain_grads(loss) == 3
    assert viz.retain_grads(loss) == 0  # already marked


def test_bad_arguments_raise_clear_errors():
    x, w, loss = small_graph()
    with pytest.raises(ValueError, match="rankdir"):
        viz.to_dot(loss, rankdir="UP")
    with pytest.raises(TypeError, match="root 0 is a ndarray"):
        viz.to_dot(np.ones(3))
    with pytest.raises(TypeError, match=r"params\['w'\] is a list"):
        viz.to_dot(loss, params={"w": [1.0]})
    assert "rankdir=LR" in viz.to_dot(loss, rankdir="LR")


def test_draw_graph_wraps_to_dot():
    graphviz = pytest.importorskip("graphviz")
    x, w, loss = small_graph()
    g = viz.draw_graph(loss, params={"w": w}, show_data=True)
    assert isinstance(g, graphviz.Digraph)
    assert g.source == viz.to_dot(loss, params={"w": w}, show_data=True)


def test_save_graph_dot_and_bad_extension(tmp_path):
    x, w, loss = small_graph()
    path = viz.save_graph(loss, tmp_path / "g.dot", params={"w": w})
    assert path.read_text() == viz.to_dot(loss, params={"w": w})
    with pytest.raises(ValueError, match="output format"):
        viz.save_graph(loss, tmp_path / "g.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot"]


def _svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [el.text for el in root.iter("{http://www.w3.org/2000/svg}text") if el.text]


@needs_dot
def test_render_svg_through_dot_and_parse(tmp_path):
    model = two_layer_net()
    loss = model(mg.tensor(np.ones((4, 2)))).mean()
    loss.backward()
    path = viz.save_graph(loss, tmp_path / "net.svg", params=model, show_grad=True)
    texts = _svg_texts(path)
    for label in [
        "Linear 0",
        "Sigmoid 1",
        "Linear 2",
        "Sigmoid 3",
        "0.weight",
        "2.bias",
        "(3, 2) float64",
        "linear",
        "sigmoid",
        "mean",
        "output",
        "legend",
        "healthy 1e-3 to 10",
        "NaN / inf",
    ]:
        assert label in texts, label
    assert sum(t.startswith("grad norm") for t in texts) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]


@needs_dot
def test_render_png_and_pdf(tmp_path):
    x, w, loss = small_graph()
    png = viz.save_graph(loss, tmp_path / "g.png", dpi=50)
    pdf = viz.save_graph(loss, tmp_path / "g.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_missing_dot_writes_dot_file_and_explains(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    x, w, loss = small_graph()
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.save_graph(loss, tmp_path / "graph.svg", params={"w": w})
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert "conda" in message and "graph.dot" in message
    assert (tmp_path / "graph.dot").read_text() == viz.to_dot(loss, params={"w": w})
    assert not (tmp_path / "graph.svg").exists()


def test_real_nn_modules_group_and_name():
    nn = pytest.importorskip("microgradnp.nn")
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))
    logits = model(mg.randn(5, 4))
    loss = nn.CrossEntropyLoss()(logits, mg.tensor(np.array([0, 1, 1, 0, 1])))
    viz.retain_grads(loss)
    loss.backward()
    dot = viz.to_dot(loss, params=model, show_grad=True)
    labels = cluster_labels(dot)
    assert labels == ["CrossEntropyLoss", "Linear 2", "Sigmoid 1", "Linear 0"]
    for name, p in model.named_parameters():
        line = node_line(dot, f"<B>{name}</B>")
        assert f"{style.shape_text(p.shape)} float32" in line
        assert f"grad norm {style.num(float(np.linalg.norm(p.grad.data)))}" in line
    collapsed = viz.to_dot(loss, params=model, collapse_modules=True)
    # input, 3 layer modules and the loss module, the 3 tensors between them, the output
    assert counts(collapsed) == (9, 8)
