"""Post-training int8 quantization of the MNIST CNN and of a digits MLP: accuracy, file size
and inference time against float32.

For each model it trains the float32 network, then compares
    float32                        the trained model
    dynamic int8                   mg.quantization.quantize_dynamic(model, {Linear, Conv2d})
    static int8, min/max           prepare -> 8 calibration batches -> convert
    static int8, 99.99 percentile  the same with PercentileObserver
on the held-out test images. Sizes are those of the safetensors files `mg.save` writes from
each state dict; times are the best of 5 passes over the test set (batches of 500).

The int8 models are about 4x smaller and as accurate, but not faster here: NumPy has no int8
matrix product, so the integer accumulation runs in a float GEMM (exactly, see
`mg.quantization.qfunctional`) after an extra pass that quantizes the activations. The gain in
this library is size (memory, download, storage), not speed.

Run (about 15 s on 2 cores, measured while shared):
    python examples/quantize_mnist.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import microgradnp as mg
from microgradnp import datasets, nn, optim
from microgradnp.quantization import PercentileObserver, convert, prepare, quantize_dynamic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_mnist import accuracy, build_model, mnist_split, train  # noqa: E402


def digits_split(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 1,797 8x8 digits scaled to [0, 1]: 1,397 to train, 400 to test."""
    X, y = datasets.load_digits()
    order = np.random.default_rng(seed).permutation(len(y))
    X = (X / 16.0).astype(np.float32)
    return {"train": (X[order[:-400]], y[order[:-400]]), "test": (X[order[-400:]], y[order[-400:]])}


def digits_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))  # fmt: skip


def file_size(model: nn.Module, path: Path) -> int:
    mg.save(model.state_dict(), path)
    return path.stat().st_size


def inference_seconds(model: nn.Module, X: np.ndarray, batch: int = 500, repeats: int = 5) -> float:
    model.eval()
    best = float("inf")
    with mg.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(0, len(X), batch):
                model(mg.from_numpy(X[i : i + batch]))
            best = min(best, time.perf_counter() - start)
    return best


def variants(model: nn.Module, X_calib: np.ndarray) -> dict[str, nn.Module]:
    """The float model and its three quantized versions."""
    model.eval()
    out: dict[str, nn.Module] = {"float32": model}
    out["dynamic int8"] = quantize_dynamic(model, {nn.Linear, nn.Conv2d}, dtype="int8")
    for name, observer in (("min/max", None), ("percentile", lambda: PercentileObserver(99.99))):
        prepared = prepare(model) if observer is None else prepare(model, observer=observer)
        with mg.no_grad():
            for i in range(0, 8 * 64, 64):  # 8 calibration batches of training images
                prepared(mg.from_numpy(X_calib[i : i + 64]))
        out[f"static int8, {name}"] = convert(prepared)
    return out


def report(title: str, model: nn.Module, splits: dict, out: Path) -> list[str]:
    X_test, y_test = splits["test"]
    rows = [f"{title}", "| model | test accuracy | file size | ratio | inference (test set) |",
            "|---|---:|---:|---:|---:|"]  # fmt: skip
    base_size = base_time = None
    for name, m in variants(model, splits["train"][0]).items():
        stem = "".join(c if c.isalnum() else "_" for c in f"{title.split()[0]}_{name}")
        size = file_size(m, out / f"{stem}.safetensors")
        seconds = inference_seconds(m, X_test)
        base_size, base_time = base_size or size, base_time or seconds
        rows.append(
            f"| {name} | {accuracy(m, X_test, y_test):.2%} | {size / 1024:.1f} KiB | "
            f"{base_size / size:.2f}x | {seconds * 1000:.1f} ms ({base_time / seconds:.2f}x) |"
        )
    return rows


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("quantize_out"))
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    mg.manual_seed(0)
    mnist = mnist_split(0)
    cnn = build_model()
    train(cnn, *mnist["train"], epochs=args.epochs)
    digits = digits_split(0)
    mlp = digits_mlp()
    opt = optim.Adam(mlp.parameters(), lr=1e-3)
    X, y = digits["train"]
    for _ in range(30):
        for i in range(0, len(y), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(mlp(mg.from_numpy(X[i : i + 64])),
                                        mg.from_numpy(y[i : i + 64])).backward()  # fmt: skip
            opt.step()
    lines = report("MNIST CNN (1,000 test images)", cnn, mnist, args.out)
    lines += [""] + report("digits MLP (400 test images)", mlp, digits, args.out)
    text = "\n".join(lines)
    print(text)
    (args.out / "quantization.md").write_text(text + "\n")
    return lines


if __name__ == "__main__":
    main()
