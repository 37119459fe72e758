"""Knowledge distillation: a tiny CNN student learns from the MNIST CNN teacher.

Hinton, Vinyals and Dean (2015), "Distilling the knowledge in a neural network": the student
matches the teacher's softened class probabilities, softmax(logits / T), as well as the labels:

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
           + (1 - alpha) * cross_entropy(student, labels)

The KL term is `F.kl_div(F.log_softmax(student / T), F.log_softmax(teacher / T),
reduction="batchmean", log_target=True)`, PyTorch's spelling; the T^2 factor keeps its
gradients on the scale of the hard-label loss as T changes. The teacher is the CNN of
examples/cnn_mnist.py (about 53,000 parameters); the student is a single 5x5 convolution with
4 channels, a 4x4 max pool and a linear layer (about 2,000 parameters). The student trains
alone and distilled, on the same data, epochs and seeds; the table gives mean +- std over
3 seeds.

Run (about 1 minute on 2 cores, measured while shared):
    python examples/distill.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import data, nn, optim
from microgradnp.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_mnist import accuracy, build_model, mnist_split, train  # noqa: E402


def student_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
        nn.Linear(4 * 7 * 7, 10),
    )  # fmt: skip


def distillation_loss(
    student_logits: mg.Tensor,
    teacher_logits: mg.Tensor,
    labels: mg.Tensor,
    T: float = 4.0,
    alpha: float = 0.9,
) -> mg.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels)."""
    soft = F.kl_div(
        F.log_softmax(student_logits / T, dim=1),
        F.log_softmax(teacher_logits / T, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * T * T * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


def logits_of(model: nn.Module, X: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    with mg.no_grad():
        return np.concatenate(
            [model(mg.from_numpy(X[i : i + batch])).data for i in range(0, len(X), batch)]
        )


def train_student(
    X: np.ndarray, y: np.ndarray, teacher_logits: np.ndarray | None, epochs: int, seed: int,
    T: float = 4.0, alpha: float = 0.9,
) -> nn.Module:  # fmt: skip
    """The student trained on the labels alone (teacher_logits None) or distilled."""
    mg.manual_seed(seed)
    student = student_model()
    soft = np.zeros((len(y), 10), np.float32) if teacher_logits is None else teacher_logits
    loader = data.DataLoader(data.TensorDataset(X, y, soft), batch_size=64, shuffle=True,
                             generator=np.random.default_rng(seed))  # fmt: skip
    opt = optim.Adam(student.parameters(), lr=3e-3)
    for _ in range(epochs):
        student.train()
        for xb, yb, tb in loader:
            out = student(xb)
            if teacher_logits is None:
                loss = F.cross_entropy(out, yb)
            else:
                loss = distillation_loss(out, tb, yb, T, alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return student


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("distill_out"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = mnist_split(0)
    (X, y), (X_test, y_test) = splits["train"], splits["test"]
    mg.manual_seed(0)
    teacher = build_model()
    train(teacher, X, y, epochs=6)
    teacher_acc = accuracy(teacher, X_test, y_test)
    teacher_logits = logits_of(teacher, X)
    results: dict[str, list[float]] = {"student alone": [], "student distilled (T=4)": []}
    for seed in range(args.seeds):
        for name, logits in zip(results, (None, teacher_logits), strict=True):
            student = train_student(X, y, logits, args.epochs, seed)
            results[name].append(accuracy(student, X_test, y_test))
            print(f"seed {seed}: {name}: {results[name][-1]:.2%}")
    lines = ["| model | parameters | test accuracy (mean +- std, 3 seeds) |", "|---|---:|---:|"]
    lines.append(f"| teacher CNN | {n_params(teacher):,} | {teacher_acc:.2%} (seed 0) |")
    for name, accs in results.items():
        lines.append(f"| {name} | {n_params(student_model()):,} | "
                     f"{np.mean(accs):.2%} +- {np.std(accs):.2%} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    (args.out / "distillation.md").write_text(text + "\n")
    return lines


if __name__ == "__main__":
    main()
