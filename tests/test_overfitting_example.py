"""examples/overfitting.py: its splits and one short run of each cure (the full run's table
is in the README)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "overfitting.py"


def _load():
    spec = importlib.util.spec_from_file_location("example_overfitting", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_splits_are_disjoint_and_balanced():
    example = _load()
    sp = example.splits(0)
    sizes = {k: len(v[1]) for k, v in sp.items()}
    assert sizes == {"train": 500, "val": 500, "test": 1000}
    assert np.bincount(sp["train"][1]).tolist() == [50] * 10
    rows = {k: {r.tobytes() for r in v[0]} for k, v in sp.items()}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"]


def test_each_method_runs_and_early_stopping_keeps_the_best_epoch():
    example = _load()
    sp = example.splits(0)
    small = {k: (X[:100], y[:100]) for k, (X, y) in sp.items()}
    for method in example.METHODS:
        r = example.run(method, small, epochs=3, patience=1)
        assert 0.0 <= r["test"] <= 1.0 and len(r["history"]["val"]) <= 3
        if method == "early stopping":
            assert r["val"] == max(r["history"]["val"])
            assert r["epoch"] == int(np.argmax(r["history"]["val"])) + 1
    assert sum(1 for m in example.mlp(0.5).modules() if type(m).__name__ == "Dropout") == 2
