"""Graph drawings of models whose names hold control and markup characters, and output
files whose names look like options: the DOT stays valid and Graphviz renders it."""

import shutil
import subprocess

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import viz

NAMES = ["a\x00b", "c\x01", "\x0cform", "tab\there", "del\x7f", "c1\x85", "<b>&'\"\\", "ünï"]


def _model_and_loss():
    model = mg.nn.ModuleDict({name: mg.nn.Linear(2, 2) for name in NAMES})
    x = mg.tensor(np.ones((1, 2), np.float32))
    out = sum((layer(x) for layer in model.values()), mg.zeros(1, 2)).sum()
    return model, out


def _dot_accepts(source):
    result = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True)
    return result.returncode, result.stderr.decode(errors="replace")


@pytest.mark.parametrize("collapse", [False, True])
@pytest.mark.parametrize("show_grad", [False, True])
def test_control_characters_in_names_give_valid_dot(collapse, show_grad):
    model, out = _model_and_loss()
    out.backward()
    source = viz.to_dot(out, model, collapse_modules=collapse, show_grad=show_grad)
    assert not any(ord(c) < 32 and c not in "\t\n" for c in source)
    assert "a\\x00b" in source and "\\x0cform" in source
    if shutil.which("dot"):
        rc, err = _dot_accepts(source)
        assert rc == 0, err


def test_control_characters_in_parameter_names():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    source = viz.to_dot((w * 2).sum(), params={"w\x00\x01\x0c": w})
    assert "w\\x00\\x01\\x0c" in source
    if shutil.which("dot"):
        assert _dot_accepts(source)[0] == 0


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
@pytest.mark.parametrize("name", ["-g.svg", "-o.png", "--help.svg", "a b.svg", "-Tpng.pdf"])
def test_output_files_named_like_options(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    written = viz.save_graph((w * 2).sum(), name)
    data = (tmp_path / name).read_bytes()
    assert str(written) == name and len(data) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
