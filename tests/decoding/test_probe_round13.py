"""Fixes from the thirteenth audit of the decoding code: `ArgmaxSelector` passes over a NaN
logit as documented, but left the choice to the arg-max kernel, and XLA's answered another
token than the eager one ([1, NaN, 0.5] gave id 2 under XLA, 0 eagerly)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import ArgmaxSelector

NAN, INF = np.nan, np.inf
LOGITS = np.array(
    [
        [1.0, NAN, 0.5],  # NaN beside a finite best: the best
        [NAN, 1.0, 0.5],  # NaN first
        [0.0, 1.0, NAN],  # NaN last
        [NAN, -INF, 2.0],  # NaN beside a mask
        [NAN, INF, 0.0],  # +inf is the best token
    ],
    "float32",
)
EXPECTED = [0, 1, 1, 2, 1]


def _run(how):
    selector = ArgmaxSelector()
    if how == "eager":
        return selector
    return tf.function(selector.__call__, jit_compile=how == "xla")


@pytest.mark.parametrize("how", ["eager", "tf.function", "xla"])
def test_nan_logits_are_passed_over_the_same_way_everywhere(how):
    ids = _run(how)(tf.constant(LOGITS)).numpy()
    np.testing.assert_array_equal(ids, EXPECTED)


@pytest.mark.parametrize("how", ["eager", "tf.function"])
@pytest.mark.parametrize("row", [[NAN, NAN, NAN], [NAN, -INF, -INF], [-INF, NAN, NAN]])
def test_a_row_of_only_nan_and_minus_inf_is_refused(how, row):
    logits = tf.constant([[0.0, 2.0, 1.0], row], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="no finite best value"):
        _run(how)(logits)
