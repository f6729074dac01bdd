"""Round 15: float64 attention against float64 NumPy references (masks with holes and fully
masked rows, single steps, length-1 memories). `DotAttention(scaled=True)` multiplied a float64
query by ``ops.cast(1 / sqrt(d), float64)``, which converts the Python float to float32 first:
every score was off by a relative 1e-8 (float32 precision) in a float64 layer."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiHeadCrossAttention,
)
from tests.attention.references import (
    MASKS,
    additive_scores,
    attend,
    dot_scores,
    general_scores,
    multi_head_attention,
)

RNG = np.random.default_rng(15)
QUERY = RNG.normal(size=(3, 4, 6))
KEY = RNG.normal(size=(3, 5, 6))
VALUE = RNG.normal(size=(3, 5, 6))


@pytest.mark.parametrize("mask_name", ["random", "fully_masked_row"])
@pytest.mark.parametrize("known_size", [True, False])
def test_scaled_dot_attention_is_exact_in_float64(mask_name, known_size):
    mask = MASKS[mask_name]
    layer = DotAttention(scaled=True, dtype="float64")
    if known_size:
        context, weights = layer(
            QUERY, VALUE, key=KEY, value_mask=mask, return_attention_scores=True
        )
    else:
        spec = tf.TensorSpec([None, None, None], tf.float64)
        call = tf.function(
            lambda q, v, k: layer(q, v, key=k, value_mask=mask, return_attention_scores=True),
            input_signature=[spec, spec, spec],
        )
        context, weights = call(QUERY, VALUE, KEY)
    expected_context, expected_weights = attend(dot_scores(QUERY, KEY, scaled=True), VALUE, mask)
    # Float64 round-off only: the float32 scale left errors of 1e-8.
    np.testing.assert_allclose(weights, expected_weights, rtol=0, atol=1e-14)
    np.testing.assert_allclose(context, expected_context, rtol=0, atol=1e-14)


def test_scaled_dot_single_step_is_exact_in_float64():
    mask = MASKS["left_padded"]
    layer = DotAttention(scaled=True, dtype="float64")
    expected_context, expected_weights = attend(dot_scores(QUERY, KEY, scaled=True), VALUE, mask)
    for t in range(QUERY.shape[1]):
        context, weights = layer(
            QUERY[:, t], VALUE, key=KEY, value_mask=mask, return_attention_scores=True
        )
        np.testing.assert_allclose(weights, expected_weights[:, t], rtol=0, atol=1e-14)
        np.testing.assert_allclose(context, expected_context[:, t], rtol=0, atol=1e-14)


@pytest.mark.parametrize("mask_name", ["random", "fully_masked_row", "left_padded"])
def test_every_scoring_matches_float64_numpy_with_holes_and_empty_rows(mask_name):
    mask = MASKS[mask_name]
    general = GeneralAttention(dtype="float64")
    general(QUERY, VALUE, key=KEY)
    additive = AdditiveAttention(units=3, normalize=True, dtype="float64")
    additive(QUERY, VALUE, key=KEY)
    multi_head = MultiHeadCrossAttention(
        2, 3, value_dim=2, output_dim=4, bias_initializer="random_normal", dtype="float64"
    )
    multi_head(QUERY, VALUE, key=KEY)
    cases = [
        (DotAttention(dtype="float64"), attend(dot_scores(QUERY, KEY), VALUE, mask)),
        (
            general,
            attend(general_scores(QUERY, KEY, general.kernel.numpy()), VALUE, mask),
        ),
        (
            additive,
            attend(
                additive_scores(
                    QUERY,
                    KEY,
                    additive.query_kernel.numpy(),
                    additive.key_kernel.numpy(),
                    additive.scale.numpy(),
                    gain=additive.scale_gain.numpy(),
                    bias=additive.bias.numpy(),
                ),
                VALUE,
                mask,
            ),
        ),
        (
            multi_head,
            multi_head_attention(
                QUERY,
                KEY,
                VALUE,
                mask,
                {w.name: w.numpy() for w in multi_head.weights},
            ),
        ),
    ]
    for layer, (expected_context, expected_weights) in cases:
        context, weights = layer(
            QUERY, VALUE, key=KEY, value_mask=mask, return_attention_scores=True
        )
        np.testing.assert_allclose(weights, expected_weights, atol=1e-12, err_msg=layer.name)
        np.testing.assert_allclose(context, expected_context, atol=1e-12, err_msg=layer.name)


@pytest.mark.parametrize("scaled", [False, True])
def test_a_memory_of_one_step_gives_its_value_or_zeros(scaled):
    mask = np.array([[True], [False], [True]])
    layer = DotAttention(scaled=scaled, dtype="float64")
    context, weights = layer(
        QUERY, VALUE[:, :1], key=KEY[:, :1], value_mask=mask, return_attention_scores=True
    )
    expected_weights = np.broadcast_to(mask[:, None, :], (3, 4, 1)).astype("float64")
    np.testing.assert_array_equal(weights, expected_weights)
    np.testing.assert_allclose(context, expected_weights * VALUE[:, None, 0], rtol=0, atol=0)
