"""Perplexity with sample weights against a NumPy weighted mean over the real tokens."""

import keras
import numpy as np
import pytest

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import Perplexity

# B == T == 3, so a [B] weight applied along time instead of along the batch would go unseen
# by the shapes; example 1 has a padding token.
TARGETS = np.array([[3, 4, 2], [5, 2, 0], [1, 1, 4]])
SAMPLE_WEIGHTS = {
    "per_example": np.array([1.0, 0.0, 0.5], "float32"),  # example 1 does not count
    # Small weights: their sum over both batches is below 1, yet they are not "no tokens".
    "per_token": np.array([[0.05, 0.0, 0.1], [0.02, 0.15, 0.1], [0.0, 0.0, 0.05]], "float32"),
}


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def token_weights(targets, sample_weight):
    """NumPy reference: w broadcast to [B, T] (a [B] weight per example) times the mask."""
    weight = sample_weight[:, None] if sample_weight.ndim == 1 else sample_weight
    return np.broadcast_to(weight, targets.shape) * (targets != 0)


def negative_log_likelihood(targets, logits):
    picked = np.take_along_axis(log_softmax(logits.astype("float64")), targets[..., None], -1)
    return -picked[..., 0]


@pytest.mark.parametrize("kind", ["per_example", "per_token"])
def test_sample_weight_gives_weighted_token_mean_over_batches(kind):
    metric = Perplexity()
    nll = total = 0.0
    for seed in range(2):
        logits = np.random.default_rng(seed).normal(size=(3, 3, 6)).astype("float32")
        metric.update_state(TARGETS, logits, sample_weight=SAMPLE_WEIGHTS[kind])
        weight = token_weights(TARGETS, SAMPLE_WEIGHTS[kind])
        nll += (negative_log_likelihood(TARGETS, logits) * weight).sum()
        total += weight.sum()
    np.testing.assert_allclose(metric.result(), np.exp(nll / total), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4,), (3, 5), (3, 3, 2), (3, 3, 1, 1)])
def test_rejects_sample_weight_of_wrong_shape(shape):
    with pytest.raises(ValueError, match=rf"\(3, 3\), got shape \({shape[0]},"):
        Perplexity().update_state(
            TARGETS, np.zeros((3, 3, 6), "float32"), sample_weight=np.ones(shape, "float32")
        )


def test_evaluate_with_per_example_sample_weight():
    model = keras.Sequential(
        [keras.Input((6,), dtype="int32"), keras.layers.Embedding(5, 4), keras.layers.Dense(5)]
    )
    model.compile("sgd", MaskedSequenceLoss(), weighted_metrics=[Perplexity()])
    targets = np.array([[1, 2, 3, 4, 0, 0], [4, 3, 2, 1, 2, 3]])  # B = 2 != T = 6
    sample_weight = np.array([3.0, 0.0], "float32")
    scores = model.evaluate(
        targets, targets, sample_weight=sample_weight, batch_size=2, verbose=0, return_dict=True
    )
    weight = token_weights(targets, sample_weight)
    nll = negative_log_likelihood(targets, model.predict(targets, verbose=0))
    np.testing.assert_allclose(
        scores["perplexity"], np.exp((nll * weight).sum() / weight.sum()), rtol=1e-5
    )
