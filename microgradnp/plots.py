"""Training pictures saved as PNG: loss/metric curves, a confusion matrix, misclassified images.

Needs matplotlib (the optional `train` extra: `pip install "microgradnp[train]"`), imported
only when a plot is drawn. Figures are drawn with matplotlib's object API on its Agg canvas,
so nothing here touches `pyplot`'s global state or the user's chosen backend. A `History`
comes from `microgradnp.train.fit`, a confusion matrix from `microgradnp.metrics`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._explain_plots import (
    embed_2d,
    plot_adversarial_examples,
    plot_attribution,
    plot_attribution_grid,
    plot_embedding,
    plot_robustness,
)
from ._figures import _as_images, _figure, _rc, _save

__all__ = [
    "embed_2d",
    "plot_adversarial_examples",
    "plot_attribution",
    "plot_attribution_grid",
    "plot_confusion_matrix",
    "plot_embedding",
    "plot_history",
    "plot_misclassified",
    "plot_robustness",
]

_TRAIN_COLOR, _VAL_COLOR, _WRONG_COLOR = "#1f77b4", "#ff7f0e", "#c92a2a"


def _curve_keys(history: Mapping[str, Sequence[float]]) -> list[str]:
    """'loss' first, then each training metric that has values (val_* and lr drawn with them)."""
    names = [k for k in history if not k.startswith("val_") and k != "lr"]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    return sorted(set(names), key=lambda k: (k != "loss", names.index(k)))


def plot_history(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str | None = "Training history",
    dpi: int = 120,
) -> Path:
    """Draw each logged quantity per epoch (training vs validation) and save a PNG.

    One panel for the loss and one per metric, training in blue and validation in orange;
    the epoch of the lowest validation loss is marked. A changing learning rate gets its own
    panel (log scale).

    Args:
        history: a `History` from `fit`, or any dict of per-epoch lists (`loss`, `val_loss`,
            `accuracy`, `val_accuracy`, ..., `lr`).
        path: the PNG to write (parent folders are created).
        title: the figure's title.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> h = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.8]}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_history(h, Path(d) / "history.png")
        ...     out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    if not isinstance(history, Mapping) or not history:
        raise ValueError("plot_history needs a non-empty History or dict of per-epoch lists")
    lengths = {k: len(v) for k, v in history.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        raise ValueError(
            f"every history entry needs the same, non-zero number of epochs; got lengths {lengths}"
        )
    panels = _curve_keys(history)
    lr = np.asarray(history.get("lr", []), dtype=float)
    show_lr = lr.size > 1 and not np.allclose(lr, lr[0])
    n = len(panels) + show_lr
    fig = _figure(4.6 * n, 3.8)
    with _rc():
        axes = fig.subplots(1, n, squeeze=False)[0]
        epochs = np.arange(1, next(iter(lengths.values())) + 1)
        best = int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else None
        for ax, key in zip(axes, panels, strict=False):
            for name, label, color in (
                (key, "train", _TRAIN_COLOR),
                ("val_" + key, "validation", _VAL_COLOR),
            ):
                if name in history:
                    ax.plot(
                        epochs,
                        history[name],
                        color=color,
                        lw=2,
                        label=label,
                        marker="o" if len(epochs) <= 20 else None,
                        ms=4,
                    )
            if best is not None:
                ax.axvline(
                    best, color="#868e96", ls="--", lw=1, label=f"best val_loss (epoch {best})"
                )
            ax.set(title=key.replace("_", " "), xlabel="epoch", ylabel=key.replace("_", " "))
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.legend(frameon=False)
        if show_lr:
            ax = axes[-1]
            ax.plot(epochs, lr, color="#2b8a3e", lw=2, drawstyle="steps-post")
            ax.set(title="learning rate", xlabel="epoch", ylabel="lr", yscale="log")
            ax.grid(alpha=0.3)
        if title:
            fig.suptitle(title, fontsize=14, fontweight="bold")
    return _save(fig, path, dpi)


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[Any] | None,
    path: str | os.PathLike,
    title: str | None = "Confusion matrix",
    dpi: int = 120,
) -> Path:
    """Draw a confusion matrix as a heatmap with the count in each cell, and save a PNG.

    Rows are true classes and columns predicted ones (`microgradnp.metrics.confusion_matrix`'s
    layout); the diagonal holds the correct predictions. The title reports the accuracy when
    `cm` holds counts.

    Args:
        cm: a square array of counts (or fractions) of shape (n_classes, n_classes).
        class_names: a label per class, or None for 0..n_classes-1.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_confusion_matrix([[5, 1], [0, 4]], ["cat", "dog"], Path(d) / "cm.png")
        ...     out.stat().st_size > 0
        True
    """
    cm = np.asarray(cm.data if hasattr(cm, "grad_fn") else cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a square 2-D array, got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(c) for c in (range(k) if class_names is None else class_names)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}x{k} confusion matrix")
    size = max(4.5, 0.55 * k + 2.5)
    fig = _figure(size + 1.0, size)
    with _rc():
        ax = fig.subplots()
        image = ax.imshow(cm, cmap="Blues", vmin=0)
        fig.colorbar(
            image, ax=ax, shrink=0.8, label="samples" if cm.dtype.kind in "iu" else "fraction"
        )
        ax.set(
            xticks=range(k),
            yticks=range(k),
            xticklabels=names,
            yticklabels=names,
            xlabel="Predicted label",
            ylabel="True label",
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
        threshold = cm.max() / 2 if cm.max() > 0 else 1
        integer = cm.dtype.kind in "iu" or np.all(cm == np.round(cm))
        for i in range(k):
            for j in range(k):
                value = cm[i, j]
                text = f"{int(value)}" if integer else f"{value:.2f}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=10 if k <= 12 else 8,
                    color="white" if value > threshold else "#212529",
                    fontweight="bold" if i == j else "normal",
                )
        if title:
            if integer and cm.sum() > 0:
                title += f" (accuracy {np.trace(cm) / cm.sum():.1%}, {int(cm.sum())} samples)"
            ax.set_title(title, fontweight="bold")
    return _save(fig, path, dpi)


def plot_misclassified(
    images: Any,
    y_true: Any,
    y_pred: Any,
    path: str | os.PathLike,
    n: int = 24,
    class_names: Sequence[Any] | None = None,
    image_shape: tuple[int, int] | None = None,
    title: str | None = "Misclassified images",
    dpi: int = 120,
) -> Path:
    """Draw up to `n` images whose prediction is wrong, each titled with its true and
    predicted label, and save a PNG.

    Args:
        images: all images, shape (N, H, W), or (N, H*W) flattened square images (such as
            the 8x8 digits as 64 features), or give `image_shape`.
        y_true: the N true labels.
        y_pred: the N predicted labels, or scores of shape (N, n_classes) (argmax taken).
        path: the PNG to write.
        n: at most this many images (the first misclassified ones, in order).
        class_names: names for the labels, or None to print the labels themselves.
        image_shape: (H, W) to reshape flattened images to.
        title: the figure's title (the count of misclassified images is added).

    Returns:
        The path written (a figure saying so when nothing is misclassified).

    Example:
        >>> import tempfile
        >>> images = np.random.default_rng(0).random((4, 64))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = plot_misclassified(images, [1, 2, 3, 4], [1, 7, 3, 0], Path(d) / "m.png")
        ...     out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    images = np.asarray(images.data if hasattr(images, "grad_fn") else images)
    y_true = np.asarray(getattr(y_true, "data", y_true)).reshape(-1)
    y_pred = np.asarray(getattr(y_pred, "data", y_pred))
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=-1)
    if len(images) != len(y_true) or len(y_true) != len(y_pred):
        raise ValueError(
            f"images, y_true and y_pred must have the same length, got "
            f"{len(images)}, {len(y_true)} and {len(y_pred)}"
        )
    images = _as_images(images, image_shape)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:n]

    def name(label: Any) -> str:
        return str(class_names[int(label)] if class_names is not None else label)

    cols = min(8, max(1, math.ceil(math.sqrt(len(shown) * 1.5)))) if len(shown) else 1
    rows = max(1, math.ceil(len(shown) / cols))
    fig = _figure(1.45 * cols + 0.4, 1.65 * rows + 0.7)
    with _rc():
        if len(shown) == 0:
            ax = fig.subplots()
            ax.text(0.5, 0.5, "No misclassified images", ha="center", va="center", fontsize=14)
            ax.axis("off")
        else:
            axes = fig.subplots(rows, cols, squeeze=False).ravel()
            for ax in axes:
                ax.axis("off")
            for ax, index in zip(axes, shown, strict=False):
                ax.imshow(images[index], cmap="gray_r", interpolation="nearest")
                ax.set_title(
                    f"true {name(y_true[index])}\npred {name(y_pred[index])}",
                    fontsize=10,
                    color=_WRONG_COLOR,
                    linespacing=1.1,
                )
        if title:
            more = f", first {len(shown)} shown" if len(wrong) > len(shown) else ""
            fig.suptitle(f"{title}: {len(wrong)} of {len(y_true)}{more}", fontweight="bold")
    return _save(fig, path, dpi)
