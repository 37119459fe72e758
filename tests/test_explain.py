"""mg.explain against PyTorch autograd, brute-force loops and the completeness axiom."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from explain_models import Unflatten, cnn, digits, mlp, mlp_with_maps, torch_twin

import microgradnp as mg
from microgradnp import explain, nn
from microgradnp.explain import _upsample

_mlp, _maps = mlp, mlp_with_maps


def _batch(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    X, y = digits()
    return X[:n], y[:n]


def test_trained_model_is_accurate() -> None:
    X, y = digits()
    with mg.no_grad():
        accuracy = (_mlp()(mg.tensor(X)).numpy().argmax(1) == y).mean()
    assert accuracy > 0.85


@pytest.mark.parametrize("signed", [False, True, "grad_x_input"])
def test_saliency_matches_torch(torch, signed) -> None:
    x, y = _batch()
    ours = explain.saliency(_mlp(), x, y, signed=signed)
    xt = torch.tensor(x, requires_grad=True)
    logits = torch_twin(_mlp(), torch)(xt)
    (g,) = torch.autograd.grad(logits[torch.arange(len(y)), torch.tensor(y)].sum(), xt)
    g = g.numpy()
    expected = {False: np.abs(g), True: g, "grad_x_input": g * x}[signed]
    assert ours.shape == x.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_saliency_int_target_and_tensor_input() -> None:
    x, _ = _batch(5)
    a = explain.saliency(_mlp(), mg.tensor(x), 3)
    b = explain.saliency(_mlp(), x, np.full(5, 3))
    np.testing.assert_array_equal(a, b)


def _torch_grad_cam(model, x, y, torch):
    twin = torch_twin(model, torch)
    acts = []
    handle = twin[2].register_forward_hook(lambda m, i, o: acts.append(o))
    logits = twin(torch.tensor(x))
    handle.remove()
    (g,) = torch.autograd.grad(logits[torch.arange(len(y)), torch.tensor(y)].sum(), acts[0])
    weights = g.mean(dim=2, keepdim=True)
    cam = torch.relu((weights * acts[0]).sum(dim=1, keepdim=True))
    up = torch.nn.functional.interpolate(cam, size=x.shape[1], mode="linear", align_corners=False)
    return up[:, 0].detach().numpy()


def test_grad_cam_matches_torch(torch) -> None:
    x, y = _batch()
    model = _maps()
    ours = explain.grad_cam(model, model[2], x, y)
    expected = _torch_grad_cam(model, x, y, torch)
    assert ours.shape == (12, 64)
    assert expected.max() > 0.1  # a map that is not all zero
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize(("size_in", "size_out"), [((7, 7), (28, 28)), ((3, 5), (8, 11))])
def test_upsample_matches_torch_bilinear(torch, rng, size_in, size_out) -> None:
    maps = rng.standard_normal((2, *size_in))
    expected = torch.nn.functional.interpolate(
        torch.tensor(maps)[:, None], size=size_out, mode="bilinear", align_corners=False
    )[:, 0].numpy()
    np.testing.assert_allclose(_upsample(maps, size_out), expected, atol=1e-12)


def test_grad_cam_needs_spatial_maps_and_a_submodule() -> None:
    x, y = _batch(2)
    with pytest.raises(ValueError, match="spatial dims"):
        explain.grad_cam(_mlp(), _mlp()[1], x, y)
    with pytest.raises(ValueError, match="not a submodule"):
        explain.grad_cam(_mlp(), nn.ReLU(), x, y)


@pytest.mark.parametrize(
    "method",
    ["riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre"],
)
def test_integrated_gradients_completeness(method) -> None:
    x, y = _batch()
    with mg.no_grad():
        predicted = _mlp()(mg.tensor(x)).numpy().argmax(1)
    attributions, error = explain.integrated_gradients(
        _mlp(), x, predicted, steps=50, method=method
    )
    assert attributions.shape == x.shape and error.shape == (12,)
    assert error.max() < 0.01, error.max()


def test_integrated_gradients_warns_when_incomplete_and_is_exact_on_linear_models(rng) -> None:
    x, y = _batch(8)
    with pytest.warns(UserWarning, match="completeness error"):
        explain.integrated_gradients(_mlp(), x, y, steps=2, method="riemann_left")
    linear = nn.Linear(64, 10)
    baseline = rng.uniform(size=64).astype(np.float32)
    attributions, error = explain.integrated_gradients(linear, x, y, baseline=baseline, steps=3)
    expected = (x - baseline) * linear.weight.detach().numpy()[y]
    np.testing.assert_allclose(attributions, expected, atol=1e-6)
    assert error.max() < 1e-4


def test_smoothgrad_equals_a_loop_over_noisy_copies() -> None:
    x, y = _batch(4)
    sg = explain.smoothgrad(_mlp(), x, y, n=5, sigma=0.2, seed=3, signed=True)
    noise = np.random.default_rng(3).standard_normal((5, *x.shape))
    spread = x.max(axis=1, keepdims=True) - x.min(axis=1, keepdims=True)
    loop = np.mean(
        [
            explain.saliency(_mlp(), (x + 0.2 * spread * noise[k]).astype(np.float32), y, True)
            for k in range(5)
        ],
        axis=0,
    )
    np.testing.assert_allclose(sg, loop, atol=1e-6)
    no_noise = explain.smoothgrad(_mlp(), x, y, n=2, sigma=0.0)
    np.testing.assert_allclose(no_noise, explain.saliency(_mlp(), x, y), atol=1e-6)


def _occlusion_loop(model, x, y, window, stride):
    """One sample and one window at a time."""
    out = np.zeros(x.shape)
    for i in range(len(x)):
        with mg.no_grad():
            clean = model(mg.tensor(x[i : i + 1])).numpy()[0, y[i]]
        total, count = np.zeros(x.shape[1:]), np.zeros(x.shape[-len(window) :])
        ranges = [
            range(0, s - w + 1, d)
            for s, w, d in zip(x.shape[-len(window) :], window, stride, strict=True)
        ]
        for start in np.ndindex(*[len(r) for r in ranges]):
            idx = tuple(
                slice(r[k], r[k] + w) for r, k, w in zip(ranges, start, window, strict=True)
            )
            occluded = x[i].copy()
            occluded[(Ellipsis, *idx)] = 0.0
            with mg.no_grad():
                score = model(mg.tensor(occluded[None])).numpy()[0, y[i]]
            total[(Ellipsis, *idx)] += clean - score
            count[idx] += 1
        out[i] = total / np.maximum(count, 1)
    return out


def test_occlusion_equals_brute_force_on_flat_inputs() -> None:
    x, y = _batch(4)
    ours = explain.occlusion(_mlp(), x, y, window=5, stride=3)
    np.testing.assert_allclose(ours, _occlusion_loop(_mlp(), x, y, (5,), (3,)), atol=1e-5)
    assert ours[:, -1].tolist() == [0.0] * 4  # position 63 is in no window of 5 at stride 3


def test_occlusion_equals_brute_force_on_images() -> None:
    x, y = _batch(3)
    images = x.reshape(3, 1, 8, 8)
    model = nn.Sequential(nn.Flatten(), *list(_mlp()))
    ours = explain.occlusion(model, images, y, window=(3, 3), stride=(2, 2))
    expected = _occlusion_loop(model, images, y, (3, 3), (2, 2))
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def _all_methods(model: nn.Module, layer: nn.Module, x: np.ndarray, y: np.ndarray) -> None:
    explain.saliency(model, x, y)
    explain.smoothgrad(model, x, y, n=2, seed=0)
    with warnings.catch_warnings():  # completeness is tested elsewhere
        warnings.simplefilter("ignore")
        explain.integrated_gradients(model, x, y, steps=4)
    explain.occlusion(model, x, y, window=8, stride=8)
    explain.grad_cam(model, layer, x, y)


def test_model_is_left_as_it_was() -> None:
    x, y = _batch(3)
    model = nn.Sequential(
        nn.Linear(64, 32), Unflatten(4), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(32, 10)
    )
    model.train()
    model[1].eval()
    model[0].bias.requires_grad_(False)
    model[5].weight.grad = mg.ones(10, 32)
    _all_methods(model, model[2], x, y)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]
    assert [p.requires_grad for p in model.parameters()] == [True, False, True, True]
    assert model[5].weight.grad.numpy().tolist() == np.ones((10, 32)).tolist()
    assert all(p.grad is None for p in [model[0].weight, model[0].bias, model[5].bias])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_model_is_restored_after_an_error() -> None:
    x, _ = _batch(2)
    model = nn.Sequential(
        nn.Linear(64, 64), Unflatten(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10)
    )
    model.train()
    with pytest.raises(ValueError, match=r"target classes must lie in \[0, 10\)"):
        explain.grad_cam(model, model[2], x, [0, 10])
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert not model[2]._forward_hooks


def test_bad_arguments_are_named() -> None:
    x, y = _batch(3)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        explain.saliency(_mlp(), x, [1, 2])
    with pytest.raises(TypeError, match="floating-point"):
        explain.saliency(_mlp(), x.astype(np.int64), y)
    with pytest.raises(ValueError, match="batch"):
        explain.saliency(_mlp(), x[0], 1)
    with pytest.raises(ValueError, match="method must be"):
        explain.integrated_gradients(_mlp(), x, y, method="simpson")
    with pytest.raises(ValueError, match="larger than"):
        explain.occlusion(_mlp(), x, y, window=65)
    with pytest.raises(ValueError, match="signed must be"):
        explain.saliency(_mlp(), x, y, signed="abs")


def test_pca_embedding_matches_scikit_learn(rng) -> None:
    decomposition = pytest.importorskip("sklearn.decomposition")
    features = rng.standard_normal((40, 6)) * np.arange(1, 7)
    ours, used = mg.plots.embed_2d(features, method="pca")
    theirs = decomposition.PCA(2).fit_transform(features)
    assert used == "pca"
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), atol=1e-10)


def test_tsne_falls_back_to_pca_without_scikit_learn(rng, monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "sklearn.manifold", None)
    features = rng.standard_normal((20, 4))
    with pytest.warns(UserWarning, match="falling back to PCA"):
        xy, used = mg.plots.embed_2d(features, method="tsne")
    assert used == "pca" and xy.shape == (20, 2)


def _needs_conv() -> None:
    if not hasattr(nn, "Conv2d"):
        pytest.skip("needs nn.Conv2d")


def _torch_grad_cam_2d(model, layer_index, images, y, torch):
    twin = torch_twin(model, torch)
    acts = []
    handle = twin[layer_index].register_forward_hook(lambda m, i, o: acts.append(o))
    logits = twin(torch.tensor(images))
    handle.remove()
    (g,) = torch.autograd.grad(logits[torch.arange(len(y)), torch.tensor(y)].sum(), acts[0])
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * acts[0]).sum(dim=1, keepdim=True))
    size = images.shape[2:]
    up = torch.nn.functional.interpolate(cam, size=size, mode="bilinear", align_corners=False)
    return up[:, 0].detach().numpy()


@pytest.mark.parametrize("layer_index", [3, 4])
def test_cnn_grad_cam_and_saliency_match_torch(torch, layer_index) -> None:
    _needs_conv()
    x, y = _batch()
    images = x.reshape(-1, 1, 8, 8)
    model = cnn()
    ours = explain.grad_cam(model, model[layer_index], images, y)
    expected = _torch_grad_cam_2d(model, layer_index, images, y, torch)
    assert ours.shape == (12, 8, 8) and expected.max() > 0.1
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    xt = torch.tensor(images, requires_grad=True)
    logits = torch_twin(model, torch)(xt)
    (g,) = torch.autograd.grad(logits[torch.arange(12), torch.tensor(y)].sum(), xt)
    np.testing.assert_allclose(explain.saliency(model, images, y, True), g.numpy(), atol=1e-6)


def test_cnn_integrated_gradients_completeness() -> None:
    _needs_conv()
    x, y = _batch()
    _, error = explain.integrated_gradients(cnn(), x.reshape(-1, 1, 8, 8), y, steps=50)
    assert error.max() < 0.01, error.max()
