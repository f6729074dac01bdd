"""SequencePooling against a NumPy reference, Keras built-ins and numeric gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.layers.sequence_pooling import SequencePooling
from tests.test_case import assert_allclose, run_model_saving_test, run_serialization_test

MODES = ["last", "mean", "max", "sum"]
# Batch of 4, T = 5 (1 = valid step).
MASKS = {
    "right_padded": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]),
    "left_padded": np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 1, 1]]),
    "random": np.array([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [1, 0, 0, 0, 1]]),
    "fully_masked_row": np.array(
        [[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]]
    ),
    "no_mask": None,
}
MASKS = {name: None if m is None else m.astype(bool) for name, m in MASKS.items()}


def pool_reference(x, mask, mode, bidirectional=False):
    """Row by row over the indices of the valid steps."""
    batch, steps, features = x.shape
    mask = np.ones((batch, steps), bool) if mask is None else mask
    output = np.zeros((batch, features), x.dtype)
    for b in range(batch):
        valid = np.flatnonzero(mask[b])
        if valid.size == 0:
            continue
        rows = x[b, valid]
        if mode == "sum":
            output[b] = rows.sum(0)
        elif mode == "mean":
            output[b] = rows.mean(0)
        elif mode == "max":
            output[b] = rows.max(0)
        else:
            output[b] = x[b, valid[-1]]
            if bidirectional:
                half = features // 2
                output[b, half:] = x[b, valid[0], half:]
    return output


@pytest.mark.parametrize("mode", MODES)
def test_matches_numpy(mode):
    x = np.random.default_rng(0).normal(size=(4, 5, 6)).astype("float32")
    for bidirectional in (False, True):
        layer = SequencePooling(mode, bidirectional=bidirectional)
        for mask_name, mask in MASKS.items():
            assert_allclose(
                layer(x, mask=mask),
                pool_reference(x, mask, mode, bidirectional),
                err_msg=f"{mask_name}, bidirectional={bidirectional}",
            )


def test_last_step_is_read_from_the_mask_not_assumed():
    x = np.random.default_rng(1).normal(size=(4, 5, 2)).astype("float32")
    lengths = np.array([3, 5, 1, 2])
    pool = SequencePooling("last")
    # Right padding: the last valid step is length - 1.
    assert_allclose(pool(x, mask=MASKS["right_padded"]), x[np.arange(4), lengths - 1])
    # Left padding: it is the final position whatever the length.
    assert_allclose(pool(x, mask=MASKS["left_padded"]), x[:, -1])
    # Bidirectional, left padding: backward half at the first valid step T - length.
    both = SequencePooling("last", bidirectional=True)(x, mask=MASKS["left_padded"])
    assert_allclose(both[:, 0], x[:, -1, 0])
    assert_allclose(both[:, 1], x[np.arange(4), 5 - lengths, 1])


def test_max_ignores_masked_steps_even_when_all_valid_values_are_negative():
    x = -1.0 - np.random.default_rng(2).random(size=(4, 5, 3)).astype("float32")
    mask = MASKS["random"]
    x[~mask] = 0.0  # would win if masked steps took part
    pooled = np.asarray(SequencePooling("max")(x, mask=mask))
    assert np.all(pooled < -1.0)
    assert_allclose(pooled, pool_reference(x, mask, "max"))


@pytest.mark.parametrize("mode", MODES)
def test_fully_masked_row_gives_zeros_and_finite_numeric_gradients(mode):
    x = np.random.default_rng(3).normal(size=(4, 5, 4))
    mask = MASKS["fully_masked_row"]
    layer = SequencePooling(mode, bidirectional=True, dtype="float64")
    assert np.all(np.asarray(layer(x, mask=mask))[1] == 0.0)

    def function(x):
        return layer(x, mask=mask)

    function(x)
    theoretical, numerical = tf.test.compute_gradient(tf.function(function), [x])
    assert np.all(np.isfinite(theoretical[0]))
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)
    # No gradient reaches the masked steps: the Jacobian is [outputs, inputs].
    masked_inputs = np.repeat(~mask.reshape(-1), 4)
    assert np.all(theoretical[0][:, masked_inputs] == 0.0)
    assert np.any(theoretical[0][:, ~masked_inputs] != 0.0)


def test_mean_matches_keras_global_average_pooling():
    x = np.random.default_rng(4).normal(size=(4, 5, 3)).astype("float32")
    for mask_name in ("right_padded", "left_padded", "random"):
        mask = MASKS[mask_name]
        expected = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
        assert_allclose(SequencePooling("mean")(x, mask=mask), expected, err_msg=mask_name)


def test_bidirectional_last_equals_keras_bidirectional_final_states():
    # A Bidirectional LSTM's final output is [forward state after the last valid step,
    # backward state after the first valid step]; pooling its sequence must find both.
    x = np.random.default_rng(5).normal(size=(4, 5, 3)).astype("float32")
    sequence_layer = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))
    final_layer = keras.layers.Bidirectional(keras.layers.LSTM(3))
    sequence_layer(x)
    final_layer(x)
    final_layer.set_weights(sequence_layer.get_weights())
    pool = SequencePooling("last", bidirectional=True)
    for padding in ("right_padded", "left_padded"):
        mask = MASKS[padding]
        pooled = pool(sequence_layer(x, mask=mask), mask=mask)
        assert_allclose(pooled, final_layer(x, mask=mask), err_msg=padding)


def test_mask_comes_from_keras_mask_propagation_in_a_model():
    ids = np.array([[3, 1, 2, 0, 0], [0, 0, 4, 1, 2], [0, 0, 0, 0, 0], [2, 0, 0, 0, 0]])
    inputs = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(5, 4, mask_zero=True)(inputs)
    outputs = [SequencePooling(mode)(embedded) for mode in MODES]
    model = keras.Model(inputs, [embedded, *outputs])
    sequence, *pooled = model(ids)
    for mode, result in zip(MODES, pooled, strict=True):
        expected = pool_reference(np.asarray(sequence), ids != 0, mode)
        assert_allclose(result, expected, err_msg=mode)
    run_model_saving_test(model, ids)


def test_config_round_trip():
    x = np.random.default_rng(6).normal(size=(4, 5, 4)).astype("float32")
    layer = SequencePooling("last", bidirectional=True, name="pool")
    revived = run_serialization_test(layer, x, call_kwargs={"mask": MASKS["random"]})
    assert revived.mode == "last" and revived.bidirectional is True


def test_output_has_no_mask_and_static_shape():
    inputs = keras.Input((5, 4))
    masked = keras.layers.Masking()(inputs)
    pooled = SequencePooling("mean")(masked)
    assert tuple(pooled.shape) == (None, 4)
    assert getattr(pooled, "_keras_mask", None) is None


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match=r"`mode` must be one of .*received mode='median'"):
        SequencePooling("median")
    with pytest.raises(ValueError, match=r"rank 3.*inputs.shape=\(4, 5\)"):
        SequencePooling("mean")(np.ones((4, 5), "float32"))
    with pytest.raises(ValueError, match=r"even feature size.*inputs.shape=\(4, 5, 3\)"):
        SequencePooling("last", bidirectional=True)(np.ones((4, 5, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"`mask` must have shape \[batch, T\] = \(4, 5\).*mask.shape=\(4, 6\)"
    ):
        SequencePooling("max")(np.ones((4, 5, 2), "float32"), mask=np.ones((4, 6), bool))
    with pytest.raises(ValueError, match=r"mask.shape=\(4, 5, 1\)"):
        SequencePooling("max")(np.ones((4, 5, 2), "float32"), mask=np.ones((4, 5, 1), bool))


@pytest.mark.parametrize("mask", ["right_padded", "fully_masked_row", "no_mask"])
@pytest.mark.parametrize("mode", MODES)
def test_integer_inputs(mode, mask):
    # Mean of integers is a float (it raised TypeError: int / float); max fills masked steps
    # with the dtype's minimum, since integers have no -inf. Large values (past float32's
    # exact integers) check that max and sum stay in the integer dtype.
    x = np.random.default_rng(3).integers(-(2**40), 2**40, size=(4, 5, 2)).astype("int64")
    mask = MASKS[mask]
    pooled = SequencePooling(mode)(x, mask=mask).numpy()
    expected = pool_reference(x.astype(np.float64 if mode == "mean" else np.int64), mask, mode)
    if mode == "mean":
        assert pooled.dtype == np.float32
        np.testing.assert_allclose(pooled, expected, rtol=1e-6)
    else:
        assert pooled.dtype == np.int64
        np.testing.assert_array_equal(pooled, expected)


def test_bool_inputs_are_a_clear_error():
    with pytest.raises(TypeError, match="numeric"):
        SequencePooling("max")(np.ones((1, 2, 2), bool))
