"""tf.data pipeline for sequence tagging (one tag per token)."""

import tensorflow as tf

from keras_seq.pipelines import _common
from keras_seq.text.word_tokenizer import WordTokenizer


def tagging_dataset(
    examples,
    word_tokenizer,
    tag_vocabulary,
    batch_size,
    max_length=None,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
    shuffle_buffer_size=None,
):
    """Batches of ``(token_ids, tag_ids)``, both int32 [batch, length] padded with 0.

    The tokens of a sentence are looked up one by one with ``word_tokenizer`` (pre-split input,
    so ids align 1:1 with tags). Tag ids are ``1 + tag_vocabulary.index(tag)``: id 0 is kept
    for padding, so the padded positions of both tensors coincide and a model with
    ``Embedding(mask_zero=True)`` ignores them in the loss. Sentences longer than ``max_length``
    tokens are dropped, and so are empty sentences (no tokens), since a batch of them would
    have zero time steps. Both are counted in the returned `PipelineStatistics`
    (``num_dropped``, of which ``num_empty`` empty).

    Args:
        examples: list of (tokens, tags) with tokens and tags lists (or 1-D NumPy arrays)
            of str of equal length, or a finite tf.data.Dataset of (tf.string [None],
            tf.string [None]).
        word_tokenizer: `WordTokenizer`.
        tag_vocabulary: list (or tuple) of distinct non-empty str, the tag set (ids 1 …), in
            the order `SequenceTagger` is given.
        batch_size: int. Examples per batch.
        max_length: int or None. Longest sentence kept, in tokens.
        shuffle, seed, bucket_boundaries, cache, shuffle_buffer_size: as in
            `translation_dataset`.

    Returns:
        ``(dataset, statistics)``. A tag outside ``tag_vocabulary`` or a sentence with more
        tokens than tags raises ValueError (lists) or tf.errors.InvalidArgumentError (datasets;
        raised while the pipeline is built, by the pass that counts the corpus).

    Example:
    >>> words = WordTokenizer.from_corpus([["He", "ran", "."]])
    >>> dataset, statistics = tagging_dataset(
    ...     [(["He", "ran", "."], ["PRON", "VERB", "."])], words, ["PRON", "VERB", "."], 2)
    >>> word_ids, tag_ids = next(iter(dataset))
    >>> word_ids.numpy().tolist(), tag_ids.numpy().tolist()
    ([[5, 6, 4]], [[1, 2, 3]])
    """
    _common.check_tokenizer("word_tokenizer", word_tokenizer, WordTokenizer)
    batch_size = _common.check_positive_int("batch_size", batch_size)
    max_length = _common.check_positive_int("max_length", max_length, allow_none=True)
    bucket_boundaries = _common.check_bucket_boundaries(bucket_boundaries)
    seed, shuffle_buffer_size = _common.check_shuffle_arguments(seed, shuffle_buffer_size)
    _common.check_flags(shuffle=shuffle, cache=cache)
    # A list or tuple only, as `SequenceTagger` takes: a set's order (hence every tag id)
    # changes from one process to the next with Python's string hashing.
    if (
        not isinstance(tag_vocabulary, (list, tuple))
        or not tag_vocabulary
        or not all(isinstance(tag, str) and tag for tag in tag_vocabulary)
        or len(set(tag_vocabulary)) != len(tag_vocabulary)
    ):
        raise ValueError(
            "`tag_vocabulary` must be a non-empty list of distinct non-empty str, got "
            f"{tag_vocabulary!r:.200}."
        )
    tag_vocabulary = list(tag_vocabulary)
    dataset = _token_tag_columns(examples, set(tag_vocabulary))
    tags_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            _common.string_constant(tag_vocabulary),
            tf.range(1, len(tag_vocabulary) + 1, dtype=tf.int32),
        ),
        default_value=-1,
    )

    def tokenize(tokens, tags):
        # `ragged_batch` gives a dense batch when every sentence has the same static length.
        if not isinstance(tokens, tf.RaggedTensor):
            tokens = tf.RaggedTensor.from_tensor(tokens)
        if not isinstance(tags, tf.RaggedTensor):
            tags = tf.RaggedTensor.from_tensor(tags)
        token_ids = word_tokenizer.tokenize(tokens)
        tag_ids = tags.with_flat_values(tags_table.lookup(tags.flat_values))
        checks = [
            tf.debugging.assert_non_negative(
                tag_ids.flat_values, message="`examples` holds a tag not in `tag_vocabulary`"
            ),
            tf.debugging.assert_equal(
                token_ids.row_lengths(),
                tag_ids.row_lengths(),
                message="`examples`: a sentence has a different number of tokens and tags",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(token_ids), tf.identity(tag_ids)

    def keep(token_ids, tag_ids):
        return _common.length_at_most([(token_ids, max_length)])

    def empty(token_ids, tag_ids):
        return tf.shape(token_ids)[0] == 0

    def length(token_ids, tag_ids):
        return tf.shape(token_ids)[0]

    return _common.finish(
        _common.tokenize_batches(dataset, tokenize, ragged=True),
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


def _token_tag_columns(examples, tags):
    if isinstance(examples, tf.data.Dataset):
        spec = examples.element_spec
        if isinstance(spec, tuple) and any(isinstance(s, tf.RaggedTensorSpec) for s in spec):
            # Rows sliced from RaggedTensors: an identity map makes them dense vectors.
            examples = examples.map(lambda tokens, tags: (tokens, tags))
            spec = examples.element_spec
        if (
            not isinstance(spec, tuple)
            or len(spec) != 2
            or any(
                not isinstance(s, tf.TensorSpec) or s.dtype != tf.string or s.shape.rank != 1
                for s in spec
            )
        ):
            raise TypeError(
                "`examples` must yield (tf.string [None], tf.string [None]) pairs, got "
                f"element_spec {spec}."
            )
        _common.check_finite("examples", examples)
        return examples
    rows = _common._as_rows("examples", examples, nested=True)
    for index, row in enumerate(rows):
        if (
            not isinstance(row, (tuple, list))
            or len(row) != 2
            or not all(isinstance(part, (list, tuple)) for part in row)
            or not all(isinstance(x, str) for part in row for x in part)
        ):
            raise TypeError(
                f"`examples` must hold (tokens, tags) pairs of str lists; entry {index} is "
                f"{row!r:.100}."
            )
        if len(row[0]) != len(row[1]):
            raise ValueError(
                f"`examples` entry {index} has {len(row[0])} tokens but {len(row[1])} tags."
            )
        unknown = [tag for tag in row[1] if tag not in tags]
        if unknown:
            raise ValueError(
                f"`examples` entry {index} has tags {unknown} not in `tag_vocabulary`."
            )
    return tf.data.Dataset.from_tensor_slices(
        (
            _common.ragged_strings([row[0] for row in rows]),
            _common.ragged_strings([row[1] for row in rows]),
        )
    )
