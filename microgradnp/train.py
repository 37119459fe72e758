"""A ready-made training loop: `fit`, its `History`, callbacks such as `EarlyStopping`.

`fit` runs the loop that users otherwise write by hand (forward, loss, `zero_grad`,
`backward`, `step`), then evaluates on a validation loader in `eval()` mode under
`mg.no_grad()`, steps a learning-rate scheduler once per epoch and asks each callback whether
to stop. A `tqdm` bar (the optional `train` extra) shows the running loss and metrics; it
turns itself off when stdout is not a terminal. Metrics come from `microgradnp.metrics`;
plots of a `History` from `microgradnp.plots`.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TextIO

import numpy as np

from . import metrics as _metrics
from .autograd import no_grad
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor

__all__ = ["Callback", "EarlyStopping", "History", "fit", "resolve_metric"]

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
_REFRESH_S = 0.1  # recompute the bar's running metrics at most this often
# No rate and a fixed-width bar, so the running numbers fit on one line of a terminal.
_BAR_FORMAT = "{desc} |{bar:12}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_SHORT = {"accuracy": "acc", "precision": "prec", "recall": "rec"}


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
    `val_<metric>`, and `lr` (the learning rate of the first parameter group during the
    epoch). `epochs` counts the epochs run; `stopped_early` says whether a callback stopped
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
        """The number of epochs recorded."""
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


class Callback(Protocol):
    """What `fit` calls; every method is optional (define only those you need).

    - `on_train_begin(model)` before the first epoch;
    - `on_epoch_end(epoch, logs) -> bool | None` after each epoch (`epoch` counts from 0,
      `logs` maps names to this epoch's numbers); return True to stop training;
    - `on_train_end(model)` after the last epoch.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after each epoch with its numbers; return True to stop training."""


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
        best: the monitored value at `best_epoch`.
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
        """Remember `model` and forget the previous run's best."""
        self.model = model
        self._reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        """Record `logs[monitor]`; return True once it has not improved for `patience` epochs."""
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
        """Load the best epoch's weights into the model (when `restore_best_weights`)."""
        if self.restore_best_weights and self.best_state is not None:
            model.load_state_dict(self.best_state)


class _Progress:
    """Per-epoch output: a tqdm bar, a plain line per epoch (no tqdm), or nothing."""

    def __init__(self, progress: bool | None, epochs: int, stream: TextIO) -> None:
        self.epochs, self.stream, self.bar, self.plain = epochs, stream, None, False
        if progress is None:
            isatty = getattr(stream, "isatty", None)
            progress = bool(isatty and isatty())
        self.enabled = bool(progress)
        self._tqdm = None
        if self.enabled:
            try:
                from tqdm import tqdm  # the optional `train` extra
            except ImportError:
                self.plain = True
            else:
                self._tqdm = tqdm

    def start(self, epoch: int, total: int | None) -> None:
        self.t0 = self.last = time.perf_counter()
        if self._tqdm is not None:
            width = len(str(self.epochs))
            self.bar = self._tqdm(
                total=total,
                desc=f"Epoch {epoch + 1:>{width}}/{self.epochs}",
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
                bar_format=_BAR_FORMAT,
            )

    def due(self) -> bool:
        """Whether the bar will redraw now (so running metrics are worth computing)."""
        return self.bar is not None and time.perf_counter() - self.last >= _REFRESH_S

    def update(self, postfix: dict[str, float] | None) -> None:
        if self.bar is not None:
            if postfix is not None:
                self.last = time.perf_counter()
                self.bar.set_postfix_str(_bar_text(postfix), refresh=False)
            self.bar.update(1)

    def end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_bar_text(logs), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.plain:
            parts = " - ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")
            print(
                f"Epoch {epoch + 1}/{self.epochs} - {parts} "
                f"({time.perf_counter() - self.t0:.2f} s)",
                file=self.stream,
                flush=True,
            )


def _bar_text(logs: dict[str, float]) -> str:
    """Compact `name value` pairs for the bar, e.g. "loss 0.2360 acc 0.9720"."""
    parts = []
    for key, value in logs.items():
        if key != "lr":
            prefix, name = ("val_", key[4:]) if key.startswith("val_") else ("", key)
            parts.append(f"{prefix}{_SHORT.get(name, name)} {value:.4f}")
    return " ".join(parts)


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        f"fit expects batches (inputs, targets) from the loader, got a "
        f"{type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


class _EpochLog:
    """Sample-weighted mean loss and the outputs/targets that metrics are computed from."""

    def __init__(self, metric_fns: Sequence[tuple[str, MetricFn]], prefix: str = "") -> None:
        self.metric_fns, self.prefix = metric_fns, prefix
        self.loss_sum, self.count = 0.0, 0
        self.targets: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []

    def add(self, loss: Tensor, outputs: Any, targets: Any) -> None:
        targets = _as_array(targets)
        n = len(targets) if targets.ndim else 1
        self.loss_sum += float(loss.item()) * n
        self.count += n
        if self.metric_fns:
            self.targets.append(targets)
            self.outputs.append(_as_array(outputs))

    def logs(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("the data loader yielded no batches")
        logs = {self.prefix + "loss": self.loss_sum / self.count}
        if self.metric_fns:
            y_true, y_pred = np.concatenate(self.targets), np.concatenate(self.outputs)
            for name, fn in self.metric_fns:
                logs[self.prefix + name] = float(fn(y_true, y_pred))
        return logs


def _evaluate(
    model: Any,
    loader: Iterable[Any],
    loss_fn: Callable[..., Tensor],
    metric_fns: Sequence[tuple[str, MetricFn]],
) -> dict[str, float]:
    log = _EpochLog(metric_fns, prefix="val_")
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                inputs, targets = _split_batch(batch)
                outputs = model(inputs)
                log.add(loss_fn(outputs, targets), outputs, targets)
    finally:
        model.train()
    return log.logs()


def _call(callbacks: Sequence[Any], method: str, *args: Any) -> list[Any]:
    return [getattr(cb, method)(*args) for cb in callbacks if hasattr(cb, method)]


def fit(
    model: Any,
    train_loader: Iterable[Any],
    loss_fn: Callable[..., Tensor],
    optimizer: Any,
    epochs: int,
    val_loader: Iterable[Any] | None = None,
    metrics: Sequence[str | MetricFn] = (),
    callbacks: Sequence[Any] = (),
    scheduler: Any = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
) -> History:
    """Train `model` for up to `epochs` epochs and return the per-epoch `History`.

    Each epoch: `model.train()`; for each `(inputs, targets)` batch of `train_loader`,
    `loss = loss_fn(model(inputs), targets)`, `optimizer.zero_grad()`, `loss.backward()`,
    `optimizer.step()`. Then, with `val_loader`, the same loss and metrics in `eval()` mode
    under `mg.no_grad()`; then `scheduler.step()` (a `ReduceLROnPlateau` gets `val_loss`, or
    `loss` without a validation loader); then each callback's `on_epoch_end`, any of which
    may stop training. Training metrics are computed on the epoch's running predictions.

    Args:
        model: an `nn.Module` (anything callable with `train()`/`eval()`).
        train_loader: an iterable of `(inputs, targets)` batches, e.g. a `DataLoader`.
        val_loader: the same for validation, or None.
        loss_fn: `loss_fn(outputs, targets)` -> a scalar Tensor (mean over the batch).
        optimizer: an `mg.optim` optimizer over the model's parameters.
        epochs: the most epochs to run.
        metrics: names ("accuracy", "precision", "recall", "f1"; macro averages) or callables
            `fn(y_true, y_pred)` on NumPy arrays of targets and model outputs.
        callbacks: objects with any of `on_train_begin(model)`, `on_epoch_end(epoch, logs)`
            (return True to stop) and `on_train_end(model)`, e.g. `EarlyStopping`.
        scheduler: a learning-rate scheduler from `mg.optim.lr_scheduler`, stepped per epoch.
        progress: a progress bar per epoch: None (default) shows it when `stream` is a
            terminal, True always, False never. Without `tqdm`, one line per epoch instead.
        stream: where the bar is written (default `sys.stdout`).

    Example:
        >>> import microgradnp as mg
        >>> from microgradnp import nn, data
        >>> _ = mg.manual_seed(0)
        >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        >>> y = (X[:, 0] > 0).astype(np.int64)
        >>> loader = data.DataLoader(data.TensorDataset(X, y), batch_size=16, shuffle=True)
        >>> model = nn.Linear(2, 2)
        >>> opt = mg.optim.SGD(model.parameters(), lr=0.5)
        >>> history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=5,
        ...               metrics=["accuracy"], progress=False)
        >>> sorted(history), history.epochs, history["accuracy"][-1] > 0.9
        (['accuracy', 'loss', 'lr'], 5, True)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(metrics, (str, bytes)) or callable(metrics):
        metrics = [metrics]
    metric_fns = [resolve_metric(m) for m in metrics]
    names = [name for name, _ in metric_fns]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be distinct, got {names}")
    callbacks = list(callbacks)
    stream = sys.stdout if stream is None else stream
    bar = _Progress(progress, epochs, stream)
    history = History()
    _call(callbacks, "on_train_begin", model)
    for epoch in range(epochs):
        lr = float(optimizer.param_groups[0]["lr"])
        model.train()
        running = _EpochLog(metric_fns)
        bar.start(epoch, len(train_loader) if hasattr(train_loader, "__len__") else None)
        for batch in train_loader:
            inputs, targets = _split_batch(batch)
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running.add(loss, outputs, targets)
            bar.update(running.logs() if bar.due() else None)
        logs = running.logs()
        if val_loader is not None:
            logs.update(_evaluate(model, val_loader, loss_fn, metric_fns))
        logs["lr"] = lr
        history.append(logs)
        bar.end(epoch, logs)
        if scheduler is not None:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(logs["val_loss" if val_loader is not None else "loss"])
            else:
                scheduler.step()
        if any(_call(callbacks, "on_epoch_end", epoch, dict(logs))):
            history.stopped_early = True
            break
    _call(callbacks, "on_train_end", model)
    return history
