"""Nucleus sampling: drawing from the smallest set of tokens holding mass p."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import NEGATIVE_INFINITY, scatter_rows
from keras_seq.decoding.temperature_sampler import TemperatureSampler


@keras.saving.register_keras_serializable(package="keras_seq")
class TopPSampler(TemperatureSampler):
    """Draws the next token from the nucleus of mass `p` (Holtzman et al., 2020).

    With `q = softmax(logits / tau)` sorted in decreasing order
    `q_(1) >= q_(2) >= ...`, the nucleus is the shortest prefix whose mass
    reaches `p`: token `(j)` is kept when `sum_{i < j} q_(i) < p`, so the most
    likely token is always kept. The draw is from `q` renormalized over the
    nucleus. `p = 1` keeps the whole vocabulary (it draws as
    `TemperatureSampler` does).

    Args:
        p: float in (0, 1]. Probability mass of the nucleus.
        temperature: finite float > 0. Divides the logits before the softmax (and
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
        kept = tf.where(mass_before < self.p, sorted_logits, NEGATIVE_INFINITY)
        return scatter_rows(kept, sorted_ids, tf.shape(logits))

    def get_config(self):
        return {"p": self.p, **super().get_config()}
