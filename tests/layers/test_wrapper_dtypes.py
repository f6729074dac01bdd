"""A ``dtype`` given to a wrapper (Bidirectional, StackedRNN, AttentionDecoder) is the dtype of
its outputs, as in `keras.layers.Bidirectional`; the wrapped layers compute in their own
policy. The Bahdanau decoder crashed with one ("TensorArray dtype is float64 but Op is trying
to write dtype float32"); the others returned the wrapped layers' float32."""

import numpy as np
import pytest

from keras_seq.attention import DotAttention
from keras_seq.layers import LSTM, AttentionDecoder, Bidirectional, StackedRNN
from tests.test_case import assert_allclose

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, 3)).astype("float32")
MEMORY = RNG.normal(size=(2, 4, 6)).astype("float32")
MASK = np.array([[True, True, True, False, False], [True, True, True, True, True]])


def _pair(build):
    """The layer with a float32 policy and with ``dtype="float64"``, sharing weights."""
    reference, wide = build(), build(dtype="float64")
    return reference, wide


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_outputs_follow_its_dtype(merge_mode):
    reference, wide = _pair(lambda **kw: Bidirectional(LSTM(4), merge_mode=merge_mode, **kw))
    expected = reference(X, mask=MASK)
    wide(X, mask=MASK)
    wide.set_weights(reference.get_weights())
    got = wide(X, mask=MASK)
    expected = expected if merge_mode is None else [expected]
    got = got if merge_mode is None else [got]
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == "float64"
        assert_allclose(g, e, atol=1e-7)  # float32 numbers cast to float64: equal


def test_bidirectional_merges_directions_of_different_dtypes():
    layer = Bidirectional(
        LSTM(4, return_sequences=True),
        backward_layer=LSTM(4, return_sequences=True, go_backwards=True, dtype="float64"),
    )
    output = layer(X)
    assert output.dtype == "float32"
    assert output.shape == (2, 5, 8)
    backward = layer.backward_layer(X)  # float64, reversed in time
    assert_allclose(output[..., 4:], np.asarray(backward)[:, ::-1], atol=1e-6)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_stacked_rnn_output_follows_its_dtype(return_sequences):
    reference, wide = _pair(
        lambda **kw: StackedRNN(LSTM(4), num_layers=2, return_sequences=return_sequences, **kw)
    )
    expected = reference(X, mask=MASK)
    wide(X, mask=MASK)
    wide.set_weights(reference.get_weights())
    got = wide(X, mask=MASK)
    assert got.dtype == "float64"
    assert_allclose(got, expected, atol=1e-7)


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_attention_decoder_outputs_follow_its_dtype(style):
    reference, wide = _pair(
        lambda **kw: AttentionDecoder(LSTM(6), DotAttention(), attention_style=style, **kw)
    )
    expected = reference(X, MEMORY)
    wide(X, MEMORY)
    wide.set_weights(reference.get_weights())
    got = wide(X, MEMORY)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == "float64"
        assert_allclose(g, e, atol=1e-7)
