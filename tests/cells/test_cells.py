import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.cells import (
    CoupledLSTMCell,
    GRUCell,
    LSTMCell,
    PeepholeLSTMCell,
    SimpleRNNCell,
)
from tests import references
from tests.cells.cell_table import cells_and_steps
from tests.test_case import assert_allclose, run_serialization_test

B, D, U = 3, 5, 4

CELLS = cells_and_steps(U)


def randomize(cell, rng, scale=0.5):
    """Gives every weight (biases and peepholes included) random non-zero values."""
    for variable in cell.weights:
        variable.assign(rng.normal(scale=scale, size=variable.shape).astype("float32"))
    return {v.path.split("/")[-1]: v.numpy().astype("float64") for v in cell.weights}


def random_states(cell, rng):
    return [rng.normal(size=(B, s)).astype("float32") for s in cell.state_size]


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_step_matches_numpy_reference(name):
    rng = np.random.default_rng(0)
    make, reference = CELLS[name]
    cell = make()
    cell.build((B, D))
    weights = randomize(cell, rng)
    x = rng.normal(size=(B, D)).astype("float32")
    states = random_states(cell, rng)
    output, new_states = cell(x, states)
    ref_output, ref_states = reference(x.astype("float64"), states, weights)
    assert_allclose(output, ref_output, atol=1e-5)
    assert_allclose(new_states, ref_states, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_runs_in_keras_rnn_like_numpy(name):
    rng = np.random.default_rng(1)
    make, reference = CELLS[name]
    cell = make()
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = rng.normal(size=(B, 6, D)).astype("float32")
    layer(x)
    weights = randomize(cell, rng)
    outputs, *states = layer(x)
    zeros = [np.zeros((B, s)) for s in cell.state_size]
    ref_outputs, _, ref_states = references.run_sequence(
        lambda xt, s: reference(xt, s, weights), x, zeros
    )
    assert_allclose(outputs, ref_outputs, atol=1e-5)
    assert_allclose(states, ref_states, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_in_keras_stacked_cells_and_bidirectional(name):
    rng = np.random.default_rng(2)
    make, _ = CELLS[name]
    x = rng.normal(size=(B, 4, D)).astype("float32")
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells([make(), make()]))
    assert tuple(stacked(x).shape) == (B, U)
    bidirectional = keras.layers.Bidirectional(keras.layers.RNN(make(), return_sequences=True))
    y = bidirectional(x)
    assert tuple(y.shape) == (B, 4, 2 * U)
    # The backward half at step 0 is the backward RNN's final output over the whole sequence.
    backward = bidirectional.backward_layer
    reversed_run = keras.layers.RNN(backward.cell)(x[:, ::-1])
    assert_allclose(y[:, 0, U:], reversed_run, atol=1e-5)


def test_lstm_golden_values():
    """Hand-computed step with constant weights (unit_forget_bias off)."""
    cell = LSTMCell(
        2,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(0.2),
        bias_initializer=keras.initializers.Constant(0.05),
        unit_forget_bias=False,
    )
    x = np.ones((1, 3), "float32")
    h0, c0 = np.full((1, 2), 0.5, "float32"), np.full((1, 2), -1.0, "float32")
    h, (h_again, c) = cell(x, [h0, c0])
    z = 3 * 0.1 + 2 * 0.5 * 0.2 + 0.05  # = 0.55 for every gate
    gate = 1 / (1 + math.exp(-z))
    c_expected = gate * -1.0 + gate * math.tanh(z)
    h_expected = gate * math.tanh(c_expected)
    np.testing.assert_allclose(c, [[c_expected] * 2], atol=1e-6)
    np.testing.assert_allclose(h, [[h_expected] * 2], atol=1e-6)
    np.testing.assert_allclose(h, [[-0.194397, -0.194397]], atol=1e-6)  # frozen golden value
    np.testing.assert_array_equal(h, h_again)


def test_unit_forget_bias():
    cell = LSTMCell(3, unit_forget_bias=True)
    cell.build((1, 2))
    np.testing.assert_array_equal(cell.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    coupled = CoupledLSTMCell(2, bias_initializer="zeros")
    coupled.build((1, 2))
    np.testing.assert_array_equal(coupled.bias.numpy(), [1, 1, 0, 0, 0, 0])


def test_peephole_with_zero_peepholes_is_lstm():
    rng = np.random.default_rng(3)
    lstm, peephole = LSTMCell(U), PeepholeLSTMCell(U, peephole_initializer="zeros")
    lstm.build((B, D))
    peephole.build((B, D))
    randomize(lstm, rng)
    for name in ("kernel", "recurrent_kernel", "bias"):
        getattr(peephole, name).assign(getattr(lstm, name))
    x, states = rng.normal(size=(B, D)).astype("float32"), random_states(lstm, rng)
    assert_allclose(peephole(x, states), lstm(x, states), atol=1e-7)
    peephole.output_gate_peephole.assign(np.ones(U, "float32"))
    assert not np.allclose(peephole(x, states)[0], lstm(x, states)[0])


def test_coupled_is_lstm_with_input_gate_tied_to_forget_gate():
    """CIFG == LSTM whose input-gate pre-activation is minus the forget gate's (σ(-z) = 1-σ(z))."""
    rng = np.random.default_rng(4)
    coupled, lstm = CoupledLSTMCell(U), LSTMCell(U)
    coupled.build((B, D))
    lstm.build((B, D))
    randomize(coupled, rng)

    def blocks(w):
        f, c, o = np.split(w, 3, axis=-1)
        return np.concatenate([-f, f, c, o], axis=-1)

    for name in ("kernel", "recurrent_kernel", "bias"):
        getattr(lstm, name).assign(blocks(getattr(coupled, name).numpy()))
    x, states = rng.normal(size=(B, D)).astype("float32"), random_states(lstm, rng)
    assert_allclose(coupled(x, states), lstm(x, states), atol=1e-6)


KERAS_CELLS = {
    "simple_rnn": (lambda: SimpleRNNCell(U), lambda: keras.layers.SimpleRNNCell(U)),
    "lstm": (lambda: LSTMCell(U), lambda: keras.layers.LSTMCell(U)),
    "gru_reset_after": (
        lambda: GRUCell(U, reset_after=True),
        lambda: keras.layers.GRUCell(U, reset_after=True),
    ),
    "gru_reset_before": (
        lambda: GRUCell(U, reset_after=False),
        lambda: keras.layers.GRUCell(U, reset_after=False),
    ),
}


@pytest.mark.parametrize("name", sorted(KERAS_CELLS))
def test_cell_matches_keras_cell_with_copied_weights(name):
    rng = np.random.default_rng(5)
    make_ours, make_keras = KERAS_CELLS[name]
    ours, theirs = make_ours(), make_keras()
    ours.build((B, D))
    theirs.build((B, D))
    randomize(ours, rng)
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=(B, D)).astype("float32")
    states = random_states(ours, rng)
    keras_states = states if len(states) > 1 else states[0]
    out, new = ours(x, states)
    ref_out, ref_new = theirs(x, keras_states)
    assert_allclose(out, ref_out, atol=1e-6)
    assert_allclose(new, ref_new, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_serialization(name):
    cell = CELLS[name][0]()
    revived = run_serialization_test(cell)
    assert revived.units == U and revived.state_size == cell.state_size


def test_dropout_mask_is_one_per_sequence_and_off_at_inference():
    """Linear Elman cell with W = I, U = 0: h_t = x_t ⊙ m, so a constant input gives the same
    output at every step iff one input mask serves the whole sequence."""
    cell = SimpleRNNCell(
        6,
        activation=None,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        dropout=0.5,
        seed=7,
    )
    for layer in (keras.layers.RNN(cell, return_sequences=True),):
        x = np.ones((4, 5, 6), "float32")
        y = layer(x, training=True).numpy()
        np.testing.assert_array_equal(y, np.repeat(y[:, :1], 5, axis=1))
        assert set(np.unique(y)) == {0.0, 2.0}
        np.testing.assert_array_equal(layer(x, training=False), x)
        # A new batch draws a new mask.
        assert not np.array_equal(layer(x, training=True), y)


def test_recurrent_dropout_mask_is_one_per_sequence():
    """Linear cell with W = 0, U = I, h_0 = 1: h_t = h_0 ⊙ m^t with one recurrent mask m."""
    cell = SimpleRNNCell(
        6,
        activation=None,
        kernel_initializer="zeros",
        recurrent_initializer="identity",
        use_bias=False,
        recurrent_dropout=0.5,
        seed=3,
    )
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.zeros((4, 3, 1), "float32")
    y = layer(x, initial_state=[np.ones((4, 6), "float32")], training=True).numpy()
    mask = y[:, 0]
    np.testing.assert_array_equal(y[:, 1], mask * mask)
    np.testing.assert_array_equal(y[:, 2], mask**3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": 3, "dropout": 1.0}, "dropout"),
        ({"units": 3, "recurrent_dropout": -0.1}, "recurrent_dropout"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMCell(**kwargs)


def test_wrong_number_of_states():
    cell = LSTMCell(3)
    with pytest.raises(ValueError, match="2 state"):
        cell(tf.ones((2, 4)), [tf.zeros((2, 3))])
