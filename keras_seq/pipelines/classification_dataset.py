"""tf.data pipeline for text classification."""

import numbers

import tensorflow as tf

from keras_seq.pipelines import _common

# Labels are int32 class ids, as the models' losses read them.
_MAX_LABEL = 2**31 - 1
_LABEL_RANGE = f"`examples` holds a label outside [0, {_MAX_LABEL}] (labels are class ids)"


def classification_dataset(
    examples,
    tokenizer,
    batch_size,
    max_length=None,
    add_start=False,
    add_end=False,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
    shuffle_buffer_size=None,
):
    """Batches of ``(token_ids, labels)``: int32 [batch, length] padded with 0, int32 [batch].

    Texts with more than ``max_length`` ids are dropped, and so are empty texts: those that
    tokenize to no ids (``""``, whitespace only), whatever ``add_start``/``add_end``, since a
    batch of them would have zero time steps. Both are counted in the returned
    `PipelineStatistics` (``num_dropped``, of which ``num_empty`` empty).

    Args:
        examples: list of (text str, label int) (a pair may be a 1-D NumPy object array:
            the rows of ``df[["text", "label"]].to_numpy()``), or a finite tf.data.Dataset of
            (tf.string scalar, integer scalar). Labels are class ids, 0 … 2**31 - 1 (Python
            or numpy integers).
        tokenizer: keras_seq `Tokenizer`.
        batch_size: int. Examples per batch.
        max_length: int or None. Longest text kept, in ids (``<s>``/``</s>`` included).
        add_start, add_end: bool. Put ``<s>`` first / ``</s>`` last (TypeError if not a bool).
        shuffle, seed, bucket_boundaries, cache, shuffle_buffer_size: as in
            `translation_dataset`.

    Returns:
        ``(dataset, statistics)``.

    Raises:
        TypeError: malformed ``examples``: a list entry that is not a (str, integer) pair, or
            a dataset whose elements are not (tf.string scalar, integer scalar) pairs (such
            as Keras' ``({"text": texts}, labels)``: pass ``(texts, labels)``).
        ValueError: a label outside ``[0, 2**31 - 1]`` in a list (labels are int32 class ids;
            a dataset's label there raises tf.errors.InvalidArgumentError while the pipeline
            is built, by the pass that counts the corpus), or an infinite dataset.

    Example:
    >>> examples = [("Win money now!", 1), ("Lunch at noon?", 0), ("", 0)]
    >>> tokenizer = WordTokenizer.from_corpus([text for text, _ in examples])
    >>> dataset, statistics = classification_dataset(examples, tokenizer, 2, shuffle=False)
    >>> ids, labels = next(iter(dataset))
    >>> ids.numpy().tolist(), labels.numpy().tolist(), statistics.num_empty
    ([[7, 9, 11, 4], [6, 8, 10, 5]], [1, 0], 1)
    """
    _common.check_tokenizer("tokenizer", tokenizer)
    batch_size = _common.check_positive_int("batch_size", batch_size)
    max_length = _common.check_positive_int("max_length", max_length, allow_none=True)
    bucket_boundaries = _common.check_bucket_boundaries(bucket_boundaries)
    seed, shuffle_buffer_size = _common.check_shuffle_arguments(seed, shuffle_buffer_size)
    _common.check_flags(shuffle=shuffle, cache=cache, add_start=add_start, add_end=add_end)
    dataset = _labelled_texts(examples)

    def tokenize(texts, labels):
        return tokenizer.tokenize(texts, add_start=add_start, add_end=add_end), _class_ids(labels)

    def keep(token_ids, label):
        return _common.length_at_most([(token_ids, max_length)])

    def empty(token_ids, label):
        return tf.shape(token_ids)[0] == int(add_start) + int(add_end)

    def length(token_ids, label):
        return tf.shape(token_ids)[0]

    return _common.finish(
        _common.tokenize_batches(dataset, tokenize),
        keep,
        empty,
        length,
        batch_size,
        shuffle,
        seed,
        bucket_boundaries,
        cache,
        shuffle_buffer_size,
    )


def _class_ids(labels):
    """int32 ``labels`` (a batch, of any integer dtype), asserted to lie in [0, _MAX_LABEL]."""
    # int64 holds every value of the other integer dtypes; a uint64 above its range turns
    # negative, which the first check catches too.
    labels = tf.cast(labels, tf.int64)
    checks = [
        tf.debugging.assert_non_negative(labels, message=_LABEL_RANGE),
        tf.debugging.assert_less_equal(
            labels, tf.constant(_MAX_LABEL, tf.int64), message=_LABEL_RANGE
        ),
    ]
    with tf.control_dependencies(checks):
        # Cast only now: int32 would wrap a label of 2**32 + 5 to the valid label 5.
        return tf.cast(labels, tf.int32)


def _labelled_texts(examples):
    if isinstance(examples, tf.data.Dataset):
        spec = examples.element_spec
        # TensorSpecs first: a Keras-style `({"text": texts}, labels)` dataset has a dict
        # there, whose missing `.dtype` raised AttributeError instead of this TypeError.
        if (
            not isinstance(spec, tuple)
            or len(spec) != 2
            or not all(isinstance(part, tf.TensorSpec) for part in spec)
            or spec[0].dtype != tf.string
            or spec[0].shape.rank != 0
            or not spec[1].dtype.is_integer
            or spec[1].shape.rank != 0
        ):
            raise TypeError(
                "`examples` must yield (tf.string scalar, integer scalar) pairs, got "
                f"element_spec {spec}."
            )
        _common.check_finite("examples", examples)
        return examples
    rows = _common._as_rows("examples", examples)
    for index, row in enumerate(rows):
        if (
            not isinstance(row, (tuple, list))
            or len(row) != 2
            or not isinstance(row[0], str)
            or isinstance(row[1], bool)
            # Integral, not just int: labels mapped to ids by numpy (`np.unique(...,
            # return_inverse=True)`, scikit-learn's `LabelEncoder`) are np.int64.
            or not isinstance(row[1], numbers.Integral)
        ):
            raise TypeError(
                f"`examples` must hold (str, int) pairs; entry {index} is {row!r:.100}."
            )
        if not 0 <= row[1] <= _MAX_LABEL:
            raise ValueError(
                f"`examples` entry {index} has the label {row[1]}; labels are class ids in "
                f"[0, {_MAX_LABEL}]."
            )
    return tf.data.Dataset.from_tensor_slices(
        (
            _common.string_constant([row[0] for row in rows]),
            tf.constant([int(row[1]) for row in rows], tf.int32, shape=[len(rows)]),
        )
    )
