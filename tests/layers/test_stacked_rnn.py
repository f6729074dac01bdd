import keras
import numpy as np
import pytest

from keras_seq.layers import GRU, LSTM, Bidirectional, StackedRNN
from tests.layers.helpers import padding_mask, randomize
from tests.test_case import assert_allclose

B, T, D, U = 3, 5, 4, 3


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_equals_manual_chain_of_levels(bidirectional, residual):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = padding_mask([5, 3, 2], T, "right")
    stack = StackedRNN(
        LSTM(U), num_layers=3, bidirectional=bidirectional, residual=residual, return_state=True
    )
    stack(x)
    randomize(stack, rng)
    output, states = stack(x, mask=mask)

    hidden, expected_states = x, []
    for index in range(3):
        template = LSTM(U, return_sequences=True, return_state=True)
        level = Bidirectional(template) if bidirectional else template
        level(hidden)
        level.set_weights(stack.levels[index].get_weights())
        level_output, *level_states = level(hidden, mask=mask)
        if residual and index > 0:
            level_output = level_output + hidden
        hidden = level_output
        expected_states.append(level_states)
    hidden = np.where(mask[:, :, None], hidden, 0.0)
    assert_allclose(output, hidden, atol=1e-5)
    for got, want in zip(states, expected_states, strict=True):
        assert len(got) == (4 if bidirectional else 2)
        assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_last_output_is_last_valid_step(side):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = padding_mask([5, 3, 1], T, side)
    sequences = StackedRNN(GRU(U), num_layers=2, residual=True)
    last = StackedRNN(GRU(U), num_layers=2, residual=True, return_sequences=False)
    sequences(x)
    last(x)
    randomize(sequences, rng)
    last.set_weights(sequences.get_weights())
    full = sequences(x, mask=mask).numpy()
    index = [np.flatnonzero(row)[-1] for row in mask]
    assert_allclose(last(x, mask=mask), full[np.arange(B), index], atol=1e-6)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_bidirectional_final_output_is_each_directions_final_step(side, residual):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = padding_mask([5, 3, 1], T, side)
    kwargs = dict(num_layers=2, bidirectional=True, residual=residual)
    sequences = StackedRNN(LSTM(U), **kwargs)
    final = StackedRNN(LSTM(U), return_sequences=False, **kwargs)
    sequences(x)
    final(x)
    randomize(sequences, rng)
    final.set_weights(sequences.get_weights())
    full = sequences(x, mask=mask).numpy()
    first = [np.flatnonzero(row)[0] for row in mask]
    last = [np.flatnonzero(row)[-1] for row in mask]
    rows = np.arange(B)
    expected = np.concatenate([full[rows, last, :U], full[rows, first, U:]], axis=-1)
    assert_allclose(final(x, mask=mask), expected, atol=1e-5)


def test_dropout_between_levels_only_in_training():
    x = np.random.default_rng(2).normal(size=(B, T, D)).astype("float32")
    stack = StackedRNN(GRU(U), num_layers=2, dropout=0.5, seed=1)
    inference = stack(x, training=False)
    assert_allclose(stack(x, training=False), inference, atol=0)
    assert not np.allclose(stack(x, training=True), inference)
    single = StackedRNN(GRU(U), num_layers=1, dropout=0.5)
    assert_allclose(single(x, training=True), single(x, training=False), atol=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_residual_adds_the_input_before_dropout(bidirectional):
    """y^2 = RNN_2(d(y^1)) + y^1 in training: the residual skips the dropout (GNMT)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(B, T, D)).astype("float32")
    kwargs = dict(num_layers=2, bidirectional=bidirectional, residual=True, dropout=0.5)
    stack = StackedRNN(GRU(U), seed=1, **kwargs)
    stack(x)
    randomize(stack, rng)
    y1 = stack.levels[0](x)[0]
    # The same seed draws the same mask as the stack's dropout (seed + 0) on its first draw.
    dropped = keras.layers.Dropout(0.5, seed=1)(y1, training=True)
    assert np.any(dropped.numpy() == 0.0)
    expected = stack.levels[1](dropped)[0] + y1
    assert_allclose(stack(x, training=True), expected, atol=1e-6)

    # Level 2 with all-zero weights outputs 0: the output is y^1 exactly, dropout or not.
    zeroed = StackedRNN(GRU(U), seed=2, **kwargs)
    zeroed(x)
    zeroed.set_weights(stack.get_weights())
    zeroed.levels[1].set_weights([np.zeros_like(w) for w in zeroed.levels[1].get_weights()])
    assert_allclose(zeroed(x, training=True), y1, atol=0)


def test_initial_states_per_level():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, D)).astype("float32")
    stack = StackedRNN(GRU(U), num_layers=2, return_state=True)
    init = [[rng.normal(size=(B, U)).astype("float32")] for _ in range(2)]
    _, states = stack(x, initial_state=init)
    _, zero_states = stack(x)
    level0 = stack.levels[0](x, initial_state=init[0])
    assert_allclose(states[0], level0[1:], atol=1e-6)
    assert not np.allclose(states[1][0], zero_states[1][0])
    with pytest.raises(ValueError, match="one entry per level"):
        stack(x, initial_state=init[:1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 0}, "num_layers"),
        ({"bidirectional": True, "merge_mode": None}, "merge_mode"),
        ({"dropout": 1.5}, "dropout"),
        (
            {
                "bidirectional": True,
                "merge_mode": "sum",
                "residual": True,
                "return_sequences": False,
            },
            "concat",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StackedRNN(LSTM(U), **kwargs)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_seeded_levels_get_distinct_dropout_seeds(bidirectional):
    """Every level was a copy of the template's config, seed included: all levels (and both
    directions) drew the same dropout masks."""
    stack = StackedRNN(LSTM(U, dropout=0.5, seed=10), num_layers=3, bidirectional=bidirectional)
    if bidirectional:
        seeds = [
            (level.forward_layer.cell.seed, level.backward_layer.cell.seed)
            for level in stack.levels
        ]
        assert seeds == [(10, 11), (12, 13), (14, 15)]
    else:
        assert [level.cell.seed for level in stack.levels] == [10, 12, 14]
    # The seeds survive a config round trip unchanged (they are not offset again).
    clone = StackedRNN.from_config(stack.get_config())
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    stack(x)
    clone(x)
    clone.set_weights(stack.get_weights())
    assert_allclose(clone(x, training=True), stack(x, training=True), atol=1e-6)


def test_seeded_levels_draw_different_masks():
    """Levels 1 and 2 with the same weights and the same input: equal masks would give equal
    outputs in training."""
    x = np.random.default_rng(1).normal(size=(B, T, U)).astype("float32")
    stack = StackedRNN(LSTM(U, dropout=0.5, recurrent_dropout=0.5, seed=3), num_layers=2)
    stack(x)
    first, second = stack.levels
    second.set_weights(first.get_weights())
    out_first = np.asarray(first(x, training=True)[0])
    out_second = np.asarray(second(x, training=True)[0])
    assert np.abs(out_first - out_second).max() > 1e-3
