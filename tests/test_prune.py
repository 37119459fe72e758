"""`mg.nn.utils.prune` against `torch.nn.utils.prune` on the same weights."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.nn.utils import prune


@pytest.fixture
def torch(torch):
    import torch.nn.utils.prune  # noqa: F401  (a submodule torch does not import by itself)

    return torch


def _pair(torch, make_mg, make_torch, seed=0):
    """The same layer in both libraries, with tie-free random weights."""
    m, t = make_mg(), make_torch()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in t.named_parameters():
            value = rng.standard_normal(p.shape).astype(np.float32)
            p.copy_(torch.from_numpy(value))
            getattr(m, name).data[...] = value
    return m, t


def _linear_pair(torch, seed=0):
    return _pair(torch, lambda: mg.nn.Linear(12, 7), lambda: torch.nn.Linear(12, 7), seed)


def _conv_pair(torch, seed=0):
    return _pair(torch, lambda: mg.nn.Conv2d(3, 8, 3), lambda: torch.nn.Conv2d(3, 8, 3), seed)


def _same_state(m, t):
    ms, ts = m.state_dict(), t.state_dict()
    assert list(ms) == list(ts)
    for k in ms:
        np.testing.assert_array_equal(ms[k].numpy(), ts[k].numpy(), err_msg=k)


@pytest.mark.parametrize("amount", [0, 5, 0.3, 0.5, 1.0, 84])
def test_l1_unstructured_matches_torch(torch, amount):
    m, t = _linear_pair(torch)
    prune.l1_unstructured(m, "weight", amount=amount)
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=amount)
    _same_state(m, t)
    np.testing.assert_array_equal(m.weight.detach().numpy(), t.weight.detach().numpy())
    x = np.random.default_rng(1).standard_normal((4, 12)).astype(np.float32)
    np.testing.assert_allclose(
        m(mg.tensor(x)).detach().numpy(),
        t(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_iterative_pruning_composes_like_torch(torch):
    m, t = _conv_pair(torch)
    steps = [
        ("l1_unstructured", {"amount": 0.3}),
        ("l1_unstructured", {"amount": 20}),
        ("ln_structured", {"amount": 2, "n": 1, "dim": 0}),
        ("l1_unstructured", {"amount": 0.5}),
        ("ln_structured", {"amount": 0.5, "n": 2, "dim": 1}),
    ]
    for fn, kwargs in steps:
        getattr(prune, fn)(m, "weight", **kwargs)
        getattr(torch.nn.utils.prune, fn)(t, "weight", **kwargs)
        _same_state(m, t)
    hooks = list(m._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert [type(h).__name__ for h in hooks[0]] == [
        "L1Unstructured", "L1Unstructured", "LnStructured", "L1Unstructured", "LnStructured"
    ]  # fmt: skip


@pytest.mark.parametrize("n", [1, 2, float("inf"), -float("inf"), 3])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ln_structured_matches_torch(torch, n, dim):
    m, t = _conv_pair(torch, seed=3)
    prune.ln_structured(m, "weight", amount=0.4, n=n, dim=dim)
    torch.nn.utils.prune.ln_structured(t, "weight", amount=0.4, n=n, dim=dim)
    _same_state(m, t)


def test_ln_structured_fro_on_a_matrix(torch):
    m, t = _linear_pair(torch, seed=4)
    prune.ln_structured(m, "weight", amount=3, n="fro", dim=0)
    torch.nn.utils.prune.ln_structured(t, "weight", amount=3, n="fro", dim=0)
    _same_state(m, t)


def test_global_unstructured_matches_torch(torch):
    m1, t1 = _linear_pair(torch, seed=1)
    m2, t2 = _conv_pair(torch, seed=2)
    prune.l1_unstructured(m1, "weight", amount=0.2)  # global pruning on top of earlier pruning
    torch.nn.utils.prune.l1_unstructured(t1, "weight", amount=0.2)
    pairs = [(m1, "weight"), (m2, "weight"), (m2, "bias")]
    tpairs = [(t1, "weight"), (t2, "weight"), (t2, "bias")]
    prune.global_unstructured(pairs, pruning_method=prune.L1Unstructured, amount=0.6)
    torch.nn.utils.prune.global_unstructured(
        tpairs, pruning_method=torch.nn.utils.prune.L1Unstructured, amount=0.6
    )
    _same_state(m1, t1)
    _same_state(m2, t2)
    total = sum(int((getattr(m, n + "_mask").numpy() == 0).sum()) for m, n in pairs)
    assert total == round(0.2 * 84) + round(0.6 * (84 + 216 + 8 - round(0.2 * 84)))
    assert total == sum(int((getattr(t, n + "_mask") == 0).sum()) for t, n in tpairs)


def test_remove_matches_torch(torch):
    m, t = _linear_pair(torch)
    prune.l1_unstructured(m, "weight", amount=0.4)
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=0.4)
    prune.remove(m, "weight")
    torch.nn.utils.prune.remove(t, "weight")
    _same_state(m, t)
    assert isinstance(m.weight, mg.nn.Parameter) and [n for n, _ in m.named_parameters()] == [
        n for n, _ in t.named_parameters()
    ]
    assert not prune.is_pruned(m) and not m._forward_pre_hooks
    with pytest.raises(ValueError, match="has to be pruned before"):
        prune.remove(m, "weight")


def test_pruned_training_keeps_zeros_and_zero_gradients():
    net = mg.nn.Sequential(mg.nn.Linear(6, 5), mg.nn.ReLU(), mg.nn.Linear(5, 2))
    prune.l1_unstructured(net[0], "weight", amount=0.5)
    assert prune.is_pruned(net)
    assert [n for n, _ in net.named_parameters()] == [
        "0.bias", "0.weight_orig", "2.weight", "2.bias"
    ]  # fmt: skip
    opt = mg.optim.SGD(net.parameters(), lr=0.1)
    x, y = mg.randn(8, 6), mg.tensor([0, 1] * 4)
    mask = net[0].weight_mask.numpy()
    for _ in range(3):
        opt.zero_grad()
        mg.nn.functional.cross_entropy(net(x), y).backward()
        assert np.all(net[0].weight_orig.grad.numpy()[mask == 0] == 0)
        opt.step()
    net(x)
    assert np.all(net[0].weight.detach().numpy()[mask == 0] == 0)
    assert np.any(net[0].weight.detach().numpy()[mask == 1] != 0)


def test_ties_prune_the_smallest_scores(torch):
    w = np.array([[1.0, -2.0, 1.0, 2.0], [-1.0, 3.0, 1.0, 2.0]], dtype=np.float32)
    m = mg.nn.Linear(4, 2)
    m.weight.data[...] = w
    prune.l1_unstructured(m, "weight", amount=3)
    pruned = np.abs(w)[m.weight_mask.numpy() == 0]
    assert pruned.tolist() == [1.0, 1.0, 1.0]
    assert m.weight_mask.numpy().reshape(-1).tolist() == [0, 1, 0, 1, 0, 1, 1, 1]  # lowest first
    t = torch.nn.Linear(4, 2)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=3)
    assert int((t.weight_mask == 0).sum()) == 3
    assert (
        np.abs(w)[t.weight_mask.numpy() == 0].max() <= np.abs(w)[t.weight_mask.numpy() == 1].min()
    )


def test_random_pruning_counts_and_reproducibility():
    mg.manual_seed(3)
    a = prune.random_unstructured(mg.nn.Linear(10, 10), "weight", amount=0.25)
    prune.random_unstructured(a, "weight", amount=0.5)  # half of the 75 still kept
    assert int((a.weight_mask.numpy() == 0).sum()) == 25 + round(0.5 * 75)
    mg.manual_seed(3)
    b = prune.random_unstructured(mg.nn.Linear(10, 10), "weight", amount=0.25)
    mg.manual_seed(3)
    c = prune.random_unstructured(mg.nn.Linear(10, 10), "weight", amount=0.25)
    np.testing.assert_array_equal(b.weight_mask.numpy(), c.weight_mask.numpy())
    s = prune.random_structured(mg.nn.Linear(4, 6), "weight", amount=0.5, dim=0)
    rows = s.weight_mask.numpy().sum(axis=1)
    assert sorted(rows.tolist()) == [0, 0, 0, 4, 4, 4]


def test_identity_and_custom_mask(torch):
    m, t = _linear_pair(torch)
    prune.identity(m, "bias")
    torch.nn.utils.prune.identity(t, "bias")
    _same_state(m, t)
    mask = (np.arange(84).reshape(7, 12) % 3 == 0).astype(np.float32)
    prune.custom_from_mask(m, "weight", mg.tensor(mask))
    torch.nn.utils.prune.custom_from_mask(t, "weight", torch.from_numpy(mask))
    _same_state(m, t)


def test_importance_scores(torch):
    m, t = _linear_pair(torch)
    scores = np.random.default_rng(5).random((7, 12)).astype(np.float32)
    prune.l1_unstructured(m, "weight", amount=30, importance_scores=mg.tensor(scores))
    torch.nn.utils.prune.l1_unstructured(
        t, "weight", amount=30, importance_scores=torch.from_numpy(scores)
    )
    _same_state(m, t)


def test_state_dict_round_trip_and_load():
    a = prune.l1_unstructured(mg.nn.Linear(5, 4), "weight", amount=0.5)
    b = prune.identity(mg.nn.Linear(5, 4), "weight")
    b.load_state_dict(a.state_dict())
    x = mg.randn(3, 5)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_bad_arguments():
    m = mg.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="float in the range"):
        prune.l1_unstructured(m, "weight", amount=1.5)
    with pytest.raises(ValueError, match="float in the range"):
        prune.l1_unstructured(m, "weight", amount=-1)
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(m, "weight", amount="half")
    with pytest.raises(ValueError, match="smaller than the number of parameters"):
        prune.l1_unstructured(m, "weight", amount=10)
    with pytest.raises(AttributeError, match="no parameter named 'kernel'"):
        prune.l1_unstructured(m, "kernel", amount=1)
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(m, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index 2"):
        prune.ln_structured(m, "weight", amount=1, n=2, dim=2)
    with pytest.raises(TypeError, match='Only "unstructured"'):
        prune.global_unstructured([(m, "weight")], prune.LnStructured, amount=1, n=2)
    assert list(m.state_dict()) == ["weight", "bias"]  # failed calls changed nothing


def test_global_after_structured_and_remove_of_a_container_match_torch(torch):
    m, t = _conv_pair(torch, seed=6)
    prune.ln_structured(m, "weight", amount=2, n=2, dim=0)
    torch.nn.utils.prune.ln_structured(t, "weight", amount=2, n=2, dim=0)
    prune.global_unstructured([(m, "weight")], prune.L1Unstructured, amount=0.5)
    torch.nn.utils.prune.global_unstructured(
        [(t, "weight")], torch.nn.utils.prune.L1Unstructured, amount=0.5
    )
    _same_state(m, t)
    prune.remove(m, "weight")
    torch.nn.utils.prune.remove(t, "weight")
    _same_state(m, t)


def test_pruned_model_copies_and_imports_like_torch():
    import copy

    import microgradnp.nn.utils.prune as by_path

    assert by_path is mg.nn.utils.prune is prune
    net = mg.nn.Sequential(mg.nn.Linear(4, 4))
    prune.l1_unstructured(net[0], "weight", amount=8)
    twin = copy.deepcopy(net)
    with mg.no_grad():
        twin[0].weight_orig.fill_(1.0)
    x = mg.randn(2, 4)
    assert not np.array_equal(twin(x).detach().numpy(), net(x).detach().numpy())
    assert int((twin[0].weight.detach().numpy() == 0).sum()) == 8  # its own mask, its own weights
    net.double()
    assert net(x.double()).dtype == np.float64


def test_a_failed_second_pruning_changes_nothing():
    m = prune.l1_unstructured(mg.nn.Linear(3, 3), "weight", amount=3)
    mask = m.weight_mask.numpy().copy()
    with pytest.raises(ValueError, match="smaller than the number"):
        prune.l1_unstructured(m, "weight", amount=7)  # only 6 entries left unpruned
    (hook,) = m._forward_pre_hooks.values()
    assert isinstance(hook, prune.L1Unstructured)
    np.testing.assert_array_equal(m.weight_mask.numpy(), mask)
