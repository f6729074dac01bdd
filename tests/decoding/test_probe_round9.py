"""Decoding probe, round 9: empty batches of unknown size over the whole vocabulary, int64 or
Python lengths and ids beyond int32, unseeded eager sampling under a global seed."""

import re

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, GreedySearch, TemperatureSampler
from tests.decoding.reference import make_step, random_tables

END = 3


@pytest.mark.parametrize(
    "beam_size, known_vocabulary",
    [(7, True), (2, False)],
    ids=["more beams than the vocabulary", "vocabulary unknown while tracing"],
)
def test_beam_search_runs_an_empty_batch_of_unknown_size(beam_size, known_vocabulary):
    # Scoring the whole vocabulary (V < beam_size + 2, or V unknown) reshaped the [0, V]
    # log-probabilities of an empty batch to [0, k, -1], which TensorFlow makes [0, k, 0]:
    # "condition [0,1,5], then [], and else [0,7,0] must be broadcastable". A serving
    # signature (batch [None]) failed on an empty request.
    logits, _ = random_tables(5, 3, 5)
    vocabulary = [None] if not known_vocabulary else [5]

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([3, None] + vocabulary, tf.float32),
        ]
    )
    def decode(start_ids, table):
        def step(ids, state, index):
            return tf.gather(table[index], ids), state

        search = BeamSearch(beam_size, n_best=2)
        return search(step, start_ids, END, (), max_length=3).to_dict()

    empty = decode(tf.zeros([0], tf.int32), tf.constant(logits))
    assert empty["ids"].shape == (0, 2, 3) and empty["scores"].shape == (0, 2)
    expected = BeamSearch(beam_size, n_best=2)(make_step(logits), [0, 4], END, (), max_length=3)
    np.testing.assert_array_equal(decode(tf.constant([0, 4]), logits)["ids"], expected.ids)


# Under TABLE the end token 3 is the likeliest token (greedy decoding answers [3]), under
# NO_END token 0 is (greedy decoding answers [0, 0, 0, 0] under `max_length=4`).
TABLE = np.log(np.array([[0.1, 0.1, 0.1, 0.7]] * 4, np.float32))
NO_END = np.log(np.array([[0.7, 0.1, 0.1, 0.1]] * 4, np.float32))


def _step(table):
    table = tf.convert_to_tensor(table)
    return lambda ids, state, index: (tf.gather(table, ids), state)


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(2)], ids=repr)
def test_lengths_beyond_int32_are_saturated_not_wrapped(search):
    # `tf.cast` to int32 wrapped them silently: an int64 `max_length` of 2**32 + 2 under a
    # bound of 4 decoded 2 tokens (not 4), and a `min_length` of 2**31 (Python int) or
    # 2**32 (int64 tensor) became negative or 0: no minimum at all.
    huge = tf.constant([2**32 + 2], tf.int64)
    result = search(_step(NO_END), [0], END, (), max_length=huge, max_length_bound=4)
    np.testing.assert_array_equal(result.lengths, [[4]])
    for min_length in (2**31, tf.constant(2**32, tf.int64)):
        result = search(_step(TABLE), [0], END, (), max_length=4, min_length=min_length)
        np.testing.assert_array_equal(result.lengths, [[4]])  # never the end token
        assert END not in result.ids.numpy()


def test_a_static_max_length_beyond_int32_is_refused_by_name():
    # It became the buffers' length: "Fill dimensions must be >= 0 for '{{node zeros_3}}'".
    with pytest.raises(ValueError, match=r"`max_length` must be in \[1, 2\*\*31 - 1\]"):
        GreedySearch()(_step(TABLE), [0], END, (), max_length=np.array([2**31 + 3]))


def test_an_end_id_beyond_int32_is_refused():
    # With the vocabulary size unknown while tracing, it failed in the run-time check against
    # the vocabulary: "Input 'y' of 'Less' Op has type int32 that does not match type int64".
    @tf.function(input_signature=[tf.TensorSpec([4, None], tf.float32)])
    def decode(table):
        return GreedySearch()(_step(table), [0], 2**32 + END, (), max_length=3).ids

    with pytest.raises(ValueError, match=r"`end_id` must be a token id in \[0, 2\*\*31 - 1\]"):
        decode(TABLE)


def test_unseeded_eager_sampling_draws_anew_at_each_call_under_a_global_seed():
    # An eager call runs the search in a new `tf.function`, whose random op drew the seed:
    # under `tf.random.set_seed` (set for reproducible training) that op drew the same seed
    # in every new function, so each call answered the same samples ("None draws a fresh
    # seed at each call").
    search, step = GreedySearch(TemperatureSampler()), _step(np.zeros((8, 8), np.float32))

    def sample():
        return search(step, [0] * 4, 7, (), max_length=6).ids.numpy()

    try:
        tf.random.set_seed(1)
        first = [sample(), sample()]
        tf.random.set_seed(1)
        again = [sample(), sample()]
    finally:
        tf.random.set_seed(None)
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(first, again)  # the global seed still fixes the sequence


@pytest.mark.parametrize("value", ["foo", ("foo", 1), ["gnmt"], ("average", 2)])
def test_an_unknown_length_penalty_is_named_as_given(value):
    # A string was shown wrapped in a tuple: "got ('foo',)".
    message = r"`length_penalty` must be .*, got " + re.escape(repr(value)) + r"\.$"
    with pytest.raises(ValueError, match=message):
        BeamSearch(2, length_penalty=value)
