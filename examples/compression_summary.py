"""One table for the MNIST CNN: each compression method's file size, accuracy and inference
time (the README's summary).

    float32             examples/cnn_mnist.py's CNN, 6 epochs
    pruned 90%          iterative global magnitude pruning with fine-tuning (prune_mnist.py),
                        masks made permanent with `prune.remove`
    dynamic int8        `mg.quantization.quantize_dynamic(model, {Linear, Conv2d})`
    static int8         `prepare` -> 8 calibration batches -> `convert` (min/max observers)
    channels pruned 50% half of each convolution's channels cut out (`prune.ln_structured`
                        ranks them; prune_mnist.channel_pruned), then 2 epochs of fine-tuning
    pruned 90% + int8   the pruned model, then dynamic int8
    distilled student   distill.py's 2,074-parameter CNN, distilled (T=4), 8 epochs

File sizes are the safetensors files of the state dicts (`mg.save`), and the same files
compressed with gzip (level 6), where the zeros of a pruned model pay off. Times are the best
of 5 passes over the 1,000 test images in batches of 500.

Run (about 40 s on 2 cores, measured while shared):
    python examples/compression_summary.py [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import sys
from pathlib import Path

import microgradnp as mg
from microgradnp import nn
from microgradnp.nn.utils import prune
from microgradnp.quantization import convert, prepare, quantize_dynamic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_mnist import accuracy, build_model, mnist_split, train  # noqa: E402
from distill import logits_of, n_params, train_student  # noqa: E402
from prune_mnist import channel_pruned, prunable, prune_to  # noqa: E402
from quantize_mnist import inference_seconds  # noqa: E402


def sizes(model: nn.Module, path: Path) -> tuple[int, int]:
    """(file size, gzip-compressed size) of the model's safetensors file."""
    mg.save(model.state_dict(), path)
    raw = path.read_bytes()
    return len(raw), len(gzip.compress(raw, compresslevel=6))


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("compression_out"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = mnist_split(0)
    (X, y), (X_test, y_test) = splits["train"], splits["test"]
    mg.manual_seed(0)
    model = build_model()
    train(model, X, y, epochs=6)
    model.eval()
    models: dict[str, tuple[nn.Module, int]] = {"float32": (model, n_params(model))}
    pruned = copy.deepcopy(model)
    for step, s in enumerate((0.3, 0.5, 0.7, 0.8, 0.9)):
        prune_to(pruned, s)
        train(pruned, X, y, epochs=1, seed=step + 1)
    for m, name in prunable(pruned):
        prune.remove(m, name)
    pruned.eval()
    nonzero = sum(int((p.data != 0).sum()) for p in pruned.parameters())
    models["pruned 90% (dense file)"] = (pruned, nonzero)
    narrow = channel_pruned(model, 0.5)
    train(narrow, X, y, epochs=2, seed=7)
    narrow.eval()
    models["channels pruned 50% (smaller net)"] = (narrow, n_params(narrow))
    models["dynamic int8"] = (quantize_dynamic(model, {nn.Linear, nn.Conv2d}), n_params(model))
    prepared = prepare(model)
    with mg.no_grad():
        for i in range(0, 512, 64):
            prepared(mg.from_numpy(X[i : i + 64]))
    models["static int8 (min/max)"] = (convert(prepared), n_params(model))
    models["pruned 90% + dynamic int8"] = (
        quantize_dynamic(pruned, {nn.Linear, nn.Conv2d}), nonzero
    )  # fmt: skip
    student = train_student(X, y, logits_of(model, X), epochs=8, seed=0)
    student.eval()
    models["distilled student"] = (student, n_params(student))
    lines = [
        "| method | non-zero parameters | file | gzip | test accuracy | inference, 1,000 images |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = None
    for name, (m, count) in models.items():
        stem = "".join(c if c.isalnum() else "_" for c in name)
        size, packed = sizes(m, args.out / f"{stem}.safetensors")
        seconds = inference_seconds(m, X_test)
        base = base or seconds
        lines.append(f"| {name} | {count:,} | {size / 1024:.0f} KiB | {packed / 1024:.0f} KiB | "
                     f"{accuracy(m, X_test, y_test):.1%} | {seconds * 1000:.0f} ms "
                     f"({base / seconds:.2f}x) |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    (args.out / "summary.md").write_text(text + "\n")
    return lines


if __name__ == "__main__":
    main()
