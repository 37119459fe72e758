"""`mg.nn.functional` (imported as `F`): the stateless functions behind the layers and losses.

Activations and `linear` are the core ops; `dropout`, `embedding` and `layer_norm` are
composites defined here; the losses come from `loss_functions.py`.

Example:
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> x = mg.tensor([[1.0, -1.0]])
    >>> F.relu(x).tolist(), round(F.softmax(x, dim=1).sum().item(), 6)
    ([[1.0, 0.0]], 1.0)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops
from ..compile.hooks import not_replayable
from ..ops import linear, one_hot, pad, relu, sigmoid, tanh
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..ops.im2col import fold, unfold
from ..ops.layer_norm import layer_normalize
from ..primitive import raw
from ..tensor import Tensor
from .activation_functions import elu, gelu, leaky_relu, silu, softplus
from .attention import scaled_dot_product_attention
from .dropout_functions import dropout
from .loss_functions import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    mse_loss,
    nll_loss,
)
from .normalization_functions import batch_norm, group_norm
from .pooling_functions import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "group_norm",
    "kl_div",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "unfold",
]


def _softmax_dim(ndim: int, name: str) -> int:
    # PyTorch's legacy rule when no dim is given (deprecated there too, hence the warning)
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call "
        f"to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along `dim` (stable for any input)."""
    if dim is None:
        dim = _softmax_dim(raw(input).ndim, "softmax")
    return ops.softmax(input, dim)


def log_softmax(input: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """x - logsumexp(x) along `dim` (stable for any input)."""
    if dim is None:
        dim = _softmax_dim(raw(input).ndim, "log_softmax")
    return ops.log_softmax(input, dim)


def embedding(
    input: Any,  # noqa: A002
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by the integer tensor `input`.

    Gradients of repeated indices add up; the row `padding_idx` receives no gradient. With
    `max_norm`, the looked-up rows whose `norm_type`-norm exceeds it are rescaled to it in
    place first (as PyTorch, outside the graph); with `scale_grad_by_freq`, each row's
    gradient is divided by how often it occurs in `input`. Sparse gradients do not exist.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> mg.nn.functional.embedding(mg.tensor([[2, 1]]), w).tolist()
        [[[3.0, 4.0], [1.0, 2.0]]]
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported (sparse=False)")
    idx = np.asarray(raw(input))
    num = raw(weight).shape[0]
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(
            f"embedding: indices must lie in [0, {num}), got values in [{idx.min()}, {idx.max()}]"
        )
    if max_norm is not None or scale_grad_by_freq:
        # NumPy on the indices' and weight's values: mg.compile cannot read them at replay
        not_replayable("embedding with max_norm or scale_grad_by_freq")
    if max_norm is not None:
        rows = np.unique(idx)
        w = raw(weight)
        norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
        big = norms > max_norm
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
    if scale_grad_by_freq:
        # each row's gradient divided by its count in input; (a - a) is exactly 0, so the
        # values are exactly the rows of weight
        count = np.bincount(idx.ravel(), minlength=num)
        scale = (1.0 / np.maximum(count, 1)).astype(raw(weight).dtype)[:, None]
        picked = (weight * scale)[idx]
        out = (picked - raw(picked)) + raw(weight)[idx]
    else:
        out = weight[idx]
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += num
    # where() passes the gradient only to the selected branch; the padding rows take the
    # constant copy, so weight[padding_idx] gets none
    # (both built by lookups with `idx`, so that mg.compile reads the indices at replay)
    keep = ops.getitem(np.arange(num) != padding_idx, idx)[..., None]
    return ops.where(keep, out, (weight.detach() if isinstance(weight, Tensor) else weight)[idx])


def layer_norm(
    input: Any,
    normalized_shape: int | tuple[int, ...],  # noqa: A002
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing `normalized_shape` dimensions to zero mean and unit
    (biased) variance, then scale by `weight` and shift by `bias`.

    Example:
        >>> import microgradnp as mg
        >>> y = mg.nn.functional.layer_norm(mg.tensor([[1.0, 2.0, 3.0]]), (3,))
        >>> [round(v, 3) for v in y.tolist()[0]]
        [-1.225, 0.0, 1.225]
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    xs = raw(input).shape
    if not shape or xs[len(xs) - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: input of shape {xs} does not end with normalized_shape {shape}"
        )
    # one primitive (biased variance, as PyTorch); see ops/layer_norm.py
    out = layer_normalize(input, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
