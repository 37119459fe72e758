"""`TensorBoard`: a `fit` callback that writes scalars, histograms and the model's graph as
TensorBoard event files, through `tensorboardX` (the optional `tensorboard` extra).

Scalars: each epoch's logs (`train/loss`, `val/loss`, `train/<metric>`, `val/<metric>`, `lr`)
and, with `update_freq="batch"`, the loss of every batch (`batch/loss`). Histograms: every
`histogram_freq` epochs, each parameter (`weights/<name>`) and its gradient from the epoch's
last batch (`grads/<name>`). Graph: the first batch's recorded graph (ops by module scope,
parameters by name, shapes on the edges), converted into TensorBoard's `GraphDef`. View with
`tensorboard --logdir <log_dir>`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TensorBoard", "graph_def"]

_INSTALL = (
    "the TensorBoard callback needs the `tensorboardX` package: pip install tensorboardX "
    "(or pip install 'microgradnp[tensorboard]')"
)


def _tensorboardx() -> Any:
    try:
        import tensorboardX  # type: ignore[import-untyped]
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return tensorboardX


def _scope_name(label: str) -> str:
    """A module label such as "Linear 0" or "Sequential encoder.1" as a TensorBoard scope,
    "Linear[0]" (PyTorch's spelling in its graphs)."""
    kind, _, name = label.partition(" ")
    name = name.rpartition(".")[2]
    text = f"{kind}[{name}]" if name else kind
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]", "_", text)


def graph_def(root: Any, model: Any = None) -> Any:
    """The computation graph behind `root` (e.g. a loss) as a TensorBoard `GraphDef`.

    Ops are named `<Module[name]>/.../<op>` (`_1`, `_2`, ... when repeated) so TensorBoard
    nests them by module; parameters are named in their module's scope (`Linear[0]/weight`),
    inputs `input_<k>`;
    each node carries its output shape (`_output_shapes`) and dtype.

    Example:
        >>> import microgradnp as mg
        >>> model = mg.nn.Linear(3, 2)
        >>> g = graph_def(model(mg.ones(4, 3)).sum(), model)
        >>> sorted(node.op for node in g.node)[:3]
        ['Input', 'Parameter', 'Parameter']
    """
    from tensorboardX.proto import (  # type: ignore[import-untyped]
        attr_value_pb2,
        graph_pb2,
        node_def_pb2,
        tensor_shape_pb2,
        versions_pb2,
    )

    from ..viz.walk import OpItem, TensorItem, walk

    graph = walk(root, model, group_modules=True)
    by_id = {item.id: item for item in graph.items}
    producer: dict[str, str] = {}  # tensor id -> id of the op that produced it
    output: dict[str, str] = {}  # op id -> id of its output tensor
    inputs: dict[str, list[str]] = {}  # op id -> ids of its input tensors, in order
    for src, dst, _ in graph.edges:
        if isinstance(by_id[src], OpItem):
            producer[dst], output[src] = src, dst
        else:
            inputs.setdefault(dst, []).append(src)
    names: dict[str, str] = {}
    used: dict[str, int] = {}

    def unique(name: str) -> str:
        count = used.get(name, 0)
        used[name] = count + 1
        return name if count == 0 else f"{name}_{count}"

    def scoped(path: tuple, name: str) -> str:
        parts = [_scope_name(graph.modules[path[: d + 1]].label) for d in range(len(path))]
        return "/".join([*parts, name])

    nodes = []
    n_inputs = 0
    # reversed walk order: inputs and parameters first, the root last (a forward order)
    for item in reversed(graph.items):
        if isinstance(item, TensorItem) and item.id in producer:
            continue  # an op's output: drawn as the op itself
        if isinstance(item, OpItem):
            op_name, tensor = item.node.prim.name, by_id[output[item.id]].tensor
            name = unique(scoped(item.path, op_name))
            kind = op_name
        elif item.kind == "parameter":
            label = item.name or f"parameter_{len(names)}"
            label = label.rpartition(".")[2] if item.path else label  # the scope says the rest
            name, kind, tensor = unique(scoped(item.path, label)), "Parameter", item.tensor
        else:
            name, kind, tensor = unique(f"input_{n_inputs}"), "Input", item.tensor
            n_inputs += 1
        names[item.id] = name
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(s)) for s in tensor.shape]
        )
        attrs = {
            "_output_shapes": attr_value_pb2.AttrValue(
                list=attr_value_pb2.AttrValue.ListValue(shape=[shape])
            ),
            "dtype": attr_value_pb2.AttrValue(s=str(np.dtype(tensor.dtype)).encode()),
        }
        sources = [] if not isinstance(item, OpItem) else inputs.get(item.id, [])
        nodes.append((name, kind, sources, attrs))
    graph_proto = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=22))
    for name, kind, sources, attrs in nodes:
        node_inputs = [names[producer.get(src, src)] for src in sources]
        graph_proto.node.append(
            node_def_pb2.NodeDef(name=name, op=kind, input=node_inputs, attr=attrs)
        )
    return graph_proto


class TensorBoard:
    """Write `fit`'s scalars, weight and gradient histograms and the model graph to
    TensorBoard event files in `log_dir` (see the module docstring for the tags).

    Args:
        log_dir: the folder of the event files (created if needed).
        histogram_freq: write histograms every this many epochs (0: never).
        write_graph: write the graph of the first training batch.
        update_freq: "epoch" (scalars per epoch) or "batch" (also the loss of every batch).

    Example:
        >>> import tempfile
        >>> import microgradnp as mg
        >>> from microgradnp import nn, data
        >>> X, y = np.zeros((8, 2), np.float32), np.arange(8) % 2
        >>> loader = data.DataLoader(data.TensorDataset(X, y), batch_size=4)
        >>> model = nn.Linear(2, 2)
        >>> with tempfile.TemporaryDirectory() as logs:
        ...     _ = mg.train.fit(model, loader, nn.CrossEntropyLoss(),
        ...                      mg.optim.SGD(model.parameters(), lr=0.1), epochs=2,
        ...                      callbacks=[TensorBoard(logs)], progress=False)
        ...     len(list(Path(logs).glob("events.out.tfevents.*")))
        1
    """

    def __init__(
        self,
        log_dir: str | Path = "runs",
        histogram_freq: int = 1,
        write_graph: bool = True,
        update_freq: str = "epoch",
    ) -> None:
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int):
            raise TypeError(f"histogram_freq must be an int, got {histogram_freq!r}")
        if histogram_freq < 0:
            raise ValueError(f"histogram_freq must be >= 0, got {histogram_freq}")
        if update_freq not in ("epoch", "batch"):
            raise ValueError(f"update_freq must be 'epoch' or 'batch', got {update_freq!r}")
        self._tbx = _tensorboardx()  # fail at construction, not in the middle of training
        self.log_dir = Path(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.update_freq = update_freq
        self.model: Any = None
        self.writer: Any = None
        self._graph_written = False

    def on_train_begin(self, model: Any) -> None:
        """Called by `fit` before the first epoch."""
        self.model = model
        self.writer = self._tbx.SummaryWriter(logdir=str(self.log_dir))
        self._graph_written = False

    def on_train_batch_end(self, step: int, batch: Any, outputs: Any, loss: Any) -> None:
        """Called by `fit` after each optimizer step."""
        if self.write_graph and not self._graph_written:
            from tensorboardX.proto import event_pb2  # type: ignore[import-untyped]

            graph = graph_def(loss, self.model)
            # NOTE: tensorboardX's add_graph traces torch models; a GraphDef is written as
            # its own event, as TensorFlow does.
            event = event_pb2.Event(graph_def=graph.SerializeToString())
            self.writer._get_file_writer().add_event(event)
            self._graph_written = True
        if self.update_freq == "batch":
            self.writer.add_scalar("batch/loss", float(loss.item()), step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called by `fit` after each epoch with its logs; True stops training."""
        for key, value in logs.items():
            if key == "lr":
                tag = "lr"
            elif key.startswith("val_"):
                tag = f"val/{key[4:]}"
            else:
                tag = f"train/{key}"
            self.writer.add_scalar(tag, float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0 and self.model is not None:
            for name, p in self.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", np.asarray(p.data), epoch)
                if p.grad is not None:
                    self.writer.add_histogram(f"grads/{name}", np.asarray(p.grad.data), epoch)
        self.writer.flush()

    def on_train_end(self, model: Any) -> None:
        """Called by `fit` after the last epoch."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
