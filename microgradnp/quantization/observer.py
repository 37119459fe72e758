"""Calibration observers: modules that watch the tensors passing through them and choose the
activation scale and zero point for static quantization (PyTorch's `torch.ao.quantization`
observers, per-tensor affine uint8).

Example:
    >>> import microgradnp as mg
    >>> obs = MinMaxObserver()
    >>> _ = obs(mg.tensor([-1.0, 0.5])); _ = obs(mg.tensor([2.0]))
    >>> scale, zero_point = obs.calculate_qparams()
    >>> obs.min_val.item(), obs.max_val.item(), round(scale * 255, 5), zero_point
    (-1.0, 2.0, 3.0, 85)
"""

from __future__ import annotations

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor
from .qfunctional import choose_qparams

__all__ = ["MinMaxObserver", "PercentileObserver"]


def _array(x: Tensor) -> np.ndarray:
    if not isinstance(x, Tensor):
        raise TypeError(f"observers watch mg.Tensors, got {type(x).__name__}")
    return np.asarray(x.data)


class MinMaxObserver(Module):
    """Keeps the running minimum and maximum of everything it sees; the quantization range
    covers them all (one outlier widens it for every value)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("min_val", Tensor(np.array(np.inf, dtype=np.float32)))
        self.register_buffer("max_val", Tensor(np.array(-np.inf, dtype=np.float32)))

    def forward(self, x: Tensor) -> Tensor:
        """Record x's range; return x unchanged."""
        a = _array(x)
        if a.size:
            self.min_val.data[...] = min(float(self.min_val.data), float(a.min()))
            self.max_val.data[...] = max(float(self.max_val.data), float(a.max()))
        return x

    def calculate_qparams(self) -> tuple[float, int]:
        """(scale, zero_point) of uint8 codes covering the observed range and 0."""
        return choose_qparams(float(self.min_val.data), float(self.max_val.data))


class PercentileObserver(Module):
    """Clips the range to the `percentile`-th (and 100 - `percentile`-th) percentile of each
    batch, averaged over the calibration batches: outliers saturate instead of stretching the
    scale for everyone (the percentile calibration of TensorRT and NVIDIA's
    pytorch-quantization).

    Example:
        >>> import microgradnp as mg, numpy as np
        >>> obs = PercentileObserver(percentile=99.0)
        >>> _ = obs(mg.tensor(np.r_[np.linspace(0, 1, 999), 100.0]))
        >>> round(obs.max_val.item(), 3)
        0.991
    """

    def __init__(self, percentile: float = 99.99) -> None:
        super().__init__()
        if not 50.0 < float(percentile) <= 100.0:
            raise ValueError(f"percentile must lie in (50, 100], got {percentile}")
        self.percentile = float(percentile)
        self.register_buffer("min_val", Tensor(np.array(0.0, dtype=np.float32)))
        self.register_buffer("max_val", Tensor(np.array(0.0, dtype=np.float32)))
        self.register_buffer("num_batches", Tensor(np.array(0, dtype=np.int64)))

    def forward(self, x: Tensor) -> Tensor:
        """Fold x's percentiles into the running means; return x unchanged."""
        a = _array(x)
        if a.size:
            lo, hi = np.percentile(a, [100.0 - self.percentile, self.percentile])
            n = int(self.num_batches.data)
            self.min_val.data[...] = (float(self.min_val.data) * n + lo) / (n + 1)
            self.max_val.data[...] = (float(self.max_val.data) * n + hi) / (n + 1)
            self.num_batches.data[...] = n + 1
        return x

    def calculate_qparams(self) -> tuple[float, int]:
        """(scale, zero_point) of uint8 codes covering the clipped range and 0."""
        if int(self.num_batches.data) == 0:
            raise ValueError("PercentileObserver: no data observed; run calibration batches")
        return choose_qparams(float(self.min_val.data), float(self.max_val.data))

    def extra_repr(self) -> str:
        """The percentile, shown in `repr`."""
        return f"percentile={self.percentile}"
