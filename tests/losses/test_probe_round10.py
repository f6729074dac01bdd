"""Regression tests of the loss and the token metrics (audit round 10): token weights of
shape [B, T, 1]."""

import numpy as np
import pytest

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy, Perplexity

RNG = np.random.default_rng(0)
TARGETS = RNG.integers(1, 4, (4, 5)).astype("int32")
TARGETS[0, 3:] = 0
WEIGHTS = RNG.random((4, 5)).astype("float32")


def test_loss_and_metrics_read_b_t_1_weights_as_b_t():
    logits = RNG.normal(size=(4, 5, 4)).astype("float32")
    loss = MaskedSequenceLoss()
    real = (TARGETS != 0) * WEIGHTS
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, TARGETS[..., None], -1)[..., 0]
    reference = -(picked * real).sum() / real.sum()
    np.testing.assert_allclose(float(loss(TARGETS, logits, WEIGHTS[..., None])), reference, 1e-5)
    for metric in (MaskedAccuracy(), Perplexity()):
        metric.update_state(TARGETS, logits, WEIGHTS[..., None])
        twin = metric.__class__()
        twin.update_state(TARGETS, logits, WEIGHTS)
        np.testing.assert_allclose(float(metric.result()), float(twin.result()), rtol=1e-6)
    np.testing.assert_allclose(
        float(Perplexity()(TARGETS, logits, WEIGHTS[..., None])), np.exp(reference), rtol=1e-5
    )
    # Genuinely wrong shapes still name the problem.
    for bad in (WEIGHTS[..., None, None], WEIGHTS[:, :4, None], np.ones((4, 5, 2), "float32")):
        with pytest.raises(ValueError, match="`sample_weight` must have shape"):
            loss(TARGETS, logits, bad)
