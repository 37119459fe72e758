"""Metrics and preprocessing given NaN, empty and odd input, against scikit-learn."""

import warnings

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import metrics

NAN_INPUTS = [
    ("y_pred", [0, 1, 1], [0, np.nan, 1]),
    ("y_true", [0, np.nan, 1], [0, 1, 1]),
    ("y_pred", [0, 1, 1], [[0.1, 0.9], [np.nan, 0.2], [0.3, 0.7]]),  # scores
    ("y_pred", [0, 1, 1], [0.2, np.nan, 0.7]),  # probabilities
    ("y_pred", [0, 1, 1], mg.tensor([[0.1, 0.9], [np.nan, 0.2], [0.3, 0.7]])),
]
METRICS = ["accuracy", "precision", "recall", "f1_score", "confusion_matrix"]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("case", range(len(NAN_INPUTS)))
def test_nan_scores_are_refused_like_sklearn(metric, case):
    name, y_true, y_pred = NAN_INPUTS[case]
    with pytest.raises(ValueError, match=f"Input {name} contains NaN"):
        getattr(metrics, metric)(y_true, y_pred)


def test_sklearn_refuses_nan_labels_with_the_same_message():
    sk = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError, match="Input y_pred contains NaN"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sk.accuracy_score([0, 1, 1], [0, np.nan, 1])


def test_classification_report_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        metrics.classification_report([0, 1], [[np.nan, 1.0], [0.0, 1.0]])


def test_perplexity_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        metrics.perplexity([0, 1], np.array([[0.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.perplexity([1.0, np.nan])


@pytest.mark.parametrize("y", [([], []), ("", ""), (["", ""], ["", ""])])
def test_char_accuracy_of_nothing_is_refused(y):
    with pytest.raises(ValueError, match="no characters"):
        metrics.char_accuracy(*y)


def test_empty_classification_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])


X_NAN = np.array([[1.0, 2.0, np.nan], [np.nan, 4.0, np.nan], [3.0, 7.0, np.nan], [5.0, 7.0, 1.0]])


def test_standard_scaler_ignores_nan_like_sklearn():
    sk = pytest.importorskip("sklearn.preprocessing")
    ours = mg.data.StandardScaler().fit(X_NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = sk.StandardScaler().fit(X_NAN)
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.var_, theirs.var_)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    np.testing.assert_array_equal(ours.n_samples_seen_, theirs.n_samples_seen_)
    np.testing.assert_allclose(ours.transform(X_NAN), theirs.transform(X_NAN))
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X_NAN)), X_NAN)


def test_standard_scaler_with_all_nan_column_and_no_nan():
    sk = pytest.importorskip("sklearn.preprocessing")
    X = np.array([[np.nan, 2.0], [np.nan, 4.0]])
    ours = mg.data.StandardScaler().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = sk.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X))
    clean = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert mg.data.StandardScaler().fit(clean).n_samples_seen_ == 2


def test_standard_scaler_refuses_infinity_like_sklearn():
    with pytest.raises(ValueError, match="infinity"):
        mg.data.StandardScaler().fit(np.array([[1.0], [np.inf]]))
