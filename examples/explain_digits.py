"""Explain a digit classifier: attribution maps, their completeness, and a t-SNE of features.

Trains a small MLP on the bundled 8x8 digits, then explains a few test digits with
saliency, gradient x input, SmoothGrad, integrated gradients and occlusion
(`microgradnp.explain`), checks integrated gradients' completeness (attributions sum to
f(x) - f(baseline)), and draws with `microgradnp.plots`:

- ``attribution_grid.png``: the methods side by side for a few digits;
- ``attribution_overlay.png``: one digit, its integrated-gradients map and the overlay;
- ``embedding.png``: t-SNE (scikit-learn, else PCA) of the hidden activations by class.

Run:
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


def train_mlp(X: np.ndarray, y: np.ndarray, epochs: int = 30, seed: int = 0) -> nn.Module:
    """64-64-10 ReLU network, Adam on mini-batches of 64."""
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
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
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("explain_output"))
    parser.add_argument("--embedding", choices=["tsne", "pca"], default="tsne")
    args = parser.parse_args()
    started = time.perf_counter()

    X, y = mg.datasets.load_digits()
    X = (X / 16).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1300], order[1300:]
    model = train_mlp(X[train], y[train])
    with mg.no_grad():
        logits = model(mg.tensor(X[test])).numpy()
    print(f"test accuracy {np.mean(logits.argmax(1) == y[test]):.1%} on {len(test)} digits")

    # the first correctly classified test digit of six classes, explained for its class
    right = logits.argmax(1) == y[test]
    picks = [test[np.flatnonzero((y[test] == c) & right)[0]] for c in (0, 2, 3, 4, 7, 9)]
    x = X[picks]
    with mg.no_grad():
        probs = mg.softmax(model(mg.tensor(x)), dim=1).numpy()
    target = probs.argmax(1)
    on_images = nn.Sequential(nn.Flatten(), *model)  # the same layers, on (N, 1, 8, 8)
    ig, error = explain.integrated_gradients(model, x, target, steps=50)
    maps = {
        "saliency": explain.saliency(model, x, target),
        "grad x input": explain.saliency(model, x, target, signed="grad_x_input"),
        "SmoothGrad": explain.smoothgrad(model, x, target, n=50, sigma=0.15, seed=0),
        "integrated grad.": ig,
        "occlusion 2x2": explain.occlusion(
            on_images, x.reshape(-1, 1, 8, 8), target, window=(2, 2), stride=(1, 1)
        ).reshape(len(x), 64),
    }
    print(f"integrated gradients, completeness error over the {len(test)} test digits:")
    for method in ("riemann_trapezoid", "gausslegendre"):
        with warnings.catch_warnings():  # the numbers are printed instead
            warnings.simplefilter("ignore")
            _, errors = explain.integrated_gradients(
                model, X[test], logits.argmax(1), steps=50, method=method
            )
        print(
            f"  {method:18s} 50 steps: median {np.median(errors):.1e}, max {errors.max():.1e}, "
            f"under 1% for {np.mean(errors < 0.01):.1%}"
        )
    labels = [f"{t}  (p={probs[i, t]:.2f})" for i, t in enumerate(target)]
    out = args.out
    plots.plot_attribution_grid(x, maps, out / "attribution_grid.png", labels=labels)
    plots.plot_attribution(
        x[4],
        ig[4],
        out / "attribution_overlay.png",
        title=f"Integrated gradients for class {target[4]} (completeness error {error[4]:.1e})",
    )

    hidden = model[:2]  # Linear + ReLU
    with mg.no_grad():
        features = hidden(mg.tensor(X[test])).numpy()
    plots.plot_embedding(
        features,
        y[test],
        out / "embedding.png",
        method=args.embedding,
        title=f"Hidden activations of {len(test)} test digits (64 ReLU units)",
    )
    print(f"wrote {sorted(p.name for p in out.glob('*.png'))} to {out}")
    print(f"time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
