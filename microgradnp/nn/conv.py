"""Convolution layers: `Conv1d`, `Conv2d`, `ConvTranspose2d`, with PyTorch's constructor
arguments, `state_dict` keys (`weight`, `bias`) and initialisation (kaiming_uniform with
a = sqrt(5) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..ops.im2col import pair
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class _ConvNd(Module):
    """Shared constructor, initialisation and repr of the convolution layers."""

    _n = 2
    _transposed = False

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
        padding_mode: str = "zeros",
        output_padding: Any = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        n = self._n
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                f"divisible by groups ({groups})"
            )
        if padding_mode not in ("zeros", "reflect", "replicate"):
            raise ValueError(
                f"padding_mode must be 'zeros', 'reflect' or 'replicate', got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", n)
        self.stride = pair(stride, "stride", n)
        self.dilation = pair(dilation, "dilation", n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be 'same' or 'valid'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding: Any = padding
        else:
            self.padding = pair(padding, "padding", n)
        self.output_padding = pair(output_padding, "output_padding", n)
        self.groups, self.padding_mode = groups, padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        dt = dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise the parameters (and running statistics) as PyTorch does."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1.0 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _input(self, x: Tensor) -> tuple[Tensor, Any]:
        """Apply a non-zero padding mode as an explicit pad; return (input, padding)."""
        if self.padding_mode == "zeros" or self.padding == "valid":
            return x, self.padding
        if self.padding == "same":
            total = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
            widths = [(t // 2, t - t // 2) for t in total]
        else:
            widths = [(p, p) for p in self.padding]
        flat = tuple(v for lo_hi in reversed(widths) for v in lo_hi)
        return F.pad(x, flat, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Shared constructor and forward of `Conv1d` and `Conv2d`."""

    _conv = staticmethod(conv2d)

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
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        x, padding = self._input(x)
        return self._conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                          self.groups)  # fmt: skip


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): weight (C_out, C_in / groups, kh, kw).

    Example:
        >>> import microgradnp as mg
        >>> conv = mg.nn.Conv2d(1, 6, 5, padding=2)
        >>> conv, conv(mg.randn(8, 1, 28, 28)).shape
        (Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2)), (8, 6, 28, 28))
    """


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in / groups, k).

    Example:
        >>> import microgradnp as mg
        >>> conv = mg.nn.Conv1d(4, 8, 3, padding="same")
        >>> conv, conv(mg.randn(2, 4, 10)).shape
        (Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=same), (2, 8, 10))
    """

    _n = 1
    _conv = staticmethod(conv1d)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of a convolution with respect to its input;
    "deconvolution"): weight (C_in, C_out / groups, kh, kw), H_out = (H - 1) * stride -
    2 * padding + dilation * (kh - 1) + output_padding + 1.

    Example:
        >>> import microgradnp as mg
        >>> up = mg.nn.ConvTranspose2d(16, 8, 2, stride=2)
        >>> up, up(mg.randn(1, 16, 7, 7)).shape
        (ConvTranspose2d(16, 8, kernel_size=(2, 2), stride=(2, 2)), (1, 8, 14, 14))
    """

    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        output_padding = self.output_padding
        if output_size is not None:  # PyTorch's choice of output_padding for a wanted size
            size = tuple(output_size)[-2:]
            smallest = [
                (x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1) + 1
                for i in range(2)
            ]  # fmt: skip
            output_padding = tuple(s - m for s, m in zip(size, smallest, strict=True))
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)  # fmt: skip
