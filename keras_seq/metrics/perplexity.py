"""Perplexity over padded sequences."""

import keras
from keras import ops

from keras_seq._checked_ids import check_bool, poisoned
from keras_seq.losses.masked_sequence_loss import (
    check_pad_id,
    gather_ids,
    real_scores,
    target_ids,
    token_weights,
)
from keras_seq.metrics._checks import accumulator_dtype


@keras.saving.register_keras_serializable(package="keras_seq")
class Perplexity(keras.metrics.Metric):
    """``exp`` of the mean cross-entropy per non-padding token, over all batches seen.

    ``PPL = exp(−(1/N) Σ_t log p(y_t))`` with N the number of real (non-``pad_id``) target
    tokens, accumulated as a sum of log-probabilities and a token count, so it is the corpus
    perplexity, not a mean of batch perplexities. With sample weights w both sums are weighted:
    ``PPL = exp(−Σ_t w_t log p(y_t) / Σ_t w_t)`` over the real tokens. `result()` is 0 before
    any real token (or when their weights sum to 0), as Keras-Hub's ``Perplexity`` gives. What
    ``y_pred`` holds at a padded position (−inf, NaN) is never read.

    Args:
        pad_id: int. Target id that marks padding, inside the vocabulary or not
            (e.g. -100 or V).
        from_logits: bool. Whether predictions are logits (default) or probabilities.
        dtype: "float64" to count and compute in float64 (as Keras' metrics do; float32 sums
            stop growing past 2**24); any other dtype (the default) counts in float32.

    Call arguments (``update_state``):
        y_true: int target ids [B, T] ([B, T, 1] is read as [B, T]).
        y_pred: logits or probabilities [B, T, V].
        sample_weight: optional float [B] weights of the examples (each counts for every token
            of its example, as ``model.fit(..., sample_weight=w)`` passes them) or [B, T]
            weights of the tokens ([B, T, 1] is read as [B, T]). Raises ValueError for any
            other shape.

    Target ids and shapes are checked as `MaskedSequenceLoss` checks them (`target_ids`):
    every id is ``pad_id`` or in [0, V), and ``y_pred``'s leading shape is ``y_true``'s.

    Example:
    >>> y_true = np.array([[1, 2, 0]])  # 0 pads: the third step does not count
    >>> probabilities = np.array([[[0.25, 0.5, 0.25], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]]])
    >>> logits = np.log(probabilities + 1e-9)
    >>> metric = Perplexity()
    >>> metric.update_state(y_true, logits)
    >>> round(float(metric.result()), 4)  # exp of the mean NLL: sqrt(0.5**-1 * 0.25**-1)
    2.8284
    """

    def __init__(self, pad_id=0, from_logits=True, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        # lower is better: read by `mode="auto"` of ModelCheckpoint / EarlyStopping, which
        # otherwise raises after the first epoch for a metric it cannot place.
        self._direction = "down"
        self.pad_id = check_pad_id(pad_id)
        self.from_logits = check_bool(from_logits, "from_logits")
        # float64 when made with dtype="float64" (Keras' metrics honour it), else float32.
        self._accumulator_dtype = accumulator_dtype(self.dtype)
        self.negative_log_likelihood = self.add_variable(
            (), initializer="zeros", dtype=self._accumulator_dtype, name="nll"
        )
        self.count = self.add_variable(
            (), initializer="zeros", dtype=self._accumulator_dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self._accumulator_dtype)
        y_true, fine = target_ids(y_true, y_pred, self.pad_id)
        real = ops.not_equal(y_true, self.pad_id)
        y_pred = real_scores(y_pred, real)
        valid = ops.cast(real, self._accumulator_dtype)
        if sample_weight is not None:
            valid = token_weights(sample_weight, valid)
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        picked = ops.take_along_axis(log_probs, gather_ids(y_true, real), axis=-1)[..., 0]
        self.negative_log_likelihood.assign_add(-ops.sum(picked * valid))
        self.count.assign_add(poisoned(ops.sum(valid), fine))

    def result(self):
        # The count is a sum of weights, so it may be below 1 without being empty. With no
        # token at all exp(0) = 1 would read as a perfect model: 0 says "nothing counted".
        # A count poisoned with NaN (a bad id under XLA, see `keras_seq._checked_ids`) stays
        # NaN rather than reading as "nothing counted".
        perplexity = ops.exp(ops.divide_no_nan(self.negative_log_likelihood, self.count))
        return ops.where(
            self.count > 0, perplexity, ops.where(ops.isnan(self.count), self.count, 0.0)
        )

    def reset_state(self):
        self.negative_log_likelihood.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id, "from_logits": self.from_logits}
