"""Greedy choice of the most likely token."""

import keras
import tensorflow as tf

from keras_seq.decoding.token_selector import TokenSelector


@keras.saving.register_keras_serializable(package="keras_seq")
class ArgmaxSelector(TokenSelector):
    """Picks the token with the highest logit: `y = argmax_v logits[v]`.

    Ties go to the lowest id, as `tf.math.argmax` and `tf.math.top_k` both
    break them, so a beam search with one beam makes the same choices. A row
    whose best logit is `-inf` or NaN raises `InvalidArgumentError`.

    Example:

    >>> ArgmaxSelector()([[0.1, 2.0, -1.0]]).numpy()
    array([1], dtype=int32)
    """

    def select(self, logits, seed):
        ids = tf.math.argmax(logits, axis=-1, output_type=tf.int32)
        # A row whose best logit is -inf or NaN (a model emitting no usable score) has no
        # most likely token: refuse it rather than answer id 0 or a NaN's position.
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
