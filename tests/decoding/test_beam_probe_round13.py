"""Decoding probe, round 13: a step whose state changes inside the loop is refused by name.

The loop carries one state, the one the step returned at index 0. A step returning another
structure, dtype or shape there failed inside `tf.while_loop` with the names of the search's
own loop variables ("The two structures don't have the same nested structure" over the
buffers, or "Input tensor `GatherV2_8:0` enters the loop with shape ..."), not the step's.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, GreedySearch

TABLE = np.log(np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]], np.float32))
SEARCHES = [GreedySearch, lambda: BeamSearch(2)]


def _logits(ids):
    return tf.gather(tf.constant(TABLE), ids)


def _nests_its_state(ids, state, index):
    return _logits(ids), (state, state)


def _widens_its_state(ids, state, index):
    return _logits(ids), tf.concat([state, state], axis=-1)


def _casts_its_state(ids, state, index):
    # float32 fed at index 0 (the initial state), float64 returned; float64 fed in the loop,
    # float32 returned.
    dtype = tf.float32 if state.dtype == tf.float64 else tf.float64
    return _logits(ids), tf.cast(state, dtype)


@pytest.mark.parametrize("make_search", SEARCHES, ids=["greedy", "beam"])
def test_a_state_of_another_structure_inside_the_loop_is_named(make_search):
    with pytest.raises(ValueError, match="`step` must return a state of the structure it is"):
        make_search()(_nests_its_state, [0, 1], 2, tf.zeros((2, 3)), max_length=4)


@pytest.mark.parametrize("make_search", SEARCHES, ids=["greedy", "beam"])
@pytest.mark.parametrize("step", [_widens_its_state, _casts_its_state], ids=["shape", "dtype"])
def test_a_state_of_another_shape_or_dtype_inside_the_loop_is_named(make_search, step):
    with pytest.raises(ValueError, match="`step` must return every state tensor with the dtype"):
        make_search()(step, [0, 1], 2, tf.zeros((2, 3)), max_length=4)


@pytest.mark.parametrize(
    "make_search, first_ids, first_length, steps",
    [(GreedySearch, [1, 2, 0, 0], 2, 2), (lambda: BeamSearch(2), [2, 0, 0, 0], 1, 3)],
    ids=["greedy", "beam"],
)
def test_a_state_that_changes_only_at_index_0_is_fine(make_search, first_ids, first_length, steps):
    """The loop carries the state of index 0: a step that builds its state from `()` there
    (and keeps it from then on) is a valid step, as before."""

    def step(ids, state, index):
        counter = tf.zeros_like(ids, tf.float32)[:, None] if isinstance(state, tuple) else state
        return _logits(ids), counter + 1.0

    result = make_search()(step, [0, 1], 2, (), max_length=4)
    # Greedy: 0 -> 1 (0.5) -> 2; beam: 0 -> 2 (0.4) beats 0 -> 1 -> 2 (0.2). Both: 1 -> 2.
    np.testing.assert_array_equal(result.ids.numpy()[:, 0], [first_ids, [2, 0, 0, 0]])
    np.testing.assert_array_equal(result.lengths.numpy(), [[first_length], [1]])
    # The counter counts the steps that ran, until every hypothesis had ended (the beam's
    # second hypothesis of example 1, 1 -> 0 -> 1, was still live after two).
    np.testing.assert_array_equal(tf.reshape(result.state, [-1]).numpy(), [steps, steps])
