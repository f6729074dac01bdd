"""Fixes from the sixth audit of the layers: the decoder's Keras mask, float32 mean pooling
under mixed_float16, the bridge's dtype policy, masks checked against the batch in graphs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import DotAttention, GeneralAttention
from keras_seq.layers import LSTM, AttentionDecoder, Bridge, SequencePooling
from tests.test_case import dtype_policy


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_the_decoder_masks_its_steps_with_the_mask_its_inputs_carry(style):
    # Keras fills `mask` only for a layer of one input: the Embedding(mask_zero=True) mask on
    # the targets was put on the outputs but did not mask the steps (left padding changed
    # the valid steps' outputs by up to 0.12).
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(1, 4, 6)).astype("float32")
    embedding = keras.layers.Embedding(5, 3, mask_zero=True)
    decoder = AttentionDecoder(LSTM(5), GeneralAttention(), attention_style=style)
    targets = keras.Input((None,), dtype="int32")
    memory_input = keras.Input((4, 6))
    outputs, _ = decoder(embedding(targets), memory_input)
    model = keras.Model([targets, memory_input], outputs)
    padded = model([np.array([[0, 0, 3, 1, 2]]), memory]).numpy()[0, 2:]
    unpadded = model([np.array([[3, 1, 2]]), memory]).numpy()[0]
    explicit = decoder(embedding(np.array([[3, 1, 2]])), memory, mask=np.ones((1, 3), bool))
    np.testing.assert_allclose(padded, unpadded, atol=1e-6)
    np.testing.assert_allclose(unpadded, explicit[0].numpy()[0], atol=1e-6)


def test_mean_pooling_sums_in_float32_under_mixed_float16():
    # 1000 steps of 100 summed in float16 overflowed to inf; the mean, 100, fits.
    values = np.full((2, 1000, 2), 100.0, "float32")
    mask = np.ones((2, 1000), bool)
    mask[1, 500:] = False
    with dtype_policy("mixed_float16"):
        pooled = SequencePooling("mean")(values, mask=mask)
    assert keras.backend.standardize_dtype(pooled.dtype) == "float16"
    np.testing.assert_array_equal(pooled.numpy(), np.full((2, 2), 100.0))
    # counts above 2048 steps are exact (float16 counts steps of 2 there)
    ramp = np.arange(3001, dtype="float32")[None, :, None] / 1000.0
    with dtype_policy("mixed_float16"):
        pooled = SequencePooling("mean")(ramp)
    np.testing.assert_allclose(float(pooled[0, 0]), 1.5, rtol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float32"])
def test_a_dense_bridge_returns_the_dtype_of_its_own_policy(policy):
    states = [[np.ones((2, 3), "float32"), np.ones((2, 3), "float32")]]
    global_policy = "float32" if policy != "float32" else "mixed_float16"
    with dtype_policy(global_policy):
        results = {
            mode: Bridge(mode, [[4, 4]] if mode == "dense" else [[3, 3]], dtype=policy)(states)
            for mode in ("dense", "copy")
        }
    compute = keras.mixed_precision.Policy(policy).compute_dtype
    for mode, levels in results.items():
        assert [keras.backend.standardize_dtype(s.dtype) for s in levels[0]] == [compute] * 2, mode


def _graph(function, *shapes):
    """``function`` compiled for inputs of these shapes (float32, a bool mask last)."""
    signature = [tf.TensorSpec(shape) for shape in shapes[:-1]]
    signature.append(tf.TensorSpec(shapes[-1], tf.bool))
    return tf.function(function, input_signature=signature)


def test_a_mask_of_another_batch_size_is_refused_in_a_graph_too():
    # With unknown static shapes a [1, T] mask broadcast over a batch of 2 (row 1 pooled
    # with row 0's mask); eager calls failed on the static shapes.
    values = np.arange(12, dtype="float32").reshape(2, 3, 2)
    one_row = np.array([[True, False, False]])
    full = np.array([[True, False, False], [True, True, False]])
    unknown, unknown_mask = [None, None, 2], [None, None]
    pool = _graph(lambda x, m: SequencePooling("mean")(x, mask=m), unknown, unknown_mask)
    np.testing.assert_allclose(pool(values, full).numpy(), [[0.0, 1.0], [7.0, 8.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`mask` must have shape"):
        pool(values, one_row)
    for layer in (DotAttention(), GeneralAttention()):
        attend = _graph(
            lambda q, v, m, layer=layer: layer(q, v, value_mask=m),
            unknown,
            unknown,
            unknown_mask,
        )
        assert attend(values, values, full).shape == (2, 3, 2)
        with pytest.raises(tf.errors.InvalidArgumentError, match="`value_mask` must have shape"):
            attend(values, values, one_row)


def test_a_mask_of_another_batch_size_fails_under_xla_instead_of_broadcasting():
    values = np.arange(12, dtype="float32").reshape(2, 3, 2)
    pool = tf.function(
        lambda x, m: SequencePooling("mean")(x, mask=m),
        input_signature=[tf.TensorSpec([None, None, 2]), tf.TensorSpec([None, None], tf.bool)],
        jit_compile=True,
    )
    with pytest.raises(tf.errors.InvalidArgumentError):
        pool(values, np.array([[True, False, False]]))
