"""Shared plumbing of the tf.data pipelines: input checks, length filter, buckets, batches."""

import numpy as np
import tensorflow as tf

from keras_seq._checked_ids import as_int, check_bool
from keras_seq.pipelines.pipeline_statistics import PipelineStatistics
from keras_seq.text.tokenizer import Tokenizer, string_constant

_TOKENIZE_BATCH = 256
_MAX_INT32 = 2**31 - 1


def check_tokenizer(name, tokenizer, cls=Tokenizer):
    if not isinstance(tokenizer, cls):
        raise TypeError(
            f"`{name}` must be a keras_seq {cls.__name__}, got {type(tokenizer).__name__}."
        )


def check_positive_int(name, value, allow_none=False):
    """``value`` as a Python int (None where ``allow_none``); ValueError for anything else."""
    if value is None and allow_none:
        return None
    number = as_int(value)
    if number is None or number < 1:
        raise ValueError(
            f"`{name}` must be a positive int{' or None' if allow_none else ''}, got {value!r}."
        )
    return number


def check_shuffle_arguments(seed, shuffle_buffer_size):
    """``(seed, shuffle_buffer_size)`` as Python ints (or None), checked before the corpus is
    read.

    `tf.data.Dataset.shuffle` would only reject them after the counting pass, with errors that
    do not name the argument, and a ``shuffle_buffer_size`` of 0 would silently mean "the
    whole corpus" (the None default).
    """
    if seed is not None:
        number = as_int(seed)
        if number is None:
            raise TypeError(f"`seed` must be an int or None, got {seed!r}.")
        seed = number
    return seed, check_positive_int("shuffle_buffer_size", shuffle_buffer_size, allow_none=True)


def check_flags(**flags):
    """Refuses a flag (``shuffle``, ``cache``, ``add_start``, ``add_end``) that is not a bool:
    ``shuffle="False"`` shuffled, and ``add_start="False"`` put ``<s>`` first and then failed
    in the graph with "invalid literal for int()"."""
    for name, value in flags.items():
        check_bool(value, name)


def check_finite(name, dataset):
    """Rejects a dataset that never ends: the counting pass would read it forever."""
    if int(dataset.cardinality()) == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"`{name}` is an infinite tf.data.Dataset (e.g. `.repeat()` without a count): the "
            "pipeline counts the corpus once when it is built. Pass the finite dataset and "
            "repeat the result (`model.fit` runs several epochs by itself)."
        )


def check_bucket_boundaries(bucket_boundaries):
    """``bucket_boundaries`` as a list of Python ints, or None.

    A list, tuple, ``range`` or 1-D NumPy integer array (``np.arange(8, 64, 8)``, quantiles of
    the lengths cast to int) is taken; its entries may be NumPy integers.
    """
    if bucket_boundaries is None:
        return None
    # Anything else (an int, a one-shot iterator) cannot be checked and reused. A NumPy array
    # or a range was refused as "not a non-empty increasing list" although it was one.
    if isinstance(bucket_boundaries, np.ndarray) and bucket_boundaries.ndim == 1:
        given = bucket_boundaries.tolist()  # Python ints; floats and bools stay refused
    elif isinstance(bucket_boundaries, (list, tuple, range)):
        given = list(bucket_boundaries)
    else:
        given = []
    values = [as_int(v) for v in given]
    if (
        not values
        # Sequence lengths are int32, hence so are the boundaries.
        or any(v is None or not 1 <= v <= _MAX_INT32 for v in values)
        or values != sorted(set(values))
    ):
        raise ValueError(
            "`bucket_boundaries` must be None or a non-empty increasing list (tuple, range, "
            "1-D NumPy array) of positive ints (at most 2**31 - 1), got "
            f"{bucket_boundaries!r}."
        )
    return values


def string_columns(name, examples, columns):
    """A dataset of ``columns`` tf.string scalars from a list of tuples or a dataset."""
    if isinstance(examples, tf.data.Dataset):
        specs = examples.element_spec
        specs = specs if isinstance(specs, tuple) else (specs,)
        if len(specs) != columns or any(
            not isinstance(s, tf.TensorSpec) or s.dtype != tf.string or s.shape.rank != 0
            for s in specs
        ):
            raise TypeError(
                f"`{name}` must yield {columns} tf.string scalar(s), got element_spec "
                f"{examples.element_spec}."
            )
        check_finite(name, examples)
        return examples
    rows = _as_rows(name, examples)
    if columns == 1:
        if not all(isinstance(row, str) for row in rows):
            raise TypeError(f"`{name}` must be a list of str or a tf.data.Dataset of strings.")
        return tf.data.Dataset.from_tensor_slices(string_constant(rows))
    for index, row in enumerate(rows):
        if (
            not isinstance(row, (tuple, list))
            or len(row) != columns
            or not all(isinstance(x, str) for x in row)
        ):
            raise TypeError(
                f"`{name}` must hold ({', '.join(['str'] * columns)}) tuples; entry {index} is "
                f"{row!r:.100}."
            )
    return tf.data.Dataset.from_tensor_slices(
        tuple(string_constant([row[c] for row in rows]) for c in range(columns))
    )


def _as_rows(name, examples, nested=False):
    """``examples`` as a list of rows, a row that is a 1-D NumPy array as a list (and, where
    ``nested``, each such part of a row too).

    Pairs from ``df[["de", "en"]].to_numpy()`` (a 2-D object array) are array rows, and the
    tokens and tags of a corpus loaded with NumPy are arrays: both were refused as "must hold
    (str, str) tuples", though the tokenizers take NumPy token rows.
    """
    if isinstance(examples, (str, bytes)) or not hasattr(examples, "__iter__"):
        raise TypeError(
            f"`{name}` must be a list or a tf.data.Dataset, got {type(examples).__name__}."
        )
    rows = [_as_list(row) for row in examples]
    if nested:
        rows = [
            [_as_list(part) for part in row] if isinstance(row, (list, tuple)) else row
            for row in rows
        ]
    return rows


def _as_list(value):
    """A 1-D NumPy array as a list (of Python str and int for str and int arrays), anything
    else unchanged."""
    return value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1 else value


def tokenize_batches(dataset, function, ragged=False):
    """Applies ``function`` to batches (vectorized tokenization), then yields single examples."""
    batched = dataset.ragged_batch(_TOKENIZE_BATCH) if ragged else dataset.batch(_TOKENIZE_BATCH)
    function = tf.autograph.experimental.do_not_convert(function)
    tokenized = batched.map(function, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # Unbatched ragged rows come out as rank-1 "ragged" specs; an identity map makes them dense
    # tensors, which `padded_batch` requires.
    return tokenized.unbatch().map(lambda *example: example if len(example) > 1 else example[0])


def finish(
    tokenized,
    keep,
    empty,
    length,
    batch_size,
    shuffle,
    seed,
    bucket_boundaries,
    cache,
    shuffle_buffer_size=None,
):
    """Filters, caches, shuffles, buckets, pads (with 0), batches and prefetches.

    ``keep(*example)`` -> bool scalar (the length filter), ``empty(*example)`` -> bool scalar
    (a text of the example has no ids) and ``length(*example)`` -> int32 (the bucketing key).
    An example is kept when ``keep`` and not ``empty``: a batch of empty examples would have
    zero time steps, which no recurrent layer can run. The corpus is counted once here (one
    pass over ``tokenized``, which also fills the cache): examples kept per bucket, hence the
    exact number of batches, and the empty ones.
    """
    if cache:
        tokenized = tokenized.cache()
    boundaries = tf.constant(
        list(bucket_boundaries or []), tf.int32, shape=[len(bucket_boundaries or [])]
    )
    num_buckets = len(bucket_boundaries or []) + 1

    def kept(*example):
        return keep(*example) & tf.logical_not(empty(*example))

    def tally(*example):
        # One-hot of the example's bucket (as `bucket_by_sequence_length` picks it) if kept,
        # and whether it is empty.
        bucket = tf.reduce_sum(tf.cast(length(*example) >= boundaries, tf.int32))
        is_kept = tf.cast(kept(*example), tf.int64)
        is_empty = tf.cast(empty(*example), tf.int64)
        return tf.one_hot(bucket, num_buckets, dtype=tf.int64) * is_kept, is_empty

    zero = tf.constant(0, tf.int64)
    kept_per_bucket, num_examples, num_empty = tokenized.map(
        tf.autograph.experimental.do_not_convert(tally)
    ).reduce(
        (tf.zeros([num_buckets], tf.int64), zero, zero),
        lambda total, counts: (total[0] + counts[0], total[1] + 1, total[2] + counts[1]),
    )
    kept_per_bucket = kept_per_bucket.numpy().tolist()
    num_kept = sum(kept_per_bucket)
    statistics = PipelineStatistics(
        num_examples=int(num_examples),
        num_kept=num_kept,
        num_dropped=int(num_examples) - num_kept,
        num_empty=int(num_empty),
    )
    dataset = tokenized.filter(kept)
    # No batch or shuffle buffer can hold more than the kept examples, and tf.data allocates
    # them up front: a `batch_size` of 2**30 aborted the process (std::bad_alloc) and a
    # `shuffle_buffer_size` of 2**40 crashed it (segmentation fault). Capped at the count,
    # the batches and the shuffled order (same seed) are the same as with the larger sizes.
    most = max(num_kept, 1)
    batch_size = min(batch_size, most)
    if shuffle:
        dataset = dataset.shuffle(
            min(shuffle_buffer_size or most, most), seed=seed, reshuffle_each_iteration=True
        )
    if bucket_boundaries is None:
        dataset = dataset.padded_batch(batch_size)
    else:
        dataset = dataset.bucket_by_sequence_length(
            length,
            bucket_boundaries=list(bucket_boundaries),
            bucket_batch_sizes=[batch_size] * num_buckets,
        )
    # The number of batches is known from the count: tell tf.data, so that `model.fit` shows
    # progress against it and knows the epoch length.
    num_batches = sum(-(-count // batch_size) for count in kept_per_bucket)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    return dataset.prefetch(tf.data.AUTOTUNE), statistics


def length_at_most(lengths_and_limits):
    """True where every ``(length, limit)`` pair has ``limit`` None or ``length <= limit``."""
    result = tf.constant(True)
    for value, limit in lengths_and_limits:
        if limit is not None:
            # Lengths are int32: a larger limit (sys.maxsize for "no limit") would not convert
            # to int32 faithfully and dropped every example; no length exceeds _MAX_INT32.
            result = result & (tf.shape(value)[0] <= min(limit, _MAX_INT32))
    return result


def ragged_strings(rows):
    """A tf.string RaggedTensor [len(rows), None] from lists of str (NULs kept)."""
    flat = string_constant([value for row in rows for value in row])
    lengths = tf.constant([len(row) for row in rows], tf.int64, shape=[len(rows)])
    return tf.RaggedTensor.from_row_lengths(flat, lengths)
