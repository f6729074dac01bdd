"""Luong general (bilinear) attention."""

import keras
from keras import ops

from keras_seq.attention.base_attention import BaseAttention


@keras.saving.register_keras_serializable(package="keras_seq")
class GeneralAttention(BaseAttention):
    """Bilinear attention (Luong et al. 2015, "general")::

        e_ij = q_i^T W k_j        W: kernel [dim_q, dim_k]

    then the masked softmax and weighted sum of `BaseAttention`. ``query`` and ``key`` may
    have different feature sizes.

    Args:
        kernel_initializer: initializer of ``W``.
        (and the arguments of `BaseAttention`: dropout, seed.)

    Call arguments, Returns: as `BaseAttention`.

    Example:
    >>> attention = GeneralAttention()
    >>> query, value = np.ones((2, 4, 5)), np.ones((2, 6, 8))
    >>> attention(query, value).shape
    TensorShape([2, 4, 8])
    """

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self._built_query_size, self._built_key_size),
            initializer=self.kernel_initializer,
        )

    def _calculate_scores(self, query, key):
        # einsum, not a [B, Tq, dim_q] x [dim_q, dim_k] matmul (a tensordot): XLA cannot
        # build the tensordot's gradient inside a loop, such as the Bahdanau decoder's.
        projected_query = ops.einsum("bqd,dk->bqk", query, self.kernel)  # q W [B, Tq, dim_k]
        return ops.matmul(projected_query, ops.swapaxes(key, -2, -1))

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config
