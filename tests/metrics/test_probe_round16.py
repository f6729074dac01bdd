"""Round 16 of the metrics audit: a metric made with ``dtype="float64"`` counts and computes
in float64, as Keras' own metrics do (``keras.metrics.Mean(dtype="float64")``). Every keras_seq
metric kept float32 variables and casts whatever its config said: the config read
``"dtype": "float64"`` while the result was float32, with float32's 2**24 limit on counts.
Other dtypes (the default float32, a half precision one) still count in float32."""

import math

import keras
import numpy as np
import pytest

from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity, SpanF1


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def test_masked_accuracy_float64_keeps_a_tiny_weight():
    # Two tokens: the first right (weight 1), the second wrong (weight 1e-9).
    y_true = np.array([[1, 2]])
    y_pred = np.array([[[0.0, 5.0, 0.0], [0.0, 5.0, 0.0]]])
    weights = np.array([[1.0, 1e-9]])
    metric = MaskedAccuracy(dtype="float64")
    metric.update_state(y_true, y_pred, sample_weight=weights)
    result = metric.result()
    assert keras.backend.standardize_dtype(result.dtype) == "float64"
    assert float(result) == 1.0 / (1.0 + 1e-9)  # float32: 1.0
    assert float(result) != 1.0


def test_perplexity_float64_against_a_float64_reference():
    rng = np.random.default_rng(3)
    y_true = rng.integers(1, 5, size=(2, 4))
    y_true[1, 2:] = 0  # padding
    logits = rng.normal(size=(2, 4, 5)) * 4
    weights = np.array([1.0, 1e-8])  # per example
    metric = Perplexity(dtype="float64")
    metric.update_state(y_true, logits, sample_weight=weights)
    metric.update_state(y_true[:1], logits[:1])
    picked = np.take_along_axis(_log_softmax(logits), y_true[..., None], axis=-1)[..., 0]
    token_weights = (y_true != 0) * weights[:, None]
    nll = -(picked * token_weights).sum() - picked[0].sum()
    count = token_weights.sum() + 4
    expected = math.exp(nll / count)
    result = metric.result()
    assert keras.backend.standardize_dtype(result.dtype) == "float64"
    np.testing.assert_allclose(float(result), expected, rtol=1e-13)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_class_f1_float64_counts_past_float32():
    # A class weight of 2**25 and then a weight of 1: float32 rounds 2**25 + 1 to 2**25.
    metric = ClassF1Score(2, average="weighted", dtype="float64")
    metric.update_state([0], [0], sample_weight=[2.0**25])
    metric.update_state([1], [0], sample_weight=[1.0])
    confusion = np.asarray(metric.confusion)
    assert confusion.dtype == np.float64
    np.testing.assert_array_equal(confusion, [[2.0**25, 0.0], [1.0, 0.0]])
    f1_0 = 2 * 2.0**25 / (2.0**25 + 1 + 2.0**25)
    expected = f1_0 * 2.0**25 / (2.0**25 + 1)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-15)


def test_span_f1_float64_variables_and_result():
    metric = SpanF1(["O", "B-X", "I-X"], dtype="float64")
    metric.update_state([[2, 3, 1, 2]], [[2, 3, 1, 1]])
    result = metric.result()
    assert keras.backend.standardize_dtype(result.dtype) == "float64"
    assert float(result) == 2 * 1 / (1 + 2)
    assert all(np.asarray(v).dtype == np.float64 for v in metric.variables)


@pytest.mark.parametrize("dtype", [None, "float32", "float16", "mixed_bfloat16"])
def test_other_dtypes_count_in_float32(dtype):
    # A half-precision count would stop at 2048 + 1 and overflow past 65504.
    metric = MaskedAccuracy(dtype=dtype)
    metric.update_state(np.array([[1]]), np.array([[[0.0, 1.0]]]), sample_weight=[70000.0])
    assert all(np.asarray(v).dtype == np.float32 for v in metric.variables)
    assert float(metric.count) == 70000.0
    assert float(metric.result()) == 1.0


def test_float64_config_round_trip_keeps_the_dtype():
    for metric in (
        Perplexity(dtype="float64"),
        MaskedAccuracy(dtype="float64"),
        ClassF1Score(3, dtype="float64"),
        SpanF1(["O", "B-X"], dtype="float64"),
    ):
        revived = type(metric).from_config(metric.get_config())
        assert revived.get_config() == metric.get_config()
        assert all(np.asarray(v).dtype == np.float64 for v in revived.variables)
