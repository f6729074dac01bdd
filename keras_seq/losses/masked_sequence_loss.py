"""Token-level cross-entropy over padded sequences."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_seq")
class MaskedSequenceLoss(keras.losses.Loss):
    """Cross-entropy of every non-padding target token, averaged over those tokens.

    With label smoothing ε over a vocabulary of V tokens the target distribution is
    ``q = (1 − ε) · onehot(y) + ε / V`` (Szegedy et al. 2016), and the loss per token is
    ``−Σ_v q_v log p_v``; tokens equal to ``pad_id`` count for nothing, and the mean is taken
    over the real tokens of the batch (not over padded positions).

    Under a `tf.distribute` strategy the mean is over the real tokens of the *global* batch:
    each replica divides its sum by the all-reduced token count and multiplies by the number
    of replicas, which Keras divides by again before summing the replicas' gradients. So
    replicas holding different numbers of real tokens train exactly as one device would.

    Args:
        label_smoothing: float in [0, 1).
        pad_id: int. Target id that marks padding.
        from_logits: bool. Whether predictions are logits (default) or probabilities.

    Call arguments:
        y_true: int [B, T] target ids. y_pred: float [B, T, V].

    Returns:
        The scalar loss.

    Example:
    >>> model.compile("adam", loss=MaskedSequenceLoss(label_smoothing=0.1))
    """

    def __init__(self, label_smoothing=0.0, pad_id=0, from_logits=True, name=None, **kwargs):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"`label_smoothing` must be in [0, 1), got {label_smoothing!r}.")
        super().__init__(name=name or "masked_sequence_loss", **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.pad_id = pad_id
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        picked = ops.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
        token_loss = -picked
        if self.label_smoothing > 0:
            smooth = -ops.mean(log_probs, axis=-1)
            token_loss = (1 - self.label_smoothing) * token_loss + self.label_smoothing * smooth
        weights = ops.cast(ops.not_equal(y_true, self.pad_id), token_loss.dtype)
        return _global_token_mean(ops.sum(token_loss * weights), ops.sum(weights))

    def get_config(self):
        return {
            "name": self.name,
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
            "from_logits": self.from_logits,
        }


def _global_token_mean(loss_sum, token_count):
    """``loss_sum / token_count`` on one device; under a strategy with N replicas,
    ``N · loss_sum / Σ_replicas token_count`` (Keras scales each replica's loss by 1/N)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, token_count)
            replicas = ops.cast(context.num_replicas_in_sync, loss_sum.dtype)
            return replicas * loss_sum / ops.maximum(total, 1.0)
    return loss_sum / ops.maximum(token_count, 1.0)
