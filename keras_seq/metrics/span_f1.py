"""Chunk (span) precision, recall and F1 of BIO / IOBES tag sequences, as conlleval counts."""

import keras
from keras import ops

from keras_seq._checked_ids import poisoned, refuse_ragged
from keras_seq.metrics._checks import accumulator_dtype, ids_in_range

# Prefix codes of a tag.
OUTSIDE, BEGIN, INSIDE, END, SINGLE = 0, 1, 2, 3, 4
_PREFIXES = {"B": BEGIN, "I": INSIDE, "E": END, "S": SINGLE}
_SCHEMES = {"bio": ("B", "I"), "iobes": ("B", "I", "E", "S")}


def parse_tags(tag_vocabulary, scheme):
    """``(prefix codes, type ids, type names)`` of ``[pad] + tag_vocabulary``.

    "O" is outside (type 0); "B-PER" is prefix B of type "PER" (type ids 1, 2, ... in order of
    first appearance). Raises ValueError for a tag the scheme does not allow.
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"`scheme` must be one of {sorted(_SCHEMES)}, got {scheme!r}.")
    if (
        isinstance(tag_vocabulary, str)
        or not tag_vocabulary
        or not all(isinstance(tag, str) for tag in tag_vocabulary)
    ):
        raise ValueError(
            f"`tag_vocabulary` must be a non-empty list of str, got {tag_vocabulary!r}."
        )
    prefixes, types, names = [OUTSIDE], [0], []
    for tag in tag_vocabulary:
        if tag == "O":
            prefixes.append(OUTSIDE)
            types.append(0)
            continue
        prefix, _, name = tag.partition("-")
        if prefix not in _SCHEMES[scheme] or not name:
            raise ValueError(
                f"Tag {tag!r} is not a {scheme.upper()} tag: expected 'O' or one of "
                f"{[p + '-TYPE' for p in _SCHEMES[scheme]]}."
            )
        if name not in names:
            names.append(name)
        prefixes.append(_PREFIXES[prefix])
        types.append(names.index(name) + 1)
    return prefixes, types, names


@keras.saving.register_keras_serializable(package="keras_seq")
class SpanF1(keras.metrics.Metric):
    """Micro-averaged F1 of the labelled spans (chunks) of BIO or IOBES tag sequences.

    Spans are read as the CoNLL-2000 ``conlleval`` script reads them: a chunk starts at a
    ``B-`` or ``S-`` tag, at an ``I-``/``E-`` tag after ``O``, ``E-`` or ``S-``, or where the type
    changes; it ends before a ``B-``/``S-``/``O`` tag, after an ``E-``/``S-`` tag, or where the
    type changes (so a stray ``I-X`` after ``O`` opens a chunk, as in conlleval). A predicted
    chunk is correct when a gold chunk has the same start, end and type. Over all batches::

        precision = correct / predicted chunks,   recall = correct / gold chunks
        F1 = 2 · precision · recall / (precision + recall) = 2 · correct / (predicted + gold)

    `result()` is the micro F1 (0 when there are no chunks); `report()` gives precision,
    recall, F1 overall and per type.

    Args:
        tag_vocabulary: list of str. Tag ``i`` of the vocabulary has id ``i + 1``; id 0 is
            padding (as `keras_seq.pipelines.tagging_dataset` numbers them).
        scheme: "bio" or "iobes".
        name: str.
        dtype: "float64" to count and compute in float64 (as Keras' metrics do; float32 sums
            stop growing past 2**24); any other dtype (the default) counts in float32.

    Call arguments (``update_state``):
        y_true: int tag ids [B, T], 0 at padding ([B, T, 1] is read as [B, T], as
            `MaskedSequenceLoss` reads it).
        y_pred: logits or probabilities [B, T, len(tag_vocabulary) + 1] (the arg-max over the
            real tags is taken: padding is never predicted), or int tag ids [B, T] (an int
            [B, T, 1] is read as [B, T], as ``y_true``).
        sample_weight: must be None (chunks are counted, not weighted).

    Example:
    >>> metric = SpanF1(["O", "B-PER", "I-PER"])
    >>> metric.update_state([[2, 3, 1]], [[2, 1, 1]])
    >>> float(metric.result())  # gold: one PER of 2 tokens; predicted: one PER of 1 token
    0.0
    """

    def __init__(self, tag_vocabulary, scheme="bio", name="span_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        # higher is better: read by `mode="auto"` of ModelCheckpoint / EarlyStopping, which
        # otherwise raises after the first epoch for a metric it cannot place.
        self._direction = "up"
        if not isinstance(tag_vocabulary, str) and hasattr(tag_vocabulary, "__iter__"):
            # Read once: parse_tags's checks would leave a generator empty (no tags at all).
            tag_vocabulary = list(tag_vocabulary)
        prefixes, types, names = parse_tags(tag_vocabulary, scheme)
        self.tag_vocabulary = tag_vocabulary
        self.scheme = scheme
        self.type_names = names
        self._prefixes = prefixes
        self._types = types
        count = max(len(names), 1)
        # float64 when made with dtype="float64" (Keras' metrics honour it), else float32.
        self._accumulator_dtype = accumulator_dtype(self.dtype)
        self.true_positives, self.predicted, self.gold = (
            self.add_variable(
                (count,), initializer="zeros", dtype=self._accumulator_dtype, name=variable_name
            )
            for variable_name in ("correct", "predicted", "gold")
        )

    def _chunks(self, ids, valid):
        """``(start [B, T], end index of the chunk started at t [B, T], type [B, T])``."""
        prefix = ops.take(ops.convert_to_tensor(self._prefixes, "int32"), ids)
        kind = ops.take(ops.convert_to_tensor(self._types, "int32"), ids)
        prefix = ops.where(valid, prefix, OUTSIDE)
        kind = ops.where(valid, kind, 0)
        outside = ops.zeros_like(prefix[:, :1])
        previous = ops.concatenate([outside, prefix[:, :-1]], axis=1)
        previous_kind = ops.concatenate([outside, kind[:, :-1]], axis=1)
        following = ops.concatenate([prefix[:, 1:], outside], axis=1)
        following_kind = ops.concatenate([kind[:, 1:], outside], axis=1)

        def is_in(codes, values):
            return ops.any(ops.stack([ops.equal(codes, v) for v in values]), axis=0)

        # conlleval's startOfChunk(previous, current) and endOfChunk(current, following).
        start = (
            is_in(prefix, (BEGIN, SINGLE))
            | (is_in(previous, (END, SINGLE, OUTSIDE)) & is_in(prefix, (END, INSIDE)))
            | ((prefix != OUTSIDE) & (previous_kind != kind))
        )
        end = (
            is_in(prefix, (END, SINGLE))
            | (is_in(prefix, (BEGIN, INSIDE)) & is_in(following, (BEGIN, SINGLE, OUTSIDE)))
            | ((prefix != OUTSIDE) & (kind != following_kind))
        )
        steps = ops.shape(ids)[1]
        positions = ops.arange(steps, dtype="int32")
        # end_index[b, s] = min {e >= s : end[b, e]}, the end of the chunk that starts at s: the
        # k-th end of the row (from 0), k = the ends before s. Sorting puts a row's end
        # positions first (the rest read `steps`); k <= s < T, so the index is always in
        # range. O(T log T) and defined for T = 0, where a [B, T, T] minimum was neither.
        end_positions = ops.sort(ops.where(end, positions, steps), axis=-1)
        end_count = ops.cast(end, "int32")
        ends_before = ops.cumsum(end_count, axis=1) - end_count
        return start, ops.take_along_axis(end_positions, ends_before, axis=1), kind

    @staticmethod
    def _checked(y_true, y_pred, tags):
        """``(y_true, y_pred, fine)``: the int32 ids after checks in the graph (equal shapes,
        every id in [0, tags), checked before the int32 cast) and the scalar bool for
        `poisoned` (XLA drops the asserts)."""
        import tensorflow as tf

        (y_true, y_pred), fine = ids_in_range(
            {"y_true": y_true, "y_pred": y_pred}, tags, what="tag ids"
        )
        same_shape = tf.debugging.assert_equal(
            tf.shape(y_true), tf.shape(y_pred), message="`y_true` and `y_pred` differ in shape"
        )
        with tf.control_dependencies([same_shape]):
            return tf.identity(y_true), tf.identity(y_pred), fine

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("SpanF1 counts chunks: `sample_weight` must be None.")
        refuse_ragged(y_true=y_true, y_pred=y_pred)
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_true.shape) == 3 and y_true.shape[-1] == 1:
            # Sparse targets with a trailing 1, as `MaskedSequenceLoss` and `MaskedAccuracy`
            # read them (`target_ids`): a tagger's targets may come shaped for the loss.
            y_true = ops.squeeze(y_true, axis=-1)
        if (
            len(y_pred.shape) == 3
            and y_pred.shape[-1] == 1
            and len(y_true.shape) == 2
            and "int" in str(y_pred.dtype)
        ):
            # Predicted ids shaped like the targets, [B, T, 1]: never scores (those have a
            # column for padding and one per tag, at least 2), read as [B, T] like y_true.
            y_pred = ops.squeeze(y_pred, axis=-1)
        tags = len(self._prefixes)  # the tag vocabulary and padding
        if len(y_pred.shape) == len(y_true.shape) + 1:
            if y_pred.shape[-1] is not None and y_pred.shape[-1] != tags:
                raise ValueError(
                    f"`y_pred` must hold {tags} scores per token (padding and the "
                    f"{tags - 1} tags), got shape {tuple(y_pred.shape)}."
                )
            y_pred = ops.argmax(y_pred[..., 1:], axis=-1) + 1
        if (
            len(y_true.shape) != 2
            or len(y_pred.shape) != 2
            or not all(
                a is None or b is None or a == b
                for a, b in zip(y_true.shape, y_pred.shape, strict=True)
            )
        ):
            raise ValueError(
                "SpanF1 expects y_true [batch, time] tag ids and y_pred [batch, time] ids or "
                f"[batch, time, tags] scores; got shapes {y_true.shape} and {y_pred.shape}."
            )
        y_true, y_pred, fine = self._checked(y_true, y_pred, tags)
        valid = ops.not_equal(y_true, 0)
        gold_start, gold_end, gold_kind = self._chunks(y_true, valid)
        pred_start, pred_end, pred_kind = self._chunks(y_pred, valid)
        correct = gold_start & pred_start & (gold_kind == pred_kind) & (gold_end == pred_end)
        count = self.true_positives.shape[0]

        def per_type(chunk_starts, kinds):
            one_hot = ops.one_hot(ops.maximum(kinds - 1, 0), count, dtype=self._accumulator_dtype)
            starts = ops.cast(chunk_starts, self._accumulator_dtype)[..., None]
            counts = ops.sum(one_hot * starts, axis=(0, 1))
            return ops.reshape(counts, (count,))

        self.true_positives.assign_add(poisoned(per_type(correct, gold_kind), fine))
        self.predicted.assign_add(poisoned(per_type(pred_start, pred_kind), fine))
        self.gold.assign_add(poisoned(per_type(gold_start, gold_kind), fine))

    def result(self):
        correct = ops.sum(self.true_positives)
        total = ops.sum(self.predicted) + ops.sum(self.gold)
        return 2.0 * correct / ops.maximum(total, 1.0)

    def report(self):
        """Python floats: ``{"precision", "recall", "f1", "per_type": {type: {"precision",
        "recall", "f1", "support"}}}`` (support = gold chunks)."""

        def scores(correct, predicted, gold):
            precision = correct / predicted if predicted else 0.0
            recall = correct / gold if gold else 0.0
            total = predicted + gold
            return {
                "precision": precision,
                "recall": recall,
                "f1": 2.0 * correct / total if total else 0.0,
            }

        correct = [float(x) for x in ops.convert_to_numpy(self.true_positives)]
        predicted = [float(x) for x in ops.convert_to_numpy(self.predicted)]
        gold = [float(x) for x in ops.convert_to_numpy(self.gold)]
        report = scores(sum(correct), sum(predicted), sum(gold))
        report["per_type"] = {
            name: {**scores(correct[i], predicted[i], gold[i]), "support": int(gold[i])}
            for i, name in enumerate(self.type_names)
        }
        return report

    def reset_state(self):
        for variable in (self.true_positives, self.predicted, self.gold):
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        return {
            **super().get_config(),
            "tag_vocabulary": self.tag_vocabulary,
            "scheme": self.scheme,
        }
