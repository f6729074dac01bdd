"""The length penalty of Google's neural machine translation system."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import FLOAT32_MAX
from keras_seq.decoding.length_penalty import LengthPenalty


@keras.saving.register_keras_serializable(package="keras_seq")
class GNMTLengthPenalty(LengthPenalty):
    """`lp(|Y|) = ((5 + |Y|) / 6) ** alpha` (Wu et al., 2016, eq. 14).

    `alpha = 0` is no normalization; `alpha = 1` is close to dividing by the
    length; GNMT uses `alpha` in [0.6, 0.7].

    Args:
        alpha: float >= 0, finite in float32. Strength of the normalization.

    Example:

    >>> GNMTLengthPenalty(alpha=1.0)(tf.constant([1, 7])).numpy()
    array([1., 2.], dtype=float32)
    """

    def __init__(self, alpha):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"`alpha` must be a float >= 0, got {alpha!r}.")
        if not 0 <= alpha <= FLOAT32_MAX:
            # An infinite alpha gives every hypothesis longer than one token the score 0; so
            # does one above the float32 range (1e39), +inf in the float32 `pow`.
            raise ValueError(
                f"`alpha` must be >= 0 and finite in float32 (<= 3.4e38), got {alpha}."
            )
        self.alpha = float(alpha)

    def penalty(self, lengths):
        return tf.pow((5.0 + lengths) / 6.0, self.alpha)

    def get_config(self):
        return {"alpha": self.alpha}
