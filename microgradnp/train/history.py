"""The per-epoch record of `fit` (`History`) and the metrics it logs by name.

Metric functions come from `microgradnp.metrics`; plots of a `History` from
`microgradnp.plots`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .. import metrics as _metrics

__all__ = ["History", "resolve_metric"]

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Names `fit(metrics=[...])` understands. Multi-class precision/recall/F1 are macro averages
# (every class counts the same); pass a callable for any other choice.
_NAMED_METRICS: dict[str, MetricFn] = {
    "accuracy": _metrics.accuracy,
    "precision": functools.partial(_metrics.precision, average="macro", zero_division=0),
    "recall": functools.partial(_metrics.recall, average="macro", zero_division=0),
    "f1": functools.partial(_metrics.f1_score, average="macro", zero_division=0),
}
_ALIASES = {"acc": "accuracy", "f1_score": "f1"}
_HIGHER_IS_BETTER = ("acc", "precision", "recall", "f1", "auc")


def resolve_metric(metric: str | MetricFn) -> tuple[str, MetricFn]:
    """The `(name, function)` of a metric given by name or as a callable.

    A callable takes `(y_true, y_pred)` as NumPy arrays (labels, and the model's outputs such
    as logits) and returns a number; its name is its `__name__`.

    Example:
        >>> name, fn = resolve_metric("acc")
        >>> name, fn([0, 1, 1], np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]))
        ('accuracy', 0.6666666666666666)
    """
    if isinstance(metric, str):
        name = _ALIASES.get(metric, metric)
        if name not in _NAMED_METRICS:
            known = sorted([*_NAMED_METRICS, *_ALIASES])
            raise ValueError(
                f"unknown metric {metric!r}; use one of {known} or a callable fn(y_true, y_pred)"
            )
        return name, _NAMED_METRICS[name]
    if callable(metric):
        name = getattr(metric, "__name__", None) or type(metric).__name__
        return name, metric
    raise TypeError(f"a metric must be a name or a callable, got {type(metric).__name__}")


class History(dict):
    """Per-epoch logs of `fit`: a dict from name to a list with one value per epoch.

    Keys: `loss`, each training metric, then (with a validation loader) `val_loss` and
    `val_<metric>`, and `lr` (the learning rate of the first parameter group at the start of
    the epoch). `epochs` counts the epochs run; `stopped_early` says whether a callback stopped
    training. `best(key)` gives the best epoch (0-based) and its value.

    Example:
        >>> h = History()
        >>> h.append({"loss": 0.9, "val_loss": 0.8})
        >>> h.append({"loss": 0.5, "val_loss": 0.6})
        >>> h.epochs, h["val_loss"], h.best("val_loss")
        (2, [0.8, 0.6], (1, 0.6))
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_early = False

    @property
    def epochs(self) -> int:
        """`epochs`: see the class docstring."""
        return len(next(iter(self.values()), []))

    def append(self, logs: dict[str, float]) -> None:
        """Add one epoch's logs (every epoch must log the same keys)."""
        if self and set(logs) != set(self):
            raise ValueError(f"epoch logs have keys {sorted(logs)}, earlier epochs {sorted(self)}")
        for key, value in logs.items():
            self.setdefault(key, []).append(float(value))

    def best(self, key: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """`(epoch, value)` of the lowest (`mode="min"`) or highest ("max") value of `key`."""
        if key not in self:
            raise KeyError(f"no {key!r} in the history; it has {sorted(self)}")
        values = np.asarray(self[key])
        epoch = int(values.argmax() if _mode(key, mode) == "max" else values.argmin())
        return epoch, float(values[epoch])


def _mode(monitor: str, mode: str) -> str:
    if mode == "auto":
        name = monitor.removeprefix("val_")
        return "max" if any(word in name for word in _HIGHER_IS_BETTER) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode
