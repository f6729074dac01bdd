"""MaskedSequenceLoss with a ``pad_id`` outside the vocabulary, against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss

TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])  # 0 marks padding here


def numpy_loss(targets, logits, smoothing):
    """Mean over the real tokens of (1 − ε)·NLL + ε·mean_v(−log p_v), in float64."""
    x = logits.astype("float64")
    x = x - x.max(-1, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    token = (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
    return token[targets != 0].mean()


@pytest.mark.parametrize("pad_id", [-100, 6, 1000])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_pad_id_outside_the_vocabulary(pad_id, smoothing):
    # -100 (PyTorch's ignore_index) or V failed the gather of the targets' log-probabilities
    # on the CPU ("indices[3,0] = -94 is not in [0, 6)") though padding counts for nothing.
    logits = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 6)), "float32")
    targets = np.where(TARGETS == 0, pad_id, TARGETS)
    loss_fn = MaskedSequenceLoss(label_smoothing=smoothing, pad_id=pad_id)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = loss_fn(targets, logits)
    expected = numpy_loss(TARGETS, logits.numpy(), smoothing)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    gradient = tape.gradient(loss, logits).numpy()
    assert np.all(gradient[TARGETS == 0] == 0.0)  # padded tokens get no gradient
    np.testing.assert_allclose(
        float(tf.function(loss_fn, jit_compile=True)(targets, logits)), expected, rtol=1e-5
    )
