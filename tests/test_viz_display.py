"""Inline display of graphs in Jupyter: `viz.show_graph` / `viz.Graph` and `tensor_svg`."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

import microgradnp as mg
from microgradnp import nn, viz
from microgradnp.viz.display import tensor_svg

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` missing")
SVG = "{http://www.w3.org/2000/svg}"


def trained_step():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    loss = nn.CrossEntropyLoss()(model(mg.randn(5, 3)), mg.tensor([0, 1, 1, 0, 1]))
    loss.backward()
    return model, loss


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def test_graph_holds_to_dots_text_and_counts_nodes_and_edges():
    model, loss = trained_step()
    g = viz.show_graph(loss, params=model, show_grad=True)
    assert g.source == viz.to_dot(loss, params=model, show_grad=True)
    # leaves x, y, 4 parameters; ops linear, sigmoid, linear, cross_entropy; 2 intermediates
    # and the output: 13 nodes; each op has one edge per input and one to its output.
    assert repr(g) == "<Graph: 13 nodes, 12 edges>"
    collapsed = viz.show_graph(loss, params=model, collapse_modules=True)
    assert collapsed.source.count("\tm0 [") == 1


@needs_dot
def test_repr_svg_and_mimebundle_give_the_rendered_drawing():
    model, loss = trained_step()
    g = viz.show_graph(loss, params=model, show_grad=True)
    svg = g._repr_svg_()
    texts = svg_texts(svg)
    assert "0.weight" in texts and "2.bias" in texts and "legend" in texts
    assert any(t.startswith("grad norm") for t in texts)
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/svg+xml"}
    assert bundle["image/svg+xml"] == svg and bundle["text/plain"] == repr(g)
    assert g.svg() is svg  # rendered once


@needs_dot
def test_ipython_formatter_picks_the_svg():
    formatters = pytest.importorskip("IPython.core.formatters")
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    data, _ = formatters.DisplayFormatter().format(viz.show_graph(mg.tanh(x).sum()))
    assert "image/svg+xml" in data and "tanh" in svg_texts(data["image/svg+xml"])


def test_without_dot_jupyter_falls_back_to_text(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g = viz.show_graph((x * 2.0).sum())
    assert g._repr_svg_() is None
    assert g._repr_mimebundle_() == {"text/plain": repr(g)}
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        g.svg()
    assert tensor_svg((x * 2.0).sum()) is None


@needs_dot
def test_save_writes_the_format_of_the_extension(tmp_path):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g = viz.show_graph(mg.exp(x).sum())
    assert svg_texts(g.save(tmp_path / "g.svg").read_text())
    assert (tmp_path / "g.png").exists() is False
    assert g.save(tmp_path / "g.png", dpi=50).read_bytes()[:4] == b"\x89PNG"
    assert g.save(tmp_path / "g.dot").read_text() == g.source
    with pytest.raises(ValueError, match="cannot tell the output format"):
        g.save(tmp_path / "g.txt")


@needs_dot
def test_tensor_svg_draws_recorded_tensors_only():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert tensor_svg(x) is None  # a leaf: nothing recorded
    assert tensor_svg(mg.tensor([1.0])) is None
    assert "sigmoid" in svg_texts(tensor_svg(mg.sigmoid(x).sum()))


@needs_dot
def test_draw_graph_digraph_displays_as_svg_too():
    pytest.importorskip("graphviz")
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    bundle = viz.draw_graph(mg.sin(x).sum())._repr_mimebundle_()
    assert "sin" in svg_texts(bundle["image/svg+xml"])


def test_graph_rejects_text_that_is_not_dot():
    with pytest.raises(TypeError, match="DOT text"):
        viz.Graph("not a graph")


def test_tensor_displays_its_graph_as_svg_in_jupyter():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    plain = mg.tensor([1.0, 2.0])._repr_mimebundle_()
    assert plain == {"text/plain": repr(mg.tensor([1.0, 2.0]))}
    bundle = y._repr_mimebundle_()
    assert bundle["text/plain"] == repr(y)
    if shutil.which("dot") is not None:
        assert bundle["image/svg+xml"].lstrip().startswith("<")
        assert "<svg" in bundle["image/svg+xml"] and "mul" in bundle["image/svg+xml"]
