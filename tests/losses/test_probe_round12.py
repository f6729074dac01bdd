"""Round-12 audit of MaskedSequenceLoss: a ``pad_id`` outside the int32 range."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss

TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])  # 0 marks padding here
LOGITS = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")


def numpy_loss(targets, logits):
    """Mean NLL over the real tokens (``targets != 0``), in float64."""
    x = logits.astype("float64")
    x = x - x.max(-1, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    return nll[targets != 0].mean()


@pytest.mark.parametrize("pad_id", [2**32, 2**32 + 3, -(2**32), 2**31, -(2**31) - 1])
def test_pad_id_beyond_int32_is_refused(pad_id):
    # Targets are int32 after the range check: the padding of pad_id 2**32 wrapped to id 0
    # and counted as a target of id 0 (2.1783 for 2.1204), 2**32 + 3 as id 3 (1.9980), and
    # 2**31 failed in the gather ("indices[3,0] = -2147483642 is not in [0, 6)").
    with pytest.raises(ValueError, match=r"`pad_id` must be an int32 id"):
        MaskedSequenceLoss(pad_id=pad_id)
    # The ends of the int32 range still mark padding.
    for pad_id in (2**31 - 1, -(2**31)):
        targets = tf.constant(np.where(TARGETS == 0, pad_id, TARGETS), tf.int64)
        loss = MaskedSequenceLoss(pad_id=pad_id)(targets, LOGITS)
        np.testing.assert_allclose(float(loss), numpy_loss(TARGETS, LOGITS), rtol=1e-5)
