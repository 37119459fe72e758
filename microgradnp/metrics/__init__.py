"""Evaluation metrics with scikit-learn's argument order `(y_true, y_pred)` and its numbers.

Classification metrics (`accuracy`, `precision`, `recall`, `f1_score`, `confusion_matrix`,
`classification_report`) accept mg tensors, ndarrays or lists. `y_true` holds class labels.
`y_pred` holds either labels or model outputs, read by one rule:

- 2-D scores of shape (n_samples, n_classes) — logits, probabilities or log-probabilities —
  give the label `argmax` over the last axis (class `i` is label `i`);
- 1-D floats that are not all whole numbers (or a column of shape (n_samples, 1)) are the
  probability of the positive class and must lie in [0, 1]: the label is 1 where `p > 0.5`;
- anything else 1-D is labels (whole-number floats are read as int64 labels, like `y_true`).

Where a ratio is 0/0 (precision of a class never predicted, recall of a class never present),
`zero_division` decides, as in scikit-learn: "warn" (the default) gives 0.0 and emits an
`UndefinedMetricWarning`; 0, 1 or `np.nan` give that value silently. Sequence-model metrics:
`perplexity`, `bits_per_char`, `char_accuracy` and `top_k_accuracy`. Data loading lives in
`microgradnp.data`.
"""

from .classification import (
    UndefinedMetricWarning,
    accuracy,
    classification_report,
    confusion_matrix,
    f1_score,
    precision,
    recall,
)
from .language import bits_per_char, top_k_accuracy
from .sequence import char_accuracy, perplexity

__all__ = [
    "UndefinedMetricWarning",
    "accuracy",
    "bits_per_char",
    "char_accuracy",
    "classification_report",
    "confusion_matrix",
    "f1_score",
    "perplexity",
    "precision",
    "recall",
    "top_k_accuracy",
]
