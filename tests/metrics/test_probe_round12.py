"""Round-12 audit of the metrics: ClassF1Score's ``class_names`` and a ``pad_id`` outside the
int32 range in MaskedAccuracy and Perplexity."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity

TARGETS = np.array([[2, 4, 1, 0], [5, 3, 0, 0]])  # 0 marks padding; 3 of 5 arg-maxes right
LOGITS = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")


def test_class_names_of_one_str_are_refused():
    # "neg" for 3 classes was read as the names "n", "e", "g" without a word.
    with pytest.raises(ValueError, match="`class_names` must be a list of str, got the str"):
        ClassF1Score(3, class_names="neg")


def test_repeated_class_names_are_refused():
    # `report()` keys its classes by name: ["pos", "pos", "neg"] reported 2 classes of 3,
    # the first "pos" (class 0) overwritten by class 1.
    with pytest.raises(ValueError, match="`class_names` must be distinct, got 'pos'"):
        ClassF1Score(3, class_names=["pos", "pos", "neg"])
    # Distinct names report every class, with scikit-learn's numbers.
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y_true = np.array([0, 1, 2, 1, 0, 2, 2])
    y_pred = np.array([0, 2, 2, 1, 1, 2, 0])
    metric = ClassF1Score(3, class_names=["neg", "neutral", "pos"])
    metric.update_state(y_true, y_pred)
    report = metric.report()
    assert list(report["per_class"]) == ["neg", "neutral", "pos"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=[0, 1, 2]
        )
    for index, name in enumerate(["neg", "neutral", "pos"]):
        scores = report["per_class"][name]
        np.testing.assert_allclose(
            [scores["precision"], scores["recall"], scores["f1"], scores["support"]],
            [precision[index], recall[index], f1[index], support[index]],
            rtol=1e-6,
        )


def test_macro_f1_counts_a_class_never_seen_as_documented():
    # The docstring said "as scikit-learn's f1_score does"; f1_score without `labels`
    # averages over the classes seen (0.7333 here), this metric over all `num_classes`
    # (0.4889), as f1_score(..., labels=range(num_classes)) does.
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1])
    metric = ClassF1Score(3)
    metric.update_state(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sklearn_metrics.f1_score(y_true, y_pred, average="macro", labels=range(3))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    assert "labels=range(" in ClassF1Score.__doc__


@pytest.mark.parametrize("metric_class", [MaskedAccuracy, Perplexity])
def test_pad_id_beyond_int32_is_refused(metric_class):
    # The padding of pad_id 2**32 wrapped to id 0 in the int32 targets and counted as a
    # target: MaskedAccuracy 0.375 and Perplexity 6.656 where the real tokens give 0.6 and
    # 5.301.
    for pad_id in (2**32, 2**32 + 3, -(2**31) - 1):
        with pytest.raises(ValueError, match=r"`pad_id` must be an int32 id"):
            metric_class(pad_id=pad_id)
    pad_id = 2**31 - 1
    metric = metric_class(pad_id=pad_id)
    metric.update_state(tf.constant(np.where(TARGETS == 0, pad_id, TARGETS), tf.int64), LOGITS)
    twin = metric_class()
    twin.update_state(TARGETS, LOGITS)
    real = TARGETS != 0
    if metric_class is MaskedAccuracy:
        expected = (LOGITS.argmax(-1) == TARGETS)[real].mean()
        assert expected == 0.6
    else:
        x = LOGITS.astype("float64")
        log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
        expected = np.exp(
            -np.take_along_axis(log_probs, TARGETS[..., None], -1)[..., 0][real].mean()
        )
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)
    np.testing.assert_allclose(float(twin.result()), expected, rtol=1e-5)
