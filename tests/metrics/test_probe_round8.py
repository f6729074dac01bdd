"""Perplexity and MaskedAccuracy: non-finite scores at padded positions and constructor
arguments; ClassF1Score with a NumPy ``num_classes``."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity

TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])  # 0 marks padding here


def numpy_perplexity(targets, logits):
    real = targets != 0
    x = logits[real].astype("float64")
    x = x - x.max(-1, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[real][:, None], -1)[:, 0]
    return np.exp(nll.mean())


@pytest.mark.parametrize("kind", ["padding column at -inf", "NaN at padded positions"])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_perplexity_never_reads_scores_at_padded_positions(kind, jit_compile):
    # Was NaN: the padded token's −log p (inf or NaN) times its weight 0.
    logits = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    if kind == "padding column at -inf":
        logits[..., 0] = -np.inf
    else:
        logits[TARGETS == 0] = np.nan
    metric = Perplexity()
    tf.function(metric.update_state, jit_compile=jit_compile)(TARGETS, logits)
    np.testing.assert_allclose(float(metric.result()), numpy_perplexity(TARGETS, logits), 1e-5)
    accuracy = MaskedAccuracy()
    accuracy.update_state(TARGETS, logits)
    hits = (logits.argmax(-1) == TARGETS)[TARGETS != 0]
    np.testing.assert_allclose(float(accuracy.result()), hits.mean())


@pytest.mark.parametrize("metric_class", [MaskedAccuracy, Perplexity])
@pytest.mark.parametrize("pad_id", [None, "0", 1.5, True])
def test_pad_id_must_be_an_int(metric_class, pad_id):
    # True marked id 1 as padding and 1.5 no id at all, without a word; None and "0" failed
    # in the graph at the first update.
    with pytest.raises(ValueError, match=r"`pad_id` must be an int .*got"):
        metric_class(pad_id=pad_id)
    assert type(metric_class(pad_id=np.int64(-100)).get_config()["pad_id"]) is int


@pytest.mark.parametrize("from_logits", ["no", None, 0])
def test_perplexity_from_logits_must_be_a_bool(from_logits):
    # None and 0 read probabilities into logits (perplexity 2e8 instead of 10), "no" as true.
    with pytest.raises(TypeError, match=r"`from_logits` must be a bool, got"):
        Perplexity(from_logits=from_logits)


def test_class_f1_takes_a_numpy_integer_number_of_classes():
    # `labels.max() + 1` is a NumPy integer: it was refused as "not an int".
    labels = np.array([0, 2, 1, 2])
    metric = ClassF1Score(labels.max() + 1)
    assert type(metric.get_config()["num_classes"]) is int
    metric.update_state(labels, labels)
    assert float(metric.result()) == 1.0
    for bad in (True, np.True_, 2.0, np.int32(1)):
        with pytest.raises(ValueError, match=r"`num_classes` must be an int >= 2, got"):
            ClassF1Score(bad)
