"""Quantized `Linear` and `Conv2d`: int8 weights with symmetric per-output-channel scales,
uint8 activation codes, int32 accumulation (see `qfunctional`), float input and output.

Dynamic (`static=False`, made by `quantize_dynamic`): each input's scale and zero point come
from that input's own range, at run time. Static (`static=True`, made by `convert` after
calibration): the input and output scales and zero points are fixed buffers chosen by the
observers, and the output is rounded to its uint8 grid, as the next quantized layer will read
it. Both are inference-only: their outputs carry no gradient.

The state dict holds `weight` (int8), `weight_scale` (float32, one per output channel),
`bias` (float32) and, when static, the four activation parameters.

Example:
    >>> import microgradnp as mg
    >>> lin = mg.nn.Linear(4, 3)
    >>> q = QuantizedLinear.from_float(lin)
    >>> q
    QuantizedLinear(in_features=4, out_features=3, dynamic)
    >>> q.weight.dtype, list(q.state_dict())
    (dtype('int8'), ['weight', 'weight_scale', 'bias'])
    >>> x = mg.randn(2, 4)
    >>> bool(abs(q(x) - lin(x)).max() < 0.05)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import no_grad
from ..nn.conv import Conv2d
from ..nn.layers import Linear
from ..nn.module import Module
from ..ops.conv import conv2d
from ..tensor import Tensor
from .qfunctional import (
    choose_qparams,
    exact_dtype,
    fake_quantize,
    int_linear,
    quantize_activation,
    quantize_weight,
)

__all__ = ["QuantizedConv2d", "QuantizedLinear"]


class _QuantizedLayer(Module):
    """Weight buffers, activation quantization and rescaling shared by the layers."""

    def __init__(self, weight_shape: tuple[int, ...], bias: bool, static: bool) -> None:
        super().__init__()
        self.static = bool(static)
        self.register_buffer("weight", Tensor(np.zeros(weight_shape, dtype=np.int8)))
        self.register_buffer("weight_scale", Tensor(np.ones(weight_shape[0], dtype=np.float32)))
        bias_value = np.zeros(weight_shape[0], dtype=np.float32) if bias else None
        self.register_buffer("bias", None if bias_value is None else Tensor(bias_value))
        if self.static:
            for name in ("input_scale", "output_scale"):
                self.register_buffer(name, Tensor(np.array(1.0, dtype=np.float32)))
            for name in ("input_zero_point", "output_zero_point"):
                self.register_buffer(name, Tensor(np.array(0, dtype=np.int64)))

    def _set_float(self, weight: Tensor, bias: Tensor | None) -> None:
        q, scale = quantize_weight(np.asarray(weight.data))
        self.weight.data[...] = q
        self.weight_scale.data[...] = scale
        if bias is not None:
            self.bias.data[...] = np.asarray(bias.data, dtype=np.float32)

    def set_activation_qparams(self, inp: tuple[float, int], out: tuple[float, int]) -> None:
        """Fix the (scale, zero_point) of the input and the output (static layers only)."""
        if not self.static:
            raise RuntimeError("a dynamic quantized layer chooses its activation scales itself")
        self.input_scale.data[...], self.input_zero_point.data[...] = inp
        self.output_scale.data[...], self.output_zero_point.data[...] = out

    def _accumulate(self, xc: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Quantize x, accumulate in integers, rescale to float (see the module docstring)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__} expects an mg.Tensor, got {type(x).__name__}")
        a = np.asarray(x.data, dtype=np.float32)
        if self.static:
            scale, zp = float(self.input_scale.data), int(self.input_zero_point.data)
        else:
            scale, zp = choose_qparams(float(a.min()), float(a.max())) if a.size else (1.0, 0)
        xc = quantize_activation(a, scale, zp).astype(np.int16) - np.int16(zp)
        acc = self._accumulate(xc)
        shape = (-1,) + (1,) * (self.weight.ndim - 2)  # (O,) for Linear, (O, 1, 1) for Conv2d
        ws = self.weight_scale.data.reshape(shape)
        y = acc.astype(np.float32) * (np.float32(scale) * ws)
        if self.bias is not None:
            y += self.bias.data.reshape(shape)
        if self.static:
            y = fake_quantize(y, float(self.output_scale.data), int(self.output_zero_point.data))
        return Tensor._wrap(y.astype(np.float32))

    def _mode(self) -> str:
        return "static" if self.static else "dynamic"


class QuantizedLinear(_QuantizedLayer):
    """`Linear` with int8 weights: y = s_x * s_w[o] * sum_k (q_x - z_x) q_w[o, k] + b[o]."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, static: bool = False
    ) -> None:
        super().__init__((out_features, in_features), bias, static)
        self.in_features, self.out_features = in_features, out_features

    @classmethod
    def from_float(cls, mod: Linear, static: bool = False) -> QuantizedLinear:
        """The quantized copy of a float `Linear`."""
        if not isinstance(mod, Linear):
            raise TypeError(
                f"QuantizedLinear.from_float expects nn.Linear, got {type(mod).__name__}"
            )
        q = cls(mod.in_features, mod.out_features, mod.bias is not None, static)
        q._set_float(mod.weight, mod.bias)
        return q

    def _accumulate(self, xc: np.ndarray) -> np.ndarray:
        if xc.shape[-1] != self.in_features:
            raise ValueError(
                f"QuantizedLinear: input of shape {xc.shape} does not end in in_features="
                f"{self.in_features}"
            )
        return int_linear(xc, self.weight.data)

    def extra_repr(self) -> str:
        """The sizes and the mode, shown in `repr`."""
        return f"in_features={self.in_features}, out_features={self.out_features}, {self._mode()}"


class QuantizedConv2d(_QuantizedLayer):
    """`Conv2d` with int8 weights (zero padding only; the padded zeros are exact codes)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        static: bool = False,
    ) -> None:
        probe = Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        super().__init__(tuple(probe.weight.shape), bias, static)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = probe.kernel_size, probe.stride
        self.padding, self.dilation, self.groups = probe.padding, probe.dilation, groups

    @classmethod
    def from_float(cls, mod: Conv2d, static: bool = False) -> QuantizedConv2d:
        """The quantized copy of a float `Conv2d`."""
        if not isinstance(mod, Conv2d):
            raise TypeError(
                f"QuantizedConv2d.from_float expects nn.Conv2d, got {type(mod).__name__}"
            )
        if mod.padding_mode != "zeros":
            raise ValueError(
                f"QuantizedConv2d supports padding_mode='zeros' only, got {mod.padding_mode!r}"
            )
        q = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                mod.dilation, mod.groups, mod.bias is not None, static)  # fmt: skip
        q._set_float(mod.weight, mod.bias)
        return q

    def _accumulate(self, xc: np.ndarray) -> np.ndarray:
        if xc.ndim != 4 or xc.shape[1] != self.in_channels:
            raise ValueError(
                f"QuantizedConv2d: expected input (N, {self.in_channels}, H, W), got {xc.shape}"
            )
        w = self.weight.data
        ft = exact_dtype(int(np.prod(w.shape[1:])))
        with no_grad():
            acc = conv2d(Tensor._wrap(xc.astype(ft)), Tensor._wrap(w.astype(ft)), None,
                         self.stride, self.padding, self.dilation, self.groups)  # fmt: skip
        return np.asarray(acc.data).astype(np.int32)

    def extra_repr(self) -> str:
        """The geometry and the mode, shown in `repr`."""
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, {self._mode()}"
        )
