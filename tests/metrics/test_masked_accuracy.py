"""MaskedAccuracy with sample weights against a NumPy weighted mean over the real tokens."""

import keras
import numpy as np
import pytest

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy

# B == T == 3, so a [B] weight applied along time instead of along the batch would go unseen
# by the shapes; example 1 has a padding token.
TARGETS = np.array([[3, 4, 2], [5, 2, 0], [1, 1, 4]])
SAMPLE_WEIGHTS = {
    "per_example": np.array([1.0, 0.0, 0.5], "float32"),  # example 1 does not count
    # Small weights: their sum over both batches is below 1, yet they are not "no tokens".
    "per_token": np.array([[0.05, 0.0, 0.1], [0.02, 0.15, 0.1], [0.0, 0.0, 0.05]], "float32"),
}


def token_weights(targets, sample_weight):
    """NumPy reference: w broadcast to [B, T] (a [B] weight per example) times the mask."""
    weight = sample_weight[:, None] if sample_weight.ndim == 1 else sample_weight
    return np.broadcast_to(weight, targets.shape) * (targets != 0)


@pytest.mark.parametrize("kind", ["per_example", "per_token"])
def test_sample_weight_gives_weighted_token_mean_over_batches(kind):
    metric = MaskedAccuracy()
    hits = total = 0.0
    for seed in range(2):
        logits = np.random.default_rng(seed).normal(size=(3, 3, 6)).astype("float32")
        logits[0] += 10 * np.eye(6, dtype="float32")[TARGETS[0]]  # example 0 all right
        metric.update_state(TARGETS, logits, sample_weight=SAMPLE_WEIGHTS[kind])
        weight = token_weights(TARGETS, SAMPLE_WEIGHTS[kind])
        hits += ((logits.argmax(-1) == TARGETS) * weight).sum()
        total += weight.sum()
    np.testing.assert_allclose(metric.result(), hits / total, rtol=1e-6)


@pytest.mark.parametrize("shape", [(4,), (3, 5), (3, 3, 2), (3, 3, 1, 1)])
def test_rejects_sample_weight_of_wrong_shape(shape):
    with pytest.raises(ValueError, match=rf"\(3, 3\), got shape \({shape[0]},"):
        MaskedAccuracy().update_state(
            TARGETS, np.zeros((3, 3, 6), "float32"), sample_weight=np.ones(shape, "float32")
        )


def test_evaluate_with_per_example_sample_weight():
    model = keras.Sequential(
        [keras.Input((6,), dtype="int32"), keras.layers.Embedding(5, 4), keras.layers.Dense(5)]
    )
    model.compile("sgd", MaskedSequenceLoss(), weighted_metrics=[MaskedAccuracy()])
    targets = np.array([[1, 2, 3, 4, 0, 0], [4, 3, 2, 1, 2, 3]])  # B = 2 != T = 6
    sample_weight = np.array([3.0, 0.0], "float32")
    scores = model.evaluate(
        targets, targets, sample_weight=sample_weight, batch_size=2, verbose=0, return_dict=True
    )
    weight = token_weights(targets, sample_weight)
    hits = model.predict(targets, verbose=0).argmax(-1) == targets
    np.testing.assert_allclose(
        scores["masked_accuracy"], (hits * weight).sum() / weight.sum(), rtol=1e-6
    )
