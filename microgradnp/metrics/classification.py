"""Classification metrics: accuracy, precision, recall, F1, confusion matrix and report.

Inputs as described in `microgradnp.metrics`; numbers and warnings as scikit-learn's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A metric was 0/0 and was set by `zero_division` (scikit-learn's warning of that name)."""


def _whole_floats_to_int(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    return a


def _no_nan(a: np.ndarray, name: str) -> None:
    """scikit-learn's check: NaN is neither a label nor a score (argmax would pick it)."""
    if a.dtype.kind in "fc" and np.isnan(a).any():
        raise ValueError(f"Input {name} contains NaN.")


def _true_labels(y_true: Any) -> np.ndarray:
    a = np.asarray(y_true)
    _no_nan(a, "y_true")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(
            f"y_true must be 1-D class labels, got shape {a.shape}; for one-hot or probability "
            f"targets pass y_true.argmax(-1)"
        )
    a = _whole_floats_to_int(a)
    if a.dtype.kind in "fc":
        raise ValueError("y_true must hold class labels, got floats that are not whole numbers")
    return a


def _pred_labels(y_pred: Any) -> np.ndarray:
    a = np.asarray(y_pred)
    _no_nan(a, "y_pred")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    elif a.ndim == 2:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"2-D y_pred must hold numeric scores, got dtype {a.dtype}")
        return a.argmax(axis=-1)
    if a.ndim != 1:
        raise ValueError(
            f"y_pred must be 1-D labels or probabilities, or 2-D scores (n_samples, n_classes); "
            f"got shape {a.shape}"
        )
    a = _whole_floats_to_int(a)
    if a.dtype.kind == "f":
        if a.size and not (np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0):
            raise ValueError(
                f"1-D float y_pred that are not whole numbers are read as probabilities of the "
                f"positive class and must lie in [0, 1], got values in [{a.min()}, {a.max()}]; "
                f"apply a sigmoid to logits first"
            )
        a = (a > 0.5).astype(np.int64)
    return a


def _is_text(a: np.ndarray) -> bool:
    if a.dtype.kind == "O":
        return any(isinstance(v, (str, bytes)) for v in a.tolist())
    return a.dtype.kind in "US"


def _unique_labels(*arrays: np.ndarray) -> np.ndarray:
    kinds = {_is_text(a) for a in arrays if a.size}
    if len(kinds) > 1:
        raise ValueError("Mix of label input types (string and number)")
    return np.unique(np.concatenate(arrays))


def _check_targets(
    y_true: Any, y_pred: Any, sample_weight: Any = None
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Labels from both inputs, their sorted union, and 'binary' (<= 2 labels) or 'multiclass'."""
    true, pred = _true_labels(y_true), _pred_labels(y_pred)
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} samples but y_pred has {len(pred)}")
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty; at least 1 sample is required")
    present = _unique_labels(true, pred)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight)
        if weights.dtype.kind not in "biuf":
            raise TypeError(f"sample_weight must be numbers, got dtype {weights.dtype}")
        if weights.shape != true.shape:
            raise ValueError(f"sample_weight has shape {weights.shape}, expected ({len(true)},)")
    y_type = "binary" if len(present) <= 2 else "multiclass"
    return y_type, present, true, pred, weights


def accuracy(
    y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None
) -> float:
    """Fraction of samples whose predicted label equals the true one (`accuracy_score`).

    Args:
        y_true: class labels, shape (n_samples,).
        y_pred: labels, or scores (n_samples, n_classes), or positive-class probabilities.
        normalize: with False, return the (weighted) number of correct samples instead.
        sample_weight: per-sample weights.

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
        >>> accuracy([1, 0], [[0.2, 0.8], [0.9, 0.1]])  # argmax of each row
        1.0
    """
    _, _, true, pred, weights = _check_targets(y_true, y_pred, sample_weight)
    correct = (true == pred).astype(np.float64)
    if not normalize:
        return float(correct.sum() if weights is None else correct @ weights)
    return float(np.average(correct, weights=weights))


def _check_label_kind(labels: np.ndarray, present: np.ndarray) -> None:
    if labels.size and present.size and _is_text(labels) != _is_text(present):
        raise ValueError(f"labels {labels.tolist()} are not of the type of the data's labels")


def _per_label_counts(
    true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None, present: np.ndarray, labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted counts and true counts for each of `labels` (default: all)."""
    if labels is None:
        selected = present
    else:
        selected = np.asarray(labels)
        _check_label_kind(selected, present)
    known = np.unique(np.concatenate([selected, present]))
    true_index = np.searchsorted(known, true)
    pred_index = np.searchsorted(known, pred)
    hit = true_index == pred_index
    tp = np.bincount(
        true_index[hit], weights=None if weights is None else weights[hit], minlength=len(known)
    )
    pred_sum = np.bincount(pred_index, weights=weights, minlength=len(known))
    true_sum = np.bincount(true_index, weights=weights, minlength=len(known))
    index = np.searchsorted(known, selected)
    return tp[index], pred_sum[index], true_sum[index]


def _zero_division_value(zero_division: Any) -> float:
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    if isinstance(zero_division, (int, float)) and not isinstance(zero_division, bool):
        if zero_division in (0, 1):
            return float(zero_division)
        if np.isnan(zero_division):
            return float("nan")
    raise ValueError(f"zero_division must be 'warn', 0, 1 or np.nan, got {zero_division!r}")


def _divide(
    numerator: np.ndarray,
    denominator: np.ndarray,
    metric: str,
    modifier: str,
    warn_for: tuple[str, ...],
    zero_division: Any,
) -> np.ndarray:
    """numerator / denominator, with 0/0 set (and maybe warned about) as `zero_division` says."""
    zero = denominator == 0
    result = np.asarray(numerator, dtype=np.float64) / np.where(zero, 1.0, denominator)
    if not zero.any():
        return result
    result[zero] = _zero_division_value(zero_division)
    if isinstance(zero_division, str) and metric in warn_for:
        where = "due to" if result.shape[0] == 1 else "in labels with"
        warnings.warn(
            f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no {modifier} "
            f"samples. Use `zero_division` parameter to control this behavior.",
            UndefinedMetricWarning,
            stacklevel=4,
        )
    return result


def _nanaverage(values: np.ndarray, weights: np.ndarray | None) -> float:
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(values[keep].mean())
    return float(np.average(values[keep], weights=weights[keep]))


def _precision_recall_f1(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any,
    pos_label: Any,
    average: str | None,
    sample_weight: Any,
    zero_division: Any,
    warn_for: tuple[str, ...],
) -> tuple[Any, Any, Any, np.ndarray]:
    """scikit-learn's `precision_recall_fscore_support` with beta = 1."""
    _zero_division_value(zero_division)
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {list(_AVERAGES)}, got {average!r}")
    y_type, present, true, pred, weights = _check_targets(y_true, y_pred, sample_weight)
    if average == "binary":
        if y_type != "binary":
            raise ValueError(
                "Target is multiclass but average='binary'. Please choose another average "
                "setting, one of [None, 'micro', 'macro', 'weighted']."
            )
        if pos_label not in present.tolist() and len(present) >= 2:
            raise ValueError(
                f"pos_label={pos_label!r} is not a valid label. It should be one of {present}"
            )
        labels = [pos_label]
    elif pos_label not in (None, 1):
        warnings.warn(
            f"Note that pos_label (set to {pos_label!r}) is ignored when average != 'binary' "
            f"(got {average!r}). You may use labels=[pos_label] to specify a single positive "
            f"class.",
            UserWarning,
            stacklevel=3,
        )
    tp, pred_sum, true_sum = _per_label_counts(true, pred, weights, present, labels)
    support = true_sum
    if average == "micro":
        tp, pred_sum, true_sum = (
            tp.sum(keepdims=True),
            pred_sum.sum(keepdims=True),
            true_sum.sum(keepdims=True),
        )
    precision_ = _divide(tp, pred_sum, "precision", "predicted", warn_for, zero_division)
    recall_ = _divide(tp, true_sum, "recall", "true", warn_for, zero_division)
    # F1 = 2 P R / (P + R) = 2 tp / (2 tp + fp + fn) = 2 tp / (true + predicted)
    f1 = _divide(
        2.0 * tp, true_sum + pred_sum, "f-score", "true nor predicted", warn_for, zero_division
    )
    if average is None:
        return precision_, recall_, f1, support
    weights_ = true_sum if average == "weighted" else None
    return (
        _nanaverage(precision_, weights_),
        _nanaverage(recall_, weights_),
        _nanaverage(f1, weights_),
        support,
    )


_SCORE_ARGS_DOC = """
    Args:
        y_true: class labels, shape (n_samples,).
        y_pred: labels, or scores (n_samples, n_classes), or positive-class probabilities.
        labels: the labels to score (and their order with `average=None`); by default every
            label in `y_true` or `y_pred`. Ignored for `average='binary'` on binary data.
        pos_label: the positive class for `average='binary'`.
        average: 'binary' (score of `pos_label`; data must have at most 2 labels), 'micro'
            (from the total counts), 'macro' (unweighted mean over labels), 'weighted'
            (mean weighted by each label's support), or None (an array, one score per label).
        sample_weight: per-sample weights.
        zero_division: value for 0/0 — 'warn' (0.0 with an `UndefinedMetricWarning`), 0, 1
            or np.nan.
"""


def precision(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """Precision `tp / (tp + fp)`: of the samples predicted as a class, the fraction that are.
    {args}
    Example:
        >>> precision([0, 1, 1, 1], [1, 1, 1, 0])
        0.6666666666666666
        >>> precision([0, 1, 2, 2], [0, 2, 2, 1], average=None)
        array([1. , 0. , 0.5])
    """
    return _precision_recall_f1(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
        warn_for=("precision",),
    )[0]


def recall(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """Recall `tp / (tp + fn)`: of the samples of a class, the fraction predicted as it.
    {args}
    Example:
        >>> recall([0, 1, 1, 1], [1, 1, 1, 0])
        0.6666666666666666
        >>> recall([0, 1, 2, 2], [0, 2, 2, 1], average="macro")
        0.5
    """
    return _precision_recall_f1(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
        warn_for=("recall",),
    )[1]


def f1_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """F1, the harmonic mean of precision and recall: `2 tp / (2 tp + fp + fn)`.
    {args}
    Example:
        >>> f1_score([0, 1, 1, 1], [1, 1, 1, 0])
        0.6666666666666666
        >>> round(f1_score([0, 1, 2, 2], [0, 2, 2, 1], average="weighted"), 4)
        0.5
    """
    return _precision_recall_f1(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
        warn_for=("f-score",),
    )[2]


for _score in (precision, recall, f1_score):
    _score.__doc__ = (_score.__doc__ or "").replace("{args}", _SCORE_ARGS_DOC.strip("\n"))


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    normalize: str | None = None,
) -> np.ndarray:
    """Counts `C[i, j]` of samples of true label `labels[i]` predicted as `labels[j]`.

    Args:
        y_true: class labels, shape (n_samples,).
        y_pred: labels, or scores (n_samples, n_classes), or positive-class probabilities.
        labels: the labels indexing rows and columns (default: all present, sorted); samples
            with other labels are left out. At least one must occur in `y_true`.
        sample_weight: per-sample weights (the matrix is then float64).
        normalize: 'true' (rows sum to 1), 'pred' (columns sum to 1), 'all', or None (counts).

    Returns:
        An int64 array (float64 when weighted or normalised) of shape (n_labels, n_labels).

    Example:
        >>> confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2])
        array([[2, 0, 0],
               [0, 0, 1],
               [1, 0, 2]])
    """
    if normalize not in ("true", "pred", "all", None):
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None, got {normalize!r}")
    _, present, true, pred, weights = _check_targets(y_true, y_pred, sample_weight)
    if labels is None:
        labels = present
    else:
        labels = np.asarray(labels)
        _check_label_kind(labels, present)
        if labels.size == 0:
            raise ValueError("'labels' should contain at least one label.")
        if len(np.intersect1d(true, labels)) == 0:
            raise ValueError("At least one label specified must be in y_true")
    n = len(labels)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def index_of(values: np.ndarray) -> np.ndarray:
        # Position of each value in `labels`, or n for values not among them.
        pos = np.clip(np.searchsorted(sorted_labels, values), 0, n - 1)
        return np.where(sorted_labels[pos] == values, order[pos], n)

    true_index, pred_index = index_of(true), index_of(pred)
    keep = (true_index < n) & (pred_index < n)
    cells = true_index[keep] * n + pred_index[keep]
    if weights is None:
        cm = np.bincount(cells, minlength=n * n).astype(np.int64).reshape(n, n)
    else:
        cm = np.bincount(cells, weights=weights[keep], minlength=n * n).reshape(n, n)
        if weights.dtype.kind in "biu":
            cm = cm.astype(np.int64)
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
    if normalize is not None:
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn(
            "A single label was found in 'y_true' and 'y_pred'. For the confusion matrix to "
            "have the correct shape, use the 'labels' parameter to pass all known labels.",
            UserWarning,
            stacklevel=2,
        )
    return cm


def classification_report(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    target_names: Sequence[str] | None = None,
    sample_weight: Any = None,
    digits: int = 2,
    output_dict: bool = False,
    zero_division: Any = "warn",
) -> str | dict[str, Any]:
    """A text table of precision, recall, F1 and support per class, plus their averages.

    The same table (and dict) as scikit-learn's `classification_report`: one row per label,
    then 'accuracy' (the micro average, shown as accuracy when every label is reported),
    'macro avg' and 'weighted avg'.

    Args:
        y_true: class labels, shape (n_samples,).
        y_pred: labels, or scores (n_samples, n_classes), or positive-class probabilities.
        labels: the labels to report (default: all present).
        target_names: display names of `labels`, in order.
        sample_weight: per-sample weights.
        digits: decimals shown for the scores.
        output_dict: return a dict `{name: {"precision": ..., "recall": ..., "f1-score": ...,
            "support": ...}, "accuracy": float, ...}` instead of text.
        zero_division: as in `precision`.

    Example:
        >>> print(classification_report([0, 1, 2, 2], [0, 2, 2, 2], zero_division=0))
                      precision    recall  f1-score   support
        <BLANKLINE>
                   0       1.00      1.00      1.00         1
                   1       0.00      0.00      0.00         1
                   2       0.67      1.00      0.80         2
        <BLANKLINE>
            accuracy                           0.75         4
           macro avg       0.56      0.67      0.60         4
        weighted avg       0.58      0.75      0.65         4
        <BLANKLINE>
    """
    _, present, true, pred, weights = _check_targets(y_true, y_pred, sample_weight)
    labels_given = labels is not None
    labels = np.asarray(labels) if labels_given else present
    micro_is_accuracy = not labels_given or set(labels.tolist()) >= set(present.tolist())
    if target_names is not None and len(labels) != len(target_names):
        if not labels_given:
            raise ValueError(
                f"Number of classes, {len(labels)}, does not match size of target_names, "
                f"{len(target_names)}. Try specifying the labels parameter"
            )
        warnings.warn(
            f"labels size, {len(labels)}, does not match size of target_names, {len(target_names)}",
            UserWarning,
            stacklevel=2,
        )
    names = [str(label) for label in labels] if target_names is None else list(target_names)
    common = dict(
        labels=labels,
        pos_label=1,
        sample_weight=weights,
        zero_division=zero_division,
        warn_for=("precision", "recall", "f-score"),
    )
    p, r, f1, support = _precision_recall_f1(true, pred, average=None, **common)
    headers = ["precision", "recall", "f1-score", "support"]
    rows = [
        (name, [float(p_), float(r_), float(f_), s_])
        for name, p_, r_, f_, s_ in zip(names, p, r, f1, support, strict=False)
    ]
    averages = {}
    for average in ("micro", "macro", "weighted"):
        heading = "accuracy" if average == "micro" and micro_is_accuracy else f"{average} avg"
        avg_p, avg_r, avg_f1, _ = _precision_recall_f1(true, pred, average=average, **common)
        averages[heading] = [avg_p, avg_r, avg_f1, support.sum()]
    if output_dict:
        report: dict[str, Any] = {
            name: dict(zip(headers, map(float, values), strict=True))
            for name, values in [*rows, *averages.items()]
        }
        if "accuracy" in report:
            report["accuracy"] = report["accuracy"]["precision"]
        return report
    width = max(max(len(name) for name in names), len("weighted avg"), digits)
    text = f"{'':>{width}s} " + "".join(f" {h:>9}" for h in headers) + "\n\n"

    def row(name: str, values: list[Any]) -> str:
        p_, r_, f_, s_ = values
        return f"{name:>{width}s}  {p_:>9.{digits}f} {r_:>9.{digits}f} {f_:>9.{digits}f} {s_:>9}\n"

    text += "".join(row(name, values) for name, values in rows) + "\n"
    for heading, (p_, r_, f_, s_) in averages.items():
        if heading == "accuracy":
            text += f"{heading:>{width}s}  {'':>9} {'':>9} {f_:>9.{digits}f} {s_:>9}\n"
        else:
            text += row(heading, [p_, r_, f_, s_])
    return text
