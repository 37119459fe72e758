"""Normalisation layers: `BatchNorm1d`, `BatchNorm2d` and `GroupNorm` (`LayerNorm` is in
`layers.py`), with PyTorch's arguments, buffers (`running_mean`, `running_var`,
`num_batches_tracked`) and `state_dict` keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..grad_mode import no_grad
from ..tensor import Tensor
from . import init
from .module import Module, Parameter
from .normalization_functions import batch_norm, group_norm


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Reset the running statistics to their initial values."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Initialise the parameters (and running statistics) as PyTorch does."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        if x.ndim not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {expected} input (got {x.ndim}D input)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():  # an in-place op (not a write to .data): captures see it
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / self.num_batches_tracked.item()
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L): per channel, the batch statistics in
    training (running statistics updated with `momentum`, or a cumulative average when
    None), the running statistics in eval mode.

    Example:
        >>> import microgradnp as mg
        >>> bn = mg.nn.BatchNorm1d(3)
        >>> bn, list(bn.state_dict())
        (BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, \
track_running_stats=True), ['weight', 'bias', 'running_mean', 'running_var', \
'num_batches_tracked'])
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel (see `BatchNorm1d`).

    Example:
        >>> import microgradnp as mg
        >>> bn = mg.nn.BatchNorm2d(6)
        >>> y = bn(mg.randn(8, 6, 5, 5))
        >>> y.shape, int(bn.num_batches_tracked.item())
        ((8, 6, 5, 5), 1)
    """

    _dims = (4,)


class GroupNorm(Module):
    """Group normalisation: the channels split into `num_groups` groups, each normalised
    per sample; learnable per-channel scale (ones) and shift (zeros) when `affine`.

    Example:
        >>> import microgradnp as mg
        >>> gn = mg.nn.GroupNorm(2, 4)
        >>> gn, gn(mg.randn(3, 4, 5)).shape
        (GroupNorm(2, 4, eps=1e-05, affine=True, bias=True), (3, 4, 5))
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups, num_channels, eps, affine)  # fmt: skip
        dt = dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_channels, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
