"""Round 11 audit of the cells and layers inside Keras' own wrappers."""

import keras
import numpy as np

import keras_seq
from tests.layers.helpers import padding_mask


def test_keras_bidirectional_of_our_layer_with_return_state_calls_symbolically():
    # `keras.layers.Bidirectional` adds the states' shapes to a tuple: our layer returned a
    # list from `compute_output_shape`, and a functional model failed to build
    # ("can only concatenate tuple (not "list") to tuple").
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([3, 5], 5)
    for merge_mode in ("concat", None):
        ours = keras.layers.Bidirectional(
            keras_seq.LSTM(4, return_sequences=True, return_state=True), merge_mode=merge_mode
        )
        theirs = keras.layers.Bidirectional(
            keras.layers.LSTM(4, return_sequences=True, return_state=True), merge_mode=merge_mode
        )
        inputs = keras.Input((None, 3))
        outputs = ours(inputs)
        heads = 1 if merge_mode else 2
        assert len(outputs) == heads + 4
        model = keras.Model(inputs, outputs)
        theirs.build((2, 5, 3))
        theirs.set_weights(ours.get_weights())
        got = model.predict(x, verbose=0)
        ref = theirs(x)
        assert len(got) == len(ref)
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_allclose(g, r, atol=1e-5)
        got = ours(x, mask=mask)
        ref = theirs(x, mask=mask)
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_allclose(g, r, atol=1e-5)


def test_stack_regularizes_the_activity_of_each_level_output_only():
    # The levels return their states for the stack, and Keras applied the template's
    # activity regularizer to them too (3 losses per LSTM level, the top level's h twice).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    stack = keras_seq.StackedRNN(
        keras_seq.LSTM(4, activity_regularizer="l2"), num_layers=2, return_sequences=False
    )
    stack(x)
    first = keras.layers.LSTM(4, return_sequences=True, activity_regularizer="l2")
    second = keras.layers.LSTM(4, activity_regularizer="l2")
    first.build((2, 5, 3))
    second.build((2, 5, 4))
    first.set_weights(stack.levels[0].get_weights())
    second.set_weights(stack.levels[1].get_weights())
    expected = second(first(x))
    got = stack(x)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert len(stack.losses) == 2
    ref = [float(v) for v in first.losses + second.losses]
    np.testing.assert_allclose([float(v) for v in stack.losses], ref, rtol=1e-5)
    # In a model's training loss as well.
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, stack(inputs))
    model.compile("sgd", "mse")
    loss = model.evaluate(x, np.zeros((2, 4)), verbose=0)
    np.testing.assert_allclose(loss, np.mean(np.asarray(got) ** 2) + sum(ref), rtol=1e-5)
