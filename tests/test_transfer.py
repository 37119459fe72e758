"""examples/transfer_digits.py: freezing, BatchNorm in eval mode, weights through a
safetensors file, and parameter groups with their own learning rates (against torch.optim)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

import microgradnp as mg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load():
    sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(
        "example_transfer", EXAMPLES / "transfer_digits.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_features_stay_put_and_the_head_learns(tmp_path):
    example = _load()
    splits = example.mnist_split(0)
    X, y = example.digits(*splits["train"], range(5, 10))
    assert set(np.unique(y)) == set(range(5))
    mg.manual_seed(0)
    source = example.cnn(5)
    path = tmp_path / "w.safetensors"
    mg.save(source.state_dict(), path)
    Xs, ys = example.few_shot(X, y, 10, seed=0)
    assert np.bincount(ys).tolist() == [10] * 5
    model = example.run("fine-tuned head (frozen features)", path, Xs, ys, seed=0, steps=3)
    before = source.state_dict()
    after = model.state_dict()
    for key in before:  # conv weights and BatchNorm statistics unchanged
        if key.startswith(tuple(f"{i}." for i in range(example.FEATURES))):
            np.testing.assert_array_equal(before[key].numpy(), after[key].numpy(), err_msg=key)
    assert all(not p.requires_grad for p in model[: example.FEATURES].parameters())
    assert all(p.requires_grad for p in model[example.FEATURES :].parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, mg.nn.BatchNorm2d))


def test_discriminative_learning_rates_match_torch(torch):
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    ours = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.Tanh(), mg.nn.Linear(4, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    theirs.double()
    for m, t, w in ((ours[0], theirs[0], w1), (ours[2], theirs[2], w2)):
        m.weight.data[...] = w
        m.bias.data[...] = 0.1
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(w))
            t.bias.fill_(0.1)
    opt = mg.optim.Adam(ours[0].parameters(), lr=1e-3)
    opt.add_param_group({"params": ours[2].parameters(), "lr": 1e-1})
    topt = torch.optim.Adam(theirs[0].parameters(), lr=1e-3)
    topt.add_param_group({"params": theirs[2].parameters(), "lr": 1e-1})
    for _ in range(5):
        for model, optimizer, lib in ((ours, opt, mg), (theirs, topt, torch)):
            optimizer.zero_grad()
            out = model(lib.tensor(x))
            lib.nn.functional.cross_entropy(out, lib.tensor(y)).backward()
            optimizer.step()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, err_msg=name)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-1]
