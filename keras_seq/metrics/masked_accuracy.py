"""Token accuracy over padded sequences."""

import keras
from keras import ops

from keras_seq._checked_ids import poisoned
from keras_seq.losses.masked_sequence_loss import check_pad_id, target_ids, token_weights
from keras_seq.metrics._checks import accumulator_dtype


@keras.saving.register_keras_serializable(package="keras_seq")
class MaskedAccuracy(keras.metrics.Metric):
    """Fraction of non-padding target tokens whose arg-max prediction is right.

    Accumulates ``Σ w_t [argmax p_t = y_t] · [y_t ≠ pad]`` and ``Σ w_t [y_t ≠ pad]`` over
    batches (``w_t = 1`` without sample weights) and returns their ratio (0 before any token).

    Args:
        pad_id: int. Target id that marks padding.
        dtype: "float64" to count and compute in float64 (as Keras' metrics do; float32 sums
            stop growing past 2**24); any other dtype (the default) counts in float32.

    Call arguments (``update_state``):
        y_true: int target ids [B, T] ([B, T, 1] is read as [B, T]).
        y_pred: scores [B, T, V].
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
    >>> metric = MaskedAccuracy()
    >>> metric.update_state(y_true, logits)
    >>> float(metric.result())  # step 1 right, step 2 wrong (its arg-max is 0)
    0.5
    """

    def __init__(self, pad_id=0, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        # higher is better: read by `mode="auto"` of ModelCheckpoint / EarlyStopping, which
        # otherwise raises after the first epoch for a metric it cannot place.
        self._direction = "up"
        self.pad_id = check_pad_id(pad_id)
        # float64 when made with dtype="float64" (Keras' metrics honour it), else float32.
        self._accumulator_dtype = accumulator_dtype(self.dtype)
        self.correct = self.add_variable(
            (), initializer="zeros", dtype=self._accumulator_dtype, name="correct"
        )
        self.count = self.add_variable(
            (), initializer="zeros", dtype=self._accumulator_dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true, fine = target_ids(y_true, y_pred, self.pad_id)
        valid = ops.cast(ops.not_equal(y_true, self.pad_id), self._accumulator_dtype)
        if sample_weight is not None:
            valid = token_weights(sample_weight, valid)
        hits = ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), y_true), self._accumulator_dtype)
        self.correct.assign_add(ops.sum(hits * valid))
        self.count.assign_add(poisoned(ops.sum(valid), fine))

    def result(self):
        # The count is a sum of weights, so it may be below 1 without being empty.
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
