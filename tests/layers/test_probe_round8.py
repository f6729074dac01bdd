"""Fixes from the eighth audit of the layers: masks and initial states checked against the
batch in graphs, float64 wrappers computing in float64 throughout, a cell of another dtype
policy than its `Recurrent` layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import DotAttention, GeneralAttention
from keras_seq.cells import GRUCell, LSTMCell
from keras_seq.layers import (
    GRU,
    LSTM,
    AttentionDecoder,
    Bidirectional,
    Recurrent,
    SimpleRNN,
    StackedRNN,
)
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, dtype_policy

RNG = np.random.default_rng(8)
X = RNG.normal(size=(2, 3, 2)).astype("float32")
MEMORY = RNG.normal(size=(2, 4, 4)).astype("float32")

_LAYERS = {
    "lstm_fused": lambda: LSTM(4, return_sequences=True),
    "lstm_general": lambda: LSTM(4, activation="relu"),
    "gru": lambda: GRU(4, reset_after=False),
    "simple": lambda: SimpleRNN(4),
    "bidirectional": lambda: Bidirectional(LSTM(4)),
}


@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_a_mask_of_another_batch_size_is_refused_in_a_graph(make):
    # With unknown static shapes a [1, T] mask was broadcast over the batch: every row
    # masked with row 0's mask (the GRU failed unnamed, in a `split`).
    layer = make()
    run = tf.function(
        lambda x, m: layer(x, mask=m),
        input_signature=[tf.TensorSpec([None, None, 2]), tf.TensorSpec([None, None], tf.bool)],
    )
    full = np.array([[True, False, False], [True, True, False]])
    assert_allclose(run(X, full), layer(X, mask=full), atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`mask` must have shape"):
        run(X, np.array([[True, False, False]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`mask` must have shape"):
        run(X, np.ones((2, 2), bool))  # another number of steps


@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_an_initial_state_of_another_batch_size_is_refused_in_a_graph(make):
    # A [1, u] state was broadcast: every row started from row 0's state.
    layer = make()
    count = len(layer.state_size)
    run = tf.function(
        lambda x, s: layer(x, initial_state=s),
        input_signature=[tf.TensorSpec([None, None, 2]), [tf.TensorSpec([None, 4])] * count],
    )
    states = [RNG.normal(size=(2, 4)).astype("float32") for _ in range(count)]
    assert_allclose(run(X, states), layer(X, initial_state=states), atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`initial_state\[0\]` must have"):
        run(X, [s[:1] for s in states])


def test_the_bahdanau_decoder_refuses_a_mask_or_state_of_another_batch_in_a_graph():
    decoder = AttentionDecoder(LSTM(4), DotAttention(), attention_style="bahdanau")
    decoder(X, MEMORY)
    signature = [tf.TensorSpec([None, None, 2]), tf.TensorSpec([None, None, 4])]
    masked = tf.function(
        lambda x, m, mask: decoder(x, m, mask=mask),
        input_signature=[*signature, tf.TensorSpec([None, None], tf.bool)],
    )
    started = tf.function(
        lambda x, m, s: decoder(x, m, initial_state=[s]),
        input_signature=[*signature, [tf.TensorSpec([None, 4])] * 2],
    )
    full = np.array([[True, True, False], [True, True, True]])
    assert_allclose(masked(X, MEMORY, full), decoder(X, MEMORY, mask=full), atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`mask` must have shape"):
        masked(X, MEMORY, full[:1])
    states = [RNG.normal(size=(2, 4)).astype("float32") for _ in range(2)]
    assert_allclose(
        started(X, MEMORY, states), decoder(X, MEMORY, initial_state=[states]), atol=1e-6
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the batch size"):
        started(X, MEMORY, [s[:1] for s in states])


def _float64_pair(make):
    """``make("float64")`` and ``make(None)`` built under a global float64 policy."""
    explicit = make("float64")
    with dtype_policy("float64"):
        global_policy = make(None)
    return explicit, global_policy


_STACKS = {
    "bidirectional": dict(bidirectional=True, merge_mode="ave"),
    "dropout": dict(dropout=0.5),
    "residual_pooled": dict(residual=True, return_sequences=False, bidirectional=True),
}


@pytest.mark.parametrize("options", _STACKS.values(), ids=_STACKS.keys())
def test_a_float64_stack_computes_in_float64_between_its_levels(options):
    # The wrappers the stack made (Bidirectional, Dropout, the last-step pooling) took the
    # global float32 policy and rounded every level's inputs and outputs to float32: 1e-8
    # away from the same stack under a global float64 policy.
    x = RNG.normal(size=(2, 4, 3))
    mask = np.array([[True, True, True, False], [False, True, True, True]])
    explicit, reference = _float64_pair(
        lambda dtype: StackedRNN(LSTM(3, dtype=dtype), num_layers=2, dtype=dtype, **options)
    )
    explicit(x, mask=mask)
    randomize(explicit, np.random.default_rng(1))
    reference(x, mask=mask)
    reference.set_weights(explicit.get_weights())
    got = explicit(x, mask=mask)
    assert got.dtype == "float64"
    np.testing.assert_allclose(got.numpy(), reference(x, mask=mask).numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_a_float64_decoder_computes_in_float64(style):
    # Its recurrent stack and output projection took the global float32 policy.
    x = RNG.normal(size=(2, 3, 2))
    memory = RNG.normal(size=(2, 4, 4))
    explicit, reference = _float64_pair(
        lambda dtype: AttentionDecoder(
            LSTM(4, dtype=dtype),
            GeneralAttention(dtype=dtype),
            attention_style=style,
            num_layers=2,
            dropout=0.2,
            dtype=dtype,
        )
    )
    explicit(x, memory)
    randomize(explicit, np.random.default_rng(2))
    reference(x, memory)
    reference.set_weights(explicit.get_weights())
    for got, expected in zip(explicit(x, memory), reference(x, memory), strict=True):
        assert got.dtype == "float64"
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=1e-14)


_CELLS = {
    "gru_dropout": (lambda dtype: GRUCell(3, dropout=0.3, recurrent_dropout=0.3, dtype=dtype)),
    "lstm_relu": (lambda dtype: LSTMCell(3, activation="relu", dtype=dtype)),
    "keras_lstm_dropout": (lambda dtype: keras.layers.LSTMCell(3, dropout=0.3, dtype=dtype)),
}


@pytest.mark.parametrize("make_cell", _CELLS.values(), ids=_CELLS.keys())
@pytest.mark.parametrize(
    "cell_dtype, layer_dtype", [(None, "float64"), ("float64", None), ("mixed_float16", None)]
)
@pytest.mark.parametrize("training", [False, True])
def test_a_cell_of_another_policy_than_its_layer(make_cell, cell_dtype, layer_dtype, training):
    # `Recurrent(GRUCell(8), dtype="float64")` failed on "cannot compute AddV2 as input #1
    # was expected to be a double tensor" wherever the general loop ran (dropout in
    # training, any activation but tanh). The cell computes in its policy, the layer
    # returns its own.
    x = RNG.normal(size=(2, 3, 2)).astype("float32")
    mask = np.array([[True, True, False], [False, True, True]])
    layer = Recurrent(make_cell(cell_dtype), dtype=layer_dtype, return_state=True)
    reference = Recurrent(make_cell(None), return_state=True)
    layer(x)
    reference(x)
    reference.set_weights(layer.get_weights())
    keras.utils.set_random_seed(3)
    got = layer(x, mask=mask, training=training)
    keras.utils.set_random_seed(3)
    expected = reference(x, mask=mask, training=training)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == layer.compute_dtype
        if not training:  # the dropout masks are drawn in different dtypes
            atol = 2e-3 if cell_dtype == "mixed_float16" else 1e-6
            assert_allclose(g, e, atol=atol)
        assert np.all(np.isfinite(np.asarray(g, "float64")))
