"""Explain a digit classifier: attribution maps, their completeness, and a t-SNE of features.

Trains a small CNN on the bundled 8x8 digits (an MLP with --model mlp), then explains a few
test digits with saliency, gradient x input, SmoothGrad, integrated gradients, occlusion and,
for the CNN, Grad-CAM (`microgradnp.explain`), checks integrated gradients' completeness
(attributions sum to f(x) - f(baseline)), and draws with `microgradnp.plots`:

- ``attribution_grid.png``: the methods side by side for a few digits;
- ``attribution_overlay.png``: one digit, its integrated-gradients map and the overlay;
- ``embedding.png``: t-SNE (scikit-learn, else PCA) of the penultimate activations by class.

Run (5 to 40 s on 2 shared cores):
    python examples/explain_digits.py [--out explain_output]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import explain, nn, plots


def build(kind: str) -> nn.Sequential:
    """A CNN on (N, 1, 8, 8) images, or an MLP on the same images flattened."""
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # index 4: Grad-CAM's layer, 16 maps of 4x4
            nn.Flatten(),
            nn.Linear(16 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> None:
    """Adam on mini-batches of 64."""
    opt = mg.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 64):
            idx = order[start : start + 64]
            opt.zero_grad()
            loss_fn(model(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
            opt.step()
    model.eval()


def completeness(model: nn.Module, X: np.ndarray, target: np.ndarray) -> None:
    print(f"integrated gradients, completeness error over {len(X)} test digits:")
    for method in ("riemann_trapezoid", "gausslegendre"):
        with warnings.catch_warnings():  # the numbers are printed instead
            warnings.simplefilter("ignore")
            _, errors = explain.integrated_gradients(model, X, target, steps=50, method=method)
        print(
            f"  {method:18s} 50 steps: median {np.median(errors):.1e}, max {errors.max():.1e}, "
            f"under 1% for {np.mean(errors < 0.01):.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("explain_output"))
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--embedding", choices=["tsne", "pca"], default="tsne")
    args = parser.parse_args()
    started = time.perf_counter()
    kind = args.model

    X, y = mg.datasets.load_digits(flatten=False)
    X = (X[:, None] / 16).astype(np.float32)  # (N, 1, 8, 8) in [0, 1]
    order = np.random.default_rng(0).permutation(len(X))
    train_idx, test = order[:1300], order[1300:]
    mg.manual_seed(0)
    model = build(kind)
    train(model, X[train_idx], y[train_idx], epochs=12 if kind == "cnn" else 30)
    with mg.no_grad():
        logits = model(mg.tensor(X[test])).numpy()
    accuracy = np.mean(logits.argmax(1) == y[test])
    print(f"{kind}: test accuracy {accuracy:.1%} on {len(test)} digits")
    completeness(model, X[test[:200]], logits[:200].argmax(1))

    # the first correctly classified test digit of six classes, explained for its class
    right = logits.argmax(1) == y[test]
    picks = [test[np.flatnonzero((y[test] == c) & right)[0]] for c in (0, 2, 3, 4, 7, 9)]
    x = X[picks]
    with mg.no_grad():
        probs = mg.softmax(model(mg.tensor(x)), dim=1).numpy()
    target = probs.argmax(1)
    ig, error = explain.integrated_gradients(model, x, target, steps=50)
    maps = {
        "saliency": explain.saliency(model, x, target),
        "grad x input": explain.saliency(model, x, target, signed="grad_x_input"),
        "SmoothGrad": explain.smoothgrad(model, x, target, n=50, sigma=0.15, seed=0),
        "integrated grad.": ig,
        "occlusion 2x2": explain.occlusion(model, x, target, window=(2, 2), stride=(1, 1)),
    }
    if kind == "cnn":
        maps["Grad-CAM"] = explain.grad_cam(model, model[4], x, target)[:, None]
    labels = [f"{t}  (p={probs[i, t]:.2f})" for i, t in enumerate(target)]
    out = args.out
    plots.plot_attribution_grid(x, maps, out / "attribution_grid.png", labels=labels)
    plots.plot_attribution(
        x[4],
        ig[4],
        out / "attribution_overlay.png",
        title=f"Integrated gradients for class {target[4]} (completeness error {error[4]:.1e})",
    )

    hidden = model[:-1]  # everything up to the last Linear: 64 ReLU features
    with mg.no_grad():
        features = hidden(mg.tensor(X[test])).numpy()
    plots.plot_embedding(
        features,
        y[test],
        out / "embedding.png",
        method=args.embedding,
        title=f"Penultimate-layer activations of {len(test)} test digits ({kind.upper()})",
    )
    print(f"wrote {sorted(p.name for p in out.glob('*.png'))} to {out}")
    print(f"time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
