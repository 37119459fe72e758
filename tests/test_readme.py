"""Every Python snippet of the README runs as written (the graph snippet continues the training
one), and the install lines name the extras the snippets need."""

import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _snippets():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_first_snippet_runs(capsys):
    exec(compile(_snippets()[0], "README snippet 1", "exec"), {})
    assert capsys.readouterr().out.strip() == "(2, 2) (2, 3)"


def test_training_save_and_graph_snippets_run(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    snippets = _snippets()
    assert len(snippets) == 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(snippets[1] + snippets[2], "README snippets 2-3", "exec"), namespace)
    assert (tmp_path / "model.safetensors").stat().st_size > 1000
    svg = (tmp_path / "graph.svg").read_text()
    assert "grad norm" in svg and "legend" in svg and "0.weight" in svg


def test_install_lines_and_claims():
    text = README.read_text(encoding="utf-8")
    # the demo's install line carries the io extra that mg.save in the next snippet needs
    assert 'pip install -e ".[train,viz,io]" && python examples/demo.py' in text
    assert "sidecar" not in text and "safetensors header" in text
    assert "docs/images/deep_sigmoid_grad.png" in text
    for picture in re.findall(r"(docs/images/[\w/.-]+\.png)", text):
        assert (README.parent / picture).exists(), picture
