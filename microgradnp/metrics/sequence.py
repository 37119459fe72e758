"""Metrics for sequence models: `perplexity` (from cross-entropy) and `char_accuracy`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .classification import _whole_floats_to_int


def perplexity(
    loss_or_targets: Any, y_pred: Any = None, *, ignore_index: int | None = None
) -> float:
    """Perplexity `exp(mean cross-entropy in nats)` of a language model.

    Called with one argument, that argument is the mean cross-entropy (a float, a 0-d tensor
    such as a `CrossEntropyLoss` value, or per-token losses, which are averaged). Called as
    `perplexity(targets, logits)`, it computes the cross-entropy itself: `targets` are integer
    class indices of any shape S and `logits` have shape S + (n_classes,) (log-probabilities
    work too, not probabilities); positions whose target is `ignore_index` are left out.

    Args:
        loss_or_targets: a mean cross-entropy in nats (or per-token losses), or, with
            `y_pred`, integer targets of shape S.
        y_pred: logits of shape S + (n_classes,).
        ignore_index: a target value to leave out (e.g. padding), as in `CrossEntropyLoss`.

    Returns:
        `exp(mean negative log-likelihood)`: 1.0 for a perfect model, `n_classes` for a
        uniform guess.

    Example:
        >>> round(perplexity(np.log(4.0)), 6)  # as uncertain as a fair 4-sided die
        4.0
        >>> round(perplexity([0, 1], np.zeros((2, 5))), 6)  # uniform over 5 classes
        5.0
    """
    if y_pred is None:
        losses = np.asarray(loss_or_targets, dtype=np.float64)
        if losses.size == 0:
            raise ValueError("perplexity: no loss values given")
        if np.isnan(losses).any():
            raise ValueError("perplexity: the loss values contain NaN")
        mean = float(losses.mean())
        if mean < 0:
            raise ValueError(f"perplexity: a cross-entropy cannot be negative, got {mean}")
        return float(np.exp(mean))
    targets = np.asarray(loss_or_targets)
    logits = np.asarray(y_pred, dtype=np.float64)
    if np.isnan(logits).any():
        raise ValueError("perplexity: the logits contain NaN")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"perplexity: logits must have shape targets.shape + (n_classes,), got targets "
            f"{targets.shape} and logits {logits.shape}"
        )
    targets = _whole_floats_to_int(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"perplexity: targets must be integer class indices, got {targets.dtype}")
    keep = np.ones(targets.shape, bool) if ignore_index is None else targets != ignore_index
    targets, logits = targets[keep], logits[keep]
    if targets.size == 0:
        raise ValueError("perplexity: no targets left to score")
    n_classes = logits.shape[-1]
    if targets.min() < 0 or targets.max() >= n_classes:
        raise ValueError(
            f"perplexity: targets must lie in [0, {n_classes}), got values from {targets.min()} "
            f"to {targets.max()}"
        )
    # log softmax, shifted by the row maximum so that exp never overflows
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[:, None], axis=-1)
    return float(np.exp(nll.mean()))


def _sequence_pairs(y_true: Any, y_pred: Any) -> list[tuple[Any, Any]]:
    if isinstance(y_true, (str, bytes)):
        return [(y_true, y_pred)]
    if (
        isinstance(y_true, (list, tuple))
        and y_true
        and (isinstance(y_true[0], (str, bytes)) or np.asarray(y_true[0]).ndim > 0)
    ):
        if len(y_true) != len(y_pred):
            raise ValueError(
                f"char_accuracy: {len(y_true)} true sequences but {len(y_pred)} predicted"
            )
        return [pair for t, p in zip(y_true, y_pred, strict=True) for pair in _sequence_pairs(t, p)]
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if pred.ndim == true.ndim + 1 and pred.dtype.kind == "f":
        pred = pred.argmax(axis=-1)  # scores over the vocabulary at each position
    if true.ndim == 2 and pred.ndim == 2 and len(true) == len(pred):
        return list(zip(true, pred, strict=True))
    if true.ndim > 1 or pred.ndim > 1:
        raise ValueError(
            f"char_accuracy: cannot pair sequences of shapes {true.shape} and {pred.shape}"
        )
    return [(true, pred)]


def char_accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of characters (or tokens) predicted correctly, position by position.

    Inputs may be two strings, two 1-D sequences of tokens, lists of strings or sequences
    (scored together), or arrays of shape (n_sequences, length); `y_pred` may also be
    scores of shape `y_true.shape + (vocab_size,)`, whose argmax is taken. When two sequences
    differ in length, position `i` counts as correct only if both have it and it matches, and
    the pair contributes `max(len(true), len(pred))` positions: missing or extra characters
    are errors. The result is the total number of matches over the total number of positions;
    with no positions at all (nothing or only empty sequences) it is undefined and raises
    `ValueError`.

    Args:
        y_true: a string or token sequence, a list of them, or an array (n_sequences, length).
        y_pred: the same structure, or scores with one more (vocabulary) axis.

    Example:
        >>> char_accuracy("hello", "hallo")
        0.8
        >>> char_accuracy(["abc", "de"], ["abd", "def"])  # (2 + 2) / (3 + 3)
        0.6666666666666666
    """
    matches = positions = 0
    for true, pred in _sequence_pairs(y_true, y_pred):
        n_common = min(len(true), len(pred))
        if isinstance(true, (str, bytes)) or isinstance(pred, (str, bytes)):
            matches += sum(a == b for a, b in zip(true[:n_common], pred[:n_common], strict=True))
        else:
            matches += int(
                np.count_nonzero(np.asarray(true)[:n_common] == np.asarray(pred)[:n_common])
            )
        positions += max(len(true), len(pred))
    if positions == 0:
        raise ValueError(
            "char_accuracy: there are no characters to score (every sequence is empty)"
        )
    return matches / positions
