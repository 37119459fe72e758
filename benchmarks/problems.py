"""Workload sizes and the data and initial weights every contender shares.

All arrays are float32 (labels int64) and come from one seeded generator, so every
contender starts from the same numbers.

Example::

    >>> p = make_mlp(SIZES["tiny"], name="tiny")
    >>> p.x.dtype, p.layers[0][0].shape
    (dtype('float32'), (8, 2))
"""

from __future__ import annotations

import numpy as np

from benchmarks.contenders.base import MLPProblem

#: training-step sizes (N, D, H, C): batch, inputs, hidden units, classes
SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (4, 2, 8, 2),
    "small": (32, 64, 64, 10),
    "medium": (128, 784, 256, 10),
    "large": (1024, 784, 1024, 10),
}

#: the deeper MLP: N, D, hidden widths, C (ReLU between layers)
DEEP = (128, 784, (512, 512, 512, 512), 10)
#: a reduced deep MLP used only for the correctness check before timing
DEEP_CHECK = (16, 24, (32, 32, 32, 32), 5)


def init_layers(widths: list[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default ``nn.Linear`` init, U(-1/sqrt(in), 1/sqrt(in)), as float32."""
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        W = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        layers.append((W, b))
    return layers


def make_problem(
    n: int,
    d: int,
    hidden: tuple[int, ...],
    c: int,
    *,
    act: str,
    name: str,
    seed: int = 0,
    lr: float = 0.1,
) -> MLPProblem:
    """Random inputs N(0, 1), random labels and freshly initialised weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, c, size=n).astype(np.int64)
    layers = init_layers([d, *hidden, c], rng)
    return MLPProblem(
        name=name,
        x=x,
        y=y,
        layers=layers,
        act=act,
        lr=lr,
        meta={"N": n, "D": d, "hidden": list(hidden), "C": c, "act": act},
    )


def make_mlp(size: tuple[int, int, int, int], *, name: str = "", seed: int = 0) -> MLPProblem:
    """The two-layer sigmoid MLP of the training-step workload."""
    n, d, h, c = size
    return make_problem(n, d, (h,), c, act="sigmoid", name=name or f"{size}", seed=seed)


def make_deep(spec: tuple = DEEP, *, name: str = "deep", seed: int = 0) -> MLPProblem:
    """The deeper ReLU MLP."""
    n, d, hidden, c = spec
    return make_problem(n, d, tuple(hidden), c, act="relu", name=name, seed=seed)


def hvp_vector(p: MLPProblem, seed: int = 1) -> list[np.ndarray]:
    """A random direction with one array per parameter (W1, b1, W2, b2, ...)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(a.shape, dtype=np.float32) for wb in p.layers for a in wb]


def flat_params(p: MLPProblem) -> list[np.ndarray]:
    """The problem's initial parameters as a flat list (W1, b1, W2, b2, ...)."""
    return [a for wb in p.layers for a in wb]
