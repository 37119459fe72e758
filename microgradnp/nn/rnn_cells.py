"""Recurrent cells: `RNNCell`, `LSTMCell` and `GRUCell` (one time step each), with
PyTorch's parameter names (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`), gate order
(LSTM i, f, g, o; GRU r, z, n) and initialisation U(-1/sqrt(H), 1/sqrt(H)).

The cells are composites of linear, sigmoid and tanh. Their step functions are shared with
`nn/rnn.py` (initialisation) and are the reference of the fused recurrences in the op table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes, ops
from ..primitive import raw
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def _rnn_step(gx: Any, h: Any, w_hh: Any, b_hh: Any, act: Callable[[Any], Any]) -> Any:
    # h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), with gx = x W_ih^T + b_ih
    return act(gx + ops.linear(h, w_hh, b_hh))


def _lstm_step(gx: Any, h: Any, c: Any, w_hh: Any, b_hh: Any) -> tuple[Any, Any]:
    # i, f, o = sigmoid(...), g = tanh(...);  c' = f c + i g;  h' = o tanh(c')
    gates = gx + ops.linear(h, w_hh, b_hh)
    n = raw(h).shape[-1]
    sig = ops.sigmoid(gates)  # one call for all gates; the g block of it goes unused
    i, f, o = sig[..., :n], sig[..., n : 2 * n], sig[..., 3 * n :]
    g = ops.tanh(gates[..., 2 * n : 3 * n])
    c = f * c + i * g
    return o * ops.tanh(c), c


def _gru_step(gx: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    # r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
    # n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn));  h' = (1 - z) n + z h
    gh = ops.linear(h, w_hh, b_hh)
    n = raw(h).shape[-1]
    rz = ops.sigmoid(gx[..., : 2 * n] + gh[..., : 2 * n])
    r, z = rz[..., :n], rz[..., n:]
    new = ops.tanh(gx[..., 2 * n :] + r * gh[..., 2 * n :])
    return new + z * (h - new)


def _uniform_params(module: Module, hidden_size: int) -> None:
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -stdv, stdv)


def _param(*shape: int, dtype: Any) -> Parameter:
    dt = dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)
    return Parameter(np.empty(shape, dtype=dt))


class RNNCellBase(Module):
    """The shared parameters (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`) of the cells."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, *, dtype: Any = None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _param(num_chunks * hidden_size, input_size, dtype=dtype)
        self.weight_hh = _param(num_chunks * hidden_size, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = _param(num_chunks * hidden_size, dtype=dtype)
            self.bias_hh = _param(num_chunks * hidden_size, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_params(self, self.hidden_size)

    def _prepare(self, input: Any, hx: Any, n_states: int) -> tuple[bool, Any, tuple]:  # noqa: A002
        name = type(self).__name__
        shape = np.shape(raw(input))
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {shape}"
            )
        batched = len(shape) == 2
        x = input if batched else ops.unsqueeze(input, 0)
        want = (raw(x).shape[0], self.hidden_size)
        if hx is None:
            states: tuple = (np.zeros(want, dtype=raw(input).dtype),) * n_states
        else:
            states = hx if isinstance(hx, tuple) else (hx,)
            for s in states:
                s_shape = np.shape(raw(s))
                if s_shape != (want if batched else want[1:]):
                    raise ValueError(
                        f"{name}: expected hidden state of shape "
                        f"{want if batched else want[1:]}, got {s_shape}"
                    )
            if not batched:
                states = tuple(ops.unsqueeze(s, 0) for s in states)
        return batched, ops.linear(x, self.weight_ih, self.bias_ih), states

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return s if nonlinearity == "tanh" else s + f", nonlinearity={nonlinearity}"


def _unbatch(t: Any, batched: bool) -> Any:
    return t if batched else ops.squeeze(t, 0)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Example:
        >>> import microgradnp as mg
        >>> cell = mg.nn.RNNCell(10, 20)
        >>> cell(mg.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        batched, gx, (h,) = self._prepare(input, hx, 1)
        act = ops.tanh if self.nonlinearity == "tanh" else ops.relu
        return _unbatch(_rnn_step(gx, h, self.weight_hh, self.bias_hh, act), batched)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns (h', c').

    Example:
        >>> import microgradnp as mg
        >>> cell = mg.nn.LSTMCell(10, 20)
        >>> h, c = cell(mg.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        if hx is not None and (not isinstance(hx, tuple) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0)")
        batched, gx, (h, c) = self._prepare(input, hx, 2)
        h, c = _lstm_step(gx, h, c, self.weight_hh, self.bias_hh)
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n, with r applied to W_hn h + b_hn).

    Example:
        >>> import microgradnp as mg
        >>> cell = mg.nn.GRUCell(10, 20)
        >>> cell(mg.randn(3, 10), mg.zeros(3, 20)).shape
        (3, 20)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        batched, gx, (h,) = self._prepare(input, hx, 1)
        return _unbatch(_gru_step(gx, h, self.weight_hh, self.bias_hh), batched)
