"""Regression tests of defects found by probing the layers (each failed before its fix)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.cells import GRUCell, LSTMCell
from keras_seq.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Bridge,
    Recurrent,
    SequencePooling,
    StackedRNN,
)
from tests.layers.helpers import padding_mask
from tests.test_case import assert_allclose

B, T, D = 3, 5, 4


def inputs():
    return np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")


def keras_stacked_cells(dropout=0.0):
    """Keras' own stack of a keras_seq LSTM cell (two states) and a GRU cell (one state)."""
    return keras.layers.StackedRNNCells(
        [
            LSTMCell(6, dropout=dropout, recurrent_dropout=dropout, seed=1),
            GRUCell(5, dropout=dropout, recurrent_dropout=dropout, seed=2),
        ]
    )


@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_runs_keras_stacked_cells_like_keras_rnn(go_backwards):
    """`Recurrent` tells a list of cells to use `StackedRNNCells`, whose nested states it used
    to stack into one tensor (a crash). It equals `keras.layers.RNN` on the same cells, with
    the states flattened: [h1, c1, h2]."""
    x, mask = inputs(), padding_mask([5, 2, 0], T, "left")
    cells = keras_stacked_cells()
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer = Recurrent(cells, **options)
    ours = layer(x, mask=mask)
    output, *nested_states = keras.layers.RNN(cells, **options)(x, mask=mask)
    assert layer.state_size == [6, 6, 5]
    assert [tuple(s.shape) for s in ours[1:]] == [(B, 6), (B, 6), (B, 5)]
    assert_allclose(ours, [output, *keras.tree.flatten(nested_states)], atol=1e-6)
    # Its own final states, flat, are a valid initial state; nested ones too.
    flat = [np.full(tuple(s.shape), 0.5, "float32") for s in ours[1:]]
    reference = keras.layers.RNN(cells, **options)(
        x, mask=mask, initial_state=keras.tree.pack_sequence_as(cells.state_size, flat)
    )
    assert_allclose(layer(x, mask=mask, initial_state=flat)[0], reference[0], atol=1e-6)


def test_recurrent_draws_keras_stacked_cells_dropout_masks_like_keras_rnn():
    """In training every stacked cell gets its per-sequence dropout masks, drawn as Keras'
    RNN draws them (same seeds, same numbers), also inside a `tf.function`."""
    x = inputs()
    ours = Recurrent(keras_stacked_cells(dropout=0.3), return_sequences=True)
    theirs = keras.layers.RNN(keras_stacked_cells(dropout=0.3), return_sequences=True)
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-6)
    trained = tf.function(lambda t: ours(t, training=True))(x)
    assert_allclose(trained, tf.function(lambda t: theirs(t, training=True))(x), atol=1e-6)
    assert not np.allclose(trained, ours(x))  # dropout was on


def test_bidirectional_output_shape_follows_the_backward_layer():
    """With a `backward_layer` of another size or state count, the symbolic outputs (what a
    functional model is built on) had the forward layer's shapes twice."""
    forward = LSTM(5, return_sequences=True, return_state=True)
    backward = GRU(6, return_sequences=True, return_state=True, go_backwards=True)
    layer = Bidirectional(forward, backward_layer=backward)
    symbolic = layer(keras.Input((T, D)))
    expected = [(None, T, 11), (None, 5), (None, 5), (None, 6)]
    assert [tuple(t.shape) for t in symbolic] == expected
    assert [tuple(t.shape) for t in layer(inputs())] == [(B, *s[1:]) for s in expected]
    none = Bidirectional(
        GRU(5, return_sequences=True),
        merge_mode=None,
        backward_layer=GRU(6, return_sequences=True, go_backwards=True),
    )
    assert none.compute_output_shape((B, T, D)) == [(B, T, 5), (B, T, 6)]


def test_bidirectional_elementwise_merge_of_different_sizes_is_a_clear_error():
    layer = Bidirectional(
        LSTM(5, return_sequences=True),
        merge_mode="sum",
        backward_layer=LSTM(4, return_sequences=True, go_backwards=True),
    )
    with pytest.raises(ValueError, match=r"merge_mode='sum'.*5 \(forward\) and 4 \(backward\)"):
        layer(inputs())


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stateful_stack_resets_its_states(bidirectional):
    """A stateful stack carried its states with no way to zero them."""
    x = inputs()
    stack = StackedRNN(LSTM(4, stateful=True), num_layers=2, bidirectional=bidirectional)
    first = stack(x).numpy()
    assert not np.allclose(stack(x), first)  # the states were carried over
    stack.reset_states()
    assert_allclose(stack(x), first, atol=1e-6)
    stack.reset_state()  # Keras 3's name, also on Bidirectional
    assert_allclose(stack(x), first, atol=1e-6)
    stack.levels[0].reset_state()


@pytest.mark.parametrize("mode", ["last", "max", "mean", "sum"])
@pytest.mark.parametrize("shape", [(2, 0, 4), (0, 3, 4)], ids=["no_steps", "empty_batch"])
def test_pooling_of_no_steps_or_rows_gives_zeros(mode, shape):
    """T = 0 (every row without a valid step) gives zeros and B = 0 an empty batch, eagerly
    and with an unknown length in a graph; "last" and "max" used to crash."""
    x, mask = np.ones(shape, "float32"), np.zeros(shape[:2], bool)
    layer = SequencePooling(mode, bidirectional=True)
    graph = tf.function(
        lambda a, m: layer(a, mask=m),
        input_signature=[tf.TensorSpec([None, None, 4]), tf.TensorSpec([None, None], tf.bool)],
    )
    expected = np.zeros((shape[0], 4), "float32")
    np.testing.assert_array_equal(layer(x, mask=mask), expected)
    np.testing.assert_array_equal(layer(x), expected)
    np.testing.assert_array_equal(graph(x, mask), expected)


def test_stack_accepts_numpy_integer_depth_and_refuses_a_bool():
    assert StackedRNN(LSTM(4), num_layers=np.int64(2)).num_layers == 2
    with pytest.raises(ValueError, match="num_layers"):
        StackedRNN(LSTM(4), num_layers=True)


@pytest.mark.parametrize(
    "sizes, encoder_states, message",
    [
        ([[8]], [[np.ones((2, 4), "float32")] * 3], "even number; got 3"),
        ([[8]], [], "per encoder level"),
        ([[8]], [np.ones((2, 4), "float32")], "per encoder level"),
    ],
)
def test_bridge_bad_encoder_states_are_clear_errors(sizes, encoder_states, message):
    """An odd state count of a bidirectional level failed in Python's strict ``zip``; no
    level with an IndexError."""
    with pytest.raises(ValueError, match=message):
        Bridge("copy", decoder_state_sizes=sizes, bidirectional=True)(encoder_states)


@pytest.mark.parametrize("size", [0, -3, "8", 2.0, True])
def test_bridge_decoder_state_sizes_must_be_positive_integers(size):
    with pytest.raises(ValueError, match="decoder_state_sizes"):
        Bridge("zeros", decoder_state_sizes=[[8], [size]])


def test_bridge_numpy_integer_sizes_are_ints():
    bridge = Bridge("zeros", decoder_state_sizes=[[np.int64(3)]])
    (size,) = bridge.get_config()["decoder_state_sizes"][0]
    assert size == 3 and type(size) is int
    assert tuple(bridge([[np.ones((2, 4), "float32")]])[0][0].shape) == (2, 3)
