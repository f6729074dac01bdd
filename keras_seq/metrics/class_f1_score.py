"""Per-class precision, recall and F1 of a classifier, from an accumulated confusion matrix."""

import operator

import keras
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import poisoned, refuse_ragged
from keras_seq.metrics._checks import accumulator_dtype, ids_in_range

AVERAGES = ("macro", "micro", "weighted")


@keras.saving.register_keras_serializable(package="keras_seq")
class ClassF1Score(keras.metrics.Metric):
    """F1 of single-label classification with sparse labels, averaged over classes.

    Accumulates the confusion matrix ``M[i, j]`` = number of examples of class ``i`` predicted
    as ``j`` (the arg-max of ``y_pred``) over all batches; for class ``c``::

        precision_c = M[c, c] / Σ_i M[i, c]      recall_c = M[c, c] / Σ_j M[c, j]
        F1_c = 2 · precision_c · recall_c / (precision_c + recall_c)

    (0 where a denominator is 0). `result()` averages the F1 of the classes: "macro" (plain
    mean), "weighted" (by support Σ_j M[c, j]) or "micro" (F1 of the pooled counts, which is
    the accuracy for single-label data), as scikit-learn's ``f1_score(..., labels=range(
    num_classes))`` does: every class counts, also one absent from both the labels and the
    predictions (F1 0), where ``f1_score`` without ``labels`` averages only over the classes
    seen. `report()` gives every class's precision, recall, F1 and support, and the accuracy.

    Args:
        num_classes: int >= 2.
        average: "macro", "micro" or "weighted".
        class_names: optional list (or any iterable) of distinct str naming the classes in
            `report()`; a name that is not a str (a NumPy int of ``np.unique(labels)``)
            raises TypeError.
        name: str.
        dtype: "float64" to count and compute in float64 (as Keras' metrics do; float32 sums
            stop growing past 2**24); any other dtype (the default) counts in float32.

    Call arguments (``update_state``):
        y_true: int labels [B].
        y_pred: scores (logits or probabilities) [B, num_classes], or int labels [B].
        sample_weight: optional [B] weights of the examples (or one weight for all).

    Raises ValueError for scores of another width than ``num_classes``, float ``y_pred``
    of shape [B] or [B, 1] (one probability per example: give both classes' scores) and
    lengths that differ; InvalidArgumentError when a label lies outside [0, num_classes).
    A [B, W] ``y_pred`` whose width is unknown when traced (``tf.function`` with an input
    signature [None, None]) is read as these static rules read it, at run time: W =
    ``num_classes`` is scores, an int [B, 1] is labels, anything else (float [B, 1], another
    W) raises InvalidArgumentError.

    Example:
    >>> metric = ClassF1Score(2)
    >>> metric.update_state([0, 1, 1], [0, 1, 0])
    >>> round(float(metric.result()), 4)  # F1 of class 0: 2/3, of class 1: 2/3
    0.6667
    """

    def __init__(self, num_classes, average="macro", class_names=None, name="class_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        # higher is better: read by `mode="auto"` of ModelCheckpoint / EarlyStopping, which
        # otherwise raises after the first epoch for a metric it cannot place.
        self._direction = "up"
        given = num_classes
        if not isinstance(given, bool) and hasattr(given, "__index__"):
            # NumPy integers pass (``labels.max() + 1`` is one), kept as a Python int.
            num_classes = operator.index(given)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an int >= 2, got {given!r}.")
        if average not in AVERAGES:
            raise ValueError(f"`average` must be one of {AVERAGES}, got {average!r}.")
        if isinstance(class_names, (str, bytes)):
            # A str is iterable: "neg" of 3 classes named them "n", "e", "g".
            raise ValueError(f"`class_names` must be a list of str, got the str {class_names!r}.")
        if class_names is not None:
            class_names = list(class_names)  # any iterable, a generator included
            wrong = [name for name in class_names if not isinstance(name, str)]
            if wrong:
                # `np.unique(labels)` of int labels named the classes 0, 1, ... as NumPy ints:
                # `report()` keyed by them could not be written with `json.dumps`, and
                # differed from the str keys "0", "1", ... it has without names.
                raise TypeError(
                    f"`class_names` must hold str, got {wrong[0]!r} of type "
                    f"{type(wrong[0]).__name__}."
                )
            class_names = [str(name) for name in class_names]  # NumPy str as str
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"`class_names` must have `num_classes` = {num_classes} entries, got "
                f"{len(class_names)}."
            )
        repeated = [
            name for index, name in enumerate(class_names or []) if name in class_names[:index]
        ]
        if repeated:
            # `report()` keys its classes by name: a repeated name kept only the last of them.
            raise ValueError(f"`class_names` must be distinct, got {repeated[0]!r} more than once.")
        self.num_classes = num_classes
        self.average = average
        self.class_names = None if class_names is None else list(class_names)
        # float64 when made with dtype="float64" (Keras' metrics honour it), else float32.
        self._accumulator_dtype = accumulator_dtype(self.dtype)
        self.confusion = self.add_variable(
            (num_classes, num_classes),
            initializer="zeros",
            dtype=self._accumulator_dtype,
            name="confusion",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        refuse_ragged(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight)
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        width_fits = True
        if len(y_pred.shape) == 2 and y_pred.shape[-1] is None:
            # [B, ?] (a graph traced with an unknown width): scores or a column of labels,
            # told apart at run time.
            y_pred, width_fits = self._labels_of_unknown_width(y_pred)
        elif len(y_pred.shape) == 2 and y_pred.shape[-1] != 1:
            if y_pred.shape[-1] != self.num_classes:
                raise ValueError(
                    f"`y_pred` must hold `num_classes` = {self.num_classes} scores per example, "
                    f"got shape {tuple(y_pred.shape)}."
                )
            y_pred = ops.argmax(y_pred, axis=-1)
        elif len(y_pred.shape) > 2 or "int" not in str(y_pred.dtype):
            # A [B] or [B, 1] float (one probability per example) would be truncated to a
            # label, and a [B, T, C] one flattened: refused rather than miscounted.
            raise ValueError(
                f"`y_pred` must be scores of shape [batch, {self.num_classes}] or integer labels "
                f"of shape [batch], got shape {tuple(y_pred.shape)} and dtype {y_pred.dtype}."
            )
        # Checked before the int32 cast: int64 labels must not wrap, float ones be whole.
        (y_true, y_pred), fine = ids_in_range(
            {"y_true": ops.reshape(y_true, (-1,)), "y_pred": ops.reshape(y_pred, (-1,))},
            self.num_classes,
        )
        weights = ops.ones_like(y_true, dtype=self._accumulator_dtype)
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, self._accumulator_dtype), (-1,))
            if len(weights.shape) and weights.shape[0] == 1:
                weights = ops.broadcast_to(weights, ops.shape(y_true))
        checks = self._checks(y_true, y_pred, weights)
        with tf.control_dependencies(checks):
            true_one_hot = ops.one_hot(y_true, self.num_classes, dtype=self._accumulator_dtype)
            true_one_hot = true_one_hot * weights[:, None]
            pred_one_hot = ops.one_hot(y_pred, self.num_classes, dtype=self._accumulator_dtype)
            counts = ops.matmul(ops.transpose(true_one_hot), pred_one_hot)
            self.confusion.assign_add(poisoned(counts, fine & width_fits))

    def _labels_of_unknown_width(self, y_pred):
        """``(labels [B], fits)`` of a [B, W] ``y_pred`` whose width W is known only at run
        time, read as the static shapes are read: W = ``num_classes`` is scores (their
        arg-max), and W = 1 is a column of int labels; float scores of W = 1 (one probability
        per example), or any other W, are refused by an ``Assert`` and, for XLA which drops
        it, by the scalar bool ``fits`` (see `keras_seq._checked_ids`). The arg-max of any
        [B, W] was taken before: a column of labels became all 0 and a width below
        ``num_classes`` counted without a word."""
        width = tf.shape(y_pred)[-1]
        is_scores = tf.equal(width, self.num_classes)
        if "int" in str(y_pred.dtype):
            fits = is_scores | tf.equal(width, 1)
            expected = f"{self.num_classes} scores per example, or one integer label ([batch, 1])"
        else:
            fits = is_scores
            expected = f"{self.num_classes} scores per example"
        check = tf.debugging.Assert(
            fits,
            [f"`y_pred` must hold `num_classes` = {expected}; got shape", tf.shape(y_pred)],
        )
        with tf.control_dependencies([check]):
            labels = tf.cond(
                is_scores,
                lambda: tf.argmax(y_pred, axis=-1),
                lambda: tf.cast(y_pred[:, 0], tf.int64),
            )
        return labels, fits

    def _checks(self, y_true, y_pred, weights):
        """Equal lengths (statically where known, else in the graph). The labels are checked
        to lie in [0, num_classes) by `ids_in_range`: `one_hot` makes a row of zeros for any
        other label, which would drop the example from every count without a word."""
        named = {"y_true": y_true, "y_pred": y_pred, "sample_weight": weights}
        sizes = {name: value.shape[0] for name, value in named.items()}
        known = {name: size for name, size in sizes.items() if size is not None}
        if len(set(known.values())) > 1:
            raise ValueError(
                "`y_true`, `y_pred` and `sample_weight` must have one entry per example, got "
                + ", ".join(f"{name}: {size}" for name, size in known.items())
                + "."
            )
        checks = [
            tf.debugging.assert_equal(
                tf.shape(value)[0],
                tf.shape(y_true)[0],
                message=f"`{name}` and `y_true` must have one entry per example",
            )
            for name, value in named.items()
            if name != "y_true" and None in (sizes[name], sizes["y_true"])
        ]
        return checks

    @staticmethod
    def _scores(confusion):
        correct = ops.diagonal(confusion)
        predicted = ops.sum(confusion, axis=0)
        support = ops.sum(confusion, axis=1)
        precision = ops.divide_no_nan(correct, predicted)
        recall = ops.divide_no_nan(correct, support)
        f1 = ops.divide_no_nan(2.0 * correct, predicted + support)
        return precision, recall, f1, support

    def result(self):
        _, _, f1, support = self._scores(self.confusion)
        if self.average == "macro":
            return ops.mean(f1)
        if self.average == "weighted":
            return ops.divide_no_nan(ops.sum(f1 * support), ops.sum(support))
        return ops.divide_no_nan(ops.sum(ops.diagonal(self.confusion)), ops.sum(self.confusion))

    def report(self):
        """Python floats: ``{"accuracy", "macro_f1", "per_class": {name: {"precision",
        "recall", "f1", "support"}}}`` (classes named by ``class_names`` or their index)."""
        precision, recall, f1, support = (
            ops.convert_to_numpy(x) for x in self._scores(self.confusion)
        )
        confusion = ops.convert_to_numpy(self.confusion)
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        total = confusion.sum()
        return {
            "accuracy": float(confusion.trace() / total) if total else 0.0,
            "macro_f1": float(f1.mean()),
            "per_class": {
                name: {
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                    "support": float(support[i]),
                }
                for i, name in enumerate(names)
            },
        }

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "average": self.average,
            "class_names": self.class_names,
        }
