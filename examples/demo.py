"""The main demo: the article's softmax network learns the bundled handwritten digits.

Linear(64, 64) -> Sigmoid -> Linear(64, 10), trained with cross-entropy and Adam on the UCI
8x8 digits (bundled, no network needed), split 70/15/15 into train/validation/test with a
fixed seed and standardised with the training set's statistics. `mg.train.fit` shows a
progress bar per epoch and stops early when the validation loss stops improving, restoring
the best weights. The demo then prints the classification report on the test set and writes
into the output folder:

    history.png           loss and accuracy per epoch, training vs validation
    confusion_matrix.png  test-set confusion matrix
    misclassified.png     the test images the network got wrong
    graph.svg / .png      one training step's computation graph with its gradients and the
                          legend (needs Graphviz's `dot`)

Run (about 2 s):
    pip install -e ".[train,viz,io]" && python examples/demo.py [--out DIR] [--epochs N]

`examples/train_by_hand.py` trains the same network with a hand-written loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import microgradnp as mg
from microgradnp import data, datasets, metrics, nn, plots
from microgradnp.train import EarlyStopping, fit


def digit_splits(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The digits split 70/15/15 with `seed`, standardised with the training statistics.

    Returns {"train" | "val" | "test": (X, y)}; pixels that are constant in the training set
    (always blank) stay 0 after scaling. Also "test_images": the raw 8x8 test images.
    """
    X, y = datasets.load_digits()
    parts = data.random_split(
        data.TensorDataset(X, y), [0.7, 0.15, 0.15], generator=np.random.default_rng(seed)
    )
    index = {
        name: np.asarray(part.indices)
        for name, part in zip(("train", "val", "test"), parts, strict=True)
    }
    scaler = data.StandardScaler().fit(X[index["train"]])
    splits: dict[str, Any] = {name: (scaler.transform(X[i]), y[i]) for name, i in index.items()}
    splits["test_images"] = X[index["test"]].reshape(-1, 8, 8)
    return splits


def build_model(hidden: int = 64) -> nn.Module:
    """The article's softmax network; the softmax itself lives in the cross-entropy loss."""
    return nn.Sequential(nn.Linear(64, hidden), nn.Sigmoid(), nn.Linear(hidden, 10))


def save_computation_graph(model: nn.Module, X: np.ndarray, y: np.ndarray, out: Path) -> list[Path]:
    """Draw one training step's graph (loss of a small batch, after backward) as SVG and PNG,
    with every gradient's norm and max |g| coloured by size, and the legend, if possible."""
    try:
        from microgradnp import viz
    except ImportError:
        return []
    loss = nn.functional.cross_entropy(model(mg.from_numpy(X[:8])), mg.from_numpy(y[:8]))
    viz.retain_grads(loss)  # keep the intermediates' gradients for the drawing
    loss.backward()
    written = []
    for suffix in (".svg", ".png"):
        try:
            written.append(
                viz.save_graph(
                    loss,
                    out / f"graph{suffix}",
                    params=model,
                    show_grad=True,  # also turns the legend on
                    rankdir="LR",
                    dpi=110 if suffix == ".png" else None,
                )
            )
        except viz.GraphvizNotFoundError:
            (out / "graph.dot").unlink(missing_ok=True)  # keep the folder to the pictures
            print("(Graphviz's `dot` is not installed: skipping the computation graph)")
            break
    model.zero_grad()
    return written


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the demo; returns the numbers it printed and the files it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo_output"),
        help="folder for the pictures (default: ./demo_output)",
    )
    parser.add_argument("--epochs", type=int, default=100, help="most epochs (default 100)")
    parser.add_argument(
        "--patience", type=int, default=10, help="early-stopping patience in epochs (default 10)"
    )
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    mg.manual_seed(args.seed)
    splits = digit_splits(args.seed)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (
        splits[k] for k in ("train", "val", "test")
    )
    print(f"digits: {len(y_train)} train / {len(y_val)} validation / {len(y_test)} test images")
    train_loader = data.DataLoader(
        data.TensorDataset(X_train, y_train), batch_size=args.batch_size, shuffle=True
    )
    val_loader = data.DataLoader(data.TensorDataset(X_val, y_val), batch_size=512)

    model = build_model(args.hidden)
    print(model)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    stopper = EarlyStopping(monitor="val_loss", patience=args.patience)
    history = fit(
        model,
        train_loader,
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=args.epochs,
        val_loader=val_loader,
        metrics=["accuracy"],
        callbacks=[stopper],
        progress=False if args.no_progress else None,
    )
    train_time = time.perf_counter() - start
    how = (
        f"stopped early at epoch {stopper.stopped_epoch + 1}"
        if history.stopped_early
        else f"ran all {history.epochs} epochs"
    )
    print(
        f"trained in {train_time:.2f} s: {how}; restored the weights of epoch "
        f"{stopper.best_epoch + 1} (val_loss {stopper.best:.4f}, val_accuracy "
        f"{history['val_accuracy'][stopper.best_epoch]:.4f})"
    )

    model.eval()
    with mg.no_grad():
        logits = model(mg.from_numpy(X_test)).numpy()
    y_pred = logits.argmax(axis=1)
    test_accuracy = metrics.accuracy(y_test, y_pred)
    print("\nTest set:")
    print(metrics.classification_report(y_test, y_pred, digits=3))
    print(
        f"test accuracy: {test_accuracy:.4f} ({int(round(test_accuracy * len(y_test)))}"
        f"/{len(y_test)})"
    )

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    files = [
        plots.plot_history(
            history, out / "history.png", title="Softmax network on the digits: training history"
        ),
        plots.plot_confusion_matrix(
            metrics.confusion_matrix(y_test, y_pred),
            list(range(10)),
            out / "confusion_matrix.png",
            title="Test-set confusion matrix",
        ),
        plots.plot_misclassified(
            splits["test_images"],
            y_test,
            y_pred,
            out / "misclassified.png",
            n=24,
            title="Misclassified test digits",
        ),
    ]
    files += save_computation_graph(model, X_test, y_test, out)
    total = time.perf_counter() - start
    print(f"\nwrote {len(files)} files to {out.resolve()}:")
    for path in files:
        print(f"  {path.name}")
    print(f"total time {total:.2f} s")
    return {
        "test_accuracy": test_accuracy,
        "history": history,
        "files": files,
        "out": out.resolve(),
        "seconds": total,
        "best_epoch": stopper.best_epoch,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
