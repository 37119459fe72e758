"""Pooling layers: `MaxPool1d/2d`, `AvgPool1d/2d`, `AdaptiveAvgPool2d` (no parameters),
thin modules over `pooling_functions.py` with PyTorch's arguments and repr.
"""

from __future__ import annotations

from typing import Any

from ..ops.im2col import pair
from ..tensor import Tensor
from . import pooling_functions as P
from .module import Module


class _MaxPoolNd(Module):
    """Shared constructor, forward and repr of `MaxPool1d` and `MaxPool2d`."""

    _pool = staticmethod(P.max_pool2d)

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        """Apply the layer (see the class docstring for the computation)."""
        return self._pool(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)  # fmt: skip

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling (stride defaults to kernel_size).

    Example:
        >>> import microgradnp as mg
        >>> pool = mg.nn.MaxPool2d(2)
        >>> pool, pool(mg.randn(1, 3, 8, 8)).shape
        (MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False), (1, 3, 4, 4))
    """

    _pool = staticmethod(P.max_pool2d)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L).

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.MaxPool1d(3, stride=2)(mg.randn(2, 4, 9)).shape
        (2, 4, 4)
    """

    _pool = staticmethod(P.max_pool1d)


class _AvgPoolNd(Module):
    """Shared repr of `AvgPool1d` and `AvgPool2d`."""

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling (zero padding counted in the divisor when count_include_pad).

    Example:
        >>> import microgradnp as mg
        >>> pool = mg.nn.AvgPool2d(2)
        >>> pool, pool(mg.ones(1, 1, 4, 4)).tolist()
        (AvgPool2d(kernel_size=2, stride=2, padding=0), [[[[1.0, 1.0], [1.0, 1.0]]]])
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return P.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)  # fmt: skip


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L).

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.AvgPool1d(2)(mg.tensor([[[1.0, 3.0, 5.0, 7.0]]])).tolist()
        [[[2.0, 6.0]]]
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        # PyTorch keeps AvgPool1d's sizes as 1-tuples (and AvgPool2d's as given)
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride if stride is not None else kernel_size, "stride", 1)
        self.padding, self.ceil_mode = pair(padding, "padding", 1), ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return P.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)  # fmt: skip


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Example:
        >>> import microgradnp as mg
        >>> pool = mg.nn.AdaptiveAvgPool2d((1, 1))
        >>> pool, pool(mg.randn(2, 8, 7, 5)).shape
        (AdaptiveAvgPool2d(output_size=(1, 1)), (2, 8, 1, 1))
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"output_size={self.output_size}"
