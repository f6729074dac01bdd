"""Regression tests of defects found by probing the attention layers."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import AdditiveAttention, DotAttention, MultiHeadCrossAttention
from tests.attention.references import MASKS, attend, dot_scores
from tests.test_case import assert_allclose

UNKNOWN_DIMENSIONS = [tf.TensorSpec([None, None, None])] * 2 + [
    tf.TensorSpec([None, None], tf.bool)
]


@pytest.mark.parametrize("built_first", [True, False])
def test_scaled_dot_attention_traced_with_unknown_feature_size(built_first):
    # A serving signature of unknown dimensions hides the feature size d of 1/sqrt(d).
    rng = np.random.default_rng(0)
    query = rng.normal(size=(3, 2, 4)).astype("float32")
    value = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = MASKS["right_padded"]
    layer = DotAttention(scaled=True)
    if built_first:
        layer(query, value)
    traced = tf.function(
        lambda q, v, m: layer(q, v, value_mask=m, return_attention_scores=True),
        input_signature=UNKNOWN_DIMENSIONS,
    )
    expected = attend(dot_scores(query, value, scaled=True), value, mask)
    assert_allclose(traced(query, value, mask), expected)


def test_masked_weights_sum_to_one_with_scores_below_minus_1e9():
    # Unnormalized states of norm 4e4 give scores of -1.6e9, below the old -1e9 stand-in of
    # the masked steps, which then took all the mass: the weights summed to 0.
    query = np.array([[[1.0, 0.0]]], "float32") * 4e4
    value = np.array([[[-1.0, 0.0], [-1.0, 0.1], [5.0, 5.0]]], "float32") * 4e4
    mask = np.array([[True, True, False]])
    context, weights = DotAttention()(query, value, value_mask=mask, return_attention_scores=True)
    np.testing.assert_array_equal(np.asarray(weights), [[[0.5, 0.5, 0.0]]])
    np.testing.assert_allclose(np.asarray(context), [[[-4e4, 2e3]]], rtol=1e-6)


def test_constructors_take_numpy_integers_and_refuse_bools():
    layer = MultiHeadCrossAttention(np.int64(2), np.int64(3), value_dim=np.int32(4))
    config = layer.get_config()
    assert (config["num_heads"], config["key_dim"], config["value_dim"]) == (2, 3, 4)
    assert all(type(config[name]) is int for name in ("num_heads", "key_dim", "value_dim"))
    assert AdditiveAttention(units=np.int64(5)).get_config()["units"] == 5
    with pytest.raises(ValueError, match="units"):
        AdditiveAttention(units=True)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadCrossAttention(num_heads=True, key_dim=2)


def test_key_and_value_mask_given_as_lists_equal_tensors():
    rng = np.random.default_rng(0)
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    key = rng.normal(size=(2, 5, 4))
    mask = [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]
    layer = DotAttention()
    want = layer(query, value, key=key, value_mask=np.array(mask, bool))
    got = layer(query, value, key=key.tolist(), value_mask=mask)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # And the mask is applied: the second row sees only its first step.
    np.testing.assert_allclose(got[1], np.broadcast_to(value[1, :1], (3, 4)), rtol=1e-6)


@pytest.mark.parametrize("masked", [False, True])
def test_one_source_position_gives_weights_of_one_without_a_warning(masked):
    """Over one source position (a one-token source) every weight is 1 and the context is
    the value; Keras' `ops.softmax` warned "likely not what you intended" at every call."""
    import warnings

    from keras_seq.attention import GeneralAttention

    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 1, 4)).astype("float32")
    mask = np.ones((2, 1), bool) if masked else None
    layers = [DotAttention(), GeneralAttention(), AdditiveAttention(units=3)]
    layers.append(MultiHeadCrossAttention(num_heads=2, key_dim=2))
    for layer in layers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context, weights = layer(query, value, value_mask=mask, return_attention_scores=True)
        assert not [w for w in caught if "softmax" in str(w.message)], type(layer).__name__
        np.testing.assert_allclose(np.asarray(weights), np.ones(weights.shape), rtol=1e-6)
        if not isinstance(layer, MultiHeadCrossAttention):  # which projects the value
            np.testing.assert_allclose(np.asarray(context), np.repeat(value, 3, axis=1), 1e-6)
