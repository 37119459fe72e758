"""examples/cnn_mnist.py: its split, its model and a few training steps (the full run, 6
epochs, reaches 97.4% test accuracy; see the README)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cnn_mnist.py"


def _load():
    spec = importlib.util.spec_from_file_location("example_cnn_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_model_and_a_few_steps(tmp_path):
    example = _load()
    splits = example.mnist_split(0)
    (X_train, y_train), (X_test, y_test) = splits["train"], splits["test"]
    assert X_train.shape == (4000, 1, 28, 28) and X_test.shape == (1000, 1, 28, 28)
    assert np.bincount(y_test).tolist() == [100] * 10 and X_train.dtype == np.float32
    assert abs(X_train.mean()) < 1e-4 and abs(X_train.std() - 1) < 1e-3
    mg.manual_seed(0)
    model = example.build_model()
    assert model(mg.from_numpy(X_test[:3])).shape == (3, 10)
    first = None
    opt = mg.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(8):  # the loss falls on one batch trained repeatedly
        loss = mg.nn.functional.cross_entropy(
            model(mg.from_numpy(X_train[:32])), mg.from_numpy(y_train[:32])
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if i == 0 else first
    assert loss.item() < 0.5 * first
    pytest.importorskip("matplotlib")
    example.draw_filters(model, tmp_path / "filters.png")
    example.draw_feature_maps(model, X_test[0], int(y_test[0]), tmp_path / "maps.png")
    assert (tmp_path / "filters.png").stat().st_size > 1000
    assert (tmp_path / "maps.png").stat().st_size > 1000
