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


def test_channel_pruned_network_equals_the_masked_one():
    example = _load()
    mg.manual_seed(1)
    model = example.build_model()
    model.train()
    model(mg.randn(16, 1, 28, 28))  # non-trivial BatchNorm statistics
    model.eval()
    small = example.channel_pruned(model, 0.5)
    assert small[0].out_channels == 4 and small[4].out_channels == 8
    assert small[9].in_features == 200
    # the same network with the dropped channels silenced after BatchNorm
    masked = example.copy.deepcopy(model)
    for conv, bn in ((0, 1), (4, 5)):
        norms = np.abs(model[conv].weight.data).reshape(model[conv].out_channels, -1).sum(1)
        dropped = np.argsort(-norms, kind="stable")[len(norms) // 2 :]
        masked[bn].weight.data[dropped] = 0.0
        masked[bn].bias.data[dropped] = 0.0
    x = mg.randn(5, 1, 28, 28)
    small.eval()
    with mg.no_grad():
        np.testing.assert_allclose(small(x).numpy(), masked(x).numpy(), rtol=1e-4, atol=1e-5)
