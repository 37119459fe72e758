"""mg.train.TensorBoard: event files read back record by record (TFRecord framing, tensorboardX's
protobuf classes): scalars, histograms of weights and gradients, the model graph."""

import struct

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import data, nn
from microgradnp.train import TensorBoard, fit

tbx = pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2, graph_pb2  # noqa: E402


def read_events(log_dir):
    """Every Event in the event files of `log_dir`: each record is a little-endian uint64
    length, its masked CRC (4 bytes), the serialized Event, and its masked CRC (4 bytes)."""
    events = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        raw = path.read_bytes()
        offset = 0
        while offset < len(raw):
            (length,) = struct.unpack("<Q", raw[offset : offset + 8])
            start = offset + 12
            events.append(event_pb2.Event.FromString(raw[start : start + length]))
            offset = start + length + 4
    return events


def _run(log_dir, **options):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    train = data.DataLoader(data.TensorDataset(X, y), batch_size=16)
    val = data.DataLoader(data.TensorDataset(X[:20], y[:20]), batch_size=10)
    opt = mg.optim.SGD(model.parameters(), lr=0.2)
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        opt,
        3,
        val_loader=val,
        metrics=["accuracy"],
        scheduler=sched,
        callbacks=[TensorBoard(log_dir, **options)],
        progress=False,
    )
    return model, history, read_events(log_dir)


def _scalars(events):
    out = {}
    for e in events:
        for v in e.summary.value:
            if v.HasField("simple_value"):
                out.setdefault(v.tag, []).append((e.step, v.simple_value))
    return out


def test_scalars_match_the_history(tmp_path):
    model, history, events = _run(tmp_path, update_freq="batch")
    scalars = _scalars(events)
    for tag, key in [
        ("train/loss", "loss"),
        ("train/accuracy", "accuracy"),
        ("val/loss", "val_loss"),
        ("val/accuracy", "val_accuracy"),
        ("lr", "lr"),
    ]:
        steps, values = zip(*scalars[tag], strict=True)
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, history[key], rtol=1e-6)  # stored as float32
    np.testing.assert_allclose([v for _, v in scalars["lr"]], [0.2, 0.1, 0.05], rtol=1e-7)
    batch_steps = [s for s, _ in scalars["batch/loss"]]
    assert batch_steps == list(range(9))  # 3 batches per epoch, 3 epochs


def test_histograms_of_weights_and_gradients(tmp_path):
    model, _, events = _run(tmp_path, histogram_freq=2)
    histos = {}
    for e in events:
        for v in e.summary.value:
            if v.HasField("histo"):
                histos.setdefault(v.tag, []).append((e.step, v.histo))
    names = [name for name, _ in model.named_parameters()]
    assert sorted(histos) == sorted([f"weights/{n}" for n in names] + [f"grads/{n}" for n in names])
    for name, p in model.named_parameters():
        steps = [s for s, _ in histos[f"weights/{name}"]]
        assert steps == [0, 2]  # every second epoch
        last = histos[f"weights/{name}"][-1][1]  # after the last epoch: the final weights
        assert last.num == p.numel()
        assert last.min == pytest.approx(float(p.data.min()))
        assert last.max == pytest.approx(float(p.data.max()))
        assert last.sum == pytest.approx(float(p.data.sum()), abs=1e-5)
        grad = histos[f"grads/{name}"][-1][1]  # the last batch's gradient
        assert grad.num == p.numel() and grad.max == pytest.approx(float(p.grad.data.max()))


def test_the_graph_names_modules_parameters_and_shapes(tmp_path):
    _, _, events = _run(tmp_path)
    graphs = [graph_pb2.GraphDef.FromString(e.graph_def) for e in events if e.graph_def]
    assert len(graphs) == 1
    nodes = {n.name: n for n in graphs[0].node}
    assert {"Linear[0]/weight", "Linear[0]/bias", "Linear[2]/weight", "input_0"} <= set(nodes)
    first = nodes["Linear[0]/linear"]
    assert list(first.input) == ["input_0", "Linear[0]/weight", "Linear[0]/bias"]
    assert list(nodes["Tanh[1]/tanh"].input) == ["Linear[0]/linear"]
    shape = first.attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [16, 6]
    assert nodes["Linear[2]/weight"].attr["dtype"].s == b"float32"
    loss_ops = [n for n in nodes.values() if n.name.startswith("CrossEntropyLoss/")]
    assert len(loss_ops) == 1 and list(loss_ops[0].input) == ["Linear[2]/linear"]
    _, _, events = _run(tmp_path / "nograph", write_graph=False, histogram_freq=0)
    assert not any(e.graph_def for e in events)
    assert not any(v.HasField("histo") for e in events for v in e.summary.value)


def test_argument_errors_and_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard("runs", update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard("runs", histogram_freq=-1)
    monkeypatch.setitem(__import__("sys").modules, "tensorboardX", None)
    with pytest.raises(ImportError, match="pip install tensorboardX"):
        TensorBoard("runs")
