"""Round-16 audit of the recurrent layers: arguments taken unchecked.

- `AttentionDecoder(num_layers=np.int64(2), dropout=np.float32(0.1))` kept the NumPy values
  in its config (its `StackedRNN` converted its own copies): `json.dumps(get_config())`, and
  so `Model.save`, failed with "Object of type int64 is not JSON serializable".
- `AttentionDecoder(layer, "dot")` (a registry name) or `attention=None` was taken, and the
  first call failed with "'str' object has no attribute 'built'", naming no argument.
- `Bidirectional(layer, backward_layer=<a cell or a name>)` failed with "'LSTMCell' object has
  no attribute 'stateful'", naming no argument.
- `Recurrent` / `Bidirectional` / `StackedRNN` called with `initial_state` (a seq2seq decoder
  started from the encoder's states) on sequences carrying a Keras mask
  (`Embedding(mask_zero=True)`) ran unmasked: Keras fills `mask` only for a layer called with
  one tensor argument. Padding steps were read as valid (the final states of a right-padded
  row moved on through its padding), while the outputs still carried the mask. Keras' own
  `keras.layers.LSTM` does the same.
"""

import json
import os

import keras
import numpy as np
import pytest

from keras_seq import cells
from keras_seq.attention import GeneralAttention
from keras_seq.layers import GRU, LSTM, AttentionDecoder, Bidirectional, StackedRNN


def test_attention_decoder_numpy_numbers_give_a_json_config_and_a_saved_model(tmp_path):
    decoder = AttentionDecoder(
        LSTM(4), GeneralAttention(), num_layers=np.int64(2), dropout=np.float32(0.25)
    )
    config = json.loads(json.dumps(decoder.get_config()))
    assert config["num_layers"] == 2 and type(config["num_layers"]) is int
    assert config["dropout"] == 0.25 and type(config["dropout"]) is float
    # The round trip keeps the numbers and the weights: same outputs after `.keras` reload.
    inputs = keras.Input((None, 3))
    memory = keras.Input((None, 5))
    outputs, weights = decoder(inputs, memory)
    model = keras.Model([inputs, memory], [outputs, weights])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    m = rng.normal(size=(2, 6, 5)).astype("float32")
    path = os.path.join(tmp_path, "decoder.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.layers[-1].num_layers == 2
    for a, b in zip(model([x, m]), reloaded([x, m]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("attention", ["dot", None, GeneralAttention])
def test_attention_decoder_refuses_what_is_not_an_attention_layer(attention):
    with pytest.raises(ValueError, match="`attention` must be an attention layer"):
        AttentionDecoder(LSTM(4), attention)


@pytest.mark.parametrize("backward_layer", [cells.LSTMCell(3), "lstm"])
def test_bidirectional_refuses_a_backward_layer_that_is_not_a_sequence_layer(backward_layer):
    with pytest.raises(ValueError, match="`backward_layer` must be a recurrent sequence layer"):
        Bidirectional(LSTM(3), backward_layer=backward_layer)


def test_bidirectional_given_backward_layer_still_matches_keras():
    """The check lets a real backward layer through: outputs equal Keras' wrapper's."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [False, True, True, True]])
    ours = Bidirectional(
        LSTM(3, return_sequences=True),
        backward_layer=LSTM(3, return_sequences=True, go_backwards=True),
    )
    reference = keras.layers.Bidirectional(
        keras.layers.LSTM(3, return_sequences=True),
        backward_layer=keras.layers.LSTM(3, return_sequences=True, go_backwards=True),
    )
    ours(x)
    reference(x)
    for a, b in zip(ours.weights, reference.weights, strict=True):
        a.assign(b)
    np.testing.assert_allclose(
        np.asarray(ours(x, mask=mask)), np.asarray(reference(x, mask=mask)), atol=1e-6
    )


# Row 0 right-padded, row 1 left-padded, row 2 without padding (id 0 is the padding).
IDS = np.array([[1, 2, 0, 0], [0, 0, 3, 4], [5, 6, 7, 8]])
UNITS = 4


def _initial_states(kind, h):
    if kind == "bidirectional":
        half = UNITS // 2
        return [h[:, :half], h[:, :half], h[:, half:], h[:, half:]]
    if kind == "stack":
        return [[h, h], [h, h]]
    if kind == "gru":
        return [h]
    return [h, h]


def _layer(kind):
    if kind == "lstm":
        return LSTM(UNITS, return_sequences=True, return_state=True)
    if kind == "gru":
        return GRU(UNITS, return_sequences=True, return_state=True)
    if kind == "bidirectional":
        return Bidirectional(LSTM(UNITS // 2, return_sequences=True, return_state=True))
    return StackedRNN(LSTM(UNITS), num_layers=2, residual=True, return_state=True)


@pytest.mark.parametrize("kind", ["lstm", "gru", "bidirectional", "stack"])
def test_keras_mask_is_read_when_initial_state_is_given(kind):
    """Functional and eager calls with `initial_state` and no `mask` equal the calls with the
    mask given explicitly (the reference), outputs and final states alike."""
    rng = np.random.default_rng(2)
    h = rng.normal(size=(3, UNITS)).astype("float32")
    embedding = keras.layers.Embedding(10, 3, mask_zero=True)
    layer = _layer(kind)
    ids_in = keras.Input((None,), dtype="int32")
    h_in = keras.Input((UNITS,))
    outputs = layer(embedding(ids_in), initial_state=_initial_states(kind, h_in))
    model = keras.Model([ids_in, h_in], outputs)

    reference = keras.tree.flatten(
        layer(embedding(IDS), initial_state=_initial_states(kind, h), mask=IDS > 0)
    )
    functional = keras.tree.flatten(model([IDS, h]))
    eager = keras.tree.flatten(layer(embedding(IDS), initial_state=_initial_states(kind, h)))
    assert len(functional) == len(eager) == len(reference)
    for got_f, got_e, want in zip(functional, eager, reference, strict=True):
        np.testing.assert_allclose(np.asarray(got_f), np.asarray(want), atol=1e-6)
        np.testing.assert_allclose(np.asarray(got_e), np.asarray(want), atol=1e-6)


def test_keras_mask_with_initial_state_keeps_the_states_of_padding_steps():
    """Golden semantics: the final states of the right-padded row are those after its two
    tokens alone (the same row cut to them), and the left-padded row's those of its two tokens
    run from the initial state."""
    rng = np.random.default_rng(3)
    h = rng.normal(size=(3, UNITS)).astype("float32")
    c = rng.normal(size=(3, UNITS)).astype("float32")
    embedding = keras.layers.Embedding(10, 3, mask_zero=True)
    layer = LSTM(UNITS, return_state=True)
    _, h_last, c_last = layer(embedding(IDS), initial_state=[h, c])
    for row, tokens in ((0, IDS[0:1, :2]), (1, IDS[1:2, 2:])):
        _, h_want, c_want = layer(
            embedding(tokens), initial_state=[h[row : row + 1], c[row : row + 1]]
        )
        np.testing.assert_allclose(np.asarray(h_last)[row], np.asarray(h_want)[0], atol=1e-6)
        np.testing.assert_allclose(np.asarray(c_last)[row], np.asarray(c_want)[0], atol=1e-6)
