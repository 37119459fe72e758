"""Callbacks of `fit`: the `Callback` protocol and `EarlyStopping`."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .history import _mode

__all__ = ["Callback", "EarlyStopping"]


class Callback(Protocol):
    """What `fit` calls; every method is optional (define only those you need).

    - `on_train_begin(model)` before the first epoch;
    - `on_train_batch_end(step, batch, outputs, loss)` after each optimizer step: `step`
      counts batches from 0 over the whole run, `batch` is the loader's `(inputs, targets)`,
      `outputs` the model's outputs and `loss` the loss tensor (its graph already
      backpropagated, and still walkable, e.g. by `mg.viz`);
    - `on_epoch_end(epoch, logs) -> bool | None` after each epoch (`epoch` counts from 0,
      `logs` maps names to this epoch's numbers); return True to stop training;
    - `on_train_end(model)` after the last epoch.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called by `fit` after each epoch with its logs; True stops training."""


class EarlyStopping:
    """Stop when `monitor` has not improved for `patience` epochs; restore the best weights.

    The article's answer to over-fitting: watch the validation loss, keep a copy of the
    weights at its best epoch, and go back to them when training ends (whether it stopped
    early or ran all its epochs).

    Args:
        monitor: the `History` key to watch, e.g. "val_loss" or "val_accuracy".
        patience: epochs without improvement tolerated before stopping.
        min_delta: an improvement must beat the best value by more than this.
        mode: "min", "max", or "auto" (max for accuracy/precision/recall/f1, else min).
        restore_best_weights: load the best epoch's weights into the model at the end.

    Attributes:
        best_epoch: the best epoch (0-based).
        best: its value of `monitor`.
        stopped_epoch: the epoch at which training stopped, or None.

    Example:
        >>> stopper = EarlyStopping(patience=2)
        >>> [stopper.on_epoch_end(e, {"val_loss": v}) for e, v in enumerate([3, 2, 2.5, 2.1])]
        [False, False, False, True]
        >>> stopper.best_epoch, stopper.best
        (1, 2.0)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be a non-negative int, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.mode = _mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.model: Any = None
        self._reset()

    def _reset(self) -> None:
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, model: Any) -> None:
        """Called by `fit` before the first epoch."""
        self.model = model
        self._reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        """Called by `fit` after each epoch with its logs; True stops training."""
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which is not among the "
                f"logged values {sorted(logs)}; pass val_loader= to fit for "
                f"'val_*' keys"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights and self.model is not None:
                # NOTE: state_dict() shares memory with the parameters, which the optimizer
                # updates in place; keep real copies.
                self.best_state = {
                    name: np.array(t.data, copy=True) for name, t in self.model.state_dict().items()
                }
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, model: Any) -> None:
        """Called by `fit` after the last epoch."""
        if self.restore_best_weights and self.best_state is not None:
            model.load_state_dict(self.best_state)
