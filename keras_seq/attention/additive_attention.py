"""Bahdanau additive attention."""

import math

import keras
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.attention.base_attention import BaseAttention, is_positive_int

# Floor of ||v||^2 in the weight normalization (as `tf.math.l2_normalize`'s epsilon).
NORM_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="keras_seq")
class AdditiveAttention(BaseAttention):
    """Additive attention (Bahdanau et al. 2015)::

        e_ij = v^T tanh(W_q q_i + W_k k_j + b)

    with ``W_q`` (query_kernel) [dim_q, units], ``W_k`` (key_kernel) [dim_k, units] and ``v``
    [units]; then the masked softmax and weighted sum of `BaseAttention`.

    ``v`` follows `keras.layers.AdditiveAttention`: a learned vector (weight ``scale``) with
    ``use_scale=True``, all ones otherwise. With ``W_q = W_k = I`` and no ``b`` this layer is
    Keras' layer. ``normalize=True`` applies weight normalization to ``v`` and adds the bias
    ``b`` (zeros at start), as in the normalized Bahdanau attention of Raffel et al. 2017
    (``tfa.seq2seq.BahdanauAttention(normalize=True)``)::

        v <- g v / ||v||          g: scalar ``scale_gain``, initialised to sqrt(1 / units)

    which keeps the scale of the scores independent of ``units`` and ``||v||``. The norm is
    ``||v|| = sqrt(max(Σ_u v_u², ε))`` with ``ε = 1e-12`` (``tf.math.l2_normalize``'s guard):
    exact for ``||v|| >= 1e-6``, while a zero ``v`` (e.g. ``kernel_initializer="zeros"``)
    gives zero scores, i.e. uniform weights over the valid steps, and the finite Jacobian
    ``g / sqrt(ε) · I`` of the normalized ``v`` instead of NaN, so ``v`` can still learn.
    Without it there is no ``b``, as in Bahdanau et al.'s equations and Keras' layer.

    Args:
        units: int or None. Size of the hidden layer of the score; None is the feature size
            of ``key``.
        use_scale: bool. Learn ``v`` (else ``v`` is all ones).
        normalize: bool. Weight-normalize ``v`` and add the bias ``b``.
        kernel_initializer: initializer of ``W_q``, ``W_k`` and ``v``.
        (and the arguments of `BaseAttention`: dropout, seed.)

    Call arguments, Returns: as `BaseAttention`.

    Example:
    >>> attention = AdditiveAttention(units=16)
    >>> query, value = np.ones((2, 5)), np.ones((2, 6, 8))  # one decoder step
    >>> context, weights = attention(query, value, return_attention_scores=True)
    >>> context.shape, weights.shape
    (TensorShape([2, 8]), TensorShape([2, 6]))
    """

    def __init__(
        self,
        units=None,
        use_scale=True,
        normalize=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units is not None and not is_positive_int(units):
            raise ValueError(f"`units` must be a positive int or None; received units={units!r}.")
        self.units = None if units is None else int(units)
        self.use_scale = check_bool(use_scale, "use_scale")
        self.normalize = check_bool(normalize, "normalize")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        units = self._built_key_size if self.units is None else self.units
        self.query_kernel = self.add_weight(
            name="query_kernel",
            shape=(self._built_query_size, units),
            initializer=self.kernel_initializer,
        )
        self.key_kernel = self.add_weight(
            name="key_kernel",
            shape=(self._built_key_size, units),
            initializer=self.kernel_initializer,
        )
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight(
                name="scale", shape=(units,), initializer=self.kernel_initializer
            )
        self.scale_gain = None
        self.bias = None
        if self.normalize:
            self.scale_gain = self.add_weight(
                name="scale_gain",
                shape=(),
                initializer=keras.initializers.Constant(math.sqrt(1.0 / units)),
            )
            self.bias = self.add_weight(name="bias", shape=(units,), initializer="zeros")

    def _calculate_scores(self, query, key):
        # einsum, not a [B, T, d] x [d, units] matmul (a tensordot): XLA cannot build the
        # tensordot's gradient inside a loop, such as the Bahdanau decoder's.
        projected_query = ops.einsum("bqd,du->bqu", query, self.query_kernel)  # [B, Tq, units]
        projected_key = ops.einsum("bkd,du->bku", key, self.key_kernel)  # [B, Tv, units]
        if self.bias is not None:
            projected_key = projected_key + self.bias
        # [B, Tq, 1, units] + [B, 1, Tv, units]
        hidden = ops.tanh(projected_query[:, :, None, :] + projected_key[:, None, :, :])
        # The norm of v in float32 at least: in float16, ||v||^2 overflows to inf once
        # ||v|| > 256 (weight normalization lets ||v|| grow freely), which made v zero and
        # every weight uniform.
        dtype = keras.backend.standardize_dtype(hidden.dtype)
        dtype = "float32" if dtype in ("float16", "bfloat16") else dtype
        if self.scale is None:
            scale = ops.ones((hidden.shape[-1],), dtype=dtype)
        else:
            scale = ops.cast(self.scale, dtype)
        if self.normalize:
            gain = ops.cast(self.scale_gain, dtype)
            # ||v|| = sqrt(max(sum v^2, eps)), the guard of `tf.math.l2_normalize`: exact for
            # ||v|| >= 1e-6, and a zero v (a "zeros" initializer, or v decayed to 0) gives
            # v = 0 (zero scores, uniform weights) with the finite gradient g / sqrt(eps)
            # where 0 / 0 made the scores, the weights and every gradient NaN.
            squared_norm = ops.maximum(ops.sum(ops.square(scale)), NORM_EPSILON)
            scale = gain * scale / ops.sqrt(squared_norm)
        return ops.sum(hidden * ops.cast(scale, hidden.dtype), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "use_scale": self.use_scale,
                "normalize": self.normalize,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
