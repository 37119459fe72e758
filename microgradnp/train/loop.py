"""The training loop `fit`: forward, loss, `zero_grad`, `backward`, `step` per batch, then
validation in `eval()` mode under `mg.no_grad()`, schedulers and callbacks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence, Sized
from typing import Any, TextIO

import numpy as np

from .. import distributed as _dist
from ..autograd import no_grad
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..tensor import Tensor
from .history import History, MetricFn, resolve_metric
from .progress import _Progress

__all__ = ["fit"]


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

    def logs(self, across_ranks: bool = False) -> dict[str, float]:
        loss_sum, count, targets, outputs = self.loss_sum, self.count, self.targets, self.outputs
        if across_ranks and _dist.is_initialized():
            # Data-parallel training: every rank logs the numbers of the whole epoch.
            parts: list[Any] = [None] * _dist.get_world_size()
            _dist.all_gather_object(parts, (loss_sum, count, targets, outputs))
            loss_sum, count = sum(p[0] for p in parts), sum(p[1] for p in parts)
            targets, outputs = [a for p in parts for a in p[2]], [a for p in parts for a in p[3]]
        if count == 0:
            raise ValueError("the data loader yielded no batches")
        logs = {self.prefix + "loss": loss_sum / count}
        if self.metric_fns:
            y_true, y_pred = np.concatenate(targets), np.concatenate(outputs)
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
    return log.logs(across_ranks=True)


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
    scheduler_interval: str = "epoch",
) -> History:
    """Train `model` for up to `epochs` epochs and return the per-epoch `History`.

    Each epoch: `model.train()`; for each `(inputs, targets)` batch of `train_loader`,
    `loss = loss_fn(model(inputs), targets)`, `optimizer.zero_grad()`, `loss.backward()`,
    `optimizer.step()`, then each callback's `on_train_batch_end`. Then, with `val_loader`,
    the same loss and metrics in `eval()` mode under `mg.no_grad()`; then `scheduler.step()`
    (a `ReduceLROnPlateau` gets `val_loss`, or `loss` without a validation loader); then each
    callback's `on_epoch_end`, any of which may stop training. With
    `scheduler_interval="batch"` the scheduler steps after every `optimizer.step()` instead
    (what `OneCycleLR` and warm-up schedules expect). Training metrics are computed on the
    epoch's running predictions.

    In a data-parallel job (`mg.distributed` initialised, the model wrapped in
    `DistributedDataParallel`, each rank's loader on its shard) the logged loss and metrics
    cover the samples of all ranks, so every rank sees the same `History` and callbacks
    decide alike; only rank 0 shows progress; a loader with a `sampler` that has
    `set_epoch` (a `DistributedSampler`) gets `set_epoch(epoch)` before each epoch.

    Args:
        model: an `nn.Module` (anything callable with `train()`/`eval()`).
        train_loader: an iterable of `(inputs, targets)` batches, e.g. a `DataLoader`.
        val_loader: the same for validation (or None).
        loss_fn: `loss_fn(outputs, targets)` -> a scalar Tensor (mean over the batch).
        optimizer: an `mg.optim` optimizer over the model's parameters.
        epochs: the most epochs to run.
        metrics: names ("accuracy", "precision", "recall", "f1"; macro averages) or callables
            `fn(y_true, y_pred)` on NumPy arrays of targets and model outputs.
        callbacks: objects with any of `on_train_begin(model)`,
            `on_train_batch_end(step, batch, outputs, loss)`, `on_epoch_end(epoch, logs)`
            (return True to stop) and `on_train_end(model)`, e.g. `EarlyStopping`,
            `TensorBoard`; see `Callback`.
        scheduler: a learning-rate scheduler from `mg.optim.lr_scheduler`.
        progress: None (default): a progress bar per epoch when `stream` is a terminal, one
            plain line per epoch when it is not (a log file, a pipe); True: the bar always
            (a plain line without `tqdm`); False: nothing.
        stream: where the bar or lines are written (default `sys.stdout`).
        scheduler_interval: "epoch" (default) steps `scheduler` once per epoch, "batch" after
            every optimizer step (`ReduceLROnPlateau` needs "epoch").

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
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(
            f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}"
        )
    if scheduler_interval == "batch" and isinstance(scheduler, ReduceLROnPlateau):
        raise ValueError(
            "ReduceLROnPlateau reacts to a per-epoch metric: use scheduler_interval='epoch'"
        )
    per_batch = scheduler is not None and scheduler_interval == "batch"
    callbacks = list(callbacks)
    stream = sys.stdout if stream is None else stream
    if _dist.is_initialized() and _dist.get_rank() != 0:
        progress = False  # one progress bar per job, on rank 0
    bar = _Progress(progress, epochs, stream)
    history = History()
    _call(callbacks, "on_train_begin", model)
    step = 0
    for epoch in range(epochs):
        lr = float(optimizer.param_groups[0]["lr"])
        model.train()
        sampler: Any = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler reshuffles per epoch
            sampler.set_epoch(epoch)
        running = _EpochLog(metric_fns)
        n_batches = len(train_loader) if isinstance(train_loader, Sized) else None
        bar.start(epoch, n_batches)
        for batch in train_loader:
            inputs, targets = _split_batch(batch)
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if per_batch:
                scheduler.step()
            running.add(loss, outputs, targets)
            _call(callbacks, "on_train_batch_end", step, batch, outputs, loss)
            step += 1
            bar.update(running.logs() if bar.due() else None)
        logs = running.logs(across_ranks=True)
        if val_loader is not None:
            logs.update(_evaluate(model, val_loader, loss_fn, metric_fns))
        logs["lr"] = lr
        history.append(logs)
        bar.end(epoch, logs)
        if scheduler is not None and not per_batch:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(logs["val_loss" if val_loader is not None else "loss"])
            else:
                scheduler.step()
        if any(_call(callbacks, "on_epoch_end", epoch, dict(logs))):
            history.stopped_early = True
            break
    _call(callbacks, "on_train_end", model)
    return history
