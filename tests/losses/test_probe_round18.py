"""Round 18 probes of `MaskedSequenceLoss` (and the token weights it shares with the metrics).

- A ``sample_weight`` of NaN or inf at a padded position made the loss NaN: the weights were
  ``mask · w``, and ``0 · inf`` is NaN. A per-example weight of ``1 / length`` gives an
  example without real tokens (length 0) an infinite weight, and the whole batch's loss (and
  `Perplexity`'s totals) turned NaN. The weight of a padded position is now never read, as
  its scores are not.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import Perplexity


def reference_loss(y_true, logits, weights, pad_id=0, label_smoothing=0.0):
    """Weighted token mean of the smoothed cross-entropy in float64, reading weights only at
    real tokens."""
    z = np.asarray(logits, np.float64)
    log_probs = z - z.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    real = y_true != pad_id
    ids = np.where(real, y_true, 0)
    nll = -np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
    token = (1 - label_smoothing) * nll + label_smoothing * -log_probs.mean(-1)
    w = np.asarray(weights, np.float64)
    w = np.broadcast_to(w if w.ndim != 1 else w[:, None], y_true.shape)
    w = np.where(real, w, 0.0)
    return (token * w).sum() / w.sum()


Y_TRUE = np.array([[3, 1, 2, 0], [0, 0, 0, 0], [2, 2, 0, 0]])
LENGTHS = (Y_TRUE != 0).sum(-1)
LOGITS = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_an_inverse_length_weight_of_an_empty_example_is_not_read(label_smoothing):
    with np.errstate(divide="ignore"):
        weights = 1.0 / LENGTHS  # [1/3, inf, 1/2]: the empty example has no real token
    loss = MaskedSequenceLoss(label_smoothing=label_smoothing)(
        Y_TRUE, LOGITS, sample_weight=weights
    )
    expected = reference_loss(Y_TRUE, LOGITS, weights, label_smoothing=label_smoothing)
    assert np.isfinite(expected)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_token_weight_at_padding_is_not_read_and_has_no_gradient_effect(bad):
    weights = np.ones((3, 4), "float32")
    weights[Y_TRUE == 0] = bad
    logits = tf.constant(LOGITS)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = MaskedSequenceLoss()(Y_TRUE, logits, sample_weight=weights)
    gradient = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(float(loss), reference_loss(Y_TRUE, LOGITS, 1.0), rtol=1e-6)
    assert np.isfinite(gradient).all()
    assert not gradient[Y_TRUE == 0].any()  # padding gets no gradient


def test_a_real_token_with_a_nan_weight_still_gives_nan():
    weights = np.ones((3, 4), "float32")
    weights[0, 0] = np.nan  # a real token: its NaN is the caller's and stays visible
    assert np.isnan(float(MaskedSequenceLoss()(Y_TRUE, LOGITS, sample_weight=weights)))


def test_perplexity_shares_the_token_weights():
    with np.errstate(divide="ignore"):
        weights = 1.0 / LENGTHS
    metric = Perplexity()
    metric.update_state(Y_TRUE, LOGITS, sample_weight=weights)
    expected = np.exp(reference_loss(Y_TRUE, LOGITS, weights))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)
