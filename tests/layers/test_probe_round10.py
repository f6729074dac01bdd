"""Fixes from the tenth audit of the layers: NaN at masked steps kept out of the gradients,
the mask of a backwards layer's sequence reversed with it, ragged inputs refused by name, and
the Bahdanau decoder's loop checking its states and mask as the Luong path's layers do."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import GeneralAttention
from keras_seq.layers import (
    GRU,
    LSTM,
    AttentionDecoder,
    Bidirectional,
    CoupledLSTM,
    PeepholeLSTM,
    Recurrent,
    SequencePooling,
    SimpleRNN,
    StackedRNN,
)
from tests.layers.helpers import padding_mask
from tests.test_case import assert_allclose

RNG = np.random.default_rng(10)
X = RNG.normal(size=(3, 4, 2)).astype("float32")
MEMORY = RNG.normal(size=(3, 5, 4)).astype("float32")
# Right padding, left padding and a fully masked row.
MASK = np.concatenate([padding_mask([3], 4), padding_mask([2], 4, "left"), padding_mask([0], 4)])


def _padded_with(value):
    x = X.copy()
    x[~MASK] = value
    return x


_LAYERS = {
    "lstm_fused": lambda: LSTM(4, return_sequences=True, return_state=True),
    "lstm_general": lambda: LSTM(4, activation="relu", return_sequences=True),
    "lstm_unrolled_backwards": lambda: LSTM(4, unroll=True, go_backwards=True),
    "gru": lambda: GRU(4, return_sequences=True, return_state=True),
    "gru_reset_before": lambda: GRU(4, reset_after=False, return_sequences=True),
    "simple": lambda: SimpleRNN(4, return_sequences=True),
    "peephole": lambda: PeepholeLSTM(4, return_sequences=True),
    "coupled": lambda: CoupledLSTM(4, return_state=True),
    "keras_cell": lambda: Recurrent(keras.layers.GRUCell(4), return_sequences=True),
    "bidirectional": lambda: Bidirectional(LSTM(4, return_sequences=True)),
    "stack": lambda: StackedRNN(GRU(4), num_layers=2, residual=True),
}


def _outputs_and_gradients(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = keras.tree.flatten(layer(x, mask=MASK))
        loss = 0.0
        for output in outputs:
            if len(output.shape) == 3:  # only the valid steps of a sequence
                output = tf.where(MASK[:, :, None], output, 0.0)
            loss += tf.reduce_sum(tf.sin(output))
    return outputs, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_nan_at_masked_steps_stays_out_of_outputs_and_gradients(make, value):
    # A masked step's input is never used, but its NaN reached every weight's gradient (and
    # the inputs') as NaN·0 through the input matmul, as in Keras' own layers.
    layer = make()
    expected_outputs, expected_gradients = _outputs_and_gradients(layer, _padded_with(0.0))
    outputs, gradients = _outputs_and_gradients(layer, _padded_with(value))
    assert all(np.isfinite(g).all() for g in gradients)
    assert_allclose(outputs, expected_outputs, atol=1e-6)
    assert_allclose(gradients, expected_gradients, atol=1e-6)


def test_nan_at_masked_target_steps_of_the_bahdanau_decoder():
    decoder = AttentionDecoder(LSTM(4), GeneralAttention(), attention_style="bahdanau")

    def outputs_and_gradients(x):
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, weights = decoder(x, MEMORY, mask=MASK)
            loss = tf.reduce_sum(tf.where(MASK[:, :, None], tf.sin(outputs), 0.0))
        return tf.where(MASK[:, :, None], outputs, 0.0), tape.gradient(
            loss, [x, *decoder.trainable_weights]
        )

    expected_outputs, expected_gradients = outputs_and_gradients(_padded_with(0.0))
    outputs, gradients = outputs_and_gradients(_padded_with(np.nan))
    assert all(np.isfinite(g).all() for g in gradients)
    assert_allclose(outputs, expected_outputs, atol=1e-6)
    assert_allclose(gradients, expected_gradients, atol=1e-6)


@pytest.mark.parametrize("family", [LSTM, GRU, SimpleRNN], ids=lambda c: c.__name__)
def test_mask_of_a_backwards_sequence_is_reversed_with_it(family):
    # `go_backwards` returns the sequence reversed, but the inputs' mask went on unreversed:
    # the next layer read the padding's outputs as valid steps and skipped valid ones.
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [6, 7, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 2, mask_zero=True)
    backwards = family(3, go_backwards=True, return_sequences=True)
    model = keras.Sequential(
        [keras.Input((5,), dtype="int32"), embedding, backwards, SequencePooling("sum")]
    )
    pooled = model(ids)
    outputs = backwards(embedding(ids), mask=ids != 0).numpy()
    valid = (ids != 0)[:, ::-1]  # the reversed sequence's valid steps
    assert_allclose(pooled, (outputs * valid[:, :, None]).sum(axis=1), atol=1e-6)
    mask = backwards.compute_mask(None, tf.constant(ids != 0))
    np.testing.assert_array_equal(mask, valid)


_RAGGED = tf.ragged.constant([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]], ragged_rank=1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3),
        lambda: GRU(3, return_sequences=True),
        lambda: Bidirectional(SimpleRNN(3)),
        lambda: SequencePooling("mean"),
    ],
)
def test_ragged_inputs_are_a_clear_error(make):
    # They failed deep inside the loop: "Index 1 is not uniform" (pooling: "Can't convert
    # Python sequence with mixed types to Tensor").
    with pytest.raises(ValueError, match="ragged `inputs` are not supported.*sequence_mask"):
        make()(_RAGGED)


def _bahdanau_decoder():
    decoder = AttentionDecoder(
        LSTM(4), GeneralAttention(), num_layers=2, attention_style="bahdanau"
    )
    decoder(X, MEMORY)
    return decoder


def test_bahdanau_decoder_refuses_a_state_or_mask_of_batch_one():
    # Eagerly (static shapes known) a [1, u] state or a [1, T] mask was broadcast over the
    # batch: every row started from row 0's state, or was masked with row 0's mask.
    decoder = _bahdanau_decoder()
    states = [[np.zeros((3, 4), "float32")] * 2 for _ in range(2)]
    reference, _ = decoder(X, MEMORY, initial_state=states, mask=MASK)
    assert_allclose(reference, decoder(X, MEMORY, mask=MASK)[0], atol=1e-6)
    row_zero = [[np.zeros((1, 4), "float32")] * 2, states[1]]
    with pytest.raises(ValueError, match=r"`initial_state\[0\]\[0\]` must have shape \(3, 4\)"):
        decoder(X, MEMORY, initial_state=row_zero)
    with pytest.raises(ValueError, match=r"`mask` must have shape \[batch, T\] = \(3, 4\)"):
        decoder(X, MEMORY, mask=MASK[:1])


def test_bahdanau_decoder_names_bad_states_and_inputs():
    # They failed in a matmul, a transpose, an index or a structure check of the loop.
    decoder = _bahdanau_decoder()
    state = np.zeros((3, 4), "float32")
    cases = [
        ((X, MEMORY), {"initial_state": [[state, state]]}, "one entry per level \\(2\\)"),
        ((X, MEMORY), {"initial_state": [[state], [state, state]]}, "states of level 0"),
        ((X, MEMORY), {"initial_state": [[state[:, :3], state]] * 2}, r"\[0\]\[0\]"),
        ((X[0], MEMORY), {}, "must have rank 3"),
        ((X[..., :1], MEMORY), {}, "has 1 features .* built for 2"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            decoder(*args, **kwargs)
    with pytest.raises(ValueError, match="one entry per level"):
        decoder.step(X[:, 0], [[state, state]], MEMORY)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3, return_sequences=True),
        lambda: LSTM(3, return_sequences=True, go_backwards=True),
        lambda: Bidirectional(GRU(3, return_sequences=True)),
        lambda: StackedRNN(SimpleRNN(3), num_layers=2),
    ],
    ids=["lstm", "lstm_backwards", "bidirectional", "stacked"],
)
def test_a_list_mask_is_handed_on_as_the_mask_tensor(make):
    # Keras recorded the nested list the layer was called with as the scalar mask True, so
    # the next layer read every step as valid.
    layer = make()
    mask = [[True, True, False, False], [True, False, False, False], [True] * 4]
    output = layer(X, mask=mask)
    expected = np.array(mask)
    if getattr(layer, "go_backwards", False):
        expected = expected[:, ::-1]
    np.testing.assert_array_equal(np.asarray(output._keras_mask), expected)
