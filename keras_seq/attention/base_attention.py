"""Base class of the attention layers: masked softmax over scores, weighted sum of values."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import leading_dims_matching, mask_tensor, plain_seed


@keras.saving.register_keras_serializable(package="keras_seq")
class BaseAttention(keras.layers.Layer):
    """Attention of queries over a memory of keys and values, with a value mask.

    A subclass defines the score by overriding ``build`` (its weights) and
    ``_calculate_scores``; masking, softmax, dropout and the weighted sum live here, so every
    scoring mechanism masks the same way. With ``m_j`` the value mask::

        e_ij = score(q_i, k_j)                                   [B, Tq, Tv]
        a_ij = m_j exp(e_ij) / Σ_l m_l exp(e_il)                  attention weights
        c_i  = Σ_j a_ij v_j                                       context [B, Tq, dim]

    Weights are exactly 0 where ``m_j`` is False and sum to 1 over the rest. A row whose
    values are all masked gets zero weights and a zero context (no NaN, also in gradients).
    Keys and values are zeros where ``m_j`` is False, so a NaN or inf there (padding of a
    memory computed upstream) reaches neither the outputs nor the gradients; the same holds
    for query steps where ``query_mask`` is False.

    A query of shape [B, dim] is one decoder step: it runs through the same operations as
    the sequence path with Tq = 1, so both give the same numbers (beam search uses the
    single step, teacher-forced training the sequence).

    Multi-head subclasses also override ``_project_value`` (values into heads) and
    ``_project_output`` (heads back to one output).

    Args:
        dropout: float in [0, 1). Fraction of the attention weights dropped in training (the
            returned weights are the dropped ones, as in `keras.layers.Attention`).
        seed: int or None. Seed of the dropout.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        query: [B, Tq, dim_q] decoder states, or [B, dim_q] for a single step.
        value: [B, Tv, dim_v] encoder outputs.
        key: [B, Tv, dim_k] or None (then ``value`` is the key).
        value_mask: [B, Tv] bool (or 0/1) mask of valid memory steps, or None. Filled from
            the Keras mask of ``value`` when there is one (e.g. ``Embedding(mask_zero=True)``).
        return_attention_scores: bool. Also return the attention weights (after softmax).
        training: bool. Enables dropout.
        query_mask: [B, Tq] (or [B] for a single step) bool mask of valid query steps, or
            None. Filled from the Keras mask of ``query``. Masked query steps are zeros
            before scoring: their outputs are those of a zero query (to be ignored
            downstream; the output keeps the mask) and a NaN or inf there stays out of the
            other steps' gradients.

    Returns:
        The context, [B, Tq, dim_v] (or [B, dim_v] for a single-step query); with
        ``return_attention_scores=True`` a tuple ``(context, weights)`` with weights
        [B, Tq, Tv] (or [B, Tv]). The output keeps the Keras mask of ``query``.
    """

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(dropout, numbers.Real)
            or isinstance(dropout, bool)
            or not 0.0 <= dropout < 1.0
        ):
            raise ValueError(f"`dropout` must be in [0, 1); received dropout={dropout!r}.")
        # Plain Python numbers: a NumPy float made the config unserializable to JSON, and
        # Keras' SeedGenerator refuses a NumPy integer seed.
        self.dropout = float(dropout)
        self.seed = seed = plain_seed(seed)
        self.supports_masking = True
        if dropout > 0:
            self.seed_generator = keras.random.SeedGenerator(seed=seed)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_shapes(query_shape, value_shape, key_shape)
        # Feature sizes the weights are built for; later calls must match them.
        self._built_query_size = query_shape[-1]
        self._built_key_size = key_shape[-1]
        self._built_value_size = value_shape[-1]

    def _calculate_scores(self, query, key):
        """Scores ``e`` of ``query`` [B, Tq, dim_q] against ``key`` [B, Tv, dim_k]: a tensor
        [B, Tq, Tv], or [B, heads, Tq, Tv] for multi-head attention."""
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement `_calculate_scores(query, key)`."
        )

    def _project_value(self, value):
        """Values as multiplied by the weights: [B, Tv, dim_v] (or [B, heads, Tv, dim])."""
        return value

    def _project_output(self, context):
        """From the weighted sum of values to the output, [B, Tq, dim_out]."""
        return context

    def call(
        self,
        query,
        value,
        key=None,
        value_mask=None,
        return_attention_scores=False,
        training=None,
        query_mask=None,
    ):
        # Keras converts the positional inputs only; lists are accepted as keras' Attention does.
        if key is not None and not hasattr(key, "shape"):
            key = ops.convert_to_tensor(key, dtype=self.compute_dtype)
        value_mask = mask_tensor(value_mask)
        key_given = key is not None
        key = key if key_given else value
        # Keras casts float inputs to the compute dtype; integer ones (e.g. 0/1 features) too
        # here, as the softmax of `DotAttention`'s integer scores would fail.
        query, value, key = (
            t if keras.backend.is_float_dtype(t.dtype) else ops.cast(t, self.compute_dtype)
            for t in (query, value, key)
        )
        self._check_shapes(
            tuple(query.shape),
            tuple(value.shape),
            tuple(key.shape),
            None if value_mask is None else tuple(value_mask.shape),
        )
        self._check_built_sizes(query, value, key, key_given)
        # Where the static checks cannot tell (a graph traced with unknown sizes), at run
        # time: a query or key of batch 1 would broadcast against a memory of batch B (and
        # the other way round), giving every row row 0's attention.
        name = self.__class__.__name__
        if key_given:
            key = leading_dims_matching(
                key, value, 2, f"{name}: `key` and `value` must agree on [batch, Tv]"
            )
        query = leading_dims_matching(
            query, value, 1, f"{name}: `query` and `value` must have the same batch size"
        )
        if query_mask is not None:
            query = self._zero_masked_query(query, query_mask)
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, axis=1)
        if value_mask is not None:
            value_mask = leading_dims_matching(
                value_mask, value, 2, f"{name}: `value_mask` must have shape [batch, Tv]"
            )
            value_mask = ops.cast(value_mask, "bool")
            # A NaN or inf at a masked step (padding of a memory computed upstream) would
            # pass its weight of 0 as 0·NaN = NaN into the weighted sum, the scores and
            # every gradient; masked keys and values are zeros instead.
            step_mask = value_mask[:, :, None]
            value = ops.where(step_mask, value, ops.zeros_like(value))
            key = ops.where(step_mask, key, ops.zeros_like(key)) if key_given else value

        scores = self._calculate_scores(query, key)
        weights = _masked_softmax(scores, value_mask)
        if training and self.dropout > 0:
            weights = keras.random.dropout(weights, self.dropout, seed=self.seed_generator)
        output = self._project_output(ops.matmul(weights, self._project_value(value)))
        if value_mask is not None:
            # A query with no valid memory step gets a zero output, also past an output bias.
            has_valid_step = ops.any(value_mask, axis=-1)[:, None, None]
            output = ops.where(has_valid_step, output, ops.zeros_like(output))
        elif value.shape[1] is None or value.shape[1] == 0:
            # An empty memory (Tv = 0) has no valid step either, mask or not.
            output = ops.where(ops.shape(value)[1] > 0, output, ops.zeros_like(output))

        if single_step:
            output = ops.squeeze(output, axis=1)
            weights = ops.squeeze(weights, axis=-2)
        if return_attention_scores:
            return output, weights
        return output

    def _zero_masked_query(self, query, query_mask):
        """``query`` with zeros where ``query_mask`` [B, Tq] (or [B]) is False: a NaN or inf
        at a masked query step, whose output is ignored downstream, would still make the
        gradients of the keys, values and weights NaN (through the softmax and matmuls)."""
        name = self.__class__.__name__
        query_mask = mask_tensor(query_mask)
        expected = tuple(query.shape[:-1])
        # A scalar is every step's mask.
        if len(query_mask.shape) == 0:
            return ops.where(ops.cast(query_mask, "bool"), query, ops.zeros_like(query))
        if len(query_mask.shape) != len(expected) or not _compatible(
            tuple(query_mask.shape), expected
        ):
            raise ValueError(
                f"{name}: `query_mask` must have shape {expected} (the query's shape without "
                f"its features) to match query.shape={tuple(query.shape)}; received "
                f"query_mask.shape={tuple(query_mask.shape)}."
            )
        query_mask = leading_dims_matching(
            query_mask, query, len(expected), f"{name}: `query_mask` must match `query`"
        )
        query_mask = ops.cast(query_mask, "bool")[..., None]
        return ops.where(query_mask, query, ops.zeros_like(query))

    def _check_shapes(self, query_shape, value_shape, key_shape, mask_shape=None):
        name = self.__class__.__name__
        if len(query_shape) not in (2, 3):
            raise ValueError(
                f"{name}: `query` must have rank 3 [batch, Tq, dim] or rank 2 [batch, dim] "
                f"(one step); received query.shape={query_shape}."
            )
        if len(value_shape) != 3:
            raise ValueError(
                f"{name}: `value` must have rank 3 [batch, Tv, dim]; received "
                f"value.shape={value_shape}."
            )
        if len(key_shape) != 3:
            raise ValueError(
                f"{name}: `key` must have rank 3 [batch, Tv, dim]; received key.shape={key_shape}."
            )
        if not _compatible(key_shape[:2], value_shape[:2]):
            raise ValueError(
                f"{name}: `key` and `value` must agree on [batch, Tv]; received "
                f"key.shape={key_shape} and value.shape={value_shape}."
            )
        if not _compatible(query_shape[:1], value_shape[:1]):
            raise ValueError(
                f"{name}: `query` and `value` must have the same batch size; received "
                f"query.shape={query_shape} and value.shape={value_shape}."
            )
        if mask_shape is not None and (
            len(mask_shape) != 2 or not _compatible(mask_shape, value_shape[:2])
        ):
            raise ValueError(
                f"{name}: `value_mask` must have shape [batch, Tv] = {value_shape[:2]} to "
                f"match value.shape={value_shape}; received value_mask.shape={mask_shape}."
            )

    def _check_built_sizes(self, query, value, key, key_given):
        for argument, tensor, built in (
            ("query", query, self._built_query_size),
            ("value", value, self._built_value_size),
            ("key" if key_given else "value (the key)", key, self._built_key_size),
        ):
            size = tensor.shape[-1]
            if size is not None and built is not None and size != built:
                raise ValueError(
                    f"{self.__class__.__name__} was built for `{argument}` with feature size "
                    f"{built}; received shape {tuple(tensor.shape)}."
                )

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "seed": self.seed})
        return config


def is_positive_int(value):
    """Whether ``value`` is an int > 0, NumPy integers included and bools excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _compatible(shape_a, shape_b):
    """Static dimensions agree wherever both are known."""
    return all(a is None or b is None or a == b for a, b in zip(shape_a, shape_b, strict=True))


def _masked_softmax(scores, mask):
    """Softmax over the last axis of ``scores`` with a [B, Tv] mask; zeros at masked steps.

    Computed in float32 when the scores are float16/bfloat16 (as Keras' ``Softmax`` does),
    then cast back."""
    dtype = keras.backend.standardize_dtype(scores.dtype)
    if dtype in ("float16", "bfloat16"):
        scores = ops.cast(scores, "float32")
    if mask is None:
        return ops.cast(_softmax(scores), dtype)
    while len(mask.shape) < len(scores.shape):
        mask = ops.expand_dims(mask, axis=1)  # [B, Tv] -> [B, 1, ..., Tv]
    # A finite stand-in (not -inf) keeps a fully masked row's softmax, and its gradient,
    # free of NaN; the `where` after the softmax makes masked weights exactly 0. It is the
    # lowest finite value of the dtype, below any valid score (a constant such as -1e9 would
    # take the mass from valid scores below it, leaving a row of zeros).
    lowest = float(np.finfo(keras.backend.standardize_dtype(scores.dtype)).min)
    scores = ops.where(mask, scores, ops.full_like(scores, lowest))
    weights = _softmax(scores)
    return ops.cast(ops.where(mask, weights, ops.zeros_like(weights)), dtype)


def _softmax(scores):
    # tf.nn.softmax, which `ops.softmax` calls on TensorFlow: over a single source position
    # (Tv = 1, a one-token source) the weights are 1 by definition, and `ops.softmax` warned
    # "likely not what you intended" at every trace.
    return tf.nn.softmax(scores, axis=-1)
