"""Regression tests of defects found by probing the decoding strategies and selectors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import (
    BeamSearch,
    GNMTLengthPenalty,
    GreedySearch,
    TemperatureSampler,
    TopKSampler,
    TopPSampler,
    tile_to_beam,
)

TABLE = np.log(np.array([[0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], np.float32))


def test_top_p_of_one_keeps_every_token():
    # p(token 0) = 1 - 6e-8 rounds to 1 in float32: the mass before the other tokens
    # reached p = 1 and they were dropped.
    logits = tf.constant([[17.0, 0.0, -1.0, -2.0], [0.5, 0.2, 0.1, 3.0]])
    filtered = TopPSampler(p=1.0, temperature=0.5).filter_logits(logits).numpy()
    np.testing.assert_array_equal(filtered, logits.numpy() / 0.5)
    draws = tf.tile(logits, [500, 1])
    seed = tf.constant([3, 4])
    np.testing.assert_array_equal(
        TopPSampler(p=1.0, temperature=0.5)(draws, seed=seed),
        TemperatureSampler(temperature=0.5)(draws, seed=seed),
    )


def _step(ids, state, index):
    logits = tf.gather(TABLE, ids) + 0.0 * tf.reduce_sum(state["h"], axis=-1, keepdims=True)
    return logits, {"h": state["h"] + 1.0}


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(2)])
def test_numpy_initial_state_equals_a_tensor_state(search):
    state = np.zeros((2, 3), np.float32)
    arguments = dict(start_ids=[0, 2], end_id=2, max_length=4)
    from_numpy = search(_step, initial_state={"h": state}, **arguments)
    from_tensor = search(_step, initial_state={"h": tf.constant(state)}, **arguments)
    np.testing.assert_array_equal(from_numpy.ids, from_tensor.ids)
    np.testing.assert_array_equal(from_numpy.ids[:, 0], [[1, 2, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(from_numpy.state["h"], from_tensor.state["h"])


def test_none_in_the_initial_state_is_a_type_error():
    for state in (None, {"h": None}):
        with pytest.raises(TypeError, match="initial_state"):
            GreedySearch()(_step, [0], end_id=2, initial_state=state, max_length=3)


def test_constructors_take_numpy_scalars():
    search = BeamSearch(np.int64(3), coverage_penalty=np.float32(0.5), n_best=np.int32(2))
    config = search.get_config()
    assert (config["beam_size"], config["n_best"], config["coverage_penalty"]) == (3, 2, 0.5)
    assert type(config["beam_size"]) is int and type(config["n_best"]) is int
    assert TopKSampler(np.int64(4), temperature=np.float32(0.5)).get_config() == {
        "k": 4,
        "temperature": 0.5,
    }
    assert TopPSampler(np.float32(0.5)).p == 0.5
    assert GNMTLengthPenalty(np.float32(0.5)).alpha == 0.5
    assert tile_to_beam(np.zeros((2, 1)), np.int64(3)).shape == (6, 1)
    with pytest.raises(TypeError, match="beam_size"):
        BeamSearch(np.bool_(True))
