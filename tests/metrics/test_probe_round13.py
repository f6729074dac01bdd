"""Fixes from the thirteenth audit of the metrics: `SpanF1` refused [B, T, 1] targets, which
`MaskedSequenceLoss` and `MaskedAccuracy` read as [B, T]; `ClassF1Score` took the arg-max of a
[B, W] `y_pred` whose width was unknown when traced, so a column of int labels [B, 1] counted
as all class 0 and float scores of a wrong width counted without a word."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity, SpanF1

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]  # ids 1..5, 0 pads
# Gold: PER(0-1), LOC(3) | LOC(0-2), PER(4). Predicted: PER(0-1) | LOC(0-1), PER(4).
GOLD = np.array([[2, 3, 1, 4, 0], [4, 5, 5, 1, 2]])
PREDICTED = np.array([[2, 3, 1, 1, 0], [4, 5, 1, 1, 2]])
SCORES = np.eye(6, dtype="float32")[PREDICTED]  # [2, 5, 6]


@pytest.mark.parametrize("prediction", ["ids", "scores"])
def test_span_f1_reads_targets_with_a_trailing_one_as_the_loss_does(prediction):
    y_pred = PREDICTED if prediction == "ids" else SCORES
    flat, column = SpanF1(TAGS), SpanF1(TAGS)
    flat.update_state(GOLD, y_pred)
    column.update_state(GOLD[..., None], y_pred)
    # 4 gold chunks, 3 predicted, 2 correct: F1 = 2 · 2 / (3 + 4).
    assert float(flat.result()) == pytest.approx(4 / 7, abs=1e-7)
    assert float(column.result()) == float(flat.result())
    for name in ("true_positives", "predicted", "gold"):
        np.testing.assert_array_equal(getattr(column, name).numpy(), getattr(flat, name).numpy())
    # The loss takes the same targets.
    logits = np.log(np.eye(6, dtype="float32")[GOLD] + 0.1)
    assert float(MaskedSequenceLoss()(GOLD[..., None], logits)) == float(
        MaskedSequenceLoss()(GOLD, logits)
    )


def test_span_f1_reads_a_trailing_one_in_a_graph():
    metric = SpanF1(TAGS)
    update = tf.function(
        metric.update_state,
        input_signature=[
            tf.TensorSpec([None, None, 1], tf.int32),
            tf.TensorSpec([None, None, 6], tf.float32),
        ],
    )
    update(tf.constant(GOLD[..., None], tf.int32), tf.constant(SCORES))
    assert float(metric.result()) == pytest.approx(4 / 7, abs=1e-7)


@pytest.mark.parametrize("make", [MaskedAccuracy, Perplexity], ids=["accuracy", "perplexity"])
def test_token_metrics_read_targets_with_a_trailing_one(make):
    # Already so (they share the loss's `target_ids`): kept equal to the [B, T] targets.
    logits = np.random.default_rng(13).normal(size=(2, 5, 6)).astype("float32")
    flat, column = make(), make()
    flat.update_state(GOLD, logits)
    column.update_state(GOLD[..., None], logits)
    assert float(column.result()) == float(flat.result())


def test_class_f1_reads_a_column_of_labels_as_the_loss_does():
    # Already so: y_true [B, 1] (which the loss takes beside [B, C] scores) is [B].
    logits = np.random.default_rng(3).normal(size=(4, 3)).astype("float32")
    flat, column = ClassF1Score(3), ClassF1Score(3)
    flat.update_state([0, 1, 2, 2], logits)
    column.update_state([[0], [1], [2], [2]], logits)
    np.testing.assert_array_equal(column.confusion.numpy(), flat.confusion.numpy())


LABELS = np.array([0, 1, 2, 2], "int32")
PREDICTED_LABELS = np.array([0, 2, 2, 1], "int32")
EXPECTED_CONFUSION = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]


def _unknown_width_update(metric, dtype, jit_compile=False):
    return tf.function(
        metric.update_state,
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], dtype)],
        jit_compile=jit_compile,
    )


@pytest.mark.parametrize(
    "y_pred",
    [
        PREDICTED_LABELS[:, None],  # int labels [B, 1]: labels, not an arg-max of 0
        np.eye(3, dtype="int32")[PREDICTED_LABELS],  # int scores [B, C]: their arg-max
        np.log(np.eye(3, dtype="float32")[PREDICTED_LABELS] + 0.1),  # float scores [B, C]
    ],
    ids=["int labels [B, 1]", "int scores [B, 3]", "float scores [B, 3]"],
)
def test_class_f1_of_unknown_width_reads_as_the_static_shapes(y_pred):
    eager, traced = ClassF1Score(3), ClassF1Score(3)
    eager.update_state(LABELS, y_pred)
    _unknown_width_update(traced, tf.as_dtype(y_pred.dtype))(LABELS, tf.constant(y_pred))
    np.testing.assert_array_equal(eager.confusion.numpy(), EXPECTED_CONFUSION)
    np.testing.assert_array_equal(traced.confusion.numpy(), EXPECTED_CONFUSION)


@pytest.mark.parametrize(
    "y_pred",
    [
        np.array([[0.1], [0.9], [0.8], [0.3]], "float32"),  # one probability per example
        np.zeros((4, 2), "float32"),  # two scores for three classes
        np.zeros((4, 4), "float32"),
        np.zeros((4, 2), "int32"),
    ],
    ids=["float [B, 1]", "float [B, 2]", "float [B, 4]", "int [B, 2]"],
)
def test_class_f1_of_unknown_width_refuses_what_the_static_shapes_refuse(y_pred):
    metric = ClassF1Score(3)
    with pytest.raises(ValueError):  # eagerly, the static check
        metric.update_state(LABELS, y_pred)
    update = _unknown_width_update(metric, tf.as_dtype(y_pred.dtype))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`num_classes` = 3 scores"):
        update(LABELS, tf.constant(y_pred))
    assert not metric.confusion.numpy().any()


def test_class_f1_of_unknown_width_under_xla_is_nan_not_miscounted():
    # XLA drops the Assert: a wrong width poisons the counts instead.
    metric = ClassF1Score(3)
    update = _unknown_width_update(metric, tf.float32, jit_compile=True)
    update(LABELS, tf.constant([[0.1], [0.9], [0.8], [0.3]]))
    assert np.all(np.isnan(metric.confusion.numpy()))
    metric.reset_state()
    update(LABELS, tf.constant(np.log(np.eye(3, dtype="float32")[PREDICTED_LABELS] + 0.1)))
    np.testing.assert_array_equal(metric.confusion.numpy(), EXPECTED_CONFUSION)
