"""Recurrent layers: `RNN`, `LSTM` and `GRU` (stacked, optionally bidirectional), with
PyTorch's parameter names, gate order and initialisation.

A layer projects the inputs of all time steps with one matmul per layer and direction, then
runs the recurrence over time as one fused op (`ops/recurrent.py`: one matmul per step for
all gates together, backpropagation through time in its VJP). PyTorch's gate order: LSTM
i, f, g, o; GRU r, z, n. The single-step cells are in `rnn_cells.py`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops
from ..ops import recurrent
from ..primitive import raw
from ..tensor import Tensor
from . import functional as F
from .module import Module
from .rnn_cells import _param, _uniform_params

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The shared machinery of `RNN`, `LSTM` and `GRU` (parameters, shapes, the layer loop)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                f"an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size > 0 is not supported")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * dirs
            for suffix in ("", "_reverse")[:dirs]:
                setattr(
                    self, f"weight_ih_l{layer}{suffix}", _param(gate_size, layer_input, dtype=dtype)
                )
                setattr(
                    self, f"weight_hh_l{layer}{suffix}", _param(gate_size, hidden_size, dtype=dtype)
                )
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", _param(gate_size, dtype=dtype))
                    setattr(self, f"bias_hh_l{layer}{suffix}", _param(gate_size, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_params(self, self.hidden_size)

    def _weights(self, layer: int, suffix: str) -> tuple[Any, Any, Any, Any]:
        get = self._parameters.get
        return (
            get(f"weight_ih_l{layer}{suffix}"),
            get(f"weight_hh_l{layer}{suffix}"),
            get(f"bias_ih_l{layer}{suffix}"),
            get(f"bias_hh_l{layer}{suffix}"),
        )

    def _check_input(self, input: Any, hx: Any) -> tuple[bool, tuple]:  # noqa: A002
        name = type(self).__name__
        shape = np.shape(raw(input))
        if len(shape) not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {len(shape)}D input of shape {shape}"
            )
        if shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {shape[-1]} (input shape {shape})"
            )
        batched = len(shape) == 3
        batch = (shape[0] if self.batch_first else shape[1]) if batched else 1
        dirs = 2 if self.bidirectional else 1
        expected = (self.num_layers * dirs, batch, self.hidden_size)
        states = () if hx is None else (hx if isinstance(hx, tuple) else (hx,))
        for s in states:
            s_shape = np.shape(raw(s))
            want = expected if batched else (expected[0], expected[2])
            if s_shape != want:
                raise ValueError(
                    f"{name}: Expected hidden size {want}, got {s_shape} (input shape {shape})"
                )
        return batched, expected

    def _run(self, input: Any, states: list[list[Any]]) -> tuple[Any, list[list[Any]]]:  # noqa: A002
        """Run all layers over time-major `input` (T, N, in); `states[k]` holds the initial
        state tensors (h, or h and c) of layer/direction k. Returns the last layer's output
        (T, N, dirs * H) and the final states."""
        dirs = 2 if self.bidirectional else 1
        x = input
        finals: list[list[Any]] = []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:dirs]):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
                gx = ops.linear(x, w_ih, b_ih)  # all time steps in one matmul
                if d:  # the reverse direction runs the same recurrence on flipped time
                    gx = gx[::-1]
                out, final = self._recurrence(gx, states[layer * dirs + d], w_hh, b_hh)
                finals.append(final)
                outs.append(out[::-1] if d else out)
            x = outs[0] if dirs == 1 else ops.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, finals

    def _recurrence(self, gx: Any, state: list[Any], w_hh: Any, b_hh: Any) -> tuple[Any, list[Any]]:
        """All steps of one layer and direction: (outputs (T, N, H), final state)."""
        args = (gx, *state, w_hh) + (() if b_hh is None else (b_hh,))
        if self.mode == "LSTM":
            out = recurrent.lstm_recurrence(*args)
            n = self.hidden_size
            return out[..., :n], [out[-1, :, :n], out[-1, :, n : 2 * n]]
        prim = {
            "RNN_TANH": recurrent.rnn_tanh_recurrence,
            "RNN_RELU": recurrent.rnn_relu_recurrence,
            "GRU": recurrent.gru_recurrence,
        }[self.mode]
        out = prim(*args)
        return out, [out[-1]]

    def _forward(self, input: Any, hx: Any, n_states: int) -> tuple[Any, Any]:  # noqa: A002
        batched, expected = self._check_input(input, hx)
        x = input if batched else ops.unsqueeze(input, 1)
        if batched and self.batch_first:
            x = ops.transpose(x, 0, 1)
        if hx is None:
            zeros = np.zeros(expected, dtype=raw(input).dtype)
            given = (zeros,) * n_states
        else:
            given = hx if isinstance(hx, tuple) else (hx,)
            if not batched:
                given = tuple(ops.unsqueeze(s, 1) for s in given)
        states = [[s[k] for s in given] for k in range(expected[0])]
        out, finals = self._run(x, states)
        if batched and self.batch_first:
            out = ops.transpose(out, 0, 1)
        final = tuple(ops.stack([f[i] for f in finals], 0) for i in range(n_states))
        if not batched:
            out = ops.squeeze(out, 1)
            final = tuple(ops.squeeze(s, 1) for s in final)
        return out, final

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class _OneStateRNN(RNNBase):
    """`RNN` and `GRU`: one state tensor h; `forward(input, hx=None)` returns `(output, h_n)`."""

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        out, (h,) = self._forward(input, hx, 1)
        return out, h


class RNN(_OneStateRNN):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    `num_layers` deep, optionally bidirectional, with dropout between layers.

    Keys `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` (and
    `..._reverse`). `forward(input, hx=None)` takes (T, N, input_size) ((N, T, ...) with
    `batch_first`, or unbatched (T, input_size)) and returns `(output, h_n)`: output
    (T, N, D * hidden_size), h_n (D * num_layers, N, hidden_size).

    Example:
        >>> import microgradnp as mg
        >>> rnn = mg.nn.RNN(10, 20, num_layers=2)
        >>> out, h_n = rnn(mg.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
        )


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates i, f, g, o:
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).

    Keys as `RNN` (the gate blocks stacked in the rows of each weight, size 4 * hidden_size).
    `forward(input, hx=None)` with hx = (h_0, c_0) returns `(output, (h_n, c_n))`.

    Example:
        >>> import microgradnp as mg
        >>> lstm = mg.nn.LSTM(10, 20, num_layers=2, batch_first=True)
        >>> out, (h_n, c_n) = lstm(mg.randn(3, 5, 10))
        >>> out.shape, h_n.shape, lstm.weight_ih_l0.shape
        ((3, 5, 20), (2, 3, 20), (80, 10))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            dtype=dtype,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        if hx is not None and (not isinstance(hx, tuple) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        out, (h, c) = self._forward(input, hx, 2)
        return out, (h, c)


class GRU(_OneStateRNN):
    """Gated recurrent unit, PyTorch's gates r, z, n:
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h.

    Keys as `RNN` (gate blocks of size 3 * hidden_size). `forward(input, hx=None)` returns
    `(output, h_n)`.

    Example:
        >>> import microgradnp as mg
        >>> gru = mg.nn.GRU(4, 6, bidirectional=True)
        >>> out, h_n = gru(mg.randn(5, 2, 4))
        >>> out.shape, h_n.shape
        ((5, 2, 12), (2, 2, 6))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
        )
