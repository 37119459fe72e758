"""`summary(model, input_size)`: a table of a model's layers, in the style of `torchinfo`.

One forward pass on generated inputs (in `eval()` mode, under `no_grad`) with forward hooks on
every module records each call's output shape; the table lists the calls in order with
their dotted names, types, output shapes and parameter counts, then the totals (trainable and
not) and an estimate of the memory a training step needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..creation import rand, zeros
from ..tensor import Tensor

__all__ = ["ModelSummary", "summary"]

_MB = 1024.0**2


@dataclass
class LayerRow:
    """One module call: its dotted name, type, depth, output shape(s) and own parameters."""

    name: str
    type: str
    depth: int
    output_shape: Any
    params: int
    shared: bool = False


@dataclass
class ModelSummary:
    """What `summary` found: the rows of the table and the totals (sizes in bytes).

    `str(summary)` is the table. `total_params` counts each parameter once (shared ones too)
    and equals `sum(p.numel() for p in model.parameters())`.
    """

    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    input_bytes: int = 0
    forward_backward_bytes: int = 0
    params_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        """The estimate of a training step's memory: inputs, activations and their gradients,
        parameters."""
        return self.input_bytes + self.forward_backward_bytes + self.params_bytes

    def __str__(self) -> str:
        names = [
            ("  " * row.depth) + (f"{row.name} ({row.type})" if row.name else row.type)
            for row in self.rows
        ]
        shapes = [_shape_text(row.output_shape) for row in self.rows]
        counts = [
            "(shared)" if row.shared else (f"{row.params:,}" if row.params else "--")
            for row in self.rows
        ]
        width_name = max([28, *map(len, names)]) + 2
        width_shape = max([18, *map(len, shapes)]) + 2
        width_count = max([12, *map(len, counts)])
        width = width_name + width_shape + width_count
        rule, thin = "=" * width, "-" * width
        lines = [
            rule,
            f"{'Layer (type)':<{width_name}}{'Output shape':<{width_shape}}"
            f"{'Param #':>{width_count}}",
            rule,
        ]
        lines += [
            f"{n:<{width_name}}{s:<{width_shape}}{c:>{width_count}}"
            for n, s, c in zip(names, shapes, counts, strict=True)
        ]
        lines += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            thin,
            f"Input size (MB): {self.input_bytes / _MB:.2f}",
            f"Forward/backward pass size (MB): {self.forward_backward_bytes / _MB:.2f}",
            f"Params size (MB): {self.params_bytes / _MB:.2f}",
            f"Estimated total size (MB): {self.total_bytes / _MB:.2f}",
            rule,
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "--"
    if shape and isinstance(shape[0], list):
        return ", ".join(str(s) for s in shape)
    return str(shape)


def _shapes_and_bytes(output: Any) -> tuple[Any, int]:
    """The output's shape as a list (a list of them for several outputs), and its bytes."""
    if isinstance(output, Tensor):
        return list(output.shape), int(output.data.nbytes)
    if isinstance(output, np.ndarray):
        return list(output.shape), int(output.nbytes)
    if isinstance(output, (tuple, list)):
        shapes, total = [], 0
        for item in output:
            shape, nbytes = _shapes_and_bytes(item)
            if shape is not None:
                shapes.append(shape)
                total += nbytes
        return (shapes or None), total
    return None, 0


def _make_inputs(input_size: Any, dtypes: Sequence[Any] | None) -> list[Tensor]:
    sizes = [input_size] if input_size and isinstance(input_size[0], int) else list(input_size)
    if dtypes is None:
        dtypes = [None] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(
            f"summary: got {len(sizes)} input sizes {sizes} but {len(dtypes)} dtypes {dtypes}"
        )
    inputs = []
    for size, dtype in zip(sizes, dtypes, strict=True):
        if not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(
                f"summary: an input size is a tuple of positive ints (batch first), got {size!r}"
            )
        kind = np.dtype(dtype).kind if dtype is not None else "f"
        inputs.append(rand(*size, dtype=dtype) if kind == "f" else zeros(*size, dtype=dtype))
    return inputs


def summary(
    model: Any,
    input_size: Any = None,
    dtypes: Sequence[Any] | None = None,
    input_data: Any = None,
    verbose: int = 1,
) -> ModelSummary:
    """Run one forward pass through `model` and tabulate its layers, as `torchinfo.summary`.

    Args:
        model: an `nn.Module`.
        input_size: the shape of the input, batch first (e.g. `(32, 64)`), or a list of
            shapes for a model with several inputs. Float inputs are uniform on [0, 1), others
            zeros (valid indices for `Embedding`).
        dtypes: one dtype per input (default: the default float dtype).
        input_data: the inputs themselves (a tensor or a list of them), instead of sizes.
        verbose: 1 prints the table, 0 only returns it.

    Returns:
        A `ModelSummary`: `rows`, `total_params`, `trainable_params`,
        `non_trainable_params`, sizes in bytes; `str()` of it is the table.

    Example:
        >>> from microgradnp import nn
        >>> model = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
        >>> s = summary(model, (8, 64), verbose=0)
        >>> s.total_params, [row.output_shape for row in s.rows]
        (2410, [[8, 10], [8, 32], [8, 32], [8, 10]])
        >>> print(s)
        ==============================================================
        Layer (type)                  Output shape             Param #
        ==============================================================
        Sequential                    [8, 10]                       --
          0 (Linear)                  [8, 32]                    2,080
          1 (Sigmoid)                 [8, 32]                       --
          2 (Linear)                  [8, 10]                      330
        ==============================================================
        Total params: 2,410
        Trainable params: 2,410
        Non-trainable params: 0
        --------------------------------------------------------------
        Input size (MB): 0.00
        Forward/backward pass size (MB): 0.00
        Params size (MB): 0.01
        Estimated total size (MB): 0.02
        ==============================================================
    """
    if input_data is None and input_size is None:
        raise ValueError("summary: pass input_size (shapes, batch first) or input_data")
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
    else:
        inputs = _make_inputs(input_size, dtypes)
    names = {id(module): name for name, module in model.named_modules()}
    result = ModelSummary()
    seen: set[int] = set()
    open_rows: dict[int, list[LayerRow]] = {}  # module id -> its calls not yet returned
    leaf_bytes = 0
    handles = []

    def before(module: Any, args: Any) -> None:
        name = names.get(id(module), "?")
        depth = 0 if module is model else name.count(".") + 1
        own = sum(p.numel() for p in module.parameters(recurse=False))
        row = LayerRow(name, type(module).__name__, depth, None, own, id(module) in seen)
        seen.add(id(module))
        open_rows.setdefault(id(module), []).append(row)
        result.rows.append(row)

    def after(module: Any, args: Any, output: Any) -> None:
        nonlocal leaf_bytes
        row = open_rows[id(module)].pop()
        row.output_shape, nbytes = _shapes_and_bytes(output)
        if not any(True for _ in module.children()):
            leaf_bytes += nbytes

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    params = list(model.parameters())
    result.total_params = sum(p.numel() for p in params)
    result.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    result.non_trainable_params = result.total_params - result.trainable_params
    result.params_bytes = sum(int(p.data.nbytes) for p in params)
    result.input_bytes = sum(int(np.asarray(x.data).nbytes) for x in inputs)
    result.forward_backward_bytes = 2 * leaf_bytes  # activations and their gradients
    if verbose:
        print(result)
    return result
