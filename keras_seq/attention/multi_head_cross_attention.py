"""Multi-head cross-attention: decoder queries over encoder keys and values."""

import math

import keras
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.attention.base_attention import BaseAttention, is_positive_int


@keras.saving.register_keras_serializable(package="keras_seq")
class MultiHeadCrossAttention(BaseAttention):
    """Multi-head attention (Vaswani et al. 2017) of decoder queries over an encoder memory.

    For each head h = 1..H, with projections ``W^Q_h`` [dim_q, key_dim],
    ``W^K_h`` [dim_k, key_dim], ``W^V_h`` [dim_v, value_dim] and ``W^O`` [H·value_dim, out]::

        e^h_ij = (W^Q_h q_i + b^Q_h) · (W^K_h k_j) / sqrt(key_dim)
        a^h_ij = masked softmax over j of e^h_ij                  [B, H, Tq, Tv]
        c^h_i  = Σ_j a^h_ij (W^V_h v_j + b^V_h)
        y_i    = W^O [c^1_i; ...; c^H_i] + b^O                     [B, Tq, out]

    The key projection has no bias: it would add ``q_i · b^K``, the same for every j, which
    the softmax cancels (`keras.layers.MultiHeadAttention` has one; it gets no gradient).
    Kernels are laid out as in `keras.layers.MultiHeadAttention` (query_kernel
    [dim_q, H, key_dim], value_kernel [dim_v, H, value_dim], output_kernel
    [H, value_dim, out]), so weights copy between the two. A query row with no valid memory
    step (all masked, or an empty memory) gives a zero output (not ``b^O``).

    Args:
        num_heads: int. Number of heads H.
        key_dim: int. Size of each head's query and key projection.
        value_dim: int or None. Size of each head's value projection; None is ``key_dim``.
        output_dim: int or None. Size of the output; None is the feature size of ``query``.
        use_bias: bool. Biases on the query, value and output projections.
        kernel_initializer: initializer of the kernels.
        bias_initializer: initializer of the biases.
        (and the arguments of `BaseAttention`: dropout, seed.)

    Call arguments: as `BaseAttention`.

    Returns:
        The output [B, Tq, out] (or [B, out] for a single-step query); with
        ``return_attention_scores=True`` also the weights [B, H, Tq, Tv] (or [B, H, Tv]).

    Example:
    >>> attention = MultiHeadCrossAttention(num_heads=2, key_dim=4)
    >>> query, value = np.ones((2, 3, 8)), np.ones((2, 6, 10))
    >>> output, weights = attention(query, value, return_attention_scores=True)
    >>> output.shape, weights.shape
    (TensorShape([2, 3, 8]), TensorShape([2, 2, 3, 6]))
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for argument, size in (
            ("num_heads", num_heads),
            ("key_dim", key_dim),
            ("value_dim", value_dim),
            ("output_dim", output_dim),
        ):
            if size is not None and not is_positive_int(size):
                raise ValueError(f"`{argument}` must be a positive int; received {size!r}.")
        if num_heads is None or key_dim is None:
            raise ValueError(
                f"`num_heads` and `key_dim` are required; received num_heads={num_heads}, "
                f"key_dim={key_dim}."
            )
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = None if value_dim is None else int(value_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.use_bias = check_bool(use_bias, "use_bias")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        heads, key_dim = self.num_heads, self.key_dim
        value_dim = self.key_dim if self.value_dim is None else self.value_dim
        output_dim = self._built_query_size if self.output_dim is None else self.output_dim
        self.query_kernel = self._kernel("query_kernel", (self._built_query_size, heads, key_dim))
        self.key_kernel = self._kernel("key_kernel", (self._built_key_size, heads, key_dim))
        self.value_kernel = self._kernel("value_kernel", (self._built_value_size, heads, value_dim))
        self.output_kernel = self._kernel("output_kernel", (heads, value_dim, output_dim))
        self.query_bias = self._bias("query_bias", (heads, key_dim))
        self.value_bias = self._bias("value_bias", (heads, value_dim))
        self.output_bias = self._bias("output_bias", (output_dim,))

    def _kernel(self, name, shape):
        return self.add_weight(name=name, shape=shape, initializer=self.kernel_initializer)

    def _bias(self, name, shape):
        if not self.use_bias:
            return None
        return self.add_weight(name=name, shape=shape, initializer=self.bias_initializer)

    def _calculate_scores(self, query, key):
        projected_query = ops.einsum("bqd,dhe->bqhe", query, self.query_kernel)
        if self.query_bias is not None:
            projected_query = projected_query + self.query_bias
        # Scaled before the product, as `keras.layers.MultiHeadAttention` does: in float16
        # the unscaled product overflows to inf sqrt(key_dim) times sooner (NaN weights).
        projected_query = projected_query * (1.0 / math.sqrt(self.key_dim))
        projected_key = ops.einsum("bkd,dhe->bkhe", key, self.key_kernel)
        return ops.einsum("bqhe,bkhe->bhqk", projected_query, projected_key)

    def _project_value(self, value):
        projected = ops.einsum("bkd,dhe->bkhe", value, self.value_kernel)
        if self.value_bias is not None:
            projected = projected + self.value_bias
        return ops.transpose(projected, (0, 2, 1, 3))  # [B, H, Tv, value_dim]

    def _project_output(self, context):
        output = ops.einsum("bhqe,heo->bqo", context, self.output_kernel)
        if self.output_bias is not None:
            output = output + self.output_bias
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
