"""Fixes from the twelfth audit of the cells: dropout of a mixed-precision cell inside a
float32 `keras.layers.RNN`, NumPy integer seeds, and dropout rates that are not numbers."""

import json

import keras
import numpy as np
import pytest

from keras_seq.cells import GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_cell_drops_out_inside_a_float32_rnn(policy):
    # `keras.layers.RNN` (float32 here) draws the input dropout mask from its own float32
    # inputs; the cell multiplied its float16 inputs by it and failed with "cannot compute Mul
    # as input #1(zero-based) was expected to be a half tensor but is a float tensor".
    # A linear Elman cell with W = I, U = 0: h_t = x_t ⊙ m, one mask m per sequence.
    cell = SimpleRNNCell(
        6,
        activation=None,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        dropout=0.5,
        seed=7,
        dtype=policy,
    )
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((4, 5, 6), "float32")
    y = np.asarray(layer(x, training=True), "float32")
    np.testing.assert_array_equal(y, np.repeat(y[:, :1], 5, axis=1))
    assert set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(np.asarray(layer(x, training=False), "float32"), x)


@pytest.mark.parametrize("cell_class", [LSTMCell, PeepholeLSTMCell, GRUCell])
def test_gated_mixed_precision_cells_drop_out_inside_a_float32_rnn(cell_class):
    # The same failure for every cell; at inference the output is the float32 cell's.
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 4, 5)).astype("float32")
    half = keras.layers.RNN(
        cell_class(4, dropout=0.3, recurrent_dropout=0.3, seed=1, dtype="mixed_float16")
    )
    full = keras.layers.RNN(cell_class(4))
    half(x), full(x)
    full.set_weights(half.get_weights())
    trained = np.asarray(half(x, training=True))
    assert trained.shape == (3, 4) and np.isfinite(trained).all()
    np.testing.assert_allclose(np.asarray(half(x)), np.asarray(full(x)), atol=5e-3)


def test_a_numpy_integer_seed_is_an_int():
    # Keras' SeedGenerator refused a NumPy integer: LSTMCell(3, seed=np.int64(3)) raised
    # "Argument `seed` must be an integer. Received: seed=3", with or without dropout.
    cell = LSTMCell(3, seed=np.int64(3), dropout=0.5)
    config = json.loads(json.dumps(cell.get_config()))
    assert config["seed"] == 3 and type(cell.seed) is int
    x = np.ones((2, 4, 2), "float32")
    masks = []
    for seed in (np.int64(3), 3):
        layer = keras.layers.RNN(
            SimpleRNNCell(
                2,
                activation=None,
                kernel_initializer="identity",
                recurrent_initializer="zeros",
                dropout=0.5,
                seed=seed,
            )
        )
        masks.append(np.asarray(layer(x, training=True)))
    np.testing.assert_array_equal(masks[0], masks[1])  # the same draws as the int seed


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("value", [None, "0.2", False])
def test_a_rate_that_is_not_a_number_is_a_clear_error(argument, value):
    # None failed inside float() with "float() argument must be a string or a real number,
    # not 'NoneType'" (naming no argument); the string "0.2" was accepted as 0.2 and the flag
    # False as 0.0 (as `BaseAttention` does, a bool is no rate).
    with pytest.raises(ValueError, match=rf"`{argument}` must be in \[0, 1\), got {argument}="):
        GRUCell(3, **{argument: value})
    # NumPy floats stay accepted, as Python floats.
    assert GRUCell(3, **{argument: np.float32(0.25)}).get_config()[argument] == 0.25
