"""Pictures for `mg.explain` and `mg.adversarial`, saved as PNG and re-exported by `mg.plots`.

Attribution heatmaps over an input image, a grid comparing methods, a 2-D embedding of hidden
activations (t-SNE from scikit-learn, the `explain` extra, or PCA in NumPy), robust accuracy
against the attack budget, and adversarial examples with their predictions. Figure plumbing
(`_figure`, `_save`, `_rc`) comes from `_figures.py`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._figures import _as_images, _figure, _rc, _save
from .explain import _upsample

__all__ = [
    "embed_2d",
    "plot_adversarial_examples",
    "plot_attribution",
    "plot_attribution_grid",
    "plot_embedding",
    "plot_robustness",
]

_CLASS_COLORS = "tab10"


def _images(images: Any, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """(N, H, W) from (N, H, W), (N, 1, H, W) or flattened squares."""
    a = np.asarray(getattr(images, "data", images), dtype=np.float64)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    return _as_images(a, image_shape)


def _overlay(ax: Any, image: np.ndarray, attribution: np.ndarray) -> Any:
    """The attribution as a heatmap with the input's outline drawn over it: blue-white-red
    centred at 0 when it has both signs, white-red when it is non-negative; the colour scale
    ends at the map's 99th percentile of |value| so one pixel does not wash out the rest."""
    limit = float(np.percentile(np.abs(attribution), 99)) or float(np.abs(attribution).max())
    limit = limit or 1.0
    if attribution.min() < 0:
        shown = ax.imshow(attribution, cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        shown = ax.imshow(attribution, cmap="Reds", vmin=0, vmax=limit)
    if not attribution.any():  # e.g. Grad-CAM when every channel's weighted sum is negative
        ax.text(0.5, 0.08, "all zero", transform=ax.transAxes, ha="center", fontsize=9)
    span = image.max() - image.min()
    if span > 0:
        # contour a 4x bilinear upsampling so that small images get a smooth outline
        fine = _upsample(image[None], (4 * image.shape[0], 4 * image.shape[1]))[0]
        rows, cols = ((np.arange(4 * n) + 0.5) / 4 - 0.5 for n in image.shape)
        level = image.min() + 0.45 * span
        ax.contour(cols, rows, fine, levels=[level], colors="#212529", linewidths=1.3, alpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def plot_attribution(
    image: Any,
    attribution: Any,
    path: str | os.PathLike,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw one input, its attribution map, and the map over the input; save a PNG.

    Signed maps use a blue-white-red scale centred at 0, non-negative ones a heat scale.

    Example:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_attribution(rng.random(64), rng.standard_normal(64), Path(d) / "a.png")
        ...     out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    img = _images(np.asarray(getattr(image, "data", image))[None])[0]
    attr = _images(np.asarray(getattr(attribution, "data", attribution))[None])[0]
    if img.shape != attr.shape:
        raise ValueError(f"image {img.shape} and attribution {attr.shape} differ in shape")
    fig = _figure(9.0, 3.4)
    with _rc():
        axes = fig.subplots(1, 3)
        axes[0].imshow(img, cmap="gray_r", interpolation="nearest")
        axes[0].set_title("input")
        limit = np.abs(attr).max() or 1.0
        signed = attr.min() < 0
        shown = axes[1].imshow(
            attr,
            cmap="RdBu_r" if signed else "Reds",
            vmin=-limit if signed else 0,
            vmax=limit,
            interpolation="nearest",
        )
        axes[1].set_title("attribution")
        fig.colorbar(shown, ax=axes[1], shrink=0.8)
        _overlay(axes[2], img, attr)
        axes[2].set_title("attribution + input outline")
        for ax in axes[:2]:
            ax.set_xticks([])
            ax.set_yticks([])
        if title:
            fig.suptitle(title, fontweight="bold")
    return _save(fig, path, dpi)


def plot_attribution_grid(
    images: Any,
    attributions: Mapping[str, Any],
    path: str | os.PathLike,
    labels: Sequence[Any] | None = None,
    title: str | None = "Which pixels made the model pick its class\n"
    "red: for the class, blue: against (saliency, SmoothGrad: |gradient|); outline: the input",
    dpi: int = 120,
) -> Path:
    """One row per image: the input, then each method's map over it (one column per method).

    Args:
        images: N images ((N, H, W), (N, 1, H, W) or flattened squares).
        attributions: method name -> maps shaped like `images`.
        labels: a row label per image (such as "7 (p=0.98)").

    Example:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> maps = {"saliency": rng.random((2, 64)), "IG": rng.standard_normal((2, 64))}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_attribution_grid(rng.random((2, 64)), maps, Path(d) / "g.png")
        ...     out.stat().st_size > 0
        True
    """
    imgs = _images(images)
    maps = {name: _images(a, imgs.shape[1:]) for name, a in attributions.items()}
    for name, a in maps.items():
        if a.shape != imgs.shape:
            raise ValueError(f"attributions[{name!r}] has shape {a.shape}, images {imgs.shape}")
    rows, cols = len(imgs), 1 + len(maps)
    fig = _figure(1.75 * cols + 0.3, 1.75 * rows + (0.6 if title else 0.2))
    with _rc():
        axes = fig.subplots(rows, cols, squeeze=False)
        for r in range(rows):
            axes[r, 0].imshow(imgs[r], cmap="gray_r", interpolation="nearest")
            axes[r, 0].set_xticks([])
            axes[r, 0].set_yticks([])
            if labels is not None:
                axes[r, 0].set_ylabel(str(labels[r]), fontsize=11)
            for c, (name, a) in enumerate(maps.items(), start=1):
                _overlay(axes[r, c], imgs[r], a[r])
                if r == 0:
                    axes[r, c].set_title(name, fontsize=11)
        axes[0, 0].set_title("input", fontsize=11)
        if title:
            fig.suptitle(title, fontweight="bold")
    return _save(fig, path, dpi)


def embed_2d(features: Any, method: str = "tsne", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates for N feature vectors: t-SNE (scikit-learn) or PCA (NumPy).

    With method 'tsne' and scikit-learn missing, warns and falls back to PCA.

    Returns:
        `(coordinates of shape (N, 2), the method used)`.

    Example:
        >>> points = np.array([[0.0, 0, 0], [2, 0, 0], [4, 0, 1e-3]])
        >>> xy, used = embed_2d(points, method="pca")
        >>> used, np.abs(xy[:, 0]).round(3).tolist()
        ('pca', [2.0, 0.0, 2.0])
    """
    a = np.asarray(getattr(features, "data", features), dtype=np.float64)
    a = a.reshape(len(a), -1)
    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            warnings.warn(
                "t-SNE needs scikit-learn (the `explain` extra); falling back to PCA",
                stacklevel=2,
            )
        else:
            perplexity = min(30.0, (len(a) - 1) / 3)
            tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
            return tsne.fit_transform(a), "tsne"
    centred = a - a.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "pca"


def plot_embedding(
    features: Any,
    labels: Any,
    path: str | os.PathLike,
    method: str = "tsne",
    title: str | None = None,
    seed: int = 0,
    dpi: int = 120,
) -> Path:
    """Scatter a 2-D embedding (`embed_2d`) of features, coloured and labelled by class.

    Example:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_embedding(rng.random((30, 5)), np.arange(30) % 3, Path(d) / "e.png",
        ...                          method="pca")
        ...     out.stat().st_size > 0
        True
    """
    y = np.asarray(getattr(labels, "data", labels)).reshape(-1)
    xy, used = embed_2d(features, method, seed)
    if len(y) != len(xy):
        raise ValueError(f"{len(xy)} feature vectors but {len(y)} labels")
    import matplotlib

    fig = _figure(6.4, 5.6)
    with _rc():
        ax = fig.subplots()
        classes = np.unique(y)
        colors = matplotlib.colormaps[_CLASS_COLORS]
        for k, c in enumerate(classes):
            pts = xy[y == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=9, alpha=0.7, color=colors(k % 10), label=str(c))
            cx, cy = np.median(pts, axis=0)
            ax.text(
                cx,
                cy,
                str(c),
                fontsize=15,
                fontweight="bold",
                ha="center",
                va="center",
                bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": colors(k % 10)},
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(title="class", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2)
        name = {"tsne": "t-SNE", "pca": "PCA"}[used]
        ax.set_title(title or f"{name} of hidden activations", fontweight="bold")
    return _save(fig, path, dpi)


def plot_robustness(
    eps: Sequence[float],
    accuracy: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str | None = "Accuracy under attack",
    dpi: int = 120,
) -> Path:
    """Accuracy against the attack budget eps, one line per model/attack (eps 0 = clean).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_robustness([0, 0.1], {"standard": [0.9, 0.2]}, Path(d) / "r.png")
        ...     out.stat().st_size > 0
        True
    """
    fig = _figure(6.4, 4.4)
    with _rc():
        ax = fig.subplots()
        for name, acc in accuracy.items():
            if len(acc) != len(eps):
                raise ValueError(f"accuracy[{name!r}] has {len(acc)} values for {len(eps)} eps")
            style = "--" if "FGSM" in name else "-"
            ax.plot(eps, np.asarray(acc) * 100, style, marker="o", label=name)
        ax.set(xlabel="eps (L-infinity budget)", ylabel="accuracy (%)", ylim=(0, 100))
        ax.grid(alpha=0.3)
        ax.legend()
        if title:
            ax.set_title(title, fontweight="bold")
    return _save(fig, path, dpi)


def plot_adversarial_examples(
    clean: Any,
    adversarial: Any,
    y_true: Any,
    pred_clean: Any,
    pred_adv: Any,
    path: str | os.PathLike,
    title: str | None = "Adversarial examples",
    dpi: int = 120,
) -> Path:
    """Columns of clean image, adversarial image and their difference, with predictions.

    Example:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((2, 64))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = Path(d) / "x.png"
        ...     out = plot_adversarial_examples(x, x + 0.1, [1, 2], [1, 2], [7, 2], path)
        ...     out.stat().st_size > 0
        True
    """
    a, b = _images(clean), _images(adversarial)
    y, p, q = (
        np.asarray(getattr(v, "data", v)).reshape(-1) for v in (y_true, pred_clean, pred_adv)
    )
    if not a.shape == b.shape or not len(a) == len(y) == len(p) == len(q):
        raise ValueError(f"clean {a.shape}, adversarial {b.shape} and labels must match")
    n = len(a)
    fig = _figure(1.6 * n + 0.6, 5.4)
    with _rc():
        axes = fig.subplots(3, n, squeeze=False)
        limit = np.abs(b - a).max() or 1.0
        for i in range(n):
            axes[0, i].imshow(a[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            axes[0, i].set_title(f"true {y[i]}\npred {p[i]}", fontsize=10)
            axes[1, i].imshow(b[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            wrong = q[i] != y[i]
            axes[1, i].set_title(f"pred {q[i]}", fontsize=10, color="#c92a2a" if wrong else "k")
            axes[2, i].imshow(
                b[i] - a[i], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
            )
            for ax in axes[:, i]:
                ax.set_xticks([])
                ax.set_yticks([])
        names = ["clean", "adversarial", f"perturbation\n(±{limit:.2g})"]
        for ax, name in zip(axes[:, 0], names, strict=True):
            ax.set_ylabel(name, fontsize=11)
        if title:
            fig.suptitle(title, fontweight="bold")
    return _save(fig, path, dpi)
