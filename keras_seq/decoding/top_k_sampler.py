"""Sampling among the k most likely tokens."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import scatter_rows
from keras_seq.decoding.temperature_sampler import TemperatureSampler


@keras.saving.register_keras_serializable(package="keras_seq")
class TopKSampler(TemperatureSampler):
    """Draws the next token among the `k` highest logits (Fan et al., 2018).

    With `K` the ids of the `k` largest logits (ties broken towards the lowest
    id, exactly `k` of them), `p(v) = exp(z_v / tau) / sum_{u in K}
    exp(z_u / tau)` for `v` in `K` and `0` elsewhere. `k = 1` is greedy
    decoding; a `k` larger than the vocabulary keeps the whole vocabulary.

    Args:
        k: int >= 1. How many of the most likely tokens to keep.
        temperature: float > 0, finite in float32. Divides the logits before the softmax.

    Example:

    >>> sampler = TopKSampler(k=2)
    >>> ids = sampler(tf.math.log([[0.2, 0.3, 0.5]]), seed=tf.constant([1, 2]))
    """

    def __init__(self, k, temperature=1.0):
        super().__init__(temperature=temperature)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"`k` must be an int >= 1, got {k!r}.")
        if k < 1:
            raise ValueError(f"`k` must be >= 1, got {k}.")
        self.k = int(k)

    def filter_logits(self, logits):
        logits = super().filter_logits(logits)
        vocabulary_size = logits.shape[-1]
        k = min(self.k, vocabulary_size) if vocabulary_size is not None else self.k
        if vocabulary_size is None:
            # No vocabulary holds 2**31 tokens (sizes are int32): a larger k (e.g. `sys.maxsize`
            # for "no truncation") is cut to it before it meets the int32 run-time size.
            k = tf.minimum(min(k, 2**31 - 1), tf.shape(logits)[-1])
        values, indices = tf.math.top_k(logits, k=k)
        return scatter_rows(values, indices, tf.shape(logits))

    def get_config(self):
        return {"k": self.k, **super().get_config()}
