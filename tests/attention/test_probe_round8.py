"""Fixes from the eighth audit of the attention layers: in a graph traced with unknown sizes,
a query, key or value of another batch size (or a key of another Tv) is refused instead of
broadcast."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiHeadCrossAttention,
)
from tests.test_case import assert_allclose

RNG = np.random.default_rng(8)
QUERY = RNG.normal(size=(2, 3, 4)).astype("float32")
VALUE = RNG.normal(size=(2, 5, 4)).astype("float32")
KEY = RNG.normal(size=(2, 5, 4)).astype("float32")

_LAYERS = {
    "dot": lambda: DotAttention(scaled=True),
    "general": lambda: GeneralAttention(),
    "additive": lambda: AdditiveAttention(units=3),
    "multi_head": lambda: MultiHeadCrossAttention(num_heads=2, key_dim=2),
}


def _graph(layer, jit_compile=False, single_step=False):
    query = tf.TensorSpec([None, 4] if single_step else [None, None, 4])
    unknown = tf.TensorSpec([None, None, 4])
    return tf.function(
        lambda q, v, k: layer(q, v, key=k, return_attention_scores=True),
        input_signature=[query, unknown, unknown],
        jit_compile=jit_compile,
    )


@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_tensors_of_another_batch_size_are_refused_in_a_graph(make):
    # A query of batch 1 against a memory of batch 2 (or the other way round, or a key of
    # batch 1) was broadcast by the batched matmuls: every row attended with row 0's
    # query or over row 0's memory. Eager calls failed on the static shapes.
    layer = make()
    run = _graph(layer)
    expected_outputs = layer(QUERY, VALUE, key=KEY, return_attention_scores=True)
    for got, expected in zip(run(QUERY, VALUE, KEY), expected_outputs, strict=True):
        assert_allclose(got, expected, atol=1e-6)
    query_message = "`query` and `value` must have the same batch size"
    key_message = r"`key` and `value` must agree on \[batch, Tv\]"
    for arguments, message in (
        ((QUERY[:1], VALUE, KEY), query_message),
        ((QUERY, VALUE[:1], KEY[:1]), query_message),
        ((QUERY, VALUE, KEY[:1]), key_message),
        ((QUERY, VALUE[:1], KEY), key_message),
        ((QUERY, VALUE, KEY[:, :1]), key_message),  # failed unnamed in a matmul
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run(*arguments)


@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_a_single_step_query_of_another_batch_size_is_refused_in_a_graph(make):
    layer = make()
    run = _graph(layer, single_step=True)
    output, weights = run(QUERY[:, 0], VALUE, KEY)
    assert output.shape[1:] == layer(QUERY[:, 0], VALUE, key=KEY).shape[1:]
    assert weights.shape[0] == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        run(QUERY[:1, 0], VALUE, KEY)


@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_another_batch_size_fails_under_xla_instead_of_broadcasting(make):
    layer = make()
    run = _graph(layer, jit_compile=True)
    assert run(QUERY, VALUE, KEY)[0].shape == layer(QUERY, VALUE, key=KEY).shape
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(QUERY[:1], VALUE, KEY)


def test_an_empty_memory_gives_zeros_past_an_output_bias():
    # Before: with Tv = 0 and no value_mask the multi-head layer returned its output bias
    # (with a [B, 0] mask, zeros).
    layer = MultiHeadCrossAttention(num_heads=2, key_dim=2, bias_initializer="ones")
    query = QUERY
    empty = np.zeros((2, 0, 4), "float32")
    assert_allclose(layer(query, empty), np.zeros((2, 3, 4)))
    assert_allclose(layer(query, empty, value_mask=np.ones((2, 0), bool)), np.zeros((2, 3, 4)))
    graph = tf.function(
        lambda q, v: layer(q, v), input_signature=[tf.TensorSpec((None, None, 4))] * 2
    )
    assert_allclose(graph(query, empty), np.zeros((2, 3, 4)))
    # A non-empty memory still reaches the bias.
    assert np.abs(np.asarray(graph(query, VALUE))).max() > 0
