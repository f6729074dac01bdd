"""Token-level cross-entropy over padded sequences."""

import keras
import numpy as np
from keras import ops

from keras_seq._checked_ids import (
    as_int,
    check_bool,
    checked_ids,
    leading_dims_matching,
    poisoned,
    refuse_ragged,
)


@keras.saving.register_keras_serializable(package="keras_seq")
class MaskedSequenceLoss(keras.losses.Loss):
    """Cross-entropy of every non-padding target token, averaged over those tokens.

    With label smoothing ε over a vocabulary of V tokens the target distribution is
    ``q = (1 − ε) · onehot(y) + ε / V`` (Szegedy et al. 2016), and the loss per token is
    ``−Σ_v q_v log p_v``; tokens equal to ``pad_id`` count for nothing, and the mean is taken
    over the real tokens of the batch (not over padded positions). What ``y_pred`` holds at a
    padded position is never read: a model may put −inf there (e.g. on the padding column, so
    padding is never predicted) or even NaN, and neither the loss nor its gradient sees it.

    A logit of −inf at a real position bans its class (p_v = 0): the smoothing mass goes to
    the allowed classes A = {v : z_v ≠ −inf} of that token only, ``q = (1 − ε) · onehot(y) +
    ε / |A| · [v ∈ A]``, which is ``ε / V`` when nothing is banned. The ε / V of Keras' and
    fairseq's smoothing would put mass where log p_v = −inf and make the loss inf; OpenNMT-py
    likewise gives the padding class no smoothing mass. The gradient is ``p − q``, 0 on a
    banned class. A banned target (z_y = −inf) still gives inf: the model rules out the
    truth. With ``from_logits=False`` every class is in A (probabilities are clipped at 1e-12
    before the log, so a zero probability costs a finite amount).

    With a ``sample_weight`` w the loss is the weighted mean over the real tokens,
    ``Σ_{b,t} w_{b,t} m_{b,t} ℓ_{b,t} / Σ_{b,t} w_{b,t} m_{b,t}`` with m the non-padding mask:
    a [B] weight counts for every token of its example, a [B, T] weight for one token (as
    ``model.fit(x, y, sample_weight=w)`` passes them); 0 when the weights of the real tokens sum
    to 0. The weight of a padded position is never read either: NaN or inf there (``1 /
    length`` for an example of length 0) leaves the loss finite. So weights [1, 0, 0] give the
    loss of example 0 alone, and scaling all weights by the same factor changes nothing. The
    result is always this scalar mean: Keras' ``reduction`` does not apply, and a
    ``reduction`` other than Keras' default is refused.

    Under a `tf.distribute` strategy the mean is over the real tokens of the *global* batch:
    each replica divides its sum by the all-reduced token count, and the replicas' gradients
    are summed. So replicas holding different numbers of real tokens train exactly as one
    device would (tests/recipes/test_mirrored_strategy.py, marked slow).

    Args:
        label_smoothing: float in [0, 1).
        pad_id: int. Target id that marks padding, inside the vocabulary or not
            (e.g. -100 or V).
        from_logits: bool. Whether predictions are logits (default) or probabilities.

    Call arguments:
        y_true: int [B, T] target ids.
        y_pred: float [B, T, V].
        sample_weight: optional float [B] weights of the examples or [B, T] weights of the
            tokens ([B, 1] is read as [B], [B, T, 1] as [B, T]; a scalar weighs all tokens
            alike).

    Returns:
        The scalar loss.

    Raises:
        ValueError: ``y_pred``'s leading shape is not ``y_true``'s ([B, T, 1] targets are read
            as [B, T]); at construction, ``label_smoothing`` outside [0, 1), a ``pad_id`` that
            is not an int in the int32 range, or a ``reduction`` other than the default.
            TypeError: a ``from_logits`` that is not a bool. InvalidArgumentError (at run
            time): a target id is neither ``pad_id`` nor in [0, V).

    Example:
    >>> y_true = np.array([[1, 2, 0]])  # 0 pads: the third step does not count
    >>> probabilities = np.array([[[0.25, 0.5, 0.25], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]]])
    >>> logits = np.log(probabilities + 1e-9)
    >>> round(float(MaskedSequenceLoss()(y_true, logits)), 4)  # (-log 0.5 - log 0.25) / 2
    1.0397
    """

    def __init__(self, label_smoothing=0.0, pad_id=0, from_logits=True, name=None, **kwargs):
        if (
            isinstance(label_smoothing, (bool, str))
            or not isinstance(label_smoothing, (int, float, np.number))
            or not 0.0 <= float(label_smoothing) < 1.0
        ):
            raise ValueError(f"`label_smoothing` must be in [0, 1), got {label_smoothing!r}.")
        reduction = kwargs.get("reduction", DEFAULT_REDUCTION)
        if reduction != DEFAULT_REDUCTION:
            # Keras' Loss would keep it, but `__call__` never reduces: "none" or "sum" would
            # silently give the token mean.
            raise ValueError(
                "`reduction` does not apply to MaskedSequenceLoss (the loss is always the "
                f"weighted mean over the real tokens): leave it out, got {reduction!r}."
            )
        super().__init__(name=name or "masked_sequence_loss", **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.pad_id = check_pad_id(pad_id)
        self.from_logits = check_bool(from_logits, "from_logits")

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras' `Loss.__call__` would multiply the scalar token mean by `sample_weight`, which
        # only rescales it; here the weights decide how much each token counts in the mean.
        with keras.name_scope(self.name):
            return self.call(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true, fine = target_ids(y_true, y_pred, self.pad_id)
        real = ops.not_equal(y_true, self.pad_id)
        y_pred = real_scores(y_pred, real)
        weights = ops.cast(real, y_pred.dtype)
        if sample_weight is not None:
            weights = token_weights(sample_weight, weights)
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        picked = ops.take_along_axis(log_probs, gather_ids(y_true, real), axis=-1)[..., 0]
        token_loss = -picked
        if self.label_smoothing > 0:
            smooth = uniform_cross_entropy(log_probs, y_pred if self.from_logits else None)
            token_loss = (1 - self.label_smoothing) * token_loss + self.label_smoothing * smooth
        mean = _global_token_mean(ops.sum(token_loss * weights), ops.sum(weights), y_true)
        return poisoned(mean, fine)

    def get_config(self):
        return {
            "name": self.name,
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
            "from_logits": self.from_logits,
            # The dtype the loss computes in (Keras' `Loss.get_config` leaves it out).
            "dtype": self.dtype,
        }


DEFAULT_REDUCTION = "sum_over_batch_size"


def uniform_cross_entropy(log_probs, logits=None):
    """``−(1/|A|) Σ_{v∈A} log p_v`` per token: the cross-entropy against the uniform
    distribution over the allowed classes A, the smoothing term of `MaskedSequenceLoss`.

    With ``logits`` [..., V], A is the classes whose logit is not −inf: a class banned by
    masking its logit has p_v = 0 exactly and log p_v = −inf, so smoothing mass on it made
    the loss inf. Without ``logits`` (probabilities), A is every class (their log is
    clipped, so finite). A NaN logit stays in A and keeps the loss NaN."""
    if logits is None:
        return -ops.mean(log_probs, axis=-1)
    allowed = ops.not_equal(logits, ops.convert_to_tensor(-np.inf, logits.dtype))
    count = ops.sum(ops.cast(allowed, log_probs.dtype), axis=-1)
    total = ops.sum(ops.where(allowed, log_probs, ops.zeros((), log_probs.dtype)), axis=-1)
    # A row of −inf only has no allowed class; its target term is NaN anyway.
    return -total / ops.maximum(count, 1.0)


def check_pad_id(pad_id):
    """``pad_id`` as a Python int in the int32 range; ValueError for anything else. A float or
    bool would compare as a number (``True`` marks id 1 as padding, 1.5 no id at all) and a
    None or str would fail deep in the graph. Targets become int32 ids after the range check,
    where the padding of a larger ``pad_id`` wrapped to a real id and counted as that target
    (2**32 as id 0, 2**32 + 3 as id 3: a wrong loss, accuracy and perplexity without a word)."""
    number = as_int(pad_id)  # int, NumPy and integer-tensor scalars
    if number is None:
        raise ValueError(
            f"`pad_id` must be an int (the target id that marks padding), got {pad_id!r}."
        )
    if not -(2**31) <= number < 2**31:
        raise ValueError(
            f"`pad_id` must be an int32 id, in [-2**31, 2**31 - 1] (targets are int32 ids), "
            f"got {pad_id!r}."
        )
    return number


def real_scores(y_pred, real):
    """``y_pred`` [B, T, V] with 0 at the padded positions (``real`` [B, T] False): what a model
    puts there is never read, so −inf (a padding column masked out) or NaN there cannot turn the
    sum into NaN (−inf · 0) nor reach the gradient."""
    return ops.where(real[..., None], y_pred, ops.zeros((), y_pred.dtype))


def target_ids(y_true, y_pred, pad_id):
    """``(ids, fine)``: ``y_true`` as int32 ids [B, T], checked against ``y_pred`` [B, T, V],
    and a scalar bool that is False when an id is out of range, for `poisoned` (XLA drops the
    ``Assert``; see `keras_seq._checked_ids`).

    Every id must be ``pad_id`` or lie in [0, V): a negative id would be read from the other
    end of the vocabulary (``take_along_axis`` counts from the end) and give a wrong number
    without a word, an id >= V fails deep in a gather. Ids are checked in their own dtype (an
    int64 id of 2**32 + 3 does not wrap to 3), float ids must be whole numbers. A [B, T, 1]
    ``y_true`` is read as [B, T]. Raises ValueError when the shapes are known not to match,
    TypeError for ragged or non-numeric ids, InvalidArgumentError (in the graph) when the batch
    or time sizes differ at run time or an id is out of range.
    """
    import tensorflow as tf

    refuse_ragged(y_pred=y_pred)
    vocabulary = tf.shape(y_pred)[-1]
    y_true, fine = checked_ids(
        y_true,
        vocabulary,
        lambda ids: [
            f"`y_true` must hold `pad_id` ({pad_id}) or ids in [0, vocabulary size); "
            "vocabulary size, smallest and largest id:",
            vocabulary,
            tf.reduce_min(ids),
            tf.reduce_max(ids),
        ],
        pad_id=pad_id,
    )
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    leading = tuple(y_pred.shape[:-1])
    if len(y_true.shape) != len(leading) or any(
        a is not None and b is not None and a != b
        for a, b in zip(y_true.shape, leading, strict=True)
    ):
        raise ValueError(
            f"`y_pred` must have shape `y_true`'s + [vocabulary]: got `y_true` of shape "
            f"{tuple(y_true.shape)} and `y_pred` of shape {tuple(y_pred.shape)}."
        )
    if None in y_true.shape or None in leading:
        check = tf.debugging.assert_equal(
            tf.shape(y_true),
            tf.shape(y_pred)[:-1],
            message="`y_true` and `y_pred` must have the same batch and time sizes",
        )
        with tf.control_dependencies([check]):
            y_true = tf.identity(y_true)
    return y_true, fine


def gather_ids(y_true, real):
    """``y_true[..., None]`` with 0 at the padding, for `take_along_axis`: a ``pad_id``
    outside [-V, V) (-100, as PyTorch's ``ignore_index``, or V) would fail the gather on the
    CPU though its tokens count for nothing."""
    return ops.where(real, y_true, 0)[..., None]


def token_weights(sample_weight, valid):
    """``valid · sample_weight`` as token weights of the shape of ``valid`` ([B, T]).

    A [B] ``sample_weight`` (one weight per example, what ``model.fit`` passes for weights of
    shape (num_examples,)) counts for every token of its example, a [B, T] one for one token,
    [B, 1] is read as [B], [B, T, 1] as [B, T] (as Keras' losses squeeze a trailing 1) and a
    scalar weighs all tokens alike. The weight of a padded position is not read (a NaN or inf
    there gives 0, not NaN). Raises ValueError for any other shape, naming both shapes.
    """
    weight = ops.cast(sample_weight, valid.dtype)
    rank = len(valid.shape)
    if weight.shape.rank is None:
        # A graph traced again after weights of two ranks (Keras' `reduce_retracing`) sees
        # a weight of unknown rank: read it as [B, 1] or [B, T], checked at run time.
        return _weighted(valid, _weight_of_unknown_rank(weight, valid))
    given_shape = tuple(weight.shape)
    if len(weight.shape) == rank + 1 and weight.shape[-1] == 1:
        weight = ops.squeeze(weight, axis=-1)
    if len(weight.shape) == 0:
        return _weighted(valid, weight)
    if len(weight.shape) == 1 and rank > 1:
        # One weight per example: a trailing axis of 1 broadcasts it over the time steps
        # (without it a [B] weight would broadcast along the last axis, i.e. along time).
        weight = ops.reshape(weight, (-1,) + (1,) * (rank - 1))

    def fits(axis):
        size, expected = weight.shape[axis], valid.shape[axis]
        return size is None or expected is None or size == expected or (axis > 0 and size == 1)

    if len(weight.shape) != rank or not all(fits(axis) for axis in range(rank)):
        raise ValueError(
            "`sample_weight` must have shape [batch] or [batch, time] matching `y_true` of "
            f"shape {tuple(valid.shape)}, got shape {given_shape}."
        )
    # In a graph with an unknown batch size a weight of batch 1 would broadcast over the
    # whole batch (an eager call fails on the static shapes): checked at run time.
    weight = leading_dims_matching(
        weight, valid, 1, "`sample_weight` must have the batch size of `y_true`"
    )
    return _weighted(valid, weight)


def _weighted(valid, weight):
    """``valid · weight``, and 0 wherever ``valid`` is 0 (padding) whatever the weight: a
    weight is never read at a padded position, as a score is not (`real_scores`). ``0 · inf``
    and ``0 · NaN`` are NaN, so a per-example weight of ``1 / length`` made an example without
    real tokens (length 0, weight inf) turn the whole batch's loss and the metrics' totals
    into NaN."""
    return ops.where(ops.not_equal(valid, 0), valid * weight, ops.zeros((), valid.dtype))


def _weight_of_unknown_rank(weight, valid):
    """``weight`` of unknown rank ([B], [B, 1], [B, T] or [B, T, 1]) as [B, 1] or [B, T],
    for `token_weights`; an ``Assert`` refuses other sizes."""
    import tensorflow as tf

    batch, time = tf.shape(valid)[0], tf.shape(valid)[1]
    size = tf.size(weight)
    check = tf.debugging.Assert(
        tf.logical_or(tf.equal(size, batch), tf.equal(size, batch * time)),
        [
            "`sample_weight` must have shape [batch] or [batch, time] matching `y_true`; "
            "`y_true` shape and `sample_weight` shape:",
            tf.shape(valid),
            tf.shape(weight),
        ],
    )
    with tf.control_dependencies([check]):
        weight = tf.reshape(weight, [batch, -1])
    return weight


def _global_token_mean(loss_sum, token_count, y_true):
    """``loss_sum / token_count`` (0 when ``token_count`` is 0) on one device; under a strategy
    with N replicas, ``loss_sum / Σ_replicas token_count``: the replicas' gradients are summed,
    which gives the gradient of the global token mean. Keras divides a loss by N only in
    `Loss.__call__`'s reduction of a non-scalar loss, which this loss does not go through
    (it overrides ``__call__``). ``token_count`` is the sum of the token weights, so it may
    be fractional.

    The value shown (the logged ``loss`` / ``val_loss``) is corrected apart from the gradient:
    Keras' loss tracker records ``N · loss_r`` weighted by the replica's rows ``b_r`` (of
    ``y_true`` [b_r, T], as of the inputs), which gives the global mean ``Σ_r loss_r`` only
    when every replica has as many rows. A last batch split unevenly (3 rows: 2 + 1) logged
    ``(4 loss_1 + 2 loss_2) / 3`` (1.77 for 1.61 in a test), so ``val_loss``, and the best
    checkpoint or early stop deciding on it, depended on the number of replicas. Each
    replica's value is therefore scaled by ``Σ b / (N b_r)`` (0 for a replica without rows,
    which the tracker weighs 0), under ``stop_gradient``: the gradient stays that of the
    global token mean."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, token_count)
            mean = ops.divide_no_nan(loss_sum, total)
            rows = ops.cast(ops.shape(y_true)[0], mean.dtype)
            all_rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)
            replicas = ops.cast(context.num_replicas_in_sync, mean.dtype)
            scale = ops.divide_no_nan(all_rows, replicas * rows)
            return mean + ops.stop_gradient(mean * (scale - 1))
    return ops.divide_no_nan(loss_sum, token_count)
