"""Draw the article's two networks as computation graphs, before and after backward.

Network 1: x -> Linear -> sigmoid -> Linear -> sigmoid -> binary cross-entropy.
Network 2: x -> Linear -> sigmoid -> Linear -> softmax cross-entropy (from the logits).
A third picture shows why the gradient colours matter: a deep stack of saturated sigmoid
layers, drawn with each layer collapsed to one node, whose first layers' gradients vanish.

Each graph is written as SVG and PNG into ``docs/images/`` (or ``--out``):
``*_forward`` shows shapes, dtypes and parameter names grouped by module; ``*_grad`` adds
every tensor's gradient (norm and max |g|, coloured on a log scale) after ``backward()``.

Run:
    python examples/visualize.py [--out docs/images]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import nn, viz


def sigmoid_net() -> tuple[nn.Module, mg.Tensor]:
    """Network 1 on a batch of 4 two-feature points, and its BCE loss."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    x = mg.randn(4, 2)
    y = mg.tensor([[0.0], [1.0], [1.0], [0.0]])
    return model, nn.BCELoss()(model(x), y)


def softmax_net() -> tuple[nn.Module, mg.Tensor]:
    """Network 2 on a batch of 4 digit-sized inputs (64 features, 10 classes)."""
    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 16), nn.Sigmoid(), nn.Linear(16, 10))
    x = mg.rand(4, 64)
    labels = mg.tensor(np.array([3, 1, 4, 1], dtype=np.int64))
    return model, nn.CrossEntropyLoss()(model(x), labels)


def deep_sigmoid_net(depth: int = 6) -> tuple[nn.Module, mg.Tensor]:
    """`depth` Linear+Sigmoid blocks whose biases push every sigmoid into saturation, where
    its derivative s(1 - s) is tiny: the gradient shrinks block after block on its way back
    to the input (the vanishing-gradient problem), and the colours show where."""
    mg.manual_seed(2)
    blocks = []
    for _ in range(depth):
        layer = nn.Linear(8, 8)
        layer.bias.data += 3.0
        blocks.append(nn.Sequential(layer, nn.Sigmoid()))
    model = nn.Sequential(*blocks)
    return model, model(mg.randn(4, 8)).mean()


def save(loss: mg.Tensor, out: Path, name: str, **options) -> None:
    for suffix in (".svg", ".png"):
        path = viz.save_graph(loss, out / f"{name}{suffix}", **options)
        print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in (("sigmoid_net", sigmoid_net), ("softmax_net", softmax_net)):
        model, loss = build()
        save(loss, args.out, f"{name}_forward", params=model, legend=True)
        viz.retain_grads(loss)  # keep the intermediates' gradients for the drawing
        loss.backward()
        save(loss, args.out, f"{name}_grad", params=model, show_grad=True)
    model, loss = deep_sigmoid_net()
    viz.retain_grads(loss)
    loss.backward()
    save(loss, args.out, "deep_sigmoid_grad", params=model, show_grad=True, collapse_modules=True)


if __name__ == "__main__":
    main()
