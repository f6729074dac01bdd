"""Round 14: DotAttention(scaled=True) scales the query before the product, as multi-head does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import DotAttention


def _scores_reference(query, value):
    scores = query.astype("float64") @ value.astype("float64").transpose(0, 2, 1)
    scores /= np.sqrt(query.shape[-1])
    scores -= scores.max(-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights, weights @ value.astype("float64")


@pytest.mark.parametrize("policy", ["mixed_float16", "float16"])
def test_scaled_dot_scores_past_float16_range_before_scaling_stay_finite(policy):
    # q·k = 16·100² = 160000 overflowed float16 to inf before the 1/sqrt(16) brought it to
    # 40000: NaN weights where the float64 reference gives finite ones.
    rng = np.random.default_rng(0)
    query = np.full((2, 3, 16), 100.0, "float32")
    value = rng.uniform(-1.0, 1.0, (2, 5, 16)).astype("float32")
    value[:, 0] = 100.0
    value[:, 1] = 99.9
    layer = DotAttention(scaled=True, dtype=policy)
    context, weights = layer(query, value, return_attention_scores=True)
    expected_weights, expected_context = _scores_reference(query, value)
    weights = np.asarray(tf.cast(weights, tf.float32))
    assert np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights, expected_weights, atol=2e-2)
    np.testing.assert_allclose(
        np.asarray(tf.cast(context, tf.float32)), expected_context, rtol=2e-2, atol=0.5
    )


@pytest.mark.parametrize("known_size", [True, False])
def test_scaled_dot_attention_matches_float64_and_keras_in_float32(known_size):
    # The scale moved before the product: the float32 results still equal the reference,
    # also when the feature size is only known at run time.
    rng = np.random.default_rng(1)
    query = rng.normal(size=(2, 4, 6)).astype("float32")
    value = rng.normal(size=(2, 7, 6)).astype("float32")
    layer = DotAttention(scaled=True)
    if known_size:
        context, weights = layer(query, value, return_attention_scores=True)
    else:
        spec = tf.TensorSpec([None, None, None], tf.float32)
        layer.build((None, None, None), (None, None, None))
        call = tf.function(
            lambda q, v: layer(q, v, return_attention_scores=True), input_signature=[spec, spec]
        )
        context, weights = call(query, value)
    expected_weights, expected_context = _scores_reference(query, value)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, expected_context, rtol=1e-5, atol=1e-5)
    keras_layer = keras.layers.Attention(use_scale=True)
    keras_layer([query, value])
    keras_layer.scale.assign(1.0 / np.sqrt(6.0))
    keras_context = keras_layer([query, value])
    np.testing.assert_allclose(context, keras_context, rtol=1e-5, atol=1e-6)
