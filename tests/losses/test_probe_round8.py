"""MaskedSequenceLoss: non-finite scores at padded positions, and constructor arguments that
used to be taken silently or fail deep in the graph."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy

TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])  # 0 marks padding here


def numpy_loss(targets, logits, smoothing=0.0):
    """Mean over the real tokens of (1 − ε)·NLL + ε·mean_v(−log p_v), in float64,
    reading only the real positions of ``logits``."""
    real = targets != 0
    x = logits[real].astype("float64")
    x = x - x.max(-1, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[real][:, None], -1)[:, 0]
    token = nll if not smoothing else (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
    return token.mean()


def logits_with(kind):
    logits = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    if kind == "padding column at -inf":
        logits[..., 0] = -np.inf  # a model that never predicts padding
    else:
        logits[TARGETS == 0] = np.nan  # garbage at the padded positions
    return logits


@pytest.mark.parametrize("kind", ["padding column at -inf", "NaN at padded positions"])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_scores_at_padded_positions_are_never_read(kind, jit_compile):
    # Was NaN: a padded token's loss (−log p of id 0 = inf, or NaN) times its weight 0.
    logits = logits_with(kind)
    smoothings = (0.0, 0.1) if kind == "NaN at padded positions" else (0.0,)
    for smoothing in smoothings:
        loss_fn = MaskedSequenceLoss(label_smoothing=smoothing)
        variable = tf.Variable(logits)
        with tf.GradientTape() as tape:
            loss = tf.function(loss_fn, jit_compile=jit_compile)(TARGETS, variable)
        expected = numpy_loss(TARGETS, logits, smoothing)
        np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
        gradient = tape.gradient(loss, variable).numpy()
        assert np.isfinite(gradient).all()
        assert not gradient[TARGETS == 0].any()  # padded positions get no gradient


@pytest.mark.parametrize("pad_id", [None, "0", 1.5, True, np.float32(0.0)])
def test_pad_id_must_be_an_int(pad_id):
    # True marked id 1 as padding and 1.5 no id at all, both without a word; None and "0"
    # failed deep in the graph ("Attempt to convert a value (None)", "Cast string to int64").
    with pytest.raises(ValueError, match=r"`pad_id` must be an int .*got"):
        MaskedSequenceLoss(pad_id=pad_id)


def test_pad_id_of_a_numpy_integer_is_kept_as_an_int():
    loss_fn = MaskedSequenceLoss(pad_id=np.int64(-100))
    assert type(loss_fn.get_config()["pad_id"]) is int


@pytest.mark.parametrize("from_logits", ["no", None, 0, 1])
def test_from_logits_must_be_a_bool(from_logits):
    # "no" read as true, None and 0 as false (logits taken for probabilities).
    with pytest.raises(TypeError, match=r"`from_logits` must be a bool, got"):
        MaskedSequenceLoss(from_logits=from_logits)
    assert MaskedSequenceLoss(from_logits=np.bool_(False)).from_logits is False


@pytest.mark.parametrize("smoothing", [None, "0.1"])
def test_label_smoothing_of_another_type_is_named(smoothing):
    # Was TypeError: "'<=' not supported between instances of 'float' and 'NoneType'".
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0, 1\), got"):
        MaskedSequenceLoss(label_smoothing=smoothing)
    assert MaskedSequenceLoss(label_smoothing=np.float32(0.25)).label_smoothing == 0.25


@pytest.mark.parametrize("reduction", ["none", None, "sum"])
def test_a_reduction_is_refused_not_ignored(reduction):
    # `reduction="none"` or "sum" was accepted and silently gave the scalar token mean.
    with pytest.raises(ValueError, match="`reduction` does not apply"):
        MaskedSequenceLoss(reduction=reduction)
    loss_fn = MaskedSequenceLoss(reduction="sum_over_batch_size")  # Keras' default passes
    revived = keras.losses.deserialize(keras.losses.serialize(loss_fn))
    assert revived.get_config() == loss_fn.get_config()


@pytest.mark.parametrize("jit_compile", [False, True])
def test_sample_weight_of_batch_one_is_refused_when_the_batch_is_unknown(jit_compile):
    # Before: in a graph with an unknown batch size a [1] weight spread over the whole batch.
    loss = MaskedSequenceLoss()
    accuracy = MaskedAccuracy()
    y_true = tf.constant([[3, 4, 2, 0], [5, 2, 0, 0]])
    y_pred = tf.random.stateless_normal((2, 4, 6), seed=(1, 2))
    specs = [
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None, 6]),
        tf.TensorSpec([None]),
    ]

    @tf.function(input_signature=specs, jit_compile=jit_compile)
    def weighted_loss(y, p, w):
        return loss(y, p, sample_weight=w)

    @tf.function(input_signature=specs, jit_compile=jit_compile)
    def update_accuracy(y, p, w):
        accuracy.update_state(y, p, sample_weight=w)
        return accuracy.result()

    np.testing.assert_allclose(
        weighted_loss(y_true, y_pred, tf.constant([1.0, 0.0])),
        loss(y_true[:1], y_pred[:1]),
        rtol=1e-6,
    )
    for call in (weighted_loss, update_accuracy):
        with pytest.raises(tf.errors.InvalidArgumentError):
            call(y_true, y_pred, tf.constant([1.0]))
