"""tf.data pipeline for sequence-to-sequence training with teacher forcing."""

import tensorflow as tf

from keras_seq.pipelines import _common


def translation_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    batch_size,
    max_source_length=None,
    max_target_length=None,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
    shuffle_buffer_size=None,
):
    """Batches of ``((source_ids, target_in), target_out)`` for teacher-forced training.

    With ``y`` the target ids of a pair::

        target_in  = <s> y        (ids 1, y_1 … y_n)
        target_out = y </s>       (ids y_1 … y_n, 2)

    so ``target_out[t]`` is the token the decoder must predict after reading ``target_in[:t+1]``.
    ``source_ids`` are the source ids alone (no ``<s>`` or ``</s>``). All three are int32
    [batch, length] padded with 0 (`Tokenizer.PAD_ID`) to the longest in the batch, so
    ``Embedding(mask_zero=True)`` masks the padding.

    Pairs whose source is longer than ``max_source_length`` ids or whose ``target_in`` is longer
    than ``max_target_length`` are dropped, and so are pairs with an empty side: a source or a
    target that tokenizes to no ids (``""``, whitespace only). A batch of empty sources would
    have zero time steps, and an empty side is a misaligned pair (`read_parallel_tsv` rejects
    it too). How many are dropped is counted once when the pipeline is built and returned in
    the `PipelineStatistics` (``num_dropped``, of which ``num_empty`` with an empty side).

    Args:
        pairs: list of (source str, target str) (a pair may be a 1-D NumPy array: the rows
            of ``df[["de", "en"]].to_numpy()``), or a finite tf.data.Dataset of two
            tf.string scalars.
        source_tokenizer: keras_seq `Tokenizer` for the source side.
        target_tokenizer: keras_seq `Tokenizer` for the target side.
        batch_size: int. Examples per batch.
        max_source_length: int or None. Longest source kept, in ids.
        max_target_length: int or None. Longest ``target_in`` (= ``target_out``) kept.
        shuffle: bool. Reshuffle every epoch.
        seed: int or None. Shuffle seed; with a seed the batches are the same on every run.
        bucket_boundaries: list of int (or a tuple, range or 1-D NumPy integer array) or
            None. Length boundaries for `tf.data.Dataset.bucket_by_sequence_length` (key:
            the longer of source and ``target_in``); None batches without bucketing.
        cache: bool. Keep the tokenized corpus in memory after the first pass.
        shuffle_buffer_size: positive int or None. None shuffles the whole corpus, as does
            any size at least the number of kept examples (larger sizes, and a
            ``batch_size`` beyond that number, are capped at it).

    Returns:
        ``(dataset, statistics)``: the `tf.data.Dataset` (give it to ``model.fit``) and the
        `PipelineStatistics`.

    Raises:
        TypeError: a tokenizer that is not a keras_seq `Tokenizer`, malformed ``pairs``, a
            ``seed`` that is not an int, or a ``shuffle`` or ``cache`` that is not a bool.
        ValueError: a ``batch_size``, length limit or ``shuffle_buffer_size`` that is not a
            positive int (NumPy integers are taken), ``bucket_boundaries`` that are not an
            increasing list of positive ints, or an infinite dataset (the corpus is counted
            when the pipeline is built).

    Example:
    >>> german = WordTokenizer.from_corpus(["Er hat es tun müssen ."])
    >>> english = WordTokenizer.from_corpus(["He had to do it ."])
    >>> dataset, statistics = translation_dataset(
    ...     [("Er hat es tun müssen .", "He had to do it .")], german, english, batch_size=2)
    >>> (source_ids, target_in), target_out = next(iter(dataset))
    >>> source_ids.numpy().tolist(), target_in.numpy().tolist(), target_out.numpy().tolist()
    ([[5, 7, 6, 9, 8, 4]], [[1, 5, 7, 9, 6, 8, 4]], [[5, 7, 9, 6, 8, 4, 2]])
    """
    _common.check_tokenizer("source_tokenizer", source_tokenizer)
    _common.check_tokenizer("target_tokenizer", target_tokenizer)
    batch_size = _common.check_positive_int("batch_size", batch_size)
    max_source_length = _common.check_positive_int(
        "max_source_length", max_source_length, allow_none=True
    )
    max_target_length = _common.check_positive_int(
        "max_target_length", max_target_length, allow_none=True
    )
    bucket_boundaries = _common.check_bucket_boundaries(bucket_boundaries)
    seed, shuffle_buffer_size = _common.check_shuffle_arguments(seed, shuffle_buffer_size)
    _common.check_flags(shuffle=shuffle, cache=cache)
    dataset = _common.string_columns("pairs", pairs, columns=2)

    def tokenize(sources, targets):
        source_ids = source_tokenizer.tokenize(sources)
        target_ids = target_tokenizer.tokenize(targets)
        rows = target_ids.nrows()
        start = tf.fill([rows, 1], target_tokenizer.START_ID)
        end = tf.fill([rows, 1], target_tokenizer.END_ID)
        return (source_ids, tf.concat([start, target_ids], axis=1)), tf.concat(
            [target_ids, end], axis=1
        )

    def keep(inputs, target_out):
        return _common.length_at_most(
            [(inputs[0], max_source_length), (target_out, max_target_length)]
        )

    def empty(inputs, target_out):
        # `target_out` of an empty target is `</s>` alone.
        return (tf.shape(inputs[0])[0] == 0) | (tf.shape(target_out)[0] == 1)

    def length(inputs, target_out):
        return tf.maximum(tf.shape(inputs[0])[0], tf.shape(target_out)[0])

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
