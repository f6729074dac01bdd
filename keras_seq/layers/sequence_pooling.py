"""Masked pooling of a sequence into one vector."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import check_bool, leading_dims_matching, mask_tensor
from keras_seq.layers.recurrent import ragged_inputs_message

POOLING_MODES = ("last", "mean", "max", "sum")


@keras.saving.register_keras_serializable(package="keras_seq")
class SequencePooling(keras.layers.Layer):
    """Pools [B, T, D] sequences into [B, D] over their valid (unmasked) steps.

    With ``m_t`` the mask of step t and ``n = Σ_t m_t``::

        sum:   y = Σ_t m_t x_t
        mean:  y = Σ_t m_t x_t / n
        max:   y = max over {t : m_t} of x_t       (masked steps never win)
        last:  y = x_{t_last},  t_last = max {t : m_t}

    The valid steps are read from the mask, never assumed to be a prefix: with left padding
    ``t_last`` is T - 1, with right padding it is length - 1. With ``bidirectional=True`` the
    features are taken to be ``[forward, backward]`` halves (as from `Bidirectional` with
    ``merge_mode="concat"``) and "last" takes the forward half at ``t_last`` and the backward
    half at ``t_first = min {t : m_t}``, where each direction has seen the whole sequence;
    the other modes treat every feature alike. A row with no valid step gives zeros (no NaN,
    also in gradients), and so does every row of a batch with no time steps (T = 0). Without
    a mask every step is valid.

    Args:
        mode: str. One of "last", "mean", "max", "sum".
        bidirectional: bool. Features are [forward, backward] halves (for "last"); needs an
            even feature size.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: [B, T, D] sequence.
        mask: [B, T] bool (or 0/1) mask of valid steps (a tensor or nested list), or None;
            filled by Keras mask propagation (e.g. from ``Embedding(mask_zero=True)``).

    Returns:
        [B, D] pooled features (no mask).

    Example:
    >>> x = np.arange(12, dtype="float32").reshape(1, 4, 3)
    >>> mask = np.array([[False, True, True, False]])
    >>> SequencePooling("last")(x, mask=mask).numpy()
    array([[6., 7., 8.]], dtype=float32)
    """

    def __init__(self, mode="last", bidirectional=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"`mode` must be one of {POOLING_MODES}; received mode={mode!r}.")
        self.mode = mode
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.supports_masking = True

    def build(self, input_shape):
        self._check_shapes(tuple(input_shape))

    def call(self, inputs, mask=None):
        if isinstance(inputs, tf.RaggedTensor):
            raise ValueError(ragged_inputs_message(self.name))
        if keras.backend.standardize_dtype(inputs.dtype) == "bool":
            raise TypeError(
                f"{self.name}: `inputs` must be numeric, got dtype bool (cast it to a number "
                "first)."
            )
        mask = mask_tensor(mask)  # a nested list too
        self._check_shapes(tuple(inputs.shape), None if mask is None else tuple(mask.shape))
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        else:
            mask = leading_dims_matching(
                mask, inputs, 2, "SequencePooling: `mask` must have shape [batch, T]"
            )
        mask = ops.cast(mask, "bool")
        step_mask = mask[:, :, None]  # [B, T, 1]
        if self.mode == "sum":
            return ops.sum(ops.where(step_mask, inputs, ops.zeros_like(inputs)), axis=1)
        if self.mode == "mean":
            # The mean of integers is a float of the compute dtype.
            dtype = inputs.dtype
            if not keras.backend.is_float_dtype(dtype):
                dtype = self.compute_dtype
            if keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16"):
                # Summed in float32: a float16 sum of 1000 steps of 100 overflows to inf
                # (the mean fits), and float16 counts are inexact above 2048 steps. Integers
                # go to float32 directly: through float16 one above 65504 was inf.
                inputs = ops.cast(inputs, "float32")
            else:
                inputs = ops.cast(inputs, dtype)
            total = ops.sum(ops.where(step_mask, inputs, ops.zeros_like(inputs)), axis=1)
            count = ops.sum(ops.cast(mask, inputs.dtype), axis=1, keepdims=True)
            return ops.cast(total / ops.maximum(count, 1.0), dtype)
        has_valid_step = ops.any(mask, axis=1)[:, None]  # [B, 1]
        if self.mode == "max":
            # -inf loses to every valid value; a fully masked row's -inf is replaced below
            # and gets a zero gradient. (`tf.reduce_max`, unlike `ops.max`, also reduces an
            # empty batch or time axis eagerly.)
            dtype = keras.backend.standardize_dtype(inputs.dtype)
            if keras.backend.is_float_dtype(dtype):
                lowest = -float("inf")
            else:
                lowest = np.iinfo(dtype).min
            pooled = tf.reduce_max(
                ops.where(step_mask, inputs, ops.full_like(inputs, lowest)), axis=1
            )
            return ops.where(has_valid_step, pooled, ops.zeros_like(pooled))
        batch, steps, features = ops.shape(inputs)

        def no_step():  # T = 0: there is no step to read
            return ops.zeros((batch, features), dtype=inputs.dtype)

        if isinstance(steps, int):
            pooled = self._last(inputs, mask) if steps else no_step()
        else:
            pooled = tf.cond(steps > 0, lambda: self._last(inputs, mask), no_step)
        return ops.where(has_valid_step, pooled, ops.zeros_like(pooled))

    def _last(self, inputs, mask):
        steps = ops.shape(inputs)[1]
        positions = ops.arange(steps, dtype="int32")[None, :]  # [1, T]
        last = tf.reduce_max(ops.where(mask, positions, -1), axis=1)
        last = ops.maximum(last, 0)  # a fully masked row reads step 0, zeroed by the caller
        forward = ops.take_along_axis(inputs, last[:, None, None], axis=1)[:, 0]
        if not self.bidirectional:
            return forward
        first = tf.reduce_min(ops.where(mask, positions, steps), axis=1)
        first = ops.minimum(first, steps - 1)
        backward = ops.take_along_axis(inputs, first[:, None, None], axis=1)[:, 0]
        half = ops.shape(inputs)[-1] // 2
        return ops.concatenate([forward[:, :half], backward[:, half:]], axis=-1)

    def _check_shapes(self, input_shape, mask_shape=None):
        if len(input_shape) != 3:
            raise ValueError(
                f"SequencePooling: `inputs` must have rank 3 [batch, T, features]; received "
                f"inputs.shape={input_shape}."
            )
        features = input_shape[-1]
        if self.bidirectional and features is not None and features % 2:
            raise ValueError(
                "SequencePooling(bidirectional=True) needs an even feature size "
                f"([forward, backward] halves); received inputs.shape={input_shape}."
            )
        if mask_shape is not None and (
            len(mask_shape) != 2
            or any(
                a is not None and b is not None and a != b
                for a, b in zip(mask_shape, input_shape[:2], strict=True)
            )
        ):
            raise ValueError(
                f"SequencePooling: `mask` must have shape [batch, T] = {input_shape[:2]} to "
                f"match inputs.shape={input_shape}; received mask.shape={mask_shape}."
            )

    def compute_mask(self, inputs, mask=None):
        return None  # the time axis is pooled away

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "bidirectional": self.bidirectional})
        return config
