"""Sampling from the softmax of temperature-scaled logits."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import FLOAT32_MAX
from keras_seq.decoding.token_selector import TokenSelector


@keras.saving.register_keras_serializable(package="keras_seq")
class TemperatureSampler(TokenSelector):
    """Draws the next token from `softmax(logits / temperature)`.

    `p(v) = exp(z_v / tau) / sum_u exp(z_u / tau)`: `tau < 1` sharpens the
    distribution towards the argmax, `tau > 1` flattens it. The draw is
    `tf.random.stateless_categorical`, so it is reproducible for a given seed
    and exports to TF Serving.

    Subclasses (`TopKSampler`, `TopPSampler`) only override `filter_logits`,
    which returns the logits the draw is made from, with `-inf` on the tokens
    that may not be drawn.

    Args:
        temperature: float > 0, finite in float32. Divides the logits before the softmax.

    Example:

    >>> sampler = TemperatureSampler(temperature=0.7)
    >>> ids = sampler(tf.math.log([[0.2, 0.3, 0.5]]), seed=tf.constant([1, 2]))
    """

    stochastic = True

    def __init__(self, temperature=1.0):
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
            raise TypeError(f"`temperature` must be a positive float, got {temperature!r}.")
        if not 0 < temperature <= FLOAT32_MAX:
            # An infinite temperature divides a masked token's -inf into NaN; so does one above
            # the float32 range (1e39), which is +inf once applied to float32 logits.
            raise ValueError(
                f"`temperature` must be > 0 and finite in float32 (<= 3.4e38), got {temperature}."
            )
        self.temperature = float(temperature)

    def filter_logits(self, logits):
        """Returns `logits / temperature`, the logits the token is drawn from."""
        # 0 stays 0 even where a tiny temperature is flushed to zero by the CPU (0 / 0).
        return tf.where(tf.equal(logits, 0.0), logits, logits / self.temperature)

    def select(self, logits, seed):
        # Subtracting each row's maximum first leaves the softmax unchanged and keeps the
        # division finite for any temperature: the best token gets 0, the others a finite
        # value or -inf, never +inf (a bare `logits / 1e-40` overflows). A NaN or +inf logit,
        # or a row of -inf, gives NaN here.
        shifted = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
        samples = tf.random.stateless_categorical(
            self.filter_logits(shifted), 1, seed=seed, dtype=tf.int32
        )[:, 0]
        # `stateless_categorical` answers the out-of-range id V for a row it cannot draw from
        # (NaN after the shift: a NaN or +inf logit, or only -inf): refuse it rather than
        # hand an invalid token on.
        vocabulary = tf.shape(logits, out_type=tf.int32)[-1]
        check = tf.debugging.assert_less(
            samples,
            vocabulary,
            message=(
                f"{type(self).__name__}: a row of `logits` holds NaN or +inf, or only -inf, so "
                "no token can be drawn from it"
            ),
        )
        with tf.control_dependencies([check]):
            return tf.identity(samples)

    def get_config(self):
        return {"temperature": self.temperature}
