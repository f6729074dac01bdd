"""Fixes from the tenth audit of the attention layers."""

import keras
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

RNG = np.random.default_rng(10)
QUERY = RNG.normal(size=(3, 2, 4)).astype("float32")
VALUE = RNG.normal(size=(3, 5, 4)).astype("float32")
KEY = RNG.normal(size=(3, 5, 4)).astype("float32")
# Right padding, a row with no valid step, and a hole in the middle.
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 0, 1, 1, 0]], bool)

_LAYERS = {
    "dot": lambda: DotAttention(scaled=True),
    "general": lambda: GeneralAttention(),
    "additive": lambda: AdditiveAttention(units=3, normalize=True),
    "multi_head": lambda: MultiHeadCrossAttention(
        num_heads=2, key_dim=2, bias_initializer="random_normal"
    ),
}


def _outputs_and_gradients(layer, value, key):
    tensors = [tf.constant(QUERY), tf.constant(value)] + ([] if key is None else [tf.constant(key)])
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        output, weights = layer(
            tensors[0],
            tensors[1],
            key=None if key is None else tensors[2],
            value_mask=MASK,
            return_attention_scores=True,
        )
        loss = tf.reduce_sum(output * np.arange(1, output.shape[-1] + 1, dtype="float32"))
    gradients = tape.gradient(loss, tensors + layer.trainable_weights)
    return [output, weights], gradients


@pytest.mark.parametrize("key_given", [False, True], ids=["key_is_value", "key"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_non_finite_memory_at_masked_steps_is_ignored(make, bad, key_given):
    # A weight of 0 at a masked step times a NaN or inf value is NaN: the context, the
    # scores at masked keys and every gradient (weights, query, memory) were NaN.
    layer = make()
    padded_value, zero_value = VALUE.copy(), VALUE.copy()
    padded_value[~MASK], zero_value[~MASK] = bad, 0.0
    padded_key, zero_key = (KEY.copy(), KEY.copy()) if key_given else (None, None)
    if key_given:
        padded_key[~MASK], zero_key[~MASK] = bad, 0.0
    outputs, gradients = _outputs_and_gradients(layer, padded_value, padded_key)
    expected_outputs, expected_gradients = _outputs_and_gradients(layer, zero_value, zero_key)
    for got, expected in zip(
        outputs + gradients, expected_outputs + expected_gradients, strict=True
    ):
        assert np.isfinite(np.asarray(got)).all()
        assert_allclose(got, expected, atol=1e-6)
    # The memory's gradient is 0 at masked steps.
    for gradient in gradients[1 : 3 if key_given else 2]:
        np.testing.assert_array_equal(np.asarray(gradient)[~MASK], 0.0)


QUERY_MASK = np.array([[1, 0], [1, 1], [0, 1]], bool)


def _query_gradients(layer, query, query_mask, single_step=False):
    query, value = tf.constant(query), tf.constant(VALUE)
    step_mask = QUERY_MASK[:, 0] if single_step else QUERY_MASK
    with tf.GradientTape() as tape:
        tape.watch([query, value])
        output, weights = layer(query, value, query_mask=query_mask, return_attention_scores=True)
        # A masked loss, as `MaskedSequenceLoss`: masked query steps do not count.
        loss = tf.reduce_sum(tf.where(step_mask[..., None], output, 0.0))
    gradients = tape.gradient(loss, [query, value] + layer.trainable_weights)
    return [output, weights], gradients


@pytest.mark.parametrize("single_step", [False, True], ids=["sequence", "single_step"])
@pytest.mark.parametrize("make", _LAYERS.values(), ids=_LAYERS.keys())
def test_non_finite_query_at_masked_steps_stays_out_of_the_gradients(make, single_step):
    # The layers took no query mask: a NaN at a masked query step, whose output the loss
    # ignores, still made the gradients of the memory and of the weights NaN (0·NaN in the
    # softmax's and the matmuls' backward passes).
    layer = make()
    padded, zeroed = QUERY.copy(), QUERY.copy()
    padded[~QUERY_MASK], zeroed[~QUERY_MASK] = np.nan, 0.0
    query_mask = QUERY_MASK
    if single_step:
        padded, zeroed, query_mask = padded[:, 0], zeroed[:, 0], QUERY_MASK[:, 0]
    outputs, gradients = _query_gradients(layer, padded, query_mask, single_step)
    expected_outputs, expected_gradients = _query_gradients(layer, zeroed, None, single_step)
    for got, expected in zip(
        outputs + gradients, expected_outputs + expected_gradients, strict=True
    ):
        assert np.isfinite(np.asarray(got)).all()
        assert_allclose(got, expected, atol=1e-6)
    # Valid query steps are untouched.
    valid = QUERY_MASK[:, 0] if single_step else QUERY_MASK
    unmasked = layer(QUERY[:, 0] if single_step else QUERY, VALUE)
    assert_allclose(np.asarray(outputs[0])[valid], np.asarray(unmasked)[valid], atol=1e-6)


def test_query_mask_comes_from_the_keras_mask_of_the_query():
    ids = np.array([[3, 0], [1, 2], [4, 5]])
    query = keras.layers.Embedding(6, 4, mask_zero=True)(ids)
    value = tf.constant(VALUE)
    layer = DotAttention()
    zeroed = np.where((ids != 0)[..., None], np.asarray(query), 0.0)
    output = layer(query, value)
    assert_allclose(output, layer(zeroed, value), atol=0)
    assert not np.allclose(output, layer(np.asarray(query), value))  # the mask was read
    # The output still carries the query's mask.
    np.testing.assert_array_equal(np.asarray(output._keras_mask), ids != 0)


def test_query_mask_of_a_wrong_shape_is_refused():
    layer = DotAttention()
    with pytest.raises(ValueError, match=r"`query_mask` must have shape \(3, 2\)"):
        layer(QUERY, VALUE, query_mask=QUERY_MASK[:, :1])
    with pytest.raises(ValueError, match=r"`query_mask` must have shape \(3,\)"):
        layer(QUERY[:, 0], VALUE, query_mask=QUERY_MASK)
    # A scalar (which Keras propagates from a layer given a Python list as its mask) is
    # every step's mask; an int or float 0/1 mask is a bool one.
    assert_allclose(layer(QUERY, VALUE, query_mask=True), layer(QUERY, VALUE), atol=0)
    expected = layer(QUERY, VALUE, query_mask=QUERY_MASK)
    assert_allclose(layer(QUERY, VALUE, query_mask=QUERY_MASK.astype("float32")), expected, 0)
    # In a graph with unknown sizes, a mask of batch 1 is refused instead of broadcast.
    graph = tf.function(
        lambda q, m: layer(q, VALUE, query_mask=m),
        input_signature=[tf.TensorSpec([None, None, 4]), tf.TensorSpec([None, None], tf.bool)],
    )
    assert_allclose(graph(QUERY, QUERY_MASK), expected, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`query_mask` must match"):
        graph(QUERY, QUERY_MASK[:1])


@pytest.mark.parametrize("dropout", [None, "0.1"])
def test_a_dropout_that_is_not_a_number_is_a_clear_error(dropout):
    # None failed with "'<=' not supported between instances of 'float' and 'NoneType'".
    with pytest.raises(ValueError, match="`dropout` must be in"):
        DotAttention(dropout=dropout)


def test_numpy_dropout_and_seed_give_a_json_config_and_reproducible_dropout():
    # A NumPy float dropout made `json.dumps(get_config())` fail; a NumPy integer seed was
    # refused by Keras' SeedGenerator ("`seed` must be an integer. Received: seed=3").
    import json

    layer = DotAttention(dropout=np.float32(0.5), seed=np.int64(3))
    config = json.loads(json.dumps(layer.get_config()))
    assert (config["dropout"], config["seed"]) == (0.5, 3)
    again = DotAttention.from_config(config)
    first = layer(QUERY, VALUE, return_attention_scores=True, training=True)[1]
    second = again(QUERY, VALUE, return_attention_scores=True, training=True)[1]
    assert_allclose(first, second, atol=0)
    assert (np.asarray(first) == 0).any()  # dropout ran


@pytest.mark.parametrize("policy", ["mixed_float16", "float16"])
def test_normalized_additive_attention_with_a_large_v_in_float16(policy):
    # ||v||^2 was computed in float16: past ||v|| = 256 it overflowed to inf, v became 0
    # and the weights uniform (weight normalization leaves ||v|| free to grow).
    half = AdditiveAttention(units=3, normalize=True, dtype=policy)
    full = AdditiveAttention(units=3, normalize=True)
    half(QUERY, VALUE), full(QUERY, VALUE)
    full.set_weights([np.asarray(weight, "float32") for weight in half.get_weights()])
    full.scale.assign(np.array([300.0, -200.0, 250.0], "float32"))
    half.scale.assign(np.asarray(full.scale).astype(half.scale.dtype))
    got = half(QUERY, VALUE, value_mask=MASK, return_attention_scores=True)[1]
    expected = full(QUERY, VALUE, value_mask=MASK, return_attention_scores=True)[1]
    assert_allclose(np.asarray(got, "float32"), expected, atol=2e-3)


def test_multi_head_scores_in_float16_scale_before_the_product_as_keras_does():
    # Scaled after the product, a score of 4·150² = 90000 overflowed float16 to inf before
    # the 1/sqrt(4) brought it to 45000: NaN weights where Keras' layer gives one-hot ones.
    query = np.full((1, 1, 4), 150.0, "float32")
    value = np.zeros((1, 3, 4), "float32")
    value[0, 0] = 150.0
    identity = np.eye(4, dtype="float32")
    weights = []
    for layer in (
        MultiHeadCrossAttention(1, 4, use_bias=False, dtype="mixed_float16"),
        keras.layers.MultiHeadAttention(1, 4, use_bias=False, dtype="mixed_float16"),
    ):
        layer(query, value)
        for kernel in (layer.weights[0], layer.weights[1], layer.weights[2]):
            kernel.assign(identity[:, None, :])
        layer.weights[3].assign(identity[None])
        weights.append(layer(query, value, return_attention_scores=True)[1])
    np.testing.assert_array_equal(np.asarray(weights[0], "float32"), [[[[1.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(np.asarray(weights[0]), np.asarray(weights[1]))
