"""Luong dot-product attention."""

import math

import keras
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.attention.base_attention import BaseAttention


@keras.saving.register_keras_serializable(package="keras_seq")
class DotAttention(BaseAttention):
    """Dot-product attention (Luong et al. 2015, "dot"), optionally scaled by 1/sqrt(dim).

    ::

        e_ij = q_i · k_j              (scaled=False)
        e_ij = q_i · k_j / sqrt(d)    (scaled=True; d = feature size of query and key,
                                       Vaswani et al. 2017)

    then the masked softmax and weighted sum of `BaseAttention`. No weights. Unlike
    `keras.layers.Attention(use_scale=True)`, whose scale is a learned scalar initialised
    to 1, the scale here is the fixed 1/sqrt(d); both agree when Keras' scale is set to it.

    Args:
        scaled: bool. Divide the scores by sqrt(d).
        (and the arguments of `BaseAttention`: dropout, seed.)

    Call arguments, Returns: as `BaseAttention`; ``query`` and ``key`` must have the same
    feature size.

    Example:
    >>> attention = DotAttention(scaled=True)
    >>> query, value = np.ones((2, 4, 8)), np.ones((2, 6, 8))
    >>> context, weights = attention(query, value, return_attention_scores=True)
    >>> context.shape, weights.shape
    (TensorShape([2, 4, 8]), TensorShape([2, 4, 6]))
    """

    def __init__(self, scaled=False, **kwargs):
        super().__init__(**kwargs)
        self.scaled = check_bool(scaled, "scaled")

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        if self._built_query_size != self._built_key_size:
            key_name = "value" if key_shape is None else "key"
            raise ValueError(
                f"DotAttention needs the same feature size for `query` and `{key_name}`; "
                f"received query.shape={tuple(query_shape)} and "
                f"{key_name}.shape={tuple(value_shape if key_shape is None else key_shape)}."
            )

    def _calculate_scores(self, query, key):
        # The 1/sqrt(d) scales the query before the product (as keras.layers.MultiHeadAttention
        # does), not the scores after it: under float16 a product above 65504 overflowed to
        # inf (NaN weights) even when the scaled score was in range.
        if self.scaled:
            size = query.shape[-1]
            if size is None:  # traced with unknown dimensions, e.g. by a serving signature
                size = self._built_query_size
            if size is None:  # and built that way: the size is only known at run time
                query = query * ops.rsqrt(ops.cast(ops.shape(query)[-1], query.dtype))
            else:
                # Converted in the query's dtype, not cast: `ops.cast` of a Python float
                # goes through float32 first, which cut a float64 query's scale to float32
                # precision (relative error 1e-8 in every score).
                query = query * ops.convert_to_tensor(1.0 / math.sqrt(size), query.dtype)
        return ops.matmul(query, ops.swapaxes(key, -2, -1))

    def get_config(self):
        config = super().get_config()
        config["scaled"] = self.scaled
        return config
