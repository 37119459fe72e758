"""Loss functions, re-exported by `mg.nn.functional`: `mse_loss`, `binary_cross_entropy`,
`binary_cross_entropy_with_logits`, `nll_loss`, `cross_entropy` and `kl_div`.

`reduction='mean'|'sum'|'none'` has PyTorch's meaning everywhere. The two binary
cross-entropies are primitives (value and gradient side by side, finite for any input);
`cross_entropy`'s common case (2-D logits, class indices, no options) is the fused
`ops.softmax_cross_entropy`, every other case a composite of `log_softmax`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..compile.hooks import greater_mask, replayable
from ..ops import (
    abs,
    astype,
    clip,
    exp,
    log,
    log1p,
    log_softmax,
    maximum,
    mean,
    permute,
    relu,
    reshape,
    sigmoid,
    softmax_cross_entropy,
    sum,
    where,
)
from ..primitive import primitive, raw
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED: dict[int, Any] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.uint16),
    4: np.dtype(np.uint32),
    8: np.dtype(np.uint64),
}


def _check_reduction(reduction: str, who: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return mean(loss) if raw(loss).size else sum(loss) * np.nan  # empty: nan, no warning
    return sum(loss) if reduction == "sum" else loss


def _float_target(target: Any, like: Any, who: str) -> Any:
    """The target in the input's dtype and shape: a Tensor if it requires grad (so that its
    gradient flows), otherwise a constant ndarray."""
    xr = raw(like)
    if isinstance(target, Tensor) and target.requires_grad:
        tgt = target if target.dtype == xr.dtype else astype(target, xr.dtype)
    else:
        tgt = np.asarray(raw(target))
        if tgt.dtype.kind not in "biuf":
            raise TypeError(f"{who}: target must be numeric, got dtype {tgt.dtype}")
        if tgt.dtype != xr.dtype:
            tgt = _as_dtype(tgt, xr.dtype)
    if raw(tgt).shape != xr.shape:
        raise ValueError(
            f"{who}: target shape {raw(tgt).shape} differs from input shape "
            f"{xr.shape}; they must be equal (reshape one of them)"
        )
    return tgt


@replayable  # a compiled function converts the target it reads at every replay
def _as_dtype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a.astype(dtype)


def _weight_array(weight: Any, shape: tuple, dtype: np.dtype, who: str, name: str) -> np.ndarray:
    """`weight` as an array that broadcasts to `shape` without changing it (as PyTorch)."""
    w = np.asarray(raw(weight))
    if w.dtype != dtype:
        w = _as_dtype(w, dtype)
    _check_broadcasts_into(w.shape, shape, who, name)
    return w


def _check_broadcasts_into(wshape: tuple, shape: tuple, who: str, name: str) -> None:
    try:
        full = np.broadcast_shapes(wshape, shape)
    except ValueError:
        full = None
    if full != shape:
        result = "" if full is None else f" (the loss would become {full})"
        raise ValueError(
            f"{who}: {name} of shape {wshape} does not broadcast to the input's shape "
            f"{shape}{result}; give it a shape that broadcasts to {shape}, e.g. "
            f"{shape[-1:] or ()} or {shape}"
        )


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error: reduce((input - target)^2).

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.functional.mse_loss(mg.tensor([1.0, 2.0]), mg.tensor([0.0, 0.0])).item()
        2.5
    """
    _check_reduction(reduction, "mse_loss")
    diff = input - _float_target(target, input, "mse_loss")
    return _reduce(diff * diff, reduction)


@primitive
def _binary_cross_entropy(x, y):
    # l = -(y log x + (1 - y) log(1 - x)); each log is clamped at -100, as in PyTorch, so that
    # x = 0 or 1 gives a finite loss
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
    return (y - 1.0) * log_1mx - y * log_x


@_binary_cross_entropy.defvjp(uses_out=False)
def _binary_cross_entropy_vjp(g, out, needs, x, y):
    gx = gy = None
    if needs[0]:
        # dl/dx = (x - y) / (x (1 - x)); the denominator is clamped at 1e-12 (PyTorch's eps)
        gx = g * (x - y) / maximum(x * (1.0 - x), 1e-12)
    if needs[1]:
        with np.errstate(divide="ignore"):  # dl/dy = log(1 - x) - log(x), clamped as above
            gy = g * (clip(log1p(-x), min=-100.0) - clip(log(x), min=-100.0))
    return gx, gy


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,  # noqa: A002
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities `input` (in [0, 1]) against `target`.

    Each log is clamped at -100, as in PyTorch, so probabilities of exactly 0 or 1 give a
    finite loss; prefer `binary_cross_entropy_with_logits` on logits.

    Example:
        >>> import microgradnp as mg
        >>> F = mg.nn.functional
        >>> round(F.binary_cross_entropy(mg.tensor([0.5]), mg.tensor([1.0])).item(), 4)
        0.6931
    """
    _check_reduction(reduction, "binary_cross_entropy")
    y = _float_target(target, input, "binary_cross_entropy")
    xr = raw(input)
    if xr.size and not (xr.min() >= 0.0 and xr.max() <= 1.0):
        raise ValueError(
            f"binary_cross_entropy: input must be probabilities in [0, 1], got "
            f"values in [{xr.min()}, {xr.max()}]; for logits use "
            f"binary_cross_entropy_with_logits"
        )
    loss = _binary_cross_entropy(input, y)
    if weight is not None:
        loss = loss * _weight_array(weight, xr.shape, xr.dtype, "binary_cross_entropy", "weight")
    return _reduce(loss, reduction)


def _softplus_neg(x: Any) -> Any:
    """softplus(-x) = log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0), finite for any x."""
    return log1p(exp(-abs(x))) + relu(-x)


@primitive
def _binary_cross_entropy_with_logits(x, y, pos_weight=None):
    # l = (1 - y) x + lw softplus(-x),  lw = 1 + (pos_weight - 1) y
    # (= max(x, 0) - x y + log1p(e^-|x|) without pos_weight): exp never overflows
    sp = np.log1p(np.exp(-np.abs(x)))
    sp += np.maximum(-x, 0)
    if pos_weight is None:
        return (1.0 - y) * x + sp
    return (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * sp


@_binary_cross_entropy_with_logits.defvjp(uses_out=False)
def _bce_with_logits_vjp(g, out, needs, x, y, pos_weight=None):
    gx = gy = gp = None
    if pos_weight is None:
        if needs[0]:
            gx = g * (sigmoid(x) - y)  # dl/dx = sigma(x) - y
        if needs[1]:
            gy = -(g * x)  # dl/dy = -x
        return gx, gy
    if needs[0]:  # dl/dx = lw sigma(x) - pos_weight y
        gx = g * ((1.0 + (pos_weight - 1.0) * y) * sigmoid(x) - pos_weight * y)
    if needs[1]:  # dl/dy = -x + (pos_weight - 1) softplus(-x)
        gy = g * ((pos_weight - 1.0) * _softplus_neg(x) - x)
    if len(needs) > 2 and needs[2]:  # dl/dpos_weight = y softplus(-x)
        gp = g * y * _softplus_neg(x)
    return gx, gy, gp


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,  # noqa: A002
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of `sigmoid(input)` against `target`, fused and stable.

    Finite loss and gradient (sigmoid(x) - y) for any logit, e.g. +-1e4. `pos_weight`
    (broadcast along the last dimension, e.g. one per class) multiplies the positive term.

    Example:
        >>> import microgradnp as mg
        >>> F = mg.nn.functional
        >>> F.binary_cross_entropy_with_logits(mg.tensor([1e4, -1e4]), mg.tensor([1.0, 0.0]),
        ...                                    reduction="sum").item()
        0.0
    """
    who = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, who)
    y = _float_target(target, input, who)
    xr = raw(input)
    if pos_weight is None:
        loss = _binary_cross_entropy_with_logits(input, y)
    else:
        if isinstance(pos_weight, Tensor) and pos_weight.requires_grad:
            _check_broadcasts_into(pos_weight.shape, xr.shape, who, "pos_weight")
        else:
            pos_weight = _weight_array(pos_weight, xr.shape, xr.dtype, who, "pos_weight")
        loss = _binary_cross_entropy_with_logits(input, y, pos_weight)
    if weight is not None:
        loss = loss * _weight_array(weight, xr.shape, xr.dtype, who, "weight")
    return _reduce(loss, reduction)


def _index_target(target: Any, xs: tuple, who: str) -> np.ndarray:
    t = np.asarray(raw(target))
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{who}: targets must be class indices of an integer dtype (or, for "
            f"cross_entropy, class probabilities of the input's shape {xs}); got "
            f"dtype {t.dtype} and shape {t.shape}"
        )
    expected = () if len(xs) == 1 else (xs[0],) + xs[2:]
    if t.shape != expected:
        raise ValueError(
            f"{who}: input of shape {xs} needs a target of shape {expected}, got {t.shape}"
        )
    return t


def _class_weight(weight: Any, n_classes: int, dtype: np.dtype, who: str) -> Any:
    if weight is None:
        return None
    w = np.asarray(raw(weight), dtype=dtype)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{who}: weight must have shape ({n_classes},), one per class, got {w.shape}"
        )
    return w


def _nll_terms(logp: Any, t: np.ndarray, w: Any, ignore_index: int, who: str) -> tuple:
    """Per-position losses -w[t] logp[t] (shape of t), the mean's denominator (the sum of
    the weights of the targets that are not ignored), and the keep mask (None: all kept)."""
    xs = raw(logp).shape
    n_classes = xs[0] if len(xs) == 1 else xs[1]
    if len(xs) == 1:
        x2 = reshape(logp, 1, n_classes)
    elif len(xs) == 2:
        x2 = logp
    else:  # (N, C, d1, ...) -> (N * d1 * ..., C)
        x2 = reshape(permute(logp, (0,) + tuple(range(2, len(xs))) + (1,)), -1, n_classes)
    flat = t.reshape(-1)
    ignored = flat == ignore_index
    bad = ~ignored & ((flat < 0) | (flat >= n_classes))
    if bad.any():
        raise ValueError(
            f"{who}: target {flat[bad][0]} is out of bounds: class indices must "
            f"lie in [0, {n_classes}) (or equal ignore_index={ignore_index})"
        )
    keep = None
    if ignored.any():
        keep = ~ignored
        flat = np.where(ignored, 0, flat)
    picked = x2[np.arange(flat.shape[0]), flat]
    dtype = raw(logp).dtype
    if w is None and keep is None:
        loss, denom = -picked, flat.shape[0]
    else:
        cw = np.ones(flat.shape, dtype) if w is None else w[flat]
        if keep is not None:
            cw = cw * keep
        loss, denom = picked * (-cw), cw.sum()
    loss = reshape(loss, t.shape)
    return loss, denom, (None if keep is None else keep.reshape(t.shape))


def _reduce_by(loss: Any, reduction: str, denom: Any) -> Any:
    if reduction == "none":
        return loss
    total = sum(loss)
    if reduction == "sum":
        return total
    if denom == 0:  # all ignored: the loss is nan but its gradient is 0, as in PyTorch
        return total * 0.0 + np.nan
    return total / denom


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    *,  # noqa: A002
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities `input`.

    `input` is (N, C), (N, C, d1, ...) or (C,); `target` holds indices of shape (N,),
    (N, d1, ...) or (). With `weight` (one per class) and `reduction='mean'` the sum is
    divided by the total weight of the targets that are not `ignore_index`, as in PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> logp = mg.log_softmax(mg.tensor([[2.0, 0.0], [0.0, 2.0]]), dim=1)
        >>> round(mg.nn.functional.nll_loss(logp, mg.tensor([0, 1])).item(), 4)
        0.1269
    """
    _check_reduction(reduction, "nll_loss")
    xs = raw(input).shape
    if not xs:
        raise ValueError("nll_loss: input must have at least 1 dimension (classes)")
    t = _index_target(target, xs, "nll_loss")
    n_classes = xs[0] if len(xs) == 1 else xs[1]
    w = _class_weight(weight, n_classes, raw(input).dtype, "nll_loss")
    loss, denom, _ = _nll_terms(input, t, w, ignore_index, "nll_loss")
    return _reduce_by(loss, reduction, denom)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,  # noqa: A002
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between softmax(input) over dim 1 (dim 0 for 1-D input) and `target`.

    `target` holds class indices ((N,), (N, d1, ...) or ()) or class probabilities (a float
    tensor of the input's shape). `weight` rescales each class, `ignore_index` drops
    positions, `label_smoothing` mixes the target with the uniform distribution; all with
    PyTorch's definitions. Stable for any logits.

    Example:
        >>> import microgradnp as mg
        >>> logits = mg.tensor([[2.0, 0.0, -1.0], [1e4, -1e4, 0.0]])
        >>> round(mg.nn.functional.cross_entropy(logits, mg.tensor([0, 0])).item(), 4)
        0.0849
    """
    t = target.data if isinstance(target, Tensor) else target
    if (
        weight is None
        and label_smoothing == 0.0
        and ignore_index < 0
        and type(t) is np.ndarray
        and t.ndim == 1
        and (t.dtype.kind == "i" or (t.dtype.kind == "u" and t.itemsize < 8))
    ):
        xr = raw(input)
        if xr.ndim == 2 and t.shape[0] == xr.shape[0] > 0 and reduction in _REDUCTIONS:
            # one max over the unsigned view catches negative and too large indices at once
            top = np.maximum.reduce(t.view(_UNSIGNED[t.itemsize]))
            if top < xr.shape[1]:
                return softmax_cross_entropy(input, t, reduction=reduction)
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy(
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,  # noqa: A002
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    who = "cross_entropy"
    _check_reduction(reduction, who)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{who}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    xr = raw(input)
    xs = xr.shape
    if not xs:
        raise ValueError(f"{who}: input must have at least 1 dimension (classes)")
    class_dim = 0 if len(xs) == 1 else 1
    n_classes = xs[class_dim]
    w = _class_weight(weight, n_classes, xr.dtype, who)
    w_b = None if w is None else w.reshape((n_classes,) + (1,) * (len(xs) - 1 - class_dim))
    logp = log_softmax(input, dim=class_dim)
    eps = label_smoothing
    tr = np.asarray(raw(target))
    if tr.dtype.kind == "f" and tr.shape == xs:  # class probabilities
        if ignore_index >= 0:
            raise ValueError(f"{who}: ignore_index is not supported with class-probability targets")
        p = _float_target(target, input, who)
        if eps > 0:
            p = p * (1.0 - eps) + eps / n_classes
        prod = logp * p if w_b is None else logp * p * w_b
        loss = -sum(prod, dim=class_dim)
        return _reduce_by(loss, reduction, xr.size // max(n_classes, 1))
    t = _index_target(target, xs, who)
    loss, denom, keep = _nll_terms(logp, t, w, ignore_index, who)
    nll = _reduce_by(loss, reduction, denom)
    if eps == 0:
        return nll
    smooth = -sum(logp if w_b is None else logp * w_b, dim=class_dim)
    if keep is not None:
        smooth = smooth * keep.astype(xr.dtype)
    return nll * (1.0 - eps) + _reduce_by(smooth, reduction, denom) * (eps / n_classes)


@replayable  # NumPy on the values: a compiled function recomputes it at every replay
def _xlogx_values(t: np.ndarray) -> np.ndarray:
    pos = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pos, t * np.log(np.where(pos, t, 1.0)), 0.0)


def _xlogx(t: Any) -> Any:
    """t * log(t), with 0 where t == 0 (PyTorch's xlogy(t, t))."""
    if not isinstance(t, Tensor) or not t.requires_grad:
        return _xlogx_values(raw(t))
    pos = greater_mask(raw(t), 0)  # (recomputed at every replay of a compiled function)
    safe = where(pos, t, np.ones_like(raw(t)))
    return where(pos, t * log(safe), np.zeros_like(raw(t)))


def kl_div(
    input: Any,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence with `input` as log-probabilities, as PyTorch:
    pointwise target * (log(target) - input) (0 where target == 0), or with
    `log_target=True` exp(target) * (target - input).

    `reduction='batchmean'` (sum / batch size) is the mathematical KL divergence; 'mean'
    averages over all elements and warns, as PyTorch does; 'sum' and 'none' as elsewhere.

    Example:
        >>> import microgradnp as mg
        >>> logq = mg.log(mg.tensor([[0.5, 0.5]]))
        >>> p = mg.tensor([[0.9, 0.1]])
        >>> round(mg.nn.functional.kl_div(logq, p, reduction="batchmean").item(), 4)
        0.3681
    """
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(
            f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}"
        )
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    t = _float_target(target, input, "kl_div")
    if log_target:
        loss = exp(t) * (t - input)
    else:
        loss = _xlogx(t) - t * input
    if reduction == "batchmean":
        n = raw(input).shape[0] if raw(input).ndim else 1
        return sum(loss) / n
    return _reduce(loss, reduction)
