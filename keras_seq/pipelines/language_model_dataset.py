"""tf.data pipeline for next-token language modelling."""

import tensorflow as tf

from keras_seq.pipelines import _common


def language_model_dataset(
    texts,
    tokenizer,
    batch_size,
    sequence_length,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
    shuffle_buffer_size=None,
):
    """Batches of ``(ids_in, ids_out)`` for next-token prediction, one text per example.

    With ``y`` the ids of a text::

        ids_in  = <s> y
        ids_out = y </s>

    both int32 [batch, length] padded with 0 to the longest in the batch. Texts whose ``ids_in``
    would be longer than ``sequence_length`` are dropped, and so are empty texts: those that
    tokenize to no ids (``""``, whitespace only), as in the other pipelines (and as `read_text`
    skips blank lines). Both are counted in the returned `PipelineStatistics`
    (``num_dropped``, of which ``num_empty`` empty).

    Args:
        texts: list of str, or a finite tf.data.Dataset of tf.string scalars.
        tokenizer: keras_seq `Tokenizer`.
        batch_size: int. Examples per batch.
        sequence_length: int. Longest ``ids_in`` kept.
        shuffle, seed, bucket_boundaries, cache, shuffle_buffer_size: as in
            `translation_dataset`.

    Returns:
        ``(dataset, statistics)``.

    Example:
    >>> tokenizer = WordTokenizer.from_corpus(["Call me Ishmael ."])
    >>> dataset, statistics = language_model_dataset(
    ...     ["Call me Ishmael ."], tokenizer, 2, 16, shuffle=False)
    >>> inputs, targets = next(iter(dataset))
    >>> inputs.numpy().tolist(), targets.numpy().tolist()
    ([[1, 5, 7, 6, 4]], [[5, 7, 6, 4, 2]])
    """
    _common.check_tokenizer("tokenizer", tokenizer)
    batch_size = _common.check_positive_int("batch_size", batch_size)
    sequence_length = _common.check_positive_int("sequence_length", sequence_length)
    bucket_boundaries = _common.check_bucket_boundaries(bucket_boundaries)
    seed, shuffle_buffer_size = _common.check_shuffle_arguments(seed, shuffle_buffer_size)
    _common.check_flags(shuffle=shuffle, cache=cache)
    dataset = _common.string_columns("texts", texts, columns=1)

    def tokenize(strings):
        ids = tokenizer.tokenize(strings)
        rows = ids.nrows()
        start = tf.fill([rows, 1], tokenizer.START_ID)
        end = tf.fill([rows, 1], tokenizer.END_ID)
        return tf.concat([start, ids], axis=1), tf.concat([ids, end], axis=1)

    def keep(ids_in, ids_out):
        return _common.length_at_most([(ids_in, sequence_length)])

    def empty(ids_in, ids_out):
        return tf.shape(ids_in)[0] == 1  # `<s>` alone

    def length(ids_in, ids_out):
        return tf.shape(ids_in)[0]

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
