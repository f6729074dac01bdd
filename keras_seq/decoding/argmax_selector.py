"""Greedy choice of the most likely token."""

import keras
import tensorflow as tf

from keras_seq.decoding._ops import NEGATIVE_INFINITY
from keras_seq.decoding.token_selector import TokenSelector


@keras.saving.register_keras_serializable(package="keras_seq")
class ArgmaxSelector(TokenSelector):
    """Picks the token with the highest logit: `y = argmax_v logits[v]`.

    Ties go to the lowest id, as `tf.math.argmax` and `tf.math.top_k` both
    break them, so a beam search with one beam makes the same choices. A NaN
    logit is passed over, read as `-inf` (no score, never the best): the
    arg-max of the other logits, the same eagerly, under `tf.function` and
    under XLA (XLA's own arg-max of `[1, NaN, 0.5]` on the CPU is 2, the eager
    kernel's 0). A row without a finite or `+inf` logit (only `-inf` and NaN) has no
    most likely token and raises `InvalidArgumentError`. `GreedySearch`, like
    the samplers, refuses any NaN among a live row's logits.

    Example:

    >>> ArgmaxSelector()([[0.1, 2.0, -1.0]]).numpy()
    array([1], dtype=int32)
    """

    def select(self, logits, seed):
        # NaN as -inf: the arg-max kernels disagree on NaN (eager CPU skips it, XLA answered
        # an id that is neither the NaN's nor the best's), so the choice is made explicit.
        logits = tf.where(tf.math.is_nan(logits), NEGATIVE_INFINITY, logits)
        ids = tf.math.argmax(logits, axis=-1, output_type=tf.int32)
        # A row whose best logit is -inf (only -inf and NaN: a model emitting no usable
        # score) has no most likely token: refuse it rather than answer id 0.
        best = tf.gather(logits, ids[:, None], batch_dims=1)[:, 0]
        check = tf.debugging.assert_equal(
            tf.math.is_finite(best) | tf.equal(best, float("inf")),
            True,
            message=(
                "ArgmaxSelector: a row of `logits` has no finite best value (all -inf, or "
                "NaN), so it has no most likely token"
            ),
        )
        with tf.control_dependencies([check]):
            return tf.identity(ids)
