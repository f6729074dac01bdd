"""Bad target, label and tag ids in the loss and the metrics: named errors in eager calls and
compiled functions, NaN under XLA (which drops every Assert), no wrapping, no truncation."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity, SpanF1

LOGITS = np.random.default_rng(0).normal(size=(1, 3, 4)).astype("float32")
TAGS = ["O", "B-A", "I-A"]  # ids 1..3, 0 is padding


def _metric(metric_class, *args):
    """A function of (y_true, y_pred) giving the metric of that batch alone (one metric
    object, made outside any tf.function, reset at each call)."""
    metric = metric_class(*args)

    def result(y_true, y_pred):
        metric.reset_state()
        metric.update_state(y_true, y_pred)
        return metric.result()

    return result


def _loss(y_true, y_pred):
    return MaskedSequenceLoss()(y_true, y_pred)


# (name, function of (y_true, y_pred), good y_true, y_pred, bad y_true values, message)
CASES = [
    ("loss", _loss, [[1, 2, 0]], LOGITS, [[[1, 2, -1]], [[1, 4, 2]]], "`y_true` must hold"),
    ("accuracy", _metric(MaskedAccuracy), [[1, 2, 0]], LOGITS, [[[1, -1, 2]]], "`y_true` must"),
    ("perplexity", _metric(Perplexity), [[1, 2, 0]], LOGITS, [[[4, 1, 2]]], "`y_true` must"),
    (
        "class_f1",
        _metric(ClassF1Score, 3),
        [0, 1, 2],
        [0, 1, 1],
        [[0, 1, 5], [-1, 0, 0]],
        r"`y_true` must hold class ids in \[0, 3\)",
    ),
    (
        "span_f1",
        _metric(SpanF1, TAGS),
        [[1, 2, 0]],
        [[1, 2, 2]],
        [[[1, 9, 0]]],
        r"`y_true` must hold tag ids in \[0, 4\)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_ids_raise_eagerly_and_compiled_and_give_nan_under_xla(case):
    _, function, good, y_pred, bad_values, message = case
    y_pred = tf.constant(y_pred)
    good = tf.constant(good)
    compiled = tf.function(function)
    under_xla = tf.function(function, jit_compile=True)
    expected = float(function(good, y_pred))
    assert np.isfinite(expected)
    assert float(under_xla(good, y_pred)) == pytest.approx(expected, abs=1e-5)
    for bad in bad_values:
        bad = tf.constant(bad)
        for run in (function, compiled):
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                run(bad, y_pred)
        # XLA drops the Assert: the answer is NaN, never a believable number
        assert np.isnan(float(under_xla(bad, y_pred)))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_int64_ids_are_checked_before_the_int32_cast(case):
    # 2**32 + id wrapped to id in the int32 cast and was read as a valid id
    _, function, good, y_pred, _, message = case
    good = np.array(good, "int64")
    wrapped = good.copy()
    wrapped.flat[1] += 2**32
    assert np.isfinite(float(function(tf.constant(good), tf.constant(y_pred))))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        function(tf.constant(wrapped), tf.constant(y_pred))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_float_ids_must_be_whole_numbers(case):
    _, function, good, y_pred, _, message = case
    whole = np.array(good, "float32")
    y_pred = tf.constant(y_pred)
    expected = float(function(tf.constant(good), y_pred))
    assert float(function(tf.constant(whole), y_pred)) == pytest.approx(expected, abs=1e-6)
    fractional = whole.copy()
    fractional.flat[1] += 0.7  # was truncated to the id below
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        function(tf.constant(fractional), y_pred)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_ragged_ids_are_refused_with_a_named_error(case):
    _, function, good, y_pred, _, _ = case
    ragged = tf.RaggedTensor.from_tensor(tf.constant(good)) if np.ndim(good) == 2 else None
    if ragged is None:
        ragged = tf.RaggedTensor.from_row_lengths(good, [len(good)])
    with pytest.raises(TypeError, match="`y_true` must be a dense tensor, got a RaggedTensor"):
        function(ragged, tf.constant(y_pred))


def test_the_bool_or_string_ids_are_refused_by_dtype():
    with pytest.raises(TypeError, match="`y_true` must hold integer ids, got dtype string"):
        _loss(tf.constant([["a", "b", "c"]]), tf.constant(LOGITS))


def test_fit_under_xla_with_a_bad_target_gives_nan_not_believable_numbers():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(5, 4)])
    model.compile(
        "sgd",
        MaskedSequenceLoss(),
        metrics=[MaskedAccuracy(), Perplexity()],
        jit_compile=True,
    )
    x = np.array([[1, 2, 3]] * 2, "int32")
    good = model.evaluate(x, np.array([[1, 2, 3]] * 2), verbose=0, return_dict=True)
    assert all(np.isfinite(value) for value in good.values()), good
    bad = model.evaluate(x, np.array([[1, 2, 3], [1, -1, 3]]), verbose=0, return_dict=True)
    assert all(np.isnan(value) for value in bad.values()), bad
