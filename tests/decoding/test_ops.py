"""The private tensor helpers of keras_seq.decoding, against TensorFlow's own ops."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding._ops import top_k


def _rows(seed, rows, columns, kind):
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=2.0, size=(rows, columns))
    if kind == "ties":  # a handful of distinct values: long runs of equal ones
        values = np.round(values)
    elif kind == "constant":  # every column tied
        values = np.zeros_like(values)
    elif kind == "infinite":  # most columns -inf, a few real ones
        values[rng.random(values.shape) < 0.97] = -np.inf
        values[:, rng.choice(columns, size=8, replace=False)] = rng.normal(size=(rows, 8))
    return tf.constant(values, tf.float32)


@pytest.mark.parametrize("kind", ["normal", "ties", "constant", "infinite"])
@pytest.mark.parametrize(
    "columns, k, block_size",
    [
        (1000, 5, 64),  # 16 blocks, the last one padded
        (1024, 5, 64),  # no padding
        (37, 3, 4),  # tiny blocks, padding
        (200, 7, 8),
        (50, 5, 64),  # too few blocks: falls back to tf.math.top_k
    ],
)
def test_top_k_equals_tensorflow_top_k_ties_included(kind, columns, k, block_size):
    values = _rows(columns + k, 6, columns, kind)
    got_values, got_indices = top_k(values, k, block_size=block_size)
    expected_values, expected_indices = tf.math.top_k(values, k=k)
    np.testing.assert_array_equal(got_indices.numpy(), expected_indices.numpy())
    np.testing.assert_array_equal(got_values.numpy(), expected_values.numpy())


def test_top_k_runs_in_a_graph_with_an_unknown_batch():
    @tf.function(input_signature=[tf.TensorSpec([None, 300], tf.float32)])
    def compiled(values):
        return top_k(values, 4, block_size=16)

    values = _rows(3, 5, 300, "ties")
    np.testing.assert_array_equal(
        compiled(values)[1].numpy(), tf.math.top_k(values, k=4).indices.numpy()
    )
