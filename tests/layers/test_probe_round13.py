"""Round-13 audit of the layers: bad arguments named where they failed elsewhere.

- `Bidirectional` and `StackedRNN` given one tensor as `initial_state` split it into its rows
  (`list()` / `len()` of a tensor), so the count check passed when the batch size happened to
  equal the number of states or levels, and a direction failed on a `[units]` shape the
  caller never gave.
- `StackedRNN(Bidirectional(...))` failed with "Unrecognized keyword arguments passed to
  Bidirectional" (each level's copy overrides `return_sequences` / `return_state`).
- `AttentionDecoder.step` in the Bahdanau form, given a sequence `[B, T, E]` or inputs of
  another batch than its states, failed as a bare `ConcatOp` `InvalidArgumentError`.
"""

import numpy as np
import pytest

from keras_seq.attention import GeneralAttention
from keras_seq.layers import GRU, LSTM, AttentionDecoder, Bidirectional, StackedRNN

SEQUENCES = np.ones((2, 5, 3), "float32")


def test_bidirectional_refuses_one_tensor_as_initial_state():
    # Two rows, and a bidirectional GRU has two states: `list()` of the tensor passed the count.
    layer = Bidirectional(GRU(4))
    with pytest.raises(ValueError, match=r"`initial_state` must be a list of the forward"):
        layer(SEQUENCES, initial_state=np.zeros((2, 4), "float32"))


def test_bidirectional_still_takes_a_list_or_a_tuple_of_states():
    layer = Bidirectional(GRU(4, return_state=True))
    states = (np.full((2, 4), 0.5, "float32"), np.full((2, 4), -0.5, "float32"))
    from_tuple = layer(SEQUENCES, initial_state=states)
    from_list = layer(SEQUENCES, initial_state=list(states))
    for a, b in zip(from_tuple, from_list, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stack_refuses_one_tensor_as_initial_state():
    # Two rows and two levels: `len()` of the tensor passed the count.
    stack = StackedRNN(GRU(4), num_layers=2)
    with pytest.raises(ValueError, match=r"`initial_state` must be a list with one entry per"):
        stack(SEQUENCES, initial_state=np.zeros((2, 4), "float32"))


def test_stack_names_a_bidirectional_template():
    with pytest.raises(ValueError, match=r"not a `Bidirectional`: pass `bidirectional=True`"):
        StackedRNN(Bidirectional(LSTM(4)), num_layers=2)


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_decoder_step_names_inputs_that_are_not_one_step_of_the_states_batch(style):
    decoder = AttentionDecoder(LSTM(4), GeneralAttention(), attention_style=style)
    targets = np.ones((2, 3, 4), "float32")
    memory = np.ones((2, 6, 4), "float32")
    decoder(targets, memory)
    states = decoder.get_initial_state(2)
    with pytest.raises(ValueError, match=r"`step` takes one embedded token per row"):
        decoder.step(targets, states, memory)
    with pytest.raises(ValueError, match=r"`inputs` of `step` has batch size 1 .* 2 row\(s\)"):
        decoder.step(targets[:1, 0], states, memory)
    # One step of the right batch still runs, and equals the first step of `call`.
    output, _, weights = decoder.step(targets[:, 0], states, memory)
    outputs, all_weights = decoder(targets, memory)
    np.testing.assert_allclose(output, outputs[:, 0], atol=1e-6)
    np.testing.assert_allclose(weights, all_weights[:, 0], atol=1e-6)
