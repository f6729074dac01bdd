"""ClassF1Score against hand-computed values and scikit-learn."""

import keras
import numpy as np
import pytest

from keras_seq.metrics.class_f1_score import ClassF1Score
from tests.test_case import assert_allclose


def test_hand_computed_binary_example():
    metric = ClassF1Score(2, class_names=["ham", "spam"])
    metric.update_state([0, 1, 1], [0, 1, 0])
    # ham: P = 1/2, R = 1, F1 = 2/3; spam: P = 1, R = 1/2, F1 = 2/3.
    assert_allclose(float(metric.result()), 2 / 3)
    report = metric.report()
    assert_allclose(report["accuracy"], 2 / 3)
    assert report["per_class"]["ham"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1.0}
    )
    assert report["per_class"]["spam"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2.0}
    )


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_matches_scikit_learn_over_batches(average):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    metric = ClassF1Score(4, average=average)
    labels, predictions, weights = [], [], []
    for size in (7, 12, 5):
        y_true = rng.integers(0, 4, size)
        logits = rng.normal(size=(size, 4)).astype("float32")
        weight = rng.uniform(0.5, 2.0, size).astype("float32")
        metric.update_state(y_true, logits, sample_weight=weight)
        labels.append(y_true), predictions.append(logits.argmax(axis=1)), weights.append(weight)
    labels, predictions, weights = map(np.concatenate, (labels, predictions, weights))
    expected = sklearn_metrics.f1_score(
        labels, predictions, average=average, sample_weight=weights, labels=range(4)
    )
    assert_allclose(float(metric.result()), expected, atol=1e-5)
    precision, recall, f1, _ = sklearn_metrics.precision_recall_fscore_support(
        labels, predictions, sample_weight=weights, labels=range(4), zero_division=0
    )
    per_class = metric.report()["per_class"]
    assert_allclose(
        np.array([per_class[str(c)]["precision"] for c in range(4)]), precision, atol=1e-5
    )
    assert_allclose(np.array([per_class[str(c)]["recall"] for c in range(4)]), recall, atol=1e-5)
    assert_allclose(np.array([per_class[str(c)]["f1"] for c in range(4)]), f1, atol=1e-5)


def test_absent_class_scores_zero_and_reset():
    metric = ClassF1Score(3)
    metric.update_state([0, 0], [0, 0])
    assert_allclose(float(metric.result()), 1 / 3)  # classes 1 and 2 never seen: F1 0
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_bad_arguments_and_serialization():
    with pytest.raises(ValueError, match="num_classes"):
        ClassF1Score(1)
    with pytest.raises(ValueError, match="average"):
        ClassF1Score(2, average="samples")
    with pytest.raises(ValueError, match="class_names"):
        ClassF1Score(2, class_names=["a"])
    metric = ClassF1Score(3, average="weighted", class_names=["a", "b", "c"])
    revived = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert revived.get_config() == metric.get_config()


def test_scalar_weight_and_column_labels_count_like_unweighted():
    plain, weighted = ClassF1Score(3), ClassF1Score(3)
    plain.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    weighted.update_state(np.array([[0], [1], [2], [2]]), np.array([[0], [2], [2], [1]]), 2.0)
    np.testing.assert_array_equal(weighted.confusion.numpy(), 2.0 * plain.confusion.numpy())


@pytest.mark.parametrize(
    "y_true, y_pred, weights, match",
    [
        ([0, 1], np.zeros((2, 4), "float32"), None, "3 scores per example"),
        ([0, 1], np.array([0.2, 0.9], "float32"), None, "integer labels"),
        ([0, 1], np.array([[0.2], [0.9]], "float32"), None, "integer labels"),
        ([0, 1], np.zeros((2, 5, 3), "float32"), None, "integer labels"),
        ([0, 1, 2], [0, 1], None, "y_pred: 2"),
        ([0, 1, 2], [0, 1, 2], [1.0, 1.0], "sample_weight: 2"),
    ],
)
def test_bad_shapes_are_named(y_true, y_pred, weights, match):
    metric = ClassF1Score(3)
    with pytest.raises(ValueError, match=match):
        metric.update_state(y_true, y_pred, sample_weight=weights)
    assert not metric.confusion.numpy().any()


@pytest.mark.parametrize("y_true, y_pred", [([0, 3], [0, 1]), ([0, 1], [-1, 1])])
def test_labels_outside_the_classes_are_refused_not_dropped(y_true, y_pred):
    # one_hot of class 3 (or -1) is a row of zeros: the example vanished from every count.
    import tensorflow as tf

    metric = ClassF1Score(3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"class ids in \[0, 3\)"):
        metric.update_state(y_true, y_pred)
    assert not metric.confusion.numpy().any()


def test_lengths_checked_in_a_graph_with_unknown_batch():
    import tensorflow as tf

    metric = ClassF1Score(2)
    update = tf.function(
        metric.update_state,
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 2], tf.float32)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="one entry per example"):
        update(tf.constant([0, 1, 1]), tf.zeros([2, 2]))
    update(tf.constant([0, 1]), tf.constant([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(metric.confusion.numpy(), [[1.0, 0.0], [0.0, 1.0]])
