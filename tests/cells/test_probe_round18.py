"""Round 18 probes of the cells: numbers against float64 NumPy references (no defect found).

Each cell runs inside `keras.layers.RNN` (forwards and ``go_backwards``) and
`keras.layers.Bidirectional` on right- and left-padded masked batches, with ``return_state``;
outputs and final states are compared to `tests.references` stepped in float64, where masked
steps keep the states.
"""

import keras
import numpy as np
import pytest

from tests import references
from tests.cells.cell_table import cells_and_steps

B, T, D, U = 3, 5, 4, 3
MASK = np.array(
    [[True, True, True, False, False], [False, False, True, True, True], [True] * 5]
)  # right-padded, left-padded, full

CELLS = cells_and_steps(U)


def randomized(cell, rng):
    for variable in cell.weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    return {v.path.split("/")[-1]: v.numpy().astype("float64") for v in cell.weights}


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_keras_rnn_with_states_matches_numpy(name, go_backwards):
    rng = np.random.default_rng(18)
    make, step = CELLS[name]
    cell = make()
    layer = keras.layers.RNN(cell, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(B, T, D)).astype("float32")
    initial = [rng.normal(size=(B, s)).astype("float32") for s in cell.state_size]
    layer(x, initial_state=initial)
    weights = randomized(cell, rng)
    output, *states = layer(x, initial_state=initial, mask=MASK)
    _, last, ref_states = references.run_sequence(
        lambda xt, s: step(xt, s, weights), x, initial, MASK, go_backwards=go_backwards
    )
    np.testing.assert_allclose(np.asarray(output), last, atol=1e-5)
    for got, want in zip(states, ref_states, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "peephole_lstm", "gru_reset_before"])
def test_cell_in_keras_bidirectional_with_mask_matches_numpy(name):
    rng = np.random.default_rng(7)
    make, step = CELLS[name]
    layer = keras.layers.Bidirectional(
        keras.layers.RNN(make(), return_sequences=True, return_state=True), merge_mode="sum"
    )
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer(x)
    forward = randomized(layer.forward_layer.cell, rng)
    backward = randomized(layer.backward_layer.cell, rng)
    output, *states = layer(x, mask=MASK)
    zeros = [np.zeros((B, s)) for s in layer.forward_layer.cell.state_size]
    f_out, _, f_states = references.run_sequence(lambda xt, s: step(xt, s, forward), x, zeros, MASK)
    b_out, _, b_states = references.run_sequence(
        lambda xt, s: step(xt, s, backward), x, zeros, MASK, go_backwards=True
    )
    expected = np.where(MASK[:, :, None], f_out + b_out[:, ::-1], 0.0)
    np.testing.assert_allclose(np.asarray(output), expected, atol=1e-5)
    for got, want in zip(states, f_states + b_states, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
