"""Fixes from the thirteenth audit of the loss: label smoothing put mass ε / V on a class whose
logit is −inf (banned by masking the logits), where log p = −inf, so the loss was inf."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from tests.test_case import assert_allclose

NEG_INF = -np.inf
# [B=2, T=3, V=5]: column 4 banned everywhere, column 1 also at (0, 1), padding at (1, 2).
LOGITS = np.random.default_rng(13).normal(size=(2, 3, 5)).astype("float32")
LOGITS[..., 4] = NEG_INF
LOGITS[0, 1, 1] = NEG_INF
LOGITS[1, 2] = NEG_INF  # a padded position: never read
TARGETS = np.array([[2, 0, 3], [1, 3, 0]])  # pad_id=-1 below: 0 is a real class here
PAD_TARGETS = np.array([[2, 0, 3], [1, 3, -1]])
EPSILON = 0.2


def reference(logits, targets, smoothing, pad_id=-1):
    """NumPy loss and gradient: q = (1 − ε) onehot(y) + ε / |A| on the allowed classes A
    (finite logit) of each token, loss = mean over real tokens of −Σ q log p, dL/dz = (p − q)
    / N."""
    logits = logits.astype("float64")
    real = targets != pad_id
    loss, gradient = 0.0, np.zeros_like(logits)
    for index in zip(*np.nonzero(real), strict=True):
        z = logits[index]
        allowed = np.isfinite(z)
        log_p = np.full_like(z, NEG_INF)
        log_p[allowed] = z[allowed] - np.log(np.exp(z[allowed]).sum())
        q = np.where(allowed, smoothing / allowed.sum(), 0.0)
        q[targets[index]] += 1 - smoothing
        loss -= (q[allowed] * log_p[allowed]).sum()
        gradient[index] = np.exp(log_p) - q
    return loss / real.sum(), gradient / real.sum()


def loss_and_gradient(loss_fn, targets, logits):
    logits = tf.convert_to_tensor(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = loss_fn(targets, logits)
    return loss, tape.gradient(loss, logits)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_smoothing_mass_goes_to_the_allowed_classes_only(compiled):
    loss_fn = MaskedSequenceLoss(label_smoothing=EPSILON, pad_id=-1)
    run = tf.function(loss_and_gradient, autograph=False) if compiled else loss_and_gradient
    loss, gradient = run(loss_fn, PAD_TARGETS, LOGITS)
    expected_loss, expected_gradient = reference(LOGITS, PAD_TARGETS, EPSILON)
    assert np.isfinite(float(loss))
    assert_allclose(float(loss), expected_loss, rtol=1e-6)
    assert_allclose(gradient, expected_gradient, atol=1e-7)
    # No gradient on a banned class, nor anywhere at the padded position.
    assert not np.any(gradient.numpy()[..., 4])
    assert not np.any(gradient.numpy()[1, 2])


def test_without_banned_classes_smoothing_is_epsilon_over_v():
    # The same numbers as before: every class allowed, q = (1 − ε) onehot(y) + ε / V.
    logits = np.random.default_rng(1).normal(size=(2, 3, 5)).astype("float32")
    log_p = logits - np.log(np.exp(logits.astype("float64")).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, TARGETS[..., None], -1)[..., 0]
    expected = ((1 - EPSILON) * nll - EPSILON * log_p.mean(-1)).mean()
    loss, gradient = loss_and_gradient(
        MaskedSequenceLoss(label_smoothing=EPSILON, pad_id=-1), TARGETS, logits
    )
    assert_allclose(float(loss), expected, rtol=1e-6)
    assert_allclose(gradient, reference(logits, TARGETS, EPSILON)[1], atol=1e-7)


def test_a_banned_target_is_still_infinite():
    # The model gives the true class probability 0: the loss is inf with or without
    # smoothing, as the cross-entropy says.
    logits = LOGITS.copy()
    logits[0, 0, 2] = NEG_INF
    for smoothing in (0.0, EPSILON):
        loss = MaskedSequenceLoss(label_smoothing=smoothing, pad_id=-1)(PAD_TARGETS, logits)
        assert float(loss) == np.inf


def test_probabilities_smooth_over_every_class():
    # from_logits=False: no class is banned (log p is clipped at 1e-12, so finite).
    probabilities = tf.nn.softmax(LOGITS).numpy()
    probabilities[1, 2] = 0.2
    loss = MaskedSequenceLoss(label_smoothing=EPSILON, pad_id=-1, from_logits=False)
    log_p = np.log(np.clip(probabilities.astype("float64"), 1e-12, 1.0))
    nll = -np.take_along_axis(log_p, np.maximum(PAD_TARGETS, 0)[..., None], -1)[..., 0]
    token = (1 - EPSILON) * nll - EPSILON * log_p.mean(-1)
    expected = token[PAD_TARGETS != -1].mean()
    assert_allclose(float(loss(PAD_TARGETS, probabilities)), expected, rtol=1e-5)
