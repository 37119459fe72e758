"""`microgradnp.plots`: each plot writes a valid PNG of the expected size; clear errors."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from microgradnp import plots
from microgradnp.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk, after checking the signature."""
    raw = path.read_bytes()
    assert raw[:8] == PNG_SIGNATURE and raw[12:16] == b"IHDR"
    assert len(raw) > 1000  # a real picture, not an empty canvas
    return struct.unpack(">II", raw[16:24])


@pytest.fixture(autouse=True)
def _needs_matplotlib(request):
    if "without_matplotlib" not in request.node.name:
        pytest.importorskip("matplotlib")


def test_plot_history_panels(tmp_path):
    history = History()
    for epoch in range(6):
        history.append(
            {
                "loss": 1.0 / (epoch + 1),
                "accuracy": 0.5 + 0.08 * epoch,
                "val_loss": 1.2 / (epoch + 1) + 0.03 * epoch,
                "val_accuracy": 0.5 + 0.07 * epoch,
                "lr": 0.1,
            }
        )
    out = plots.plot_history(history, tmp_path / "sub" / "history.png", dpi=100)
    assert out == tmp_path / "sub" / "history.png"
    # two panels (loss, accuracy) of 4.6 x 3.8 inches; a constant lr gets no panel
    assert png_size(out) == (920, 380)
    history.append(
        {"loss": 0.1, "accuracy": 0.95, "val_loss": 0.3, "val_accuracy": 0.9, "lr": 0.01}
    )
    assert png_size(plots.plot_history(history, tmp_path / "h2.png", dpi=100)) == (1380, 380)
    # a plain dict with only training values works too
    assert png_size(plots.plot_history({"loss": [3.0, 2.0]}, tmp_path / "h3.png", dpi=100)) == (
        460,
        380,
    )


def test_plot_history_errors(tmp_path):
    with pytest.raises(ValueError, match="same, non-zero number of epochs"):
        plots.plot_history({"loss": [1.0, 0.5], "val_loss": [1.0]}, tmp_path / "h.png")
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_history({}, tmp_path / "h.png")
    with pytest.raises(ValueError, match="PNG"):
        plots.plot_history({"loss": [1.0]}, tmp_path / "h.jpg")


def test_plot_confusion_matrix(tmp_path):
    cm = np.array([[50, 2, 0], [3, 40, 1], [0, 0, 44]])
    out = plots.plot_confusion_matrix(cm, ["cat", "dog", "bird"], tmp_path / "cm.png", dpi=100)
    assert png_size(out) == (550, 450)  # (4.5 + 1) x 4.5 inches for up to 3 classes
    ten = np.diag(np.arange(10, 20)) + 1
    assert png_size(plots.plot_confusion_matrix(ten, None, tmp_path / "cm10.png", dpi=100)) == (
        900,
        800,
    )
    fractions = cm / cm.sum(axis=1, keepdims=True)
    assert png_size(plots.plot_confusion_matrix(fractions, None, tmp_path / "f.png", dpi=50))
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.ones((2, 3)), None, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="2 class names for a 3x3"):
        plots.plot_confusion_matrix(cm, ["a", "b"], tmp_path / "bad.png")


def test_plot_misclassified_shows_only_the_wrong_ones(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(30, 64)).astype(np.float32)
    y_true = rng.integers(0, 10, size=30)
    y_pred = y_true.copy()
    y_pred[[2, 5, 11]] = (y_true[[2, 5, 11]] + 1) % 10
    out = plots.plot_misclassified(images, y_true, y_pred, tmp_path / "m.png", dpi=100)
    # 3 wrong: one row of 3 columns, 1.45 in per column (+0.4), 1.65 in per row (+0.7)
    assert png_size(out) == (475, 235)
    scores = np.eye(10)[y_pred]  # scores (N, n_classes) are read through argmax
    assert png_size(
        plots.plot_misclassified(
            images.reshape(30, 8, 8), y_true, scores, tmp_path / "m2.png", dpi=100
        )
    ) == (475, 235)
    y_pred[:20] = (y_true[:20] + 3) % 10  # 21 wrong, at most n=12 shown: 3 rows of 5
    out = plots.plot_misclassified(images, y_true, y_pred, tmp_path / "m3.png", n=12, dpi=100)
    assert png_size(out) == (765, 565)
    none = plots.plot_misclassified(images, y_true, y_true, tmp_path / "none.png", dpi=100)
    assert png_size(none) == (185, 235)


def test_plot_misclassified_errors(tmp_path):
    images = np.zeros((4, 64))
    with pytest.raises(ValueError, match="same length"):
        plots.plot_misclassified(images, [0, 1, 2], [0, 1, 2, 3], tmp_path / "m.png")
    with pytest.raises(ValueError, match="image_shape"):
        plots.plot_misclassified(np.zeros((4, 10)), [0] * 4, [1] * 4, tmp_path / "m.png")
    out = plots.plot_misclassified(
        np.zeros((4, 10)), [0] * 4, [1] * 4, tmp_path / "m.png", image_shape=(2, 5), dpi=50
    )
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="n must be a positive int"):
        plots.plot_misclassified(images, [0] * 4, [1] * 4, tmp_path / "m.png", n=0)


def test_clear_error_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"microgradnp\[train\]"):
        plots.plot_history({"loss": [1.0]}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()
