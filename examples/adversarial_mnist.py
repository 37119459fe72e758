"""Adversarial training: a standard and a PGD-trained network under FGSM and PGD attacks.

Trains a network on clean images, then a copy of it further on PGD adversarial examples only
(Madry et al., 2018: eps 0.1 in L-infinity, 3 steps of 2.5 eps / 3), then measures the
accuracy of each on a held-out set: clean, and under FGSM, PGD-10 and PGD-50
(`microgradnp.adversarial`, step 2.5 eps / steps, random start) at eps in {0.05, 0.1, 0.2}
on pixels in [0, 1]. As a sanity check of the attacks, the script asserts that accuracy falls
monotonically with eps and that PGD-50 is never weaker than PGD-10. It prints the table, the
fraction of digits on which PGD-50's loss is at least FGSM's, and writes into --out:

- ``robustness.png``: accuracy against eps for both models;
- ``adversarial_examples.png``: test digits, their PGD-50 versions and the predictions.

The data are 3,000 of the bundled 5,000 MNIST digits (28x28) for training and 200 others for
testing, with a small CNN; with --model mlp, the bundled 8x8 digits with an MLP.

Run (30 s to 2.5 min on 2 shared cores):
    python examples/adversarial_mnist.py [--out adversarial_output]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import adversarial, nn, plots
from microgradnp.nn import functional as F

EPS = (0.05, 0.1, 0.2)
TRAIN_EPS, TRAIN_STEPS = 0.1, 3


def load(kind: str, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test), pixels in [0, 1], test set balanced by class."""
    if kind == "cnn":
        X, y = mg.datasets.load_mnist_5k(flatten=False)
        X = (X[:, None] / 255).astype(np.float32)
    else:
        X, y = mg.datasets.load_digits()
        X = (X / 16).astype(np.float32)
    rng = np.random.default_rng(0)
    per_class = n_test // 10
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(10)])
    train = rng.permutation(np.setdiff1d(np.arange(len(y)), test))
    return X[train], y[train], X[test], y[test]


def build(kind: str) -> nn.Module:
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def train(
    model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, robust: bool, seed: int = 0
) -> nn.Module:
    """Adam on mini-batches of 64; with `robust`, on PGD examples of each batch instead."""
    opt = mg.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 64):
            xb, yb = X[order[start : start + 64]], y[order[start : start + 64]]
            if robust:
                xb = adversarial.pgd(
                    model,
                    loss_fn,
                    xb,
                    yb,
                    eps=TRAIN_EPS,
                    alpha=2.5 * TRAIN_EPS / TRAIN_STEPS,
                    steps=TRAIN_STEPS,
                    seed=int(rng.integers(2**31)),
                )
            opt.zero_grad()
            loss_fn(model(mg.tensor(xb)), mg.tensor(yb)).backward()
            opt.step()
    return model.eval()


def losses(model: nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy."""
    with mg.no_grad():
        logits = model(mg.tensor(X))
        return F.cross_entropy(logits, mg.tensor(y), reduction="none").numpy()


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with mg.no_grad():
        return float(np.mean(model(mg.tensor(X)).numpy().argmax(1) == y))


def attacks(loss_fn: nn.Module) -> dict[str, Callable[..., np.ndarray]]:
    def pgd(steps: int) -> Callable[..., np.ndarray]:
        return lambda m, X, y, eps: adversarial.pgd(
            m, loss_fn, X, y, eps, alpha=2.5 * eps / steps, steps=steps, seed=0
        )

    return {
        "FGSM": lambda m, X, y, eps: adversarial.fgsm(m, loss_fn, X, y, eps),
        "PGD-10": pgd(10),
        "PGD-50": pgd(50),
    }


def evaluate(models: dict[str, nn.Module], X: np.ndarray, y: np.ndarray) -> tuple[dict, dict]:
    """results[model][attack] = [accuracy at eps 0 (clean), then at each of EPS], and
    stronger[model] = [fraction of samples whose PGD-50 loss >= FGSM loss, at each of EPS]."""
    results: dict[str, dict[str, list[float]]] = {}
    stronger: dict[str, list[float]] = {}
    for name, model in models.items():
        clean = accuracy(model, X, y)
        results[name] = {}
        loss_at: dict[str, list[np.ndarray]] = {}
        for attack, run in attacks(nn.CrossEntropyLoss()).items():
            adv = [run(model, X, y, e) for e in EPS]
            results[name][attack] = [clean] + [accuracy(model, a, y) for a in adv]
            loss_at[attack] = [losses(model, a, y) for a in adv]
        stronger[name] = [
            float(np.mean(p >= f - 1e-6))
            for p, f in zip(loss_at["PGD-50"], loss_at["FGSM"], strict=True)
        ]
    return results, stronger


def check(results: dict) -> None:
    """The attacks are sane: accuracy never rises with eps, PGD-50 never beats PGD-10."""
    for name, per_attack in results.items():
        for attack, acc in per_attack.items():
            assert all(a >= b for a, b in zip(acc, acc[1:], strict=False)), (name, attack, acc)
        pgd10, pgd50 = per_attack["PGD-10"], per_attack["PGD-50"]
        assert all(b <= a for a, b in zip(pgd10, pgd50, strict=True)), (name, pgd10, pgd50)


def table(results: dict) -> str:
    head = "| model | attack | clean | " + " | ".join(f"eps={e}" for e in EPS) + " |"
    lines = [head, "|" + "---|" * (3 + len(EPS))]
    for name, per_attack in results.items():
        for attack, acc in per_attack.items():
            cells = " | ".join(f"{a:.1%}" for a in acc)
            lines.append(f"| {name} | {attack} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("adversarial_output"))
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 (cnn), 30 (mlp)")
    parser.add_argument("--robust-epochs", type=int, default=None, help="default: 2 / 20")
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=3000)
    args = parser.parse_args()
    started = time.perf_counter()
    kind = args.model
    epochs = args.epochs or (3 if kind == "cnn" else 30)
    args.robust_epochs = args.robust_epochs or (2 if kind == "cnn" else 20)
    X, y, X_test, y_test = load(kind, args.n_test)
    X, y = X[: args.n_train], y[: args.n_train]
    print(f"{kind} on {len(X)} training and {len(X_test)} test images, {epochs} epochs each")

    tick = time.perf_counter()
    mg.manual_seed(0)
    standard = train(build(kind), X, y, epochs, robust=False)
    print(f"trained the standard model in {time.perf_counter() - tick:.0f} s")
    tick = time.perf_counter()
    robust = build(kind)
    robust.load_state_dict(standard.state_dict())
    robust = train(robust.train(), X, y, args.robust_epochs, robust=True, seed=1)
    print(
        f"trained the PGD model {args.robust_epochs} more epochs "
        f"in {time.perf_counter() - tick:.0f} s"
    )
    models = {"standard": standard, "PGD-trained": robust}

    tick = time.perf_counter()
    results, stronger = evaluate(models, X_test, y_test)
    print(f"attacks evaluated in {time.perf_counter() - tick:.0f} s\n")
    print(table(results))
    check(results)
    for name, fractions in stronger.items():
        cells = ", ".join(f"{f:.1%} at eps {e}" for f, e in zip(fractions, EPS, strict=True))
        print(f"{name}: PGD-50 loss >= FGSM loss for {cells}")

    eps = [0.0, *EPS]
    curves = {f"{m}, {a}": acc for m in results for a, acc in results[m].items() if a != "PGD-10"}
    plots.plot_robustness(
        eps,
        curves,
        args.out / "robustness.png",
        title=f"Accuracy under attack ({len(X_test)} test digits)",
    )
    model = models["standard"]
    with mg.no_grad():
        right = model(mg.tensor(X_test)).numpy().argmax(1) == y_test
    picks = np.array([np.flatnonzero((y_test == c) & right)[0] for c in range(10)])
    clean = X_test[picks]
    adv = adversarial.pgd(
        model, nn.CrossEntropyLoss(), clean, y_test[picks], 0.1, alpha=0.005, steps=50, seed=0
    )
    with mg.no_grad():
        pred_clean = model(mg.tensor(clean)).numpy().argmax(1)
        pred_adv = model(mg.tensor(adv)).numpy().argmax(1)
    plots.plot_adversarial_examples(
        clean,
        adv,
        y_test[picks],
        pred_clean,
        pred_adv,
        args.out / "adversarial_examples.png",
        title="PGD-50 at eps 0.1 against the standard model (red: fooled)",
    )
    print(f"\nwrote robustness.png and adversarial_examples.png to {args.out}")
    print(f"time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
