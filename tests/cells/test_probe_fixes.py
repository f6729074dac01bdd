"""Regression tests of defects found by probing the cells (each failed before its fix)."""

import numpy as np
import pytest

from keras_seq.cells import GRUCell, LSTMCell
from keras_seq.layers import LSTM


def test_units_may_be_a_numpy_integer():
    """A NumPy integer (e.g. from a hyper-parameter grid) was refused as "not a positive
    integer"; it is stored as a Python int, so the config stays JSON-serializable."""
    cell = GRUCell(np.int64(3))
    assert cell.units == 3 and type(cell.units) is int
    assert cell.state_size == [3]
    layer = LSTM(np.int32(4))
    assert tuple(layer(np.ones((2, 3, 5), "float32")).shape) == (2, 4)
    assert type(layer.get_config()["units"]) is int


@pytest.mark.parametrize("units", [True, 0, -2, 2.0, "4", None])
def test_units_that_are_not_positive_integers_are_refused(units):
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        LSTMCell(units)
