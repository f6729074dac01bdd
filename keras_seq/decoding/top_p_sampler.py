"""Nucleus sampling: drawing from the smallest set of tokens holding mass p."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import NEGATIVE_INFINITY, scatter_rows
from keras_seq.decoding.temperature_sampler import TemperatureSampler

# The float32 rounding of the mass before a token (a few units in the last place of each
# probability and of the running sum), relative to p.
_RELATIVE_TOLERANCE = 1e-6


@keras.saving.register_keras_serializable(package="keras_seq")
class TopPSampler(TemperatureSampler):
    """Draws the next token from the nucleus of mass `p` (Holtzman et al., 2020).

    With `q = softmax(logits / tau)` sorted in decreasing order
    `q_(1) >= q_(2) >= ...`, the nucleus is the shortest prefix whose mass
    reaches `p`: token `(j)` is kept when `sum_{i < j} q_(i) < p`, and the most
    likely token is always kept. The mass is computed in float32, so a mass
    within its rounding of `p` (a relative `1e-6`) counts as reaching `p`:
    `[0.3, 0.3, 0.2, 0.2]` and `p = 0.6` keep two tokens. The draw is from `q`
    renormalized over the nucleus. `p = 1` keeps the whole vocabulary (it draws as
    `TemperatureSampler` does).

    Args:
        p: float in (0, 1]. Probability mass of the nucleus.
        temperature: float > 0, finite in float32. Divides the logits before the softmax (and
            before the nucleus is chosen).

    Example:

    >>> sampler = TopPSampler(p=0.9)
    >>> ids = sampler(tf.math.log([[0.05, 0.15, 0.8]]), seed=tf.constant([1, 2]))
    """

    def __init__(self, p, temperature=1.0):
        super().__init__(temperature=temperature)
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"`p` must be a float in (0, 1], got {p!r}.")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"`p` must be in (0, 1], got {p}.")
        self.p = float(p)

    def filter_logits(self, logits):
        logits = super().filter_logits(logits)
        if self.p >= 1.0:
            # The float32 mass before a token of a confident distribution rounds up to 1,
            # which would drop it; p = 1 keeps every token by definition.
            return logits
        vocabulary_size = logits.shape[-1]
        if vocabulary_size is None:
            vocabulary_size = tf.shape(logits)[-1]
        sorted_logits, sorted_ids = tf.math.top_k(logits, k=vocabulary_size)
        mass_before = tf.math.cumsum(tf.nn.softmax(sorted_logits), axis=-1, exclusive=True)
        # A mass that reaches p up to float32 rounding reaches it: the mass before the third
        # token of [0.3, 0.3, 0.2, 0.2] is 0.59999996 in float32, and p = 0.6 kept it. The
        # most likely token is kept whatever p (a p below float32's range, 1e-46, is 0 there
        # and kept no token).
        short_of_p = mass_before < self.p * (1.0 - _RELATIVE_TOLERANCE)
        first = tf.equal(tf.range(tf.shape(sorted_logits)[-1]), 0)
        kept = tf.where(first | short_of_p, sorted_logits, NEGATIVE_INFINITY)
        return scatter_rows(kept, sorted_ids, tf.shape(logits))

    def get_config(self):
        return {"p": self.p, **super().get_config()}
