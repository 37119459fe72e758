"""A LeNet-style convolutional network learns the bundled 5,000 MNIST digits.

    Conv2d(1, 8, 5, padding=2) -> BatchNorm2d -> ReLU -> MaxPool2d(2)      28x28 -> 14x14
    Conv2d(8, 16, 5)           -> BatchNorm2d -> ReLU -> MaxPool2d(2)      14x14 -> 5x5
    Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 10)

The 5,000 images (500 per digit, bundled, no network needed) are split with a fixed seed into
4,000 for training and 1,000 for testing, 100 per digit; pixels are scaled to [0, 1] and
standardised with the training set's mean and standard deviation. Adam and a cosine learning
rate schedule train the network for a few epochs; the test accuracy is printed. Into the
output folder it writes:

    filters.png        the first layer's learned 5x5 filters
    feature_maps.png   a test digit and its first- and second-layer feature maps
    graph.svg / .png   one training step's computation graph, each module collapsed into one
                       node (needs Graphviz's `dot`)

Run (about 5 s of training on 2 idle cores):
    pip install -e ".[train,viz]" && python examples/cnn_mnist.py [--out DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import data, datasets, nn, optim


def mnist_split(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """4,000 train / 1,000 test images (100 test images per digit), as (N, 1, 28, 28)."""
    X, y = datasets.load_mnist_5k(flatten=False)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == d))[:100] for d in range(10)])
    train = np.setdiff1d(np.arange(len(y)), test)
    X = X[:, None] / 255.0
    mean, std = X[train].mean(), X[train].std()
    X = ((X - mean) / std).astype(np.float32)
    return {"train": (X[train], y[train]), "test": (X[test], y[test])}


def build_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 10),
    )


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    model.eval()
    with mg.no_grad():
        preds = [
            model(mg.from_numpy(X[i : i + batch])).data.argmax(1) for i in range(0, len(X), batch)
        ]
    return float((np.concatenate(preds) == y).mean())


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> None:
    loader = data.DataLoader(
        data.TensorDataset(X, y), batch_size=64, shuffle=True, generator=np.random.default_rng(seed)
    )
    opt = optim.Adam(model.parameters(), lr=3e-3)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        start, total, n = time.perf_counter(), 0.0, 0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * len(yb)
            n += len(yb)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / n:.4f} ({seconds:.1f} s)")


def draw_filters(model: nn.Sequential, path: Path) -> None:
    import matplotlib.pyplot as plt

    weights = model[0].weight.data[:, 0]  # (8, 5, 5)
    fig, axes = plt.subplots(1, len(weights), figsize=(1.6 * len(weights), 2.0))
    for i, (ax, w) in enumerate(zip(axes, weights, strict=True)):
        ax.imshow(w, cmap="RdBu_r", vmin=-np.abs(w).max(), vmax=np.abs(w).max())
        ax.set_title(f"filter {i}", fontsize=9)
        ax.axis("off")
    fig.suptitle("Conv2d(1, 8, 5): learned filters (red +, blue -)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_feature_maps(model: nn.Sequential, image: np.ndarray, label: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    model.eval()
    with mg.no_grad():
        first = model[:3](mg.from_numpy(image[None])).data[0]  # after conv, BN, ReLU: (8, 28, 28)
        second = model[:7](mg.from_numpy(image[None])).data[0]  # (16, 10, 10)
    fig, axes = plt.subplots(3, 8, figsize=(12, 4.8))
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image[0], cmap="gray")
    axes[0, 0].set_title(f"input: {label}", fontsize=9)
    for i in range(8):
        axes[1, i].imshow(first[i], cmap="viridis")
        axes[1, i].set_title(f"layer 1 map {i}", fontsize=8)
    for i in range(8):
        axes[2, i].imshow(second[2 * i], cmap="viridis")
        axes[2, i].set_title(f"layer 2 map {2 * i}", fontsize=8)
    fig.suptitle("Feature maps after Conv2d -> BatchNorm2d -> ReLU", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_graph(model: nn.Module, X: np.ndarray, y: np.ndarray, out: Path) -> list[Path]:
    """One training step's graph, each module collapsed into a node (needs Graphviz)."""
    from microgradnp import viz

    model.train()
    loss = nn.functional.cross_entropy(model(mg.from_numpy(X[:4])), mg.from_numpy(y[:4]))
    written = []
    for suffix in (".svg", ".png"):
        try:
            written.append(
                viz.save_graph(loss, out / f"graph{suffix}", params=model, collapse_modules=True,
                               rankdir="TB", dpi=110 if suffix == ".png" else None)
            )  # fmt: skip
        except viz.GraphvizNotFoundError:
            print("Graphviz's `dot` was not found: wrote graph.dot only")
            break
    return written


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("cnn_mnist_out"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mg.manual_seed(args.seed)
    splits = mnist_split(args.seed)
    model = build_model()
    start = time.perf_counter()
    train(model, *splits["train"], epochs=args.epochs, seed=args.seed)
    seconds = time.perf_counter() - start
    acc = accuracy(model, *splits["test"])
    print(f"test accuracy: {acc:.2%} on {len(splits['test'][1])} images ({seconds:.0f} s training)")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        draw_filters(model, args.out / "filters.png")
        X_test, y_test = splits["test"]
        draw_feature_maps(model, X_test[0], int(y_test[0]), args.out / "feature_maps.png")
    except ImportError:
        print("matplotlib is not installed: no figures drawn")
    for path in draw_graph(model, *splits["train"], args.out):
        print(f"wrote {path}")
    return acc


if __name__ == "__main__":
    main()
