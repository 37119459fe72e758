"""Metrics for language models beyond `perplexity` and `char_accuracy` (in `sequence.py`):
`bits_per_char` (mean cross-entropy in bits) and `top_k_accuracy`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .sequence import perplexity


def bits_per_char(
    loss_or_targets: Any, y_pred: Any = None, *, ignore_index: int | None = None
) -> float:
    """Mean cross-entropy in bits per character (or token): `log2(perplexity)`.

    Takes the same arguments as `perplexity`: a mean cross-entropy in nats (or per-token
    losses), or integer targets of shape S with logits of shape S + (n_classes,).

    Example:
        >>> bits_per_char(math.log(4.0))  # a fair 4-sided die: two bits per symbol
        2.0
        >>> round(bits_per_char([0, 1], np.zeros((2, 8))), 6)  # uniform over 8 classes
        3.0
    """
    # log2(exp(nats)) = nats / ln 2; via perplexity so that both share one set of checks
    return math.log2(perplexity(loss_or_targets, y_pred, ignore_index=ignore_index))


def top_k_accuracy(y_true: Any, y_score: Any, k: int = 2) -> float:
    """Fraction of positions whose true class is among the `k` highest scores.

    `y_true` holds integer classes of any shape S, `y_score` scores (logits, probabilities or
    log-probabilities) of shape S + (n_classes,). Ties are broken as in scikit-learn's
    `top_k_accuracy_score` (among equal scores, the higher class index ranks first), which
    gives the same numbers for 2-D scores; `k=1` is the usual accuracy of the argmax, and
    `k >= n_classes` gives 1.0.

    Example:
        >>> scores = np.array([[0.5, 0.2, 0.3], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])
        >>> top_k_accuracy([2, 1, 0], scores, k=1), top_k_accuracy([2, 1, 0], scores, k=2)
        (0.3333333333333333, 0.6666666666666666)
    """
    true = np.asarray(getattr(y_true, "data", y_true))
    score = np.asarray(getattr(y_score, "data", y_score))
    if score.ndim < 1 or score.shape[:-1] != true.shape:
        raise ValueError(
            f"top_k_accuracy: y_score must have shape y_true.shape + (n_classes,), got "
            f"y_true {true.shape} and y_score {score.shape}"
        )
    if true.dtype.kind == "f" and np.all(true == np.round(true)):
        true = true.astype(np.int64)
    if true.dtype.kind not in "iu":
        raise TypeError(f"top_k_accuracy: y_true must be integer classes, got {true.dtype}")
    n_classes = score.shape[-1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k_accuracy: k must be a positive int, got {k!r}")
    true, score = true.reshape(-1), score.reshape(-1, n_classes)
    if true.size == 0:
        raise ValueError("top_k_accuracy: no samples to score")
    if true.min() < 0 or true.max() >= n_classes:
        raise ValueError(
            f"top_k_accuracy: classes must lie in [0, {n_classes}), got values from "
            f"{true.min()} to {true.max()}"
        )
    # scikit-learn's ranking: a stable ascending sort, read backwards
    top = np.argsort(score, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return float(np.mean(np.any(top == true[:, None], axis=1)))
