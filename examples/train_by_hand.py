"""The main demo's training, with the loop written by hand instead of `mg.train.fit`.

Same data (the bundled digits, split 70/15/15 with a fixed seed, standardised), same network
(Linear(64, 64) -> Sigmoid -> Linear(64, 10)), same loss and optimizer (cross-entropy, Adam)
and the same early stopping on the validation loss — in a plain PyTorch-style loop that you
can change line by line. Needs only NumPy (no tqdm, matplotlib or Graphviz).

Run (about 1 s):
    python examples/train_by_hand.py [--epochs N] [--patience N]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import microgradnp as mg
from microgradnp import data, datasets, metrics, nn


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and evaluate; returns the test accuracy and the best epoch (0-based)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()

    # Data: split, then standardise with the training set's mean and std only.
    mg.manual_seed(args.seed)
    X, y = datasets.load_digits()
    train_set, val_set, test_set = data.random_split(
        data.TensorDataset(X, y), [0.7, 0.15, 0.15], generator=np.random.default_rng(args.seed)
    )
    scaler = data.StandardScaler().fit(X[train_set.indices])
    X_train, y_train = scaler.transform(X[train_set.indices]), y[train_set.indices]
    X_val, y_val = mg.from_numpy(scaler.transform(X[val_set.indices])), y[val_set.indices]
    X_test, y_test = mg.from_numpy(scaler.transform(X[test_set.indices])), y[test_set.indices]
    loader = data.DataLoader(data.TensorDataset(X_train, y_train), batch_size=32, shuffle=True)

    model = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = mg.optim.Adam(model.parameters(), lr=0.01)

    best_loss, best_epoch, best_state = float("inf"), -1, None
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)

        model.eval()
        with mg.no_grad():
            val_logits = model(X_val)
            val_loss = loss_fn(val_logits, mg.from_numpy(y_val)).item()
        val_acc = metrics.accuracy(y_val, val_logits)
        print(
            f"epoch {epoch + 1:3d}  loss {total / len(y_train):.4f}  "
            f"val_loss {val_loss:.4f}  val_acc {val_acc:.4f}"
        )

        # Early stopping: remember the best weights (copies: the optimizer updates in place).
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= args.patience:
            print(f"no improvement for {args.patience} epochs: stopping")
            break
    model.load_state_dict(best_state)

    model.eval()
    with mg.no_grad():
        y_pred = model(X_test).numpy().argmax(axis=1)
    test_accuracy = metrics.accuracy(y_test, y_pred)
    print(f"best epoch {best_epoch + 1} (val_loss {best_loss:.4f})")
    print(metrics.classification_report(y_test, y_pred, digits=3))
    print(f"test accuracy: {test_accuracy:.4f}  ({time.perf_counter() - start:.2f} s)")
    return {"test_accuracy": test_accuracy, "best_epoch": best_epoch}


if __name__ == "__main__":
    main(sys.argv[1:])
