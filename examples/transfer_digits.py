"""Transfer learning: features learned on MNIST digits 0-4 help to learn digits 5-9 from few
examples.

1. Pre-train the CNN of examples/cnn_mnist.py (with a 5-class head) on the training images
   of digits 0-4, and save its weights to a safetensors file (`mg.save`).
2. For digits 5-9, with 10, 50 and 200 training examples per class, and 3 seeds each:
   - from scratch: the same CNN, randomly initialised, all layers trained;
   - fine-tuned head: the pre-trained weights loaded from the file (`mg.load` +
     `load_state_dict`), the convolutional feature layers frozen (`requires_grad_(False)`,
     BatchNorm kept in eval mode so its running statistics stay those of pre-training), a
     new classifier head `Linear(400, 120) -> ReLU -> Linear(120, 5)`, and an optimizer
     given only the trainable parameters;
   - fine-tuned all, discriminative learning rates: everything trainable, the features at a
     tenth of the head's learning rate (two parameter groups, the head's added with
     `optimizer.add_param_group`).
   Every model trains for the same number of steps and is tested on the 500 test images of
   digits 5-9.

Writes transfer.md (the table) and transfer.png (accuracy against examples per class).

Run (about 2 minutes on 2 cores, measured while shared):
    python examples/transfer_digits.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import nn, optim
from microgradnp.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_mnist import accuracy, build_model, mnist_split, train  # noqa: E402

SIZES = (10, 50, 200)
METHODS = ("from scratch", "fine-tuned head (frozen features)", "fine-tuned all, discriminative lr")


def cnn(n_classes: int) -> nn.Sequential:
    """examples/cnn_mnist.py's CNN with an `n_classes` head."""
    model = build_model()
    model[-1] = nn.Linear(120, n_classes)
    return model


def digits(X: np.ndarray, y: np.ndarray, classes: range) -> tuple[np.ndarray, np.ndarray]:
    """The images of the given digits, labels renumbered from 0."""
    keep = np.isin(y, list(classes))
    return X[keep], y[keep] - classes.start


def few_shot(X: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(5)])
    return X[idx], y[idx]


FEATURES = 9  # model[:9]: the two convolution blocks and Flatten; model[9:]: the classifier


def freeze_features(model: nn.Sequential) -> None:
    """Freeze the convolutional features; their BatchNorm layers stay in eval mode."""
    model[:FEATURES].requires_grad_(False)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def fit(model: nn.Module, opt: optim.Optimizer, X: np.ndarray, y: np.ndarray, steps: int,
        seed: int, keep_bn_eval: bool = False) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    batch = min(64, len(y))
    for _ in range(steps):
        if keep_bn_eval:
            freeze_features(model)  # model.train() would switch BatchNorm back on
        else:
            model.train()
        idx = rng.choice(len(y), batch, replace=False)
        loss = F.cross_entropy(model(mg.from_numpy(X[idx])), mg.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def pretrained(path: Path) -> nn.Sequential:
    """The 0-4 CNN with its weights read from the safetensors file."""
    model = cnn(5)
    model.load_state_dict(mg.load(path))
    return model


def run(method: str, path: Path, X: np.ndarray, y: np.ndarray, seed: int, steps: int) -> nn.Module:
    mg.manual_seed(seed)
    if method == "from scratch":
        model = cnn(5)
        opt: optim.Optimizer = optim.Adam(model.parameters(), lr=3e-3)
        fit(model, opt, X, y, steps, seed)
    elif method.startswith("fine-tuned head"):
        model = pretrained(path)
        freeze_features(model)
        model[FEATURES] = nn.Linear(16 * 5 * 5, 120)  # a new, trainable classifier head
        model[-1] = nn.Linear(120, 5)
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert len(trainable) == 4  # the head's weights and biases
        opt = optim.Adam(trainable, lr=3e-3)
        fit(model, opt, X, y, steps, seed, keep_bn_eval=True)
    else:
        model = pretrained(path)
        model[-1] = nn.Linear(120, 5)
        opt = optim.Adam(model[:FEATURES].parameters(), lr=3e-4)  # features: a tenth of the lr
        opt.add_param_group({"params": model[FEATURES:].parameters(), "lr": 3e-3})
        fit(model, opt, X, y, steps, seed)
    return model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("transfer_out"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = mnist_split(0)
    (X, y), (X_test, y_test) = splits["train"], splits["test"]
    mg.manual_seed(0)
    source = cnn(5)
    train(source, *digits(X, y, range(0, 5)), epochs=args.pretrain_epochs)
    print(f"pre-trained on 0-4: {accuracy(source, *digits(X_test, y_test, range(0, 5))):.2%}")
    path = args.out / "cnn_digits_0_4.safetensors"
    mg.save(source.state_dict(), path)
    X5, y5 = digits(X, y, range(5, 10))
    X5_test, y5_test = digits(X_test, y_test, range(5, 10))
    results = {m: {n: [] for n in SIZES} for m in METHODS}
    for n in SIZES:
        for seed in range(args.seeds):
            Xs, ys = few_shot(X5, y5, n, seed)
            for method in METHODS:
                model = run(method, path, Xs, ys, seed, args.steps)
                results[method][n].append(accuracy(model, X5_test, y5_test))
            print(f"{n} per class, seed {seed}: "
                  + ", ".join(f"{m}: {results[m][n][-1]:.2%}" for m in METHODS))  # fmt: skip
    lines = ["| digits 5-9, examples per class | " + " | ".join(METHODS) + " |",
             "|---|" + "---:|" * len(METHODS)]  # fmt: skip
    for n in SIZES:
        cells = [f"{np.mean(results[m][n]):.1%} +- {np.std(results[m][n]):.1%}" for m in METHODS]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    (args.out / "transfer.md").write_text(text + "\n")
    try:
        draw(results, args.out / "transfer.png")
    except ImportError:
        print("matplotlib is not installed: no figure drawn")
    return results


def draw(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, by_size in results.items():
        means = [np.mean(by_size[n]) for n in SIZES]
        stds = [np.std(by_size[n]) for n in SIZES]
        ax.errorbar(SIZES, means, yerr=stds, marker="o", capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xticks(SIZES, [str(n) for n in SIZES])
    ax.set_xlabel("training examples per class (digits 5-9)")
    ax.set_ylabel("test accuracy (500 images)")
    ax.set_title("Transfer from digits 0-4 (mean +- std, 3 seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
