"""Perplexity with no real token or a ``pad_id`` outside the vocabulary; SpanF1 on empty
batches and long sequences, against a conlleval-rule reference chunker."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.metrics import Perplexity, SpanF1

TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])  # 0 marks padding here


def numpy_perplexity(targets, logits):
    x = logits.astype("float64")
    x = x - x.max(-1, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    return np.exp(nll[targets != 0].mean())


@pytest.mark.parametrize("pad_id", [-100, 6])
def test_perplexity_pad_id_outside_the_vocabulary(pad_id):
    # Failed the gather on the CPU ("indices[3,0] = -94 is not in [0, 6)").
    logits = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    metric = Perplexity(pad_id=pad_id)
    metric.update_state(np.where(TARGETS == 0, pad_id, TARGETS), logits)
    np.testing.assert_allclose(float(metric.result()), numpy_perplexity(TARGETS, logits), 1e-5)


def test_perplexity_is_zero_without_real_tokens():
    # Was exp(0) = 1.0, a perfect score, for a fresh metric or an all-padding set.
    metric = Perplexity()
    assert float(metric.result()) == 0.0
    metric.update_state(np.zeros((2, 3), "int32"), np.zeros((2, 3, 4), "float32"))
    assert float(metric.result()) == 0.0
    logits = np.random.default_rng(1).normal(size=(2, 4, 6)).astype("float32")
    metric.update_state(TARGETS, logits)
    np.testing.assert_allclose(float(metric.result()), numpy_perplexity(TARGETS, logits), 1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.mark.parametrize("shape", [(2, 0), (0, 5)])
def test_span_f1_empty_batch_counts_nothing(shape):
    # Failed with "Cannot compute the min of an empty tensor".
    metric = SpanF1(BIO)
    metric.update_state(np.zeros(shape, "int32"), np.zeros(shape + (6,), "float32"))
    assert float(metric.result()) == 0.0
    # gold: PER[0-1], LOC[3]; predicted: PER[0-1], PER[3]: 2 · 1 / (2 + 2).
    metric.update_state([[2, 3, 1, 4]], [[2, 3, 1, 2]])
    assert float(metric.result()) == 0.5


def conll_chunks(tags):
    """{(start, end, type)} of one sentence, read by conlleval's startOfChunk / endOfChunk."""

    def split(tag):
        return ("O", "") if tag == "O" else tuple(tag.split("-", 1))

    chunks, start, previous, previous_type = set(), None, "O", ""
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = split(tag)
        ends = (
            previous in ("E", "S")
            or (previous in ("B", "I") and prefix in ("B", "S", "O"))
            or (previous != "O" and previous_type != kind)
        )
        if start is not None and ends:
            chunks.add((start, index - 1, previous_type))
            start = None
        if (
            prefix in ("B", "S")
            or (previous in ("E", "S", "O") and prefix in ("E", "I"))
            or (prefix != "O" and previous_type != kind)
        ):
            start = index
        previous, previous_type = prefix, kind
    return chunks


@pytest.mark.parametrize("jit_compile", [False, True])
def test_span_f1_matches_conlleval_reference_on_long_padded_rows(jit_compile):
    vocabulary = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 10, size=(4, 200))
    # Predictions equal the gold tags except at ~20% of the tokens, so most chunks match.
    predicted = np.where(rng.random(gold.shape) < 0.2, rng.integers(1, 10, gold.shape), gold)
    lengths = [200, 137, 1, 0]
    for row, length in enumerate(lengths):
        gold[row, length:] = 0
    metric = SpanF1(vocabulary, scheme="iobes")
    tf.function(metric.update_state, jit_compile=jit_compile)(
        tf.constant(gold, tf.int32), tf.constant(predicted, tf.int32)
    )
    correct = found = expected = 0
    for row, length in enumerate(lengths):
        true = conll_chunks([vocabulary[i - 1] for i in gold[row, :length]])
        guess = conll_chunks([vocabulary[i - 1] for i in predicted[row, :length]])
        correct, found, expected = (
            correct + len(true & guess),
            found + len(guess),
            expected + len(true),
        )
    report = metric.report()
    assert correct > 0
    np.testing.assert_allclose(
        [report["precision"], report["recall"], report["f1"]],
        [correct / found, correct / expected, 2 * correct / (found + expected)],
        rtol=1e-6,
    )
