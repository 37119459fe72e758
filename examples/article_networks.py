"""Train the article's two networks, corrected, and (optionally) draw their computation graphs.

Network 1 (2-layer sigmoid, binary cross-entropy) learns two interleaved half moons; network 2
(sigmoid hidden layer, softmax, cross-entropy) learns the bundled handwritten digits when
``microgradnp.datasets.load_digits`` is available, otherwise a synthetic 5-class set. Both use
the hand-derived NumPy gradients of ``microgradnp.reference``; when microgradnp's autograd is
importable the script also checks them against it, and when ``mg.viz`` and the ``graphviz``
package are present it draws each network's graph into ``--graphs`` (default
``demo_output/article_networks``). See ``docs/article-errata.md`` for what the article got wrong.

Run:
    python examples/article_networks.py [--graphs DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

import numpy as np

from microgradnp.reference import sigmoid_net, softmax_net


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles, ``X`` (n, 2) and 0/1 targets ``Y`` (n, 1)."""
    angle = rng.uniform(0.0, np.pi, size=n)
    label = rng.integers(0, 2, size=n)
    X = np.where(
        label[:, None] == 0,
        np.stack([np.cos(angle), np.sin(angle)], axis=1),
        np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1),
    )
    X = X + noise * rng.normal(size=X.shape)
    return X, label[:, None].astype(np.float64)


def load_multiclass(rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray]:
    """The bundled digits (pixels scaled to [0, 1]) if the package has them, else 5 Gaussian
    classes in 10 dimensions. Returns ``(name, X float64, labels int)``."""
    try:
        from microgradnp.datasets import load_digits
    except ImportError:
        centres = rng.normal(scale=2.0, size=(5, 10))
        labels = rng.integers(0, 5, size=1000)
        return "synthetic 5-class", centres[labels] + rng.normal(size=(1000, 10)), labels
    X, labels = load_digits()
    return "digits", np.asarray(X, dtype=np.float64) / 16.0, np.asarray(labels)


def split(n: int, rng: np.random.Generator, test_fraction: float = 0.25):
    """Random train / test row indices."""
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


def _printer(every: int):
    def report(epoch: int, loss: float, acc: float) -> None:
        if epoch % every == 0:
            print(f"  epoch {epoch:4d}  loss {loss:.4f}  train accuracy {acc:.3f}")

    return report


def train_network1(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], float]:
    """Train network 1 on two moons; return its parameters and its test accuracy."""
    X, Y = make_moons(400, noise=0.15, rng=rng)
    train, test = split(len(X), rng)
    params = sigmoid_net.init_params(2, 16, 1, rng=rng)
    print("network 1: 2-16-1 sigmoid net, binary cross-entropy, two moons (300 train / 100 test)")
    sigmoid_net.train(params, X[train], Y[train], epochs=3000, lr=3.0, callback=_printer(250))
    A2, _ = sigmoid_net.forward(params, X[test])
    acc = sigmoid_net.accuracy(A2, Y[test])
    print(f"  network 1 test accuracy: {acc:.3f}")
    return params, acc


def train_network2(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], float]:
    """Train network 2 on digits (or the synthetic set); return parameters, test accuracy."""
    name, X, labels = load_multiclass(rng)
    n_classes = int(labels.max()) + 1
    train, test = split(len(X), rng)
    params = softmax_net.init_params(X.shape[1], 32, n_classes, rng=rng)
    print(
        f"network 2: {X.shape[1]}-32-{n_classes} sigmoid/softmax net, cross-entropy, {name} "
        f"({len(train)} train / {len(test)} test), mini-batch SGD"
    )
    softmax_net.train(
        params,
        X[train],
        labels[train],
        epochs=30,
        lr=0.5,
        batch_size=32,
        rng=rng,
        callback=_printer(1),
    )
    P, _ = softmax_net.forward(params, X[test])
    acc = softmax_net.accuracy(P, labels[test])
    print(f"  network 2 test accuracy: {acc:.3f}")
    return params, acc


def _microgradnp_core():
    """The microgradnp module if its autograd core is importable, else None."""
    try:
        mg = importlib.import_module("microgradnp")
    except ImportError:
        return None
    return mg if hasattr(mg, "tensor") and hasattr(mg, "sigmoid") else None


def compare_with_autograd(mg, params1: dict, params2: dict, rng: np.random.Generator) -> None:
    """Largest |hand-derived - autograd| gradient entry for each trained network."""
    from microgradnp.reference import graph_nets

    X, Y = make_moons(8, 0.15, rng)
    t1 = graph_nets.to_tensors(params1)
    graph_nets.sigmoid_net_loss(t1, mg.tensor(X), mg.tensor(Y)).backward()
    hand1 = sigmoid_net.backward(params1, X, Y, sigmoid_net.forward(params1, X)[1])
    n_in, n_classes = params2["W1"].shape[1], params2["W2"].shape[0]
    X2, labels = rng.normal(size=(8, n_in)), rng.integers(0, n_classes, size=8)
    t2 = graph_nets.to_tensors(params2)
    T = softmax_net.one_hot(labels, n_classes)
    graph_nets.softmax_net_loss(t2, mg.tensor(X2), mg.tensor(T)).backward()
    hand2 = softmax_net.backward(params2, X2, labels, softmax_net.forward(params2, X2)[1])
    for name, tensors, hand in (("1", t1, hand1), ("2", t2, hand2)):
        diff = max(float(np.max(np.abs(np.asarray(tensors[k].grad.data) - hand[k]))) for k in hand)
        print(f"network {name}: max |hand-derived - autograd| gradient difference {diff:.1e}")


def draw_graphs(mg, params1: dict, params2: dict, out_dir: Path) -> None:
    """Render each network's loss graph (two samples) with ``mg.viz.draw_graph``, if possible."""
    try:
        viz = importlib.import_module("microgradnp.viz")
        importlib.import_module("graphviz")
    except ImportError as error:
        print(f"graphs not drawn ({error})")
        return
    from microgradnp.reference import graph_nets

    rng = np.random.default_rng(0)
    n_in, n_classes = params2["W1"].shape[1], params2["W2"].shape[0]
    t1, t2 = graph_nets.to_tensors(params1), graph_nets.to_tensors(params2)
    X1, Y1 = (mg.tensor(a) for a in make_moons(2, 0.15, rng))
    loss1 = graph_nets.sigmoid_net_loss(t1, X1, Y1)
    X2 = mg.tensor(rng.normal(size=(2, n_in)))
    T2 = mg.tensor(softmax_net.one_hot(rng.integers(0, n_classes, size=2), n_classes))
    loss2 = graph_nets.softmax_net_loss(t2, X2, T2)
    t1.update(X=X1, Y=Y1)  # name the inputs in the drawing as well
    t2.update(X=X2, T=T2)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, loss, tensors in (("network1", loss1, t1), ("network2", loss2, t2)):
        graph = viz.draw_graph(loss, params=tensors)
        path = graph.render(str(out_dir / name), format="svg", cleanup=True)
        print(f"graph of {name} drawn to {path}")


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run everything; return the two test accuracies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=Path, default=Path("demo_output/article_networks"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    params1, acc1 = train_network1(rng)
    params2, acc2 = train_network2(rng)
    mg = _microgradnp_core()
    if mg is None:
        print("microgradnp autograd not importable: autograd check and graphs skipped")
    else:
        compare_with_autograd(mg, params1, params2, rng)
        draw_graphs(mg, params1, params2, args.graphs)
    print(f"done in {time.perf_counter() - start:.1f} s")
    return {"network1": acc1, "network2": acc2}


if __name__ == "__main__":
    main()
