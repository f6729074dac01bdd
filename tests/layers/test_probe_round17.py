"""Round-17 audit of the recurrent layers: the carried states of a stateful layer.

A stateful layer listed its carried states among its weights (an LSTM: kernel, recurrent
kernel, bias and the two states; Keras' `LSTM(stateful=True)`: the first three), so
``ours.set_weights(keras_layer.get_weights())`` failed on the count, and a saved model held a
batch of states. As in `keras.layers.RNN`, the states are now variables outside the weights;
they are still carried across batches and zeroed by ``reset_states``, and a file saved before
(the states among the layer's own variables) still loads, its states restored.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.layers import GRU, LSTM, Bidirectional, SimpleRNN, StackedRNN
from tests.test_case import assert_allclose

RNG = np.random.default_rng(17)
X = RNG.normal(size=(2, 5, 3)).astype("float32")
PAIRS = [(LSTM, keras.layers.LSTM), (GRU, keras.layers.GRU), (SimpleRNN, keras.layers.SimpleRNN)]


def _random_weights(layer, rng):
    return [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]


@pytest.mark.parametrize("ours_cls, keras_cls", PAIRS, ids=["lstm", "gru", "simple_rnn"])
def test_stateful_layer_takes_keras_weights_and_carries_states_like_keras(ours_cls, keras_cls):
    ours = ours_cls(4, stateful=True, return_sequences=True)
    theirs = keras_cls(4, stateful=True, return_sequences=True)
    ours.build(X.shape)
    theirs.build(X.shape)
    theirs.set_weights(_random_weights(theirs, np.random.default_rng(1)))
    assert len(ours.weights) == len(theirs.weights)
    assert not ours.non_trainable_weights
    ours.set_weights(theirs.get_weights())  # failed on the count
    for first, second in ((X[:, :3], X[:, 3:]), (X[:, 3:], X[:, :3])):
        # The second batch starts from the first one's final states, in both layers.
        assert_allclose(ours(first), theirs(first), atol=1e-5)
        assert_allclose(ours(second), theirs(second), atol=1e-5)
        assert_allclose(
            [s.numpy() for s in ours.states], [s.numpy() for s in theirs.states], atol=1e-5
        )
        ours.reset_states()
        theirs.reset_states()
        assert not np.any([s.numpy() for s in ours.states])


def test_stateful_bidirectional_and_stack_hold_only_the_cells_weights():
    ours = Bidirectional(LSTM(4, stateful=True))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4, stateful=True))
    ours.build(X.shape)
    theirs.build(X.shape)
    theirs.set_weights(_random_weights(theirs, np.random.default_rng(2)))
    ours.set_weights(theirs.get_weights())
    assert_allclose(ours(X[:, :3]), theirs(X[:, :3]), atol=1e-5)
    assert_allclose(ours(X[:, 3:]), theirs(X[:, 3:]), atol=1e-5)
    stack = StackedRNN(GRU(4, stateful=True), num_layers=2)
    stack.build(X.shape)
    assert len(stack.weights) == 6  # each level's kernel, recurrent kernel and bias


def _stateful_model():
    inputs = keras.Input(batch_shape=(2, None, 3))
    model = keras.Model(inputs, LSTM(4, stateful=True, return_sequences=True)(inputs))
    layer = model.layers[1]
    layer.set_weights(_random_weights(layer, np.random.default_rng(3)))
    return model, layer


def test_stateful_model_saves_and_loads_without_its_states(tmp_path):
    model, layer = _stateful_model()
    first = model(X[:, :3]).numpy()
    second = model(X[:, 3:]).numpy()  # carried over from the first batch
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    # As Keras' stateful layers: the file holds the weights, the reloaded states are zeros.
    assert not np.any([s.numpy() for s in loaded.layers[1].states])
    assert_allclose(loaded(X[:, :3]), first, atol=1e-6)
    assert_allclose(loaded(X[:, 3:]), second, atol=1e-6)
    weights_path = os.path.join(tmp_path, "model.weights.h5")
    model.save_weights(weights_path)
    other, other_layer = _stateful_model()
    other.load_weights(weights_path)
    assert_allclose(other(X[:, :3]), first, atol=1e-6)
    # `fit` carries the states too: one step leaves them nonzero.
    model.compile("sgd", "mse")
    layer.reset_states()
    model.fit(X[:, :3], np.zeros((2, 3, 4), "float32"), batch_size=2, verbose=0)
    assert np.any(layer.states[0].numpy())


def test_a_file_that_holds_the_states_restores_them():
    """Saved before the states left the weights, a layer's own variables are its states."""
    _, layer = _stateful_model()
    h = np.full((2, 4), 0.25, "float32")
    c = np.full((2, 4), -0.5, "float32")
    layer.load_own_variables({"0": h, "1": c})
    assert_allclose([s.numpy() for s in layer.states], [h, c], atol=0)
    fresh = LSTM(4, return_sequences=True)
    fresh.build(X.shape)
    fresh.set_weights(layer.get_weights())
    expected = fresh(X[:, :3], initial_state=[tf.constant(h), tf.constant(c)])
    assert_allclose(layer(X[:, :3]), expected, atol=1e-6)
    with pytest.raises(ValueError, match="expected 0 variables"):
        layer.load_own_variables({"0": h})
