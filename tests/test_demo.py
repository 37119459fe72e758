"""The main demo (examples/demo.py) and the hand-written loop (examples/train_by_hand.py)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_reaches_95_percent_and_writes_its_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    demo = _load("demo")
    out = tmp_path / "demo"
    result = demo.main(["--out", str(out), "--epochs", "25", "--no-progress"])
    assert result["test_accuracy"] >= 0.95
    assert result["seconds"] < 60
    assert result["history"].epochs <= 25
    assert result["history"]["val_accuracy"][result["best_epoch"]] >= 0.95
    names = {p.name for p in result["files"]}
    assert {"history.png", "confusion_matrix.png", "misclassified.png"} <= names
    if shutil.which("dot") is not None:
        assert {"graph.svg", "graph.png"} <= names
        svg = (out / "graph.svg").read_text()
        assert "grad norm" in svg and "legend" in svg  # gradients and their colour key
    for path in result["files"]:
        assert path.parent == out.resolve() and path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert f"test accuracy: {result['test_accuracy']:.4f}" in printed
    assert "macro avg" in printed and str(out.resolve()) in printed


def test_train_by_hand_reaches_95_percent(capsys):
    by_hand = _load("train_by_hand")
    result = by_hand.main(["--epochs", "25"])
    assert result["test_accuracy"] >= 0.95
    assert 0 <= result["best_epoch"] < 25
    assert f"test accuracy: {result['test_accuracy']:.4f}" in capsys.readouterr().out
