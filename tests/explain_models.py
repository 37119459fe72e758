"""Small trained models on the bundled 8x8 digits, shared by the explain and adversarial tests,
and their PyTorch twins (same weights loaded by state_dict key)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import microgradnp as mg
from microgradnp import nn


class Unflatten(nn.Module):
    """(N, C*L) -> (N, C, L): features seen as C channels over L positions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return x.reshape(x.shape[0], self.channels, -1)


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], float32, shape (1797, 64)."""
    X, y = mg.datasets.load_digits()
    return (X / 16).astype(np.float32), y


def _train(model: nn.Module, steps: int = 40, images: bool = False) -> nn.Module:
    X, y = digits()
    X, y = X[:600], y[:600]
    if images:
        X = X.reshape(-1, 1, 8, 8)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    with mg.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(model(mg.tensor(X)), mg.tensor(y)).backward()
            opt.step()
    opt.zero_grad()
    return model


@functools.cache
def mlp() -> nn.Module:
    """64-32-10 ReLU network trained briefly on 600 digits (about 90% accuracy on all)."""
    mg.manual_seed(0)
    return _train(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)))


@functools.cache
def mlp_with_maps() -> nn.Module:
    """An MLP whose hidden layer is 4 channels over 16 positions (index 2), for Grad-CAM."""
    mg.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(64, 64), Unflatten(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10)
    )
    return _train(model)


@functools.cache
def cnn() -> nn.Module:
    """A small CNN on the digits as (N, 1, 8, 8): two 3x3 convolutions, 2x2 max pooling
    (index 4, 4x4 maps) and a linear layer, trained briefly."""
    mg.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    return _train(model, steps=30, images=True)


def torch_twin(model: nn.Module, torch: Any) -> Any:
    """The same Sequential in PyTorch, weights loaded by state_dict key."""
    tnn = torch.nn
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(tnn.Linear(m.in_features, m.out_features))
        elif isinstance(m, nn.ReLU):
            layers.append(tnn.ReLU())
        elif isinstance(m, nn.Flatten):
            layers.append(tnn.Flatten())
        elif isinstance(m, Unflatten):
            layers.append(tnn.Unflatten(1, (m.channels, -1)))
        elif type(m).__name__ == "Conv2d":
            layers.append(
                tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
            )
        elif type(m).__name__ == "MaxPool2d":
            layers.append(tnn.MaxPool2d(m.kernel_size, m.stride))
        else:
            raise TypeError(f"no twin for {type(m).__name__}")
    twin = tnn.Sequential(*layers)
    state = {k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()}
    twin.load_state_dict(state)
    return twin.eval()
