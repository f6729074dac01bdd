"""Fixes from the thirteenth audit of the attention layers: the weight normalization of
`AdditiveAttention(normalize=True)` divided by ||v|| = 0 for a zero v (a "zeros" initializer),
which made the scores, the weights, the context and every gradient NaN."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import AdditiveAttention
from tests.test_case import assert_allclose

EPSILON = 1e-12  # floor of ||v||^2, as tf.math.l2_normalize's
RNG = np.random.default_rng(13)
QUERY = RNG.normal(size=(2, 2, 3))
VALUE = RNG.normal(size=(2, 4, 3))
QUERY_KERNEL = RNG.normal(size=(3, 5))
KEY_KERNEL = RNG.normal(size=(3, 5))
BIAS = RNG.normal(size=5)
GAIN = 0.8
COTANGENT = RNG.normal(size=(2, 2, 3))  # L = sum(COTANGENT * context)
V_NORMAL = RNG.normal(size=5)


def reference(v):
    """NumPy forward pass and hand-derived gradients of L = Σ COTANGENT ⊙ context with
    v_norm = g v / sqrt(max(Σ v², ε)): (context, weights, dL/dv, dL/dg)."""
    pre = (QUERY @ QUERY_KERNEL)[:, :, None, :] + (VALUE @ KEY_KERNEL)[:, None, :, :] + BIAS
    hidden = np.tanh(pre)  # [B, Tq, Tv, units]
    squared = max(float(v @ v), EPSILON)
    norm = np.sqrt(squared)
    scores = hidden @ (GAIN * v / norm)
    exp = np.exp(scores - scores.max(-1, keepdims=True))
    weights = exp / exp.sum(-1, keepdims=True)
    context = weights @ VALUE
    d_weights = COTANGENT @ VALUE.transpose(0, 2, 1)  # [B, Tq, Tv]
    d_scores = weights * (d_weights - (weights * d_weights).sum(-1, keepdims=True))
    d_normalized = np.einsum("bij,biju->u", d_scores, hidden)
    if v @ v >= EPSILON:
        d_v = GAIN * (d_normalized / norm - v * (v @ d_normalized) / norm**3)
    else:  # the floor is constant: only the numerator depends on v
        d_v = GAIN * d_normalized / norm
    d_gain = d_normalized @ v / norm
    return context, weights, d_v, d_gain


def run_layer(v, dtype="float64"):
    layer = AdditiveAttention(units=5, normalize=True, dtype=dtype)
    layer(QUERY, VALUE)
    layer.query_kernel.assign(QUERY_KERNEL)
    layer.key_kernel.assign(KEY_KERNEL)
    layer.bias.assign(BIAS)
    layer.scale_gain.assign(GAIN)
    layer.scale.assign(v)
    with tf.GradientTape() as tape:
        context, weights = layer(QUERY, VALUE, return_attention_scores=True)
        loss = tf.reduce_sum(tf.cast(context, "float64") * COTANGENT)
    gradients = tape.gradient(loss, layer.trainable_weights)
    named = {w.name: g for w, g in zip(layer.trainable_weights, gradients, strict=True)}
    return context, weights, named


@pytest.mark.parametrize("v", [V_NORMAL, np.zeros(5)], ids=["normal v", "zero v"])
def test_normalized_v_values_and_gradients_match_numpy(v):
    context, weights, gradients = run_layer(v)
    expected_context, expected_weights, d_v, d_gain = reference(v)
    assert_allclose(weights, expected_weights, atol=1e-12)
    assert_allclose(context, expected_context, atol=1e-12)
    assert_allclose(gradients["scale"], d_v, rtol=1e-9, atol=1e-9)
    assert_allclose(gradients["scale_gain"], d_gain, rtol=1e-9, atol=1e-12)
    for name, gradient in gradients.items():
        assert np.all(np.isfinite(gradient)), name


def test_zero_v_gives_uniform_weights_and_finite_gradients_in_float32():
    # The default dtype: zero scores, so every valid step weighs 1 / Tv and the context is
    # the mean of the values; the gradients are finite (v's is g / sqrt(ε) times dL/dv_norm).
    context, weights, gradients = run_layer(np.zeros(5), dtype="float32")
    np.testing.assert_array_equal(weights, np.full((2, 2, 4), 0.25, "float32"))
    assert_allclose(context, np.broadcast_to(VALUE.mean(1)[:, None], (2, 2, 3)), atol=1e-6)
    for name, gradient in gradients.items():
        assert np.all(np.isfinite(gradient)), name
    assert_allclose(gradients["scale"], reference(np.zeros(5))[2], rtol=1e-4)


def test_zeros_initialized_v_learns():
    # With v initialised to zeros, one gradient step must move it (a guard making v's
    # gradient 0 at v = 0 would leave the attention uniform forever).
    layer = AdditiveAttention(units=5, normalize=True, kernel_initializer="zeros", dtype="float64")
    layer(QUERY, VALUE)
    layer.query_kernel.assign(QUERY_KERNEL)
    layer.key_kernel.assign(KEY_KERNEL)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(QUERY, VALUE) * COTANGENT)
    gradient = tape.gradient(loss, layer.scale)
    assert np.all(np.isfinite(gradient)) and np.any(gradient.numpy() != 0.0)
    layer.scale.assign_sub(1e-3 * gradient)
    weights = layer(QUERY, VALUE, return_attention_scores=True)[1].numpy()
    assert not np.allclose(weights, 0.25)
