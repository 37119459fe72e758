"""examples/prune_mnist.py: global pruning to a target sparsity, step by step (the full run's
table is in the README)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

import microgradnp as mg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load():
    sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_prune", EXAMPLES / "prune_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prune_to_reaches_each_sparsity_and_keeps_earlier_zeros():
    example = _load()
    mg.manual_seed(0)
    model = example.build_model()
    assert len(example.prunable(model)) == 4
    previous = None
    for s in (0.0, 0.3, 0.8, 0.95):
        example.prune_to(model, s)
        assert abs(example.sparsity(model) - s) < 1e-4
        masks = np.concatenate(
            [m.weight_mask.numpy().ravel() for m, _ in example.prunable(model)]
            if s > 0 else [np.ones(1)]
        )  # fmt: skip
        if previous is not None and previous.size == masks.size:
            assert np.all(masks[previous == 0] == 0)  # pruned weights stay pruned
        previous = masks
    x = mg.randn(2, 1, 28, 28)
    model.eval()
    assert model(x).shape == (2, 10)
    for m, name in example.prunable(model):
        mg.nn.utils.prune.remove(m, name)
    assert not mg.nn.utils.prune.is_pruned(model)
    assert abs(example.sparsity(model) - 0.95) < 1e-4
