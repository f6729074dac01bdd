"""Round-4 probes: XLA training of the general loop and the Bahdanau decoder, integer inputs,
masks given as lists, distinct initial peepholes and bias blocks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiHeadCrossAttention,
)
from keras_seq.cells import CoupledLSTMCell, LSTMCell, PeepholeLSTMCell
from keras_seq.cells.recurrent_cell import distinct_initializers
from keras_seq.layers import (
    GRU,
    LSTM,
    AttentionDecoder,
    Bidirectional,
    PeepholeLSTM,
    Recurrent,
    SequencePooling,
    SimpleRNN,
    StackedRNN,
)
from tests.test_case import assert_allclose

MASK = [[True, True, True, False, False], [False, True, True, True, True]]


def xla_and_eager_gradients(layer, inputs, call):
    """Gradients of a loss of ``call(layer, inputs)`` w.r.t. the layer's weights, eagerly and
    in a `tf.function(jit_compile=True)` (what `fit` runs on a GPU by default)."""

    def gradients(*inputs):
        with tf.GradientTape() as tape:
            output = call(layer, *inputs)
            loss = tf.reduce_sum(tf.sin(output))
        return tape.gradient(loss, layer.trainable_weights)

    eager = gradients(*inputs)
    xla = tf.function(gradients, jit_compile=True)(*inputs)
    return eager, xla


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3, activation="relu"),  # not fused: the general loop
        lambda: Recurrent(keras.layers.GRUCell(3)),
        lambda: StackedRNN(GRU(3, recurrent_activation="hard_sigmoid"), return_sequences=False),
    ],
)
def test_general_loop_without_sequences_has_gradients_under_xla(make):
    """Before, the unwritten outputs array went through the loop: XLA failed on its gradient
    ("TensorList input for ZerosLike op is an uninitialized list")."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 5, 4)).astype("float32"))
    mask = tf.constant(MASK)
    layer = make()
    layer(x)
    eager, xla = xla_and_eager_gradients(layer, (x, mask), lambda lr, x, m: lr(x, mask=m))
    for a, b in zip(eager, xla, strict=True):
        assert_allclose(b, a, atol=1e-5)


@pytest.mark.parametrize("attention", ["dot", "general", "additive", "multi_head"])
def test_bahdanau_decoder_has_gradients_under_xla(attention):
    """Before, the Bahdanau loop had no iteration bound and the general and additive scores
    a tensordot: XLA could build neither gradient inside the loop."""
    make = {
        "dot": lambda: DotAttention(scaled=True),
        "general": GeneralAttention,
        "additive": lambda: AdditiveAttention(units=3, normalize=True),
        "multi_head": lambda: MultiHeadCrossAttention(2, 2),
    }[attention]
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 3, 4)).astype("float32"))
    memory = tf.constant(rng.normal(size=(2, 5, 4)).astype("float32"))
    memory_mask = tf.constant(MASK)
    decoder = AttentionDecoder(LSTM(4), make(), attention_style="bahdanau")
    decoder(x, memory, memory_mask=memory_mask)
    eager, xla = xla_and_eager_gradients(
        decoder, (x, memory, memory_mask), lambda d, x, m, mm: d(x, m, memory_mask=mm)[0]
    )
    for a, b in zip(eager, xla, strict=True):
        assert_allclose(b, a, atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3),  # fused
        lambda: SimpleRNN(3, return_sequences=True, go_backwards=True),
        lambda: Bidirectional(PeepholeLSTM(2)),
    ],
)
def test_integer_inputs_are_cast_like_keras(make):
    """An int32 sequence gives the numbers of the same values as floats (Keras' LSTM casts
    them; ours failed in the matmul)."""
    ids = np.random.default_rng(2).integers(0, 3, size=(2, 5, 4))
    layer = make()
    expected = layer(ids.astype("float32"))
    assert_allclose(layer(ids.astype("int32")), expected, atol=0)


def test_dot_attention_of_integer_inputs_is_the_float_one():
    """Integer scores reached the softmax, which has no integer kernel."""
    rng = np.random.default_rng(3)
    query, value = rng.integers(0, 3, size=(2, 3, 4)), rng.integers(0, 3, size=(2, 5, 4))
    layer = DotAttention(scaled=True)
    expected = layer(query.astype("float32"), value.astype("float32"), value_mask=MASK)
    assert_allclose(layer(query, value, value_mask=MASK), expected, atol=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3, return_sequences=True, go_backwards=True),
        lambda: Bidirectional(GRU(2, return_sequences=True)),
        lambda: StackedRNN(LSTM(2), num_layers=2),
        lambda: SequencePooling("last", bidirectional=True),
        lambda: SequencePooling("mean"),
    ],
)
def test_mask_given_as_a_list_equals_the_tensor(make):
    """A nested list mask gave AttributeError: 'list' object has no attribute 'shape'."""
    x = np.random.default_rng(4).normal(size=(2, 5, 4)).astype("float32")
    layer = make()
    expected = layer(x, mask=np.array(MASK))
    assert_allclose(layer(x, mask=MASK), expected, atol=0)
    assert_allclose(layer(x, mask=[[int(m) for m in row] for row in MASK]), expected, atol=0)


def test_luong_decoder_takes_a_list_target_mask():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    memory = rng.normal(size=(2, 3, 4)).astype("float32")
    decoder = AttentionDecoder(LSTM(4), DotAttention())
    expected = decoder(x, memory, mask=np.array(MASK))
    for got, want in zip(decoder(x, memory, mask=MASK), expected, strict=True):
        assert_allclose(got, want, atol=0)


def test_peepholes_start_different():
    """The one unseeded `glorot_uniform` initializer gave the three peepholes equal values."""
    keras.utils.set_random_seed(7)
    cell = PeepholeLSTMCell(6)
    cell.build((None, 3))
    peepholes = (cell.input_gate_peephole, cell.forget_gate_peephole, cell.output_gate_peephole)
    p_i, p_f, p_o = (w.numpy() for w in peepholes)
    assert not np.allclose(p_i, p_f) and not np.allclose(p_f, p_o) and not np.allclose(p_i, p_o)
    limit = np.sqrt(6 / 12)  # glorot_uniform of shape (6,): fan_in = fan_out = 6
    assert np.abs(np.stack([p_i, p_f, p_o])).max() <= limit
    # Reproducible: the same global seed gives the same peepholes.
    keras.utils.set_random_seed(7)
    again = PeepholeLSTMCell(6)
    again.build((None, 3))
    assert_allclose(again.output_gate_peephole, p_o, atol=0)


@pytest.mark.parametrize("cell_class", [LSTMCell, CoupledLSTMCell])
@pytest.mark.parametrize("seeded", [False, True])
def test_random_bias_blocks_differ_with_unit_forget_bias(cell_class, seeded):
    """With ``unit_forget_bias`` the non-forget blocks were all drawn by one initializer with
    one seed, so they were equal; the forget block is still ones."""
    initializer = keras.initializers.RandomNormal(stddev=1.0, seed=3 if seeded else None)
    cell = cell_class(4, bias_initializer=initializer)
    cell.build((None, 2))
    blocks = cell.bias.numpy().reshape(cell.gate_count, 4)
    np.testing.assert_array_equal(blocks[cell.forget_block], 1.0)
    others = np.delete(blocks, cell.forget_block, axis=0)
    for i in range(len(others)):
        for j in range(i):
            assert not np.allclose(others[i], others[j])
    if seeded:  # block b is drawn with seed 3 + b: reproducible
        for b in range(cell.gate_count):
            if b != cell.forget_block:
                expected = keras.initializers.RandomNormal(stddev=1.0, seed=3 + b)((4,))
                assert_allclose(blocks[b], expected, atol=0)


def test_distinct_initializers_keep_what_already_differs():
    generator_seeded = keras.initializers.RandomNormal(seed=keras.random.SeedGenerator(1))
    assert distinct_initializers(generator_seeded, 3) == [generator_seeded] * 3
    ones = keras.initializers.Ones()
    assert distinct_initializers(ones, 2) == [ones, ones]
    seeded = distinct_initializers(keras.initializers.GlorotUniform(seed=5), 3)
    assert [i.get_config()["seed"] for i in seeded] == [5, 6, 7]


def test_decoder_refuses_a_backwards_or_cell_less_template():
    """A ``go_backwards`` template made the teacher-forced Luong path read the targets
    backwards while ``step`` read them forwards (outputs 0.64 apart); a `Bidirectional`
    template failed with AttributeError: no attribute 'units'."""
    with pytest.raises(ValueError, match="go_backwards=False"):
        AttentionDecoder(LSTM(4, go_backwards=True), DotAttention())
    with pytest.raises(ValueError, match="with a `cell` and `units`.*Bidirectional"):
        AttentionDecoder(Bidirectional(LSTM(4)), DotAttention())
    with pytest.raises(ValueError, match="with a `cell` and `units`.*StackedRNN"):
        AttentionDecoder(StackedRNN(LSTM(4)), DotAttention())


class MinimalRNNCell(keras.layers.Layer):
    """The cell of Keras' RNN guide: a ``state_size`` but no ``output_size``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent")

    def call(self, inputs, states):
        output = keras.ops.matmul(inputs, self.kernel)
        output = output + keras.ops.matmul(states[0], self.recurrent_kernel)
        return output, [output]


@pytest.mark.parametrize("return_sequences", [False, True])
def test_cell_without_output_size_runs_like_keras_rnn(return_sequences):
    """Its output size is its state size, as in `keras.layers.RNN`; before, AttributeError:
    'MinimalRNNCell' object has no attribute 'output_size'."""
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    cell = MinimalRNNCell(4)
    ours = Recurrent(cell, return_sequences=return_sequences, return_state=True)
    keras_rnn = keras.layers.RNN(cell, return_sequences=return_sequences, return_state=True)
    got, expected = ours(x, mask=MASK), keras_rnn(x, mask=np.array(MASK))
    for a, b in zip(got, expected, strict=True):
        assert_allclose(a, b, atol=1e-6)
    time = (5,) if return_sequences else ()
    assert ours.compute_output_shape((2, 5, 3))[0] == (2, *time, 4)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_refuses_a_backwards_template(bidirectional):
    """Its levels returned their sequences in reverse order while the mask (and the next
    level, the residuals) were in time order: a padded row [x0, x1, x2, pad, pad] gave zeros
    at valid steps 0 and 1 where the unpadded [x0, x1, x2] did not."""
    with pytest.raises(ValueError, match="go_backwards=False"):
        StackedRNN(LSTM(3, go_backwards=True), bidirectional=bidirectional)
