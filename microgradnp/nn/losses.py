"""Loss modules: thin `Module` wrappers over the functions in `loss_functions.py`.

Class weights (`weight`, `pos_weight`) are registered as buffers, as in PyTorch.

Example:
    >>> import microgradnp as mg
    >>> loss_fn = mg.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss_fn
    CrossEntropyLoss()
    >>> round(loss_fn(mg.tensor([[3.0, 0.0]]), mg.tensor([0])).item(), 4)
    0.1986
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import loss_functions as L
from .module import Module


def _as_buffer(value: Any) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        L._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))


class MSELoss(_Loss):
    """Mean squared error: `F.mse_loss`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of `input` against `target` (see the class), reduced by `self.reduction`."""
        return L.mse_loss(input, target, self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities: `F.binary_cross_entropy`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of `input` against `target` (see the class), reduced by `self.reduction`."""
        return L.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, fused and stable: `F.binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of `input` against `target` (see the class), reduced by `self.reduction`."""
        return L.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities: `F.nll_loss`."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of `input` against `target` (see the class), reduced by `self.reduction`."""
        return L.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class CrossEntropyLoss(_WeightedLoss):
    """Softmax + negative log-likelihood from logits, with class-index or class-probability
    targets: `F.cross_entropy`."""

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of `input` against `target` (see the class), reduced by `self.reduction`."""
        return L.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class KLDivLoss(Module):
    """Kullback-Leibler divergence of log-probabilities `input` from `target`: `F.kl_div`.

    `reduction` is 'mean' (default, warns as PyTorch), 'batchmean', 'sum' or 'none'.

    Example:
        >>> import microgradnp as mg
        >>> loss_fn = mg.nn.KLDivLoss(reduction="batchmean", log_target=True)
        >>> logp = mg.log(mg.tensor([[0.25, 0.75]]))
        >>> loss_fn(logp, logp).item()
        0.0
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(
                f"KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', "
                f"got {reduction!r}"
            )
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """Apply the layer (see the class docstring for the computation)."""
        return L.kl_div(input, target, self.reduction, self.log_target)
