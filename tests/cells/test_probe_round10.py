"""Fixes from the tenth audit of the cells: a cell called on one step checks the shapes of
its input and states (their docstring examples: tests/test_docstring_examples.py)."""

import numpy as np
import pytest

import keras_seq

_CELLS = [keras_seq.cells.LSTMCell, keras_seq.cells.GRUCell, keras_seq.cells.SimpleRNNCell]


def _built(cell_class):
    cell = cell_class(3)
    states = [np.zeros((2, 3), "float32")] * len(cell.state_size)
    cell(np.ones((2, 4), "float32"), states)
    return cell, states


@pytest.mark.parametrize("cell_class", _CELLS, ids=lambda c: c.__name__)
def test_a_sequence_given_for_one_step_is_refused(cell_class):
    # [B, T, D] with T == B: the projection broadcast against the [B, u] states and the cell
    # returned [B, T, u] "states".
    cell, states = _built(cell_class)
    with pytest.raises(ValueError, match=r"`inputs` must have shape \[batch, 4\] \(one step\)"):
        cell(np.ones((2, 2, 4), "float32"), states)
    # Another feature size failed inside the matmul.
    with pytest.raises(ValueError, match=r"got \(2, 5\)"):
        cell(np.ones((2, 5), "float32"), states)


@pytest.mark.parametrize("cell_class", _CELLS, ids=lambda c: c.__name__)
def test_a_state_of_another_batch_or_size_is_refused(cell_class):
    # A state of batch 1 was broadcast: every row started from row 0's state.
    cell, states = _built(cell_class)
    expected = cell(np.ones((2, 4), "float32"), states)[0]
    count = len(states)
    with pytest.raises(ValueError, match=r"`states\[0\]` must have shape \(2, 3\), got \(1, 3\)"):
        cell(np.ones((2, 4), "float32"), [np.zeros((1, 3), "float32")] * count)
    with pytest.raises(ValueError, match=r"`states\[0\]` must have shape \(2, 3\), got \(2, 2\)"):
        cell(np.ones((2, 4), "float32"), [np.zeros((2, 2), "float32")] * count)
    np.testing.assert_allclose(cell(np.ones((2, 4), "float32"), states)[0], expected)
