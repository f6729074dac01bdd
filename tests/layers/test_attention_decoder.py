import keras
import numpy as np
import pytest

from keras_seq.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiHeadCrossAttention,
)
from keras_seq.layers import GRU, LSTM, AttentionDecoder
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, run_model_saving_test

B, T, S, E, U = 2, 4, 5, 3, 6
ATTENTIONS = {
    "dot": lambda: DotAttention(),
    "general": lambda: GeneralAttention(),
    "additive": lambda: AdditiveAttention(units=4),
    "multi_head": lambda: MultiHeadCrossAttention(2, 3),
}


def data(rng):
    x = rng.normal(size=(B, T, E)).astype("float32")
    memory = rng.normal(size=(B, S, U)).astype("float32")
    memory_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    return x, memory, memory_mask


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
@pytest.mark.parametrize("attention", sorted(ATTENTIONS))
def test_teacher_forced_path_equals_step_by_step(attention, style):
    """The whole-sequence path (training) and the single-step path (decoding) agree."""
    rng = np.random.default_rng(0)
    x, memory, memory_mask = data(rng)
    layer = LSTM(U) if attention != "multi_head" else GRU(U)
    decoder = AttentionDecoder(
        layer, ATTENTIONS[attention](), num_layers=2, attention_style=style, residual=True
    )
    decoder(x, memory, memory_mask=memory_mask)
    randomize(decoder, rng)
    initial = [[rng.normal(size=(B, s)).astype("float32") for s in lv] for lv in decoder.state_size]
    outputs, weights = decoder(x, memory, memory_mask=memory_mask, initial_state=initial)
    states, step_outputs, step_weights = initial, [], []
    for t in range(T):
        out, states, w = decoder.step(x[:, t], states, memory, memory_mask)
        step_outputs.append(out)
        step_weights.append(w)
    assert_allclose(outputs, np.stack(step_outputs, 1), atol=1e-5)
    assert_allclose(weights, np.stack(step_weights, 1), atol=1e-5)
    weights = weights.numpy()
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)  # masked source steps
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("path", ["call", "step"])
@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_residual_adds_the_input_before_dropout(style, path):
    """With level 2's weights zeroed, RNN_2 ignores its input d(y^1), so with the residual
    y^2 = RNN_2(d(y^1)) + y^1 training (dropout between levels) gives inference's numbers."""
    rng = np.random.default_rng(3)
    x, memory, memory_mask = data(rng)
    decoder = AttentionDecoder(
        GRU(U), GeneralAttention(), num_layers=2, attention_style=style, dropout=0.5, residual=True
    )
    decoder(x, memory, memory_mask=memory_mask)
    randomize(decoder, rng)
    level = decoder.rnn.levels[1]
    level.set_weights([np.zeros_like(w) for w in level.get_weights()])
    initial = [[rng.normal(size=(B, U)).astype("float32")] for _ in range(2)]

    def run(training):
        if path == "call":
            return decoder(x, memory, memory_mask, initial, training=training)[0]
        states, outputs = initial, []
        for t in range(T):
            output, states, _ = decoder.step(x[:, t], states, memory, memory_mask, training)
            outputs.append(output)
        return np.stack(outputs, 1)

    inference = run(training=False)
    assert not np.allclose(inference, 0.0)
    assert_allclose(run(training=True), inference, atol=1e-6)


def test_luong_equations_by_hand():
    """o_t = tanh(W_o [c_t ; s_t]) with c_t the attention over the memory of s_t."""
    rng = np.random.default_rng(1)
    x, memory, memory_mask = data(rng)
    decoder = AttentionDecoder(LSTM(U), DotAttention())
    outputs, weights = decoder(x, memory, memory_mask=memory_mask)
    s, *_ = decoder.rnn.levels[0](x)
    s = s.numpy()
    scores = np.einsum("btd,bsd->bts", s, memory)
    scores = np.where(memory_mask[:, None, :], scores, -np.inf)
    a = np.exp(scores - scores.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    context = np.einsum("bts,bsd->btd", a, memory)
    (w_o,) = decoder.output_projection.get_weights()
    assert_allclose(weights, a, atol=1e-5)
    assert_allclose(outputs, np.tanh(np.concatenate([context, s], -1) @ w_o), atol=1e-5)


def test_saves_inside_a_model_and_rejects_bad_arguments():
    x_in, m_in = keras.Input((None, E)), keras.Input((None, U))
    outputs, _ = AttentionDecoder(GRU(U), AdditiveAttention(), attention_style="bahdanau")(
        x_in, m_in
    )
    model = keras.Model([x_in, m_in], outputs)
    rng = np.random.default_rng(2)
    x, memory, _ = data(rng)
    run_model_saving_test(model, [x, memory])
    with pytest.raises(ValueError, match="attention_style"):
        AttentionDecoder(GRU(U), DotAttention(), attention_style="transformer")


def test_bahdanau_trains_with_keras_cells_that_use_dropout():
    # The per-sequence masks of a Keras cell are drawn from the sizes the loop feeds it:
    # level 0 reads [input, context] (E + U), level 1 the output of level 0 (U).
    from keras_seq.layers import Recurrent

    x, memory, memory_mask = data(np.random.default_rng(0))
    template = Recurrent(keras.layers.LSTMCell(U, dropout=0.5, recurrent_dropout=0.5, seed=3))
    decoder = AttentionDecoder(
        template, GeneralAttention(), num_layers=2, attention_style="bahdanau"
    )
    inference, _ = decoder(x, memory, memory_mask=memory_mask)
    trained, weights = decoder(x, memory, memory_mask=memory_mask, training=True)
    assert trained.shape == inference.shape == (B, T, U) and np.isfinite(trained).all()
    assert np.abs(np.asarray(trained) - np.asarray(inference)).max() > 1e-3  # dropout acted
    assert_allclose(np.asarray(weights).sum(-1), np.ones((B, T)), atol=1e-5)
    # The masks are reset after the sequence: inference afterwards is unchanged.
    again, _ = decoder(x, memory, memory_mask=memory_mask)
    assert_allclose(again, inference, atol=0)
    for level in decoder.rnn.levels:
        assert level.cell._dropout_mask is None and level.cell._recurrent_dropout_mask is None


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_zero_time_steps_is_a_clear_error(style):
    x, memory, _ = data(np.random.default_rng(0))
    decoder = AttentionDecoder(LSTM(U), DotAttention(), attention_style=style)
    with pytest.raises(ValueError, match="has zero time steps"):
        decoder(x[:, :0], memory)


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_padded_targets_give_the_unpadded_outputs_at_valid_steps(style):
    """A masked target step leaves the states alone. The Bahdanau loop ignored the mask, so
    a left-padded target ran its valid steps from states the padding had moved."""
    rng = np.random.default_rng(1)
    _, memory, memory_mask = data(rng)
    decoder = AttentionDecoder(LSTM(U), GeneralAttention(), num_layers=2, attention_style=style)
    valid = rng.normal(size=(B, 3, E)).astype("float32")
    decoder(valid, memory, memory_mask=memory_mask)
    randomize(decoder, rng)
    expected, expected_weights = decoder(valid, memory, memory_mask=memory_mask)
    pad = rng.normal(size=(B, 2, E)).astype("float32")  # padding holds garbage, not zeros
    for side in ("left", "right"):
        padded = np.concatenate([pad, valid] if side == "left" else [valid, pad], axis=1)
        mask = np.zeros((B, 5), bool)
        mask[:, slice(2, 5) if side == "left" else slice(0, 3)] = True
        outputs, weights = decoder(padded, memory, memory_mask=memory_mask, mask=mask)
        kept = slice(2, 5) if side == "left" else slice(0, 3)
        assert_allclose(outputs[:, kept], expected, atol=1e-5)
        assert_allclose(weights[:, kept], expected_weights, atol=1e-5)
