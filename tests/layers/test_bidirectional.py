import keras
import numpy as np
import pytest

from keras_seq.layers import GRU, LSTM, Bidirectional, CoupledLSTM, SimpleRNN
from tests.layers.helpers import padding_mask, randomize
from tests.test_case import assert_allclose

B, T, D, U = 3, 5, 4, 3
MERGES = {
    "concat": lambda f, b: np.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mul": lambda f, b: f * b,
    "ave": lambda f, b: (f + b) / 2,
    None: lambda f, b: [f, b],
}


@pytest.mark.parametrize("mask_side", [None, "right", "left"])
@pytest.mark.parametrize("merge_mode", list(MERGES), ids=str)
def test_equals_forward_plus_reversed_backward_merged_by_hand(merge_mode, mask_side):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = None if mask_side is None else padding_mask([5, 3, 1], T, mask_side)
    layer = Bidirectional(
        CoupledLSTM(U, return_sequences=True, return_state=True), merge_mode=merge_mode
    )
    layer(x)
    randomize(layer, rng)
    result = layer(x, mask=mask)
    count = 2 if merge_mode is None else 1
    outputs, states = result[:count], result[count:]

    forward, backward = layer.forward_layer.cell, layer.backward_layer.cell
    f_out = np.zeros((B, T, U), "float32")
    b_out = np.zeros((B, T, U), "float32")
    f_final, b_final = [], []
    for row in range(B):
        valid = np.arange(T) if mask is None else np.flatnonzero(mask[row])
        seq = x[row : row + 1, valid]
        s = forward.get_initial_state(1)
        for k, t in enumerate(valid):
            o, s = forward(seq[:, k], s)
            f_out[row, t] = o[0]
        f_final.append(s)
        s = backward.get_initial_state(1)
        for k, t in reversed(list(enumerate(valid))):
            o, s = backward(seq[:, k], s)
            b_out[row, t] = o[0]
        b_final.append(s)
    expected = MERGES[merge_mode](f_out, b_out)
    if mask is not None:  # masked steps of returned sequences are zeros

        def zero_padding(e):
            return np.where(mask[:, :, None], e, 0)

        expected = (
            [zero_padding(e) for e in expected] if merge_mode is None else zero_padding(expected)
        )
    assert_allclose(outputs if merge_mode is None else outputs[0], expected, atol=1e-5)
    expected_states = [np.concatenate([f[i] for f in f_final]) for i in range(2)] + [
        np.concatenate([b[i] for b in b_final]) for i in range(2)
    ]
    assert_allclose(states, expected_states, atol=1e-5)


@pytest.mark.parametrize("mask_side", [None, "right", "left"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_parity_with_keras_bidirectional(return_sequences, mask_side):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = None if mask_side is None else padding_mask([5, 2, 4], T, mask_side)
    ours = Bidirectional(LSTM(U, return_sequences=return_sequences, return_state=True))
    theirs = keras.layers.Bidirectional(
        keras.layers.LSTM(U, return_sequences=return_sequences, return_state=True)
    )
    ours(x)
    theirs(x)
    randomize(ours, rng)
    theirs.set_weights(ours.get_weights())
    assert_allclose(ours(x, mask=mask), theirs(x, mask=mask), atol=1e-5)


def test_our_layer_inside_keras_bidirectional_equals_ours():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = padding_mask([5, 2, 4], T, "right")
    ours = Bidirectional(GRU(U, return_sequences=True), merge_mode="sum")
    keras_wrapped = keras.layers.Bidirectional(GRU(U, return_sequences=True), merge_mode="sum")
    ours(x)
    keras_wrapped(x)
    randomize(ours, rng)
    keras_wrapped.set_weights(ours.get_weights())
    assert_allclose(ours(x, mask=mask), keras_wrapped(x, mask=mask), atol=1e-6)


def test_initial_state_and_errors():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = Bidirectional(SimpleRNN(U, return_state=True))
    h_f, h_b = (rng.normal(size=(B, U)).astype("float32") for _ in range(2))
    _, f_state, b_state = layer(x, initial_state=[h_f, h_b])
    forward_only = layer.forward_layer(x, initial_state=[h_f])
    assert_allclose(f_state, forward_only[1], atol=1e-6)
    with pytest.raises(ValueError, match="initial_state"):
        layer(x, initial_state=[h_f])
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(SimpleRNN(U), merge_mode="max")
    with pytest.raises(ValueError, match="layer"):
        Bidirectional(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="return_sequences"):
        Bidirectional(
            SimpleRNN(U), backward_layer=SimpleRNN(U, go_backwards=True, return_sequences=True)
        )


@pytest.mark.parametrize(
    "template",
    [
        lambda: LSTM(U, dropout=0.5, recurrent_dropout=0.5, seed=7, return_sequences=True),
        lambda: keras.layers.LSTM(
            U, dropout=0.5, recurrent_dropout=0.5, seed=7, return_sequences=True
        ),
        lambda: keras.layers.RNN(
            keras.layers.GRUCell(U, dropout=0.5, recurrent_dropout=0.5, seed=7),
            return_sequences=True,
        ),
    ],
    ids=["keras_seq", "keras", "keras_cell"],
)
def test_seeded_directions_draw_different_dropout_masks(template):
    """Both directions were copies of one config, seed included, so they drew the same
    dropout masks. With the backward weights set to the forward ones and an input that reads
    the same both ways (x_t = x_{T-1-t}), equal masks would make the backward outputs the
    time-reversed forward ones; distinct seeds make them differ."""
    rng = np.random.default_rng(0)
    half = rng.normal(size=(B, 3, D)).astype("float32")
    x = np.concatenate([half, half[:, ::-1][:, 1:]], axis=1)  # T = 5, a palindrome in time
    layer = Bidirectional(template(), merge_mode=None)
    layer(x)
    randomize(layer.forward_layer, rng)
    layer.backward_layer.set_weights(layer.forward_layer.get_weights())
    forward, backward = (np.asarray(o) for o in layer(x, training=False))
    assert_allclose(backward, forward[:, ::-1], atol=1e-6)  # the set-up holds without dropout
    forward, backward = (np.asarray(o) for o in layer(x, training=True))
    assert np.abs(backward - forward[:, ::-1]).max() > 1e-3
    seeds = [
        getattr(direction, "seed", None) or direction.cell.seed
        for direction in (layer.forward_layer, layer.backward_layer)
    ]
    assert seeds == [7, 8]


def test_unseeded_template_stays_unseeded():
    layer = Bidirectional(LSTM(U, dropout=0.5))
    assert layer.forward_layer.cell.seed is None and layer.backward_layer.cell.seed is None
