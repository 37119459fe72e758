"""Figure plumbing shared by `mg.plots` and its explain/adversarial pictures: a house style,
an Agg-backed figure without pyplot, PNG saving, and image-batch reshaping."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

_STYLE: Any = {  # (matplotlib types rc keys as literals)
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _figure(width: float, height: float) -> Any:
    """A new Agg-backed figure (no pyplot), or an ImportError naming the extra."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            "microgradnp.plots needs matplotlib, part of the `train` extra: "
            'pip install "microgradnp[train]" (or pip install matplotlib)'
        ) from e
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plots are saved as PNG; give a path ending in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def _as_images(images: np.ndarray, image_shape: tuple[int, int] | None) -> np.ndarray:
    if image_shape is not None:
        return images.reshape(len(images), *image_shape)
    if images.ndim == 3:
        return images
    side = math.isqrt(images.shape[1]) if images.ndim == 2 else 0
    if images.ndim == 2 and side * side == images.shape[1]:
        return images.reshape(len(images), side, side)
    raise ValueError(
        f"images must have shape (N, H, W) or (N, side*side), got {images.shape}; "
        f"pass image_shape=(H, W) for other flattened images"
    )


def _rc() -> Any:
    import matplotlib

    return matplotlib.rc_context(_STYLE)
