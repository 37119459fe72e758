"""mg.metrics against sklearn.metrics: random data, edge cases, warnings, input kinds."""

import re
import warnings

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import metrics

skm = pytest.importorskip("sklearn.metrics")

AVERAGES = ["micro", "macro", "weighted", None]
ZERO_DIVISIONS = ["warn", 0, 1, np.nan]


def _random_case(seed, n=60, n_classes=4):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred


# (y_true, y_pred) pairs covering the edge cases scikit-learn defines behaviour for.
EDGE_CASES = {
    "class_never_predicted": ([0, 1, 2, 2, 1], [0, 0, 2, 2, 0]),
    "class_only_predicted": ([0, 0, 1, 1], [0, 2, 1, 2]),
    "single_class_all_correct": ([3, 3, 3], [3, 3, 3]),
    "all_correct": ([0, 1, 2, 3, 1], [0, 1, 2, 3, 1]),
    "all_wrong": ([0, 1, 0, 1], [1, 0, 1, 0]),
    "one_sample": ([2], [0]),
    "binary_no_positive": ([0, 0, 0], [0, 0, 0]),
    "binary_never_predicted_positive": ([0, 1, 1, 0], [0, 0, 0, 0]),
    "binary_only_predicted_positive": ([0, 0, 0], [0, 1, 0]),
    "strings": (["cat", "dog", "cat", "ant"], ["cat", "cat", "cat", "dog"]),
}


def _call_recording(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*args, **kwargs)
    return value, sorted(str(w.message) for w in caught)


def _assert_same(ours, theirs):
    if isinstance(theirs, float):
        assert isinstance(ours, float)
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float),
        np.asarray(theirs, dtype=float),
        rtol=1e-12,
        atol=1e-12,
        equal_nan=True,
    )


SCORES = [
    (metrics.precision, skm.precision_score),
    (metrics.recall, skm.recall_score),
    (metrics.f1_score, skm.f1_score),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("ours,theirs", SCORES, ids=["precision", "recall", "f1"])
def test_scores_match_sklearn_on_random_multiclass(seed, average, ours, theirs):
    y_true, y_pred = _random_case(seed)
    _assert_same(ours(y_true, y_pred, average=average), theirs(y_true, y_pred, average=average))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ours,theirs", SCORES, ids=["precision", "recall", "f1"])
def test_binary_scores_match_sklearn(seed, ours, theirs):
    y_true, y_pred = _random_case(seed, n_classes=2)
    for pos_label in (0, 1):
        _assert_same(
            ours(y_true, y_pred, pos_label=pos_label), theirs(y_true, y_pred, pos_label=pos_label)
        )


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("zero_division", ZERO_DIVISIONS, ids=str)
@pytest.mark.parametrize("average", ["binary", *AVERAGES])
@pytest.mark.parametrize("ours,theirs", SCORES, ids=["precision", "recall", "f1"])
def test_edge_cases_match_sklearn_values_errors_and_warnings(
    case, zero_division, average, ours, theirs
):
    y_true, y_pred = EDGE_CASES[case]
    kwargs = dict(average=average, zero_division=zero_division)
    if case == "strings" and average == "binary":
        kwargs["pos_label"] = "cat"
    try:
        expected, expected_warnings = _call_recording(theirs, y_true, y_pred, **kwargs)
    except ValueError as error:
        with pytest.raises(ValueError) as raised:
            ours(y_true, y_pred, **kwargs)
        assert str(raised.value) == str(error)
        return
    value, our_warnings = _call_recording(ours, y_true, y_pred, **kwargs)
    _assert_same(value, expected)
    assert our_warnings == expected_warnings


@pytest.mark.parametrize("seed", range(3))
def test_accuracy_matches_sklearn(seed):
    y_true, y_pred = _random_case(seed)
    weights = np.random.default_rng(seed).random(len(y_true))
    _assert_same(metrics.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred))
    _assert_same(
        metrics.accuracy(y_true, y_pred, normalize=False),
        skm.accuracy_score(y_true, y_pred, normalize=False),
    )
    _assert_same(
        metrics.accuracy(y_true, y_pred, sample_weight=weights),
        skm.accuracy_score(y_true, y_pred, sample_weight=weights),
    )
    _assert_same(
        metrics.accuracy(y_true, y_pred, normalize=False, sample_weight=weights),
        skm.accuracy_score(y_true, y_pred, normalize=False, sample_weight=weights),
    )


@pytest.mark.parametrize("case", EDGE_CASES)
def test_accuracy_and_confusion_matrix_on_edge_cases(case):
    y_true, y_pred = EDGE_CASES[case]
    _assert_same(metrics.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred))
    cm, ours_warned = _call_recording(metrics.confusion_matrix, y_true, y_pred)
    expected, sk_warned = _call_recording(skm.confusion_matrix, y_true, y_pred)
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64
    assert ours_warned == sk_warned


def test_accuracy_known_value():
    assert metrics.accuracy([0, 1, 2, 3], [0, 2, 1, 3]) == 0.5
    assert metrics.accuracy([0, 1, 2, 3], [0, 2, 1, 3], normalize=False) == 2.0


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("normalize", ["true", "pred", "all", None])
def test_confusion_matrix_matches_sklearn(seed, normalize):
    y_true, y_pred = _random_case(seed, n_classes=5)
    weights = np.random.default_rng(seed).random(len(y_true))
    np.testing.assert_allclose(
        metrics.confusion_matrix(y_true, y_pred, normalize=normalize),
        skm.confusion_matrix(y_true, y_pred, normalize=normalize),
    )
    np.testing.assert_allclose(
        metrics.confusion_matrix(y_true, y_pred, sample_weight=weights, normalize=normalize),
        skm.confusion_matrix(y_true, y_pred, sample_weight=weights, normalize=normalize),
    )
    for labels in ([4, 0, 2], [1, 7, 3, 0], [9, 2]):
        np.testing.assert_allclose(
            metrics.confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize),
            skm.confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize),
        )


def test_confusion_matrix_layout_and_label_errors():
    cm = metrics.confusion_matrix(["b", "a", "b"], ["b", "b", "a"], labels=["b", "a"])
    np.testing.assert_array_equal(cm, [[1, 1], [1, 0]])  # rows true, columns predicted
    with pytest.raises(ValueError, match="At least one label specified must be in y_true"):
        metrics.confusion_matrix([0, 1], [1, 1], labels=[5])
    with pytest.raises(ValueError, match="at least one label"):
        metrics.confusion_matrix([0, 1], [1, 1], labels=[])
    with pytest.raises(ValueError, match="normalize"):
        metrics.confusion_matrix([0, 1], [1, 1], normalize="rows")


@pytest.mark.parametrize("ours,theirs", SCORES, ids=["precision", "recall", "f1"])
def test_labels_and_sample_weight_match_sklearn(ours, theirs):
    y_true, y_pred = _random_case(7, n=80, n_classes=5)
    weights = np.random.default_rng(7).random(len(y_true))
    for labels in ([0, 2], [4, 1, 3], [0, 1, 2, 3, 4, 6]):
        for average in AVERAGES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = theirs(
                    y_true, y_pred, labels=labels, average=average, sample_weight=weights
                )
                value = ours(y_true, y_pred, labels=labels, average=average, sample_weight=weights)
            _assert_same(value, expected)


def test_scores_known_values():
    assert metrics.precision([0, 1, 1, 1], [1, 1, 1, 0]) == pytest.approx(2 / 3)
    assert metrics.recall([0, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(0.5)
    # class 0: P=1, R=1/2; class 1: P=1/2, R=1 -> F1 = 2/3 for both
    assert metrics.f1_score([0, 0, 1], [0, 1, 1], average="macro") == pytest.approx(2 / 3)


def test_score_errors_match_sklearn_messages():
    with pytest.raises(ValueError, match="Target is multiclass but average='binary'"):
        metrics.f1_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="pos_label=2 is not a valid label"):
        metrics.precision([0, 1, 1], [0, 1, 0], pos_label=2)
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.recall([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="zero_division"):
        metrics.recall([0, 1], [0, 1], zero_division=2)
    with pytest.raises(ValueError, match="3 samples but y_pred has 2"):
        metrics.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="Mix of label input types"):
        metrics.accuracy(["a", "b"], [0, 1])
    with pytest.warns(UserWarning, match="pos_label .* is ignored"):
        metrics.f1_score([0, 1, 2], [0, 1, 1], average="macro", pos_label=2)


def test_scores_and_probabilities_are_turned_into_labels():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 3, 40)
    scores = rng.normal(size=(40, 3))
    labels = scores.argmax(axis=1)
    _assert_same(metrics.accuracy(y_true, scores), skm.accuracy_score(y_true, labels))
    _assert_same(
        metrics.f1_score(y_true, scores, average="macro"),
        skm.f1_score(y_true, labels, average="macro"),
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, scores), skm.confusion_matrix(y_true, labels)
    )
    probs = np.array([0.1, 0.5, 0.51, 0.9, 0.3])  # 0.5 itself is not above the threshold
    binary_true = np.array([0, 0, 1, 1, 1])
    assert metrics.accuracy(binary_true, probs) == pytest.approx(0.8)
    assert metrics.recall(binary_true, probs) == pytest.approx(2 / 3)
    assert metrics.accuracy(binary_true, probs[:, None]) == pytest.approx(0.8)  # a column
    assert metrics.accuracy(binary_true, [0.0, 0.0, 1.0, 1.0, 0.0]) == pytest.approx(0.8)
    assert metrics.accuracy(np.array([0.0, 1.0, 2.0]), [0, 1, 1]) == pytest.approx(2 / 3)


def test_bad_predictions_are_rejected_clearly():
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        metrics.accuracy([0, 1], [-0.3, 2.5])
    with pytest.raises(ValueError, match="y_true must be 1-D"):
        metrics.accuracy(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="not whole numbers"):
        metrics.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="shape"):
        metrics.accuracy([0, 1], np.zeros((2, 3, 4)))


def test_metrics_accept_tensors():
    y_true = mg.tensor([0, 1, 2, 2, 1])
    logits = mg.tensor(
        [[2.0, 0.1, 0.3], [0.0, 1.0, 3.0], [0.1, 0.2, 0.9], [0.5, 0.1, 2.0], [0.0, 2.0, 1.0]],
        requires_grad=True,
    )
    labels = np.array([0, 2, 2, 2, 1])
    _assert_same(metrics.accuracy(y_true, logits), 0.8)
    _assert_same(
        metrics.f1_score(y_true, logits, average="weighted"),
        skm.f1_score([0, 1, 2, 2, 1], labels, average="weighted"),
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, logits), skm.confusion_matrix([0, 1, 2, 2, 1], labels)
    )
    probs = mg.tensor([0.2, 0.7, 0.9])  # float32 probabilities of the positive class
    assert metrics.accuracy(mg.tensor([0.0, 1.0, 0.0]), probs) == pytest.approx(2 / 3)


def _assert_same_report_dict(ours, theirs):
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert list(ours[key]) == list(value)
            for metric, number in value.items():
                assert isinstance(ours[key][metric], float)
                assert ours[key][metric] == pytest.approx(number, abs=1e-12)
        else:
            assert ours[key] == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("digits", [2, 4])
def test_classification_report_text_and_dict_match_sklearn(seed, digits):
    y_true, y_pred = _random_case(seed, n_classes=4)
    assert metrics.classification_report(
        y_true, y_pred, digits=digits
    ) == skm.classification_report(y_true, y_pred, digits=digits)
    names = ["zero", "one", "two", "three"]
    assert metrics.classification_report(
        y_true, y_pred, target_names=names
    ) == skm.classification_report(y_true, y_pred, target_names=names)
    _assert_same_report_dict(
        metrics.classification_report(y_true, y_pred, output_dict=True),
        skm.classification_report(y_true, y_pred, output_dict=True),
    )


def _assert_same_text(ours, theirs, y_true, y_pred):
    if not np.any(np.asarray(y_true) == np.asarray(y_pred)):
        # With no correct prediction at all, scikit-learn's counts become floats and it prints
        # supports as "1.0"; we print "1". The numbers agree.
        theirs = re.sub(r"(\d+)\.0\n", r"  \1\n", theirs)
    assert ours == theirs


@pytest.mark.parametrize("case", EDGE_CASES)
def test_classification_report_on_edge_cases(case):
    y_true, y_pred = EDGE_CASES[case]
    text, our_warnings = _call_recording(metrics.classification_report, y_true, y_pred)
    expected, sk_warnings = _call_recording(skm.classification_report, y_true, y_pred)
    _assert_same_text(text, expected, y_true, y_pred)
    assert our_warnings == sk_warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_same_report_dict(
            metrics.classification_report(y_true, y_pred, output_dict=True),
            skm.classification_report(y_true, y_pred, output_dict=True),
        )
    subset = sorted(set(y_true))[:1]  # not every label: the micro row is no longer accuracy
    _assert_same_text(
        metrics.classification_report(y_true, y_pred, labels=subset, zero_division=0),
        skm.classification_report(y_true, y_pred, labels=subset, zero_division=0),
        y_true,
        y_pred,
    )


def test_classification_report_target_names_size_error():
    with pytest.raises(ValueError, match="does not match size of target_names"):
        metrics.classification_report([0, 1, 2], [0, 1, 2], target_names=["a", "b"])


def test_perplexity_from_loss_and_from_logits():
    assert metrics.perplexity(0.0) == 1.0
    assert metrics.perplexity(np.log(7.0)) == pytest.approx(7.0)
    assert metrics.perplexity([np.log(2.0), np.log(8.0)]) == pytest.approx(4.0)  # mean loss
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 6, 10))
    targets = rng.integers(0, 10, (4, 6))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    assert metrics.perplexity(targets, logits) == pytest.approx(np.exp(nll.mean()), rel=1e-12)
    # log-probabilities give the same answer as the logits they came from
    assert metrics.perplexity(targets, log_probs) == pytest.approx(np.exp(nll.mean()), rel=1e-12)
    masked = targets.copy()
    masked[:, :2] = -100
    assert metrics.perplexity(masked, logits, ignore_index=-100) == pytest.approx(
        np.exp(nll[:, 2:].mean()), rel=1e-12
    )
    # huge logits do not overflow
    assert metrics.perplexity([0], [[1000.0, -1000.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="negative"):
        metrics.perplexity(-0.5)
    with pytest.raises(ValueError, match="shape"):
        metrics.perplexity(targets, logits[:, :5])
    with pytest.raises(ValueError, match="lie in"):
        metrics.perplexity([10], np.zeros((1, 10)))


def test_perplexity_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(8, 5))
    targets = rng.integers(0, 5, 8)
    loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets))
    assert metrics.perplexity(targets, logits) == pytest.approx(float(torch.exp(loss)), rel=1e-12)
    assert metrics.perplexity(float(loss)) == pytest.approx(float(torch.exp(loss)), rel=1e-12)


def test_perplexity_accepts_tensors():
    assert metrics.perplexity(mg.tensor(np.log(3.0))) == pytest.approx(3.0, rel=1e-6)
    logits = mg.zeros(2, 3, 4)
    assert metrics.perplexity(mg.tensor([[0, 1, 2], [3, 0, 1]]), logits) == pytest.approx(4.0)


def test_char_accuracy():
    assert metrics.char_accuracy("hello", "hello") == 1.0
    assert metrics.char_accuracy("hello", "hallo") == pytest.approx(0.8)
    # different lengths: only shared positions can match, the longer length counts
    assert metrics.char_accuracy("abc", "ab") == pytest.approx(2 / 3)
    assert metrics.char_accuracy("ab", "abcd") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no characters"):
        metrics.char_accuracy("", "")  # nothing to score: undefined, not 1.0
    assert metrics.char_accuracy("abc", "") == 0.0
    # a batch is scored over all its characters together
    assert metrics.char_accuracy(["abc", "de"], ["abd", "def"]) == pytest.approx(4 / 6)
    assert metrics.char_accuracy([[1, 2, 3], [4]], [[1, 2, 0], [4, 5]]) == pytest.approx(3 / 5)
    tokens = np.array([[1, 2, 3], [4, 5, 6]])
    assert metrics.char_accuracy(tokens, np.array([[1, 2, 0], [4, 0, 6]])) == pytest.approx(4 / 6)
    scores = np.eye(7)[np.array([[1, 2, 0], [4, 5, 6]])]  # (2, 3, 7) one-hot "logits"
    assert metrics.char_accuracy(tokens, scores) == pytest.approx(5 / 6)
    assert metrics.char_accuracy(mg.tensor(tokens), mg.tensor(scores)) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="2 true sequences but 1 predicted"):
        metrics.char_accuracy(["ab", "c"], ["ab"])
