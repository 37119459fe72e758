"""`microgradnp.train`: fit's history, callbacks, EarlyStopping, scheduler hook, progress bar."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import data, metrics, nn
from microgradnp.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from microgradnp.train import EarlyStopping, History, fit, resolve_metric


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _blobs(seed: int = 0, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1.0)
    return X, y


def _setup(
    seed: int = 0, batch_size: int = 16
) -> tuple[nn.Module, data.DataLoader, data.DataLoader, np.ndarray, np.ndarray]:
    X, y = _blobs(seed)
    Xv, yv = _blobs(seed + 100, n=40)
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
    train = data.DataLoader(
        data.TensorDataset(X, y),
        batch_size=batch_size,
        shuffle=True,
        generator=np.random.default_rng(seed + 1),
    )
    val = data.DataLoader(data.TensorDataset(Xv, yv), batch_size=15)
    return model, train, val, Xv, yv


def _params(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_fit_history_keys_lengths_and_values():
    model, train, val, Xv, yv = _setup()
    calls = []

    def top2(y_true, y_pred):
        calls.append((y_true.shape, y_pred.shape))
        top = np.argsort(y_pred, axis=1)[:, -2:]
        return float(np.mean((top == y_true[:, None]).any(axis=1)))

    opt = mg.optim.Adam(model.parameters(), lr=0.05)
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        epochs=4,
        val_loader=val,
        metrics=["acc", top2],
        progress=False,
    )
    assert isinstance(history, History)
    assert list(history) == [
        "loss",
        "accuracy",
        "top2",
        "val_loss",
        "val_accuracy",
        "val_top2",
        "lr",
    ]
    assert all(len(v) == 4 for v in history.values()) and history.epochs == 4
    assert not history.stopped_early
    assert history["lr"] == [0.05] * 4
    assert history["loss"][-1] < history["loss"][0]
    # the callable saw all 96 training and all 40 validation samples, with the logits
    assert calls[:2] == [((96,), (96, 3)), ((40,), (40, 3))]
    # validation numbers are those of the final model on the validation set
    with mg.no_grad():
        logits = model(mg.from_numpy(Xv))
        val_loss = nn.functional.cross_entropy(logits, mg.from_numpy(yv)).item()
    assert history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history["val_accuracy"][-1] == pytest.approx(metrics.accuracy(yv, logits.numpy()))
    assert history["val_top2"][-1] == pytest.approx(top2(yv, logits.numpy()))
    assert history.best("val_loss")[1] == min(history["val_loss"])
    assert history.best("val_accuracy")[1] == max(history["val_accuracy"])


def test_fit_matches_a_hand_written_loop():
    model, train, _, _, _ = _setup(batch_size=20)  # 96 = 4 x 20 + 16: a short last batch
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        mg.optim.SGD(model.parameters(), lr=0.3, momentum=0.9),
        epochs=3,
        progress=False,
    )
    by_hand, train, _, _, _ = _setup(batch_size=20)
    opt = mg.optim.SGD(by_hand.parameters(), lr=0.3, momentum=0.9)
    losses = []
    for _ in range(3):
        total = 0.0
        for xb, yb in train:
            loss = nn.functional.cross_entropy(by_hand(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        losses.append(total / 96)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-6)
    for name, value in _params(by_hand).items():
        np.testing.assert_array_equal(_params(model)[name], value)


def test_named_metrics_and_errors():
    assert resolve_metric("acc")[0] == "accuracy"
    name, f1 = resolve_metric("f1")
    assert name == "f1"
    assert f1(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        resolve_metric("auc")
    with pytest.raises(TypeError, match="name or a callable"):
        resolve_metric(3)
    model, train, _, _, _ = _setup()
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="distinct"):
        fit(model, train, nn.CrossEntropyLoss(), opt, 1, metrics=["acc", "accuracy"])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, train, nn.CrossEntropyLoss(), opt, 0)
    with pytest.raises(ValueError, match=r"\(inputs, targets\)"):
        fit(model, [(1, 2, 3)], nn.CrossEntropyLoss(), opt, 1, progress=False)


def test_train_and_eval_modes_and_no_grad_in_validation():
    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(4, 3)
            self.seen = []

        def forward(self, x):
            self.seen.append((self.training, mg.is_grad_enabled()))
            return self.inner(x)

    _, train, val, _, _ = _setup()
    model = Spy()
    model.eval()
    fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        mg.optim.SGD(model.parameters(), lr=0.1),
        2,
        val_loader=val,
        progress=False,
    )
    per_epoch = len(train) + len(val)  # 6 training and 3 validation batches
    assert model.seen == ([(True, True)] * 6 + [(False, False)] * 3) * 2
    assert len(model.seen) == 2 * per_epoch
    assert model.training and model.inner.training


def _overfitting_run(patience: int, restore: bool = True):
    """Noisy labels, few samples: the validation loss falls until epoch 5, then rises."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 10)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    flip = rng.random(40) < 0.3
    y[flip] = 1 - y[flip]
    Xv = rng.normal(size=(200, 10)).astype(np.float32)
    yv = (Xv[:, 0] > 0).astype(np.int64)
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.Sigmoid(), nn.Linear(32, 2))
    train = data.DataLoader(
        data.TensorDataset(X, y), batch_size=10, shuffle=True, generator=np.random.default_rng(1)
    )
    val = data.DataLoader(data.TensorDataset(Xv, yv), batch_size=100)
    snapshots = []

    class Snapshot:
        def on_epoch_end(self, epoch, logs):
            snapshots.append(_params(model))

    stopper = EarlyStopping(patience=patience, restore_best_weights=restore)
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        mg.optim.Adam(model.parameters(), lr=0.05),
        epochs=40,
        val_loader=val,
        callbacks=[Snapshot(), stopper],
        progress=False,
    )
    return model, history, stopper, snapshots


def test_early_stopping_stops_and_restores_the_best_weights():
    model, history, stopper, snapshots = _overfitting_run(patience=3)
    best = int(np.argmin(history["val_loss"]))
    assert 0 < best < history.epochs - 1
    assert stopper.best_epoch == best and stopper.best == history["val_loss"][best]
    assert history.stopped_early and stopper.stopped_epoch == best + 3
    assert history.epochs == best + 4 < 40
    assert len(snapshots) == history.epochs
    for name, value in _params(model).items():
        np.testing.assert_array_equal(value, snapshots[best][name])
        assert not np.array_equal(value, snapshots[-1][name])
    # the restored model really has the best validation loss again
    rng = np.random.default_rng(0)
    rng.normal(size=(40, 10)), rng.random(40)
    Xv = rng.normal(size=(200, 10)).astype(np.float32)
    with mg.no_grad():
        loss = nn.functional.cross_entropy(
            model(mg.from_numpy(Xv)), mg.from_numpy((Xv[:, 0] > 0).astype(np.int64))
        )
    assert loss.item() == pytest.approx(history["val_loss"][best], rel=1e-5)


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, history, stopper, snapshots = _overfitting_run(patience=3, restore=False)
    assert stopper.best_state is None
    for name, value in _params(model).items():
        np.testing.assert_array_equal(value, snapshots[-1][name])


def test_early_stopping_rules():
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.01)
    assert stopper.mode == "max"
    # 0.905 is not better than 0.9 by more than min_delta: a bad epoch
    results = [
        stopper.on_epoch_end(e, {"val_accuracy": v})
        for e, v in enumerate([0.8, 0.9, 0.905, 0.95, 0.951, 0.955])
    ]
    assert results == [False, False, False, False, False, True]
    assert (stopper.best_epoch, stopper.best, stopper.stopped_epoch) == (3, 0.95, 5)
    assert EarlyStopping(monitor="loss").mode == "min"
    with pytest.raises(KeyError, match="val_loss"):
        EarlyStopping().on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_scheduler_is_stepped_once_per_epoch():
    model, train, val, _, _ = _setup()
    opt = mg.optim.SGD(model.parameters(), lr=0.4)
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        3,
        scheduler=StepLR(opt, step_size=1, gamma=0.5),
        progress=False,
    )
    assert history["lr"] == [0.4, 0.2, 0.1]  # the lr used during each epoch
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_lr_on_plateau_gets_the_monitored_loss(with_val):
    class Recording(ReduceLROnPlateau):
        seen: list[float] = []

        def step(self, metrics):
            self.seen.append(float(metrics))
            super().step(metrics)

    model, train, val, _, _ = _setup()
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    sched = Recording(opt, patience=0, factor=0.5)
    sched.seen = []
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        3,
        val_loader=val if with_val else None,
        scheduler=sched,
        progress=False,
    )
    assert sched.seen == history["val_loss" if with_val else "loss"]


def _tiny_fit(**kwargs):
    model, train, val, _, _ = _setup()
    return fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        mg.optim.SGD(model.parameters(), lr=0.1),
        2,
        val_loader=val,
        metrics=["accuracy"],
        **kwargs,
    )


def test_one_plain_line_per_epoch_when_stdout_is_not_a_terminal(capsys):
    history = _tiny_fit()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - loss ")
    assert f"val_accuracy {history['val_accuracy'][1]:.4g}" in lines[1]
    assert lines[1].endswith(" s)")
    _tiny_fit(progress=False)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal_and_off_when_asked(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    history = _tiny_fit()
    text = terminal.getvalue()
    assert "Epoch 1/2 |" in text and "Epoch 2/2 |" in text and "6/6" in text
    last = (
        f"loss {history['loss'][-1]:.4f} acc {history['accuracy'][-1]:.4f} "
        f"val_loss {history['val_loss'][-1]:.4f} val_acc {history['val_accuracy'][-1]:.4f}"
    )
    assert last in text
    quiet = FakeTerminal()
    _tiny_fit(progress=False, stream=quiet)
    assert quiet.getvalue() == ""
    forced = io.StringIO()
    _tiny_fit(progress=True, stream=forced)
    assert forced.getvalue().count("Epoch ") >= 2


def test_plain_lines_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError
    terminal = FakeTerminal()
    history = _tiny_fit(stream=terminal)
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"Epoch 2/2 - loss {history['loss'][1]:.4g} - accuracy ")
    assert f"val_loss {history['val_loss'][1]:.4g}" in lines[1]


def test_per_batch_scheduler_steps_like_torch_one_cycle(torch):
    model, train, _, _, _ = _setup(batch_size=16)  # 96 samples: 6 batches per epoch
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = mg.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=6)
    seen = []

    class LearningRates:
        def on_train_batch_end(self, step, batch, outputs, loss):
            assert step == len(seen) and isinstance(loss, mg.Tensor) and len(batch) == 2
            seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))

    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        3,
        scheduler=sched,
        scheduler_interval="batch",
        callbacks=[LearningRates()],
        progress=False,
    )
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.5, epochs=3, steps_per_epoch=6)
    expected = []
    for _ in range(18):
        t_opt.step()
        t_sched.step()
        expected.append((t_opt.param_groups[0]["lr"], t_opt.param_groups[0]["momentum"]))
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    # the history logs each epoch's starting rate: the initial one, then after 6 and 12 steps
    np.testing.assert_allclose(history["lr"], [0.5 / 25, expected[5][0], expected[11][0]])


def test_per_batch_scheduler_gives_the_hand_written_loop():
    model, train, _, _, _ = _setup(batch_size=32)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        2,
        scheduler=sched,
        scheduler_interval="batch",
        progress=False,
    )
    by_hand, train2, _, _, _ = _setup(batch_size=32)
    opt2 = mg.optim.Adam(by_hand.parameters(), lr=0.01)
    sched2 = mg.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    for _ in range(2):
        for xb, yb in train2:
            loss = nn.CrossEntropyLoss()(by_hand(xb), yb)
            opt2.zero_grad()
            loss.backward()
            opt2.step()
            sched2.step()
    assert sched.last_epoch == sched2.last_epoch == 6
    for name, value in _params(model).items():
        np.testing.assert_array_equal(value, _params(by_hand)[name])


def test_scheduler_interval_errors():
    model, train, _, _, _ = _setup()
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="'epoch' or 'batch'"):
        fit(model, train, nn.CrossEntropyLoss(), opt, 1, scheduler_interval="step")
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        fit(
            model,
            train,
            nn.CrossEntropyLoss(),
            opt,
            1,
            scheduler=ReduceLROnPlateau(opt),
            scheduler_interval="batch",
        )
