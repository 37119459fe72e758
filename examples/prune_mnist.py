"""Magnitude pruning of the MNIST CNN: accuracy against sparsity, from 0 to 95%, with and
without fine-tuning.

The CNN of examples/cnn_mnist.py is trained, then its four weight tensors (two convolutions,
two linear layers; 52,600 weights) are pruned together with
`mg.nn.utils.prune.global_unstructured(..., L1Unstructured, amount=k)`: the k weights of
smallest magnitude across all layers are masked (biases and BatchNorm are kept).

    one-shot              the trained model pruned straight to each sparsity, not retrained
    iterative + fine-tune the sparsity raised step by step (0 -> 30 -> 50 -> ... -> 95%),
                          each step pruning among the surviving weights (the masks compose)
                          and then fine-tuning for one epoch; pruned weights get zero gradient
                          through the `weight_orig * weight_mask` re-parametrisation

Unstructured zeros do not make dense kernels faster. Structured pruning does, once the pruned
channels are cut out: `channel_pruned` ranks each convolution's output channels with
`prune.ln_structured(conv, "weight", amount=0.5, n=1, dim=0)` and builds a network with half
the channels (the kept rows of each convolution and BatchNorm, the matching input columns of
the next layer), which is then fine-tuned (examples/compression_summary.py times it).

Finally `prune.remove` makes the masks permanent: the state dict is back to `weight` keys, with
zeros in it. (The file stays dense: the saving is in non-zero parameters, which a sparse format
or compression would realise; inference time is unchanged with dense kernels.)

Writes prune.png (test accuracy against sparsity) and prune.md (the table).

Run (about 15 s on 2 cores, measured while shared):
    python examples/prune_mnist.py [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import nn
from microgradnp.nn.utils import prune

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_mnist import accuracy, build_model, mnist_split, train  # noqa: E402

SPARSITIES = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, "weight") for every convolution and linear layer."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def sparsity(model: nn.Module) -> float:
    """The fraction of zero weights in the prunable layers."""
    weights = [np.asarray(getattr(m, name).data) for m, name in prunable(model)]
    return float(sum((w == 0).sum() for w in weights) / sum(w.size for w in weights))


def prune_to(model: nn.Module, target: float) -> None:
    """Prune globally by magnitude until `target` of the prunable weights are zero."""
    params = prunable(model)
    total = sum(int(np.prod(getattr(m, n).shape)) for m, n in params)
    already = sum(
        int((getattr(m, n + "_mask").data == 0).sum()) for m, n in params if hasattr(m, n + "_mask")
    )
    extra = round(target * total) - already
    if extra > 0:
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=extra)


def channel_pruned(model: nn.Sequential, amount: float = 0.5) -> nn.Sequential:
    """A copy of the CNN with `amount` of each convolution's output channels removed (those
    of smallest L1 norm, chosen by `prune.ln_structured`)."""
    keep = {}
    for i in (0, 4):  # the two convolutions
        probe = copy.deepcopy(model[i])
        prune.ln_structured(probe, "weight", amount=amount, n=1, dim=0)
        keep[i] = np.flatnonzero(
            probe.weight_mask.data.reshape(len(probe.weight_mask.data), -1).any(1)
        )
    c1, c2 = len(keep[0]), len(keep[4])
    small = nn.Sequential(
        nn.Conv2d(1, c1, 5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 25, 120), nn.ReLU(), nn.Linear(120, 10),
    )  # fmt: skip
    columns = (keep[4][:, None] * 25 + np.arange(25)).ravel()  # Flatten's (channel, y, x) order
    new = {
        "0.weight": model[0].weight.data[keep[0]],
        "0.bias": model[0].bias.data[keep[0]],
        "4.weight": model[4].weight.data[keep[4]][:, keep[0]],
        "4.bias": model[4].bias.data[keep[4]],
        "9.weight": model[9].weight.data[:, columns],
    }
    for bn, kept in ((1, keep[0]), (5, keep[4])):
        for name in ("weight", "bias", "running_mean", "running_var"):
            new[f"{bn}.{name}"] = getattr(model[bn], name).data[kept]
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state.update(new)
    small.load_state_dict(state)
    return small


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("prune_out"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = mnist_split(0)
    (X, y), (X_test, y_test) = splits["train"], splits["test"]
    mg.manual_seed(0)
    model = build_model()
    train(model, X, y, epochs=args.epochs)
    results: dict[str, list[float]] = {"one-shot": [], "iterative + fine-tune": []}
    for s in SPARSITIES:
        pruned = copy.deepcopy(model)
        prune_to(pruned, s)
        results["one-shot"].append(accuracy(pruned, X_test, y_test))
    iterative = copy.deepcopy(model)
    for step, s in enumerate(SPARSITIES):
        prune_to(iterative, s)
        if s > 0:
            train(iterative, X, y, epochs=args.finetune_epochs, seed=step)
        assert abs(sparsity(iterative) - s) < 1e-3
        results["iterative + fine-tune"].append(accuracy(iterative, X_test, y_test))
        print(f"sparsity {s:.0%}: one-shot {results['one-shot'][step]:.2%}, "
              f"iterative + fine-tune {results['iterative + fine-tune'][step]:.2%}")  # fmt: skip
    for m, name in prunable(iterative):
        prune.remove(m, name)
    weights = sum(int(np.prod(m.weight.shape)) for m, _ in prunable(iterative))
    nonzero = sum(int((m.weight.data != 0).sum()) for m, _ in prunable(iterative))
    lines = ["| sparsity | non-zero weights | one-shot | iterative + fine-tune |",
             "|---:|---:|---:|---:|"]  # fmt: skip
    for i, s in enumerate(SPARSITIES):
        lines.append(f"| {s:.0%} | {round((1 - s) * weights):,} | {results['one-shot'][i]:.2%} | "
                     f"{results['iterative + fine-tune'][i]:.2%} |")  # fmt: skip
    lines.append(f"\nAfter `prune.remove`: keys {list(iterative.state_dict())[:2]}..., "
                 f"{nonzero:,} of {weights:,} weights non-zero.")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    (args.out / "prune.md").write_text(text + "\n")
    mg.save(iterative.state_dict(), args.out / "cnn_pruned_95.safetensors")
    try:
        draw(results, args.out / "prune.png")
    except ImportError:
        print("matplotlib is not installed: no figure drawn")
    return results


def draw(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [100 * s for s in SPARSITIES]
    for name, accs in results.items():
        ax.plot(xs, [100 * a for a in accs], marker="o", label=name)
    ax.set_xlabel("sparsity of the conv and linear weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Global magnitude pruning of the MNIST CNN")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
