"""Round-12 audit of the flags of the cells, layers and attention: an on/off argument that is
not a bool is refused, naming it. Before, a str read as true whatever it said
(``use_bias="false"`` built a bias, ``return_sequences="no"`` returned sequences) and the
config kept the str, so a saved model carried the mistake."""

import keras
import numpy as np
import pytest

import keras_seq
from keras_seq.attention import AdditiveAttention, DotAttention, MultiHeadCrossAttention

FLAGS = [
    (lambda value: keras_seq.LSTMCell(2, use_bias=value), "use_bias"),
    (lambda value: keras_seq.LSTMCell(2, unit_forget_bias=value), "unit_forget_bias"),
    (lambda value: keras_seq.GRUCell(2, reset_after=value), "reset_after"),
    (lambda value: keras_seq.LSTM(2, return_sequences=value), "return_sequences"),
    (lambda value: keras_seq.GRU(2, return_state=value), "return_state"),
    (lambda value: keras_seq.SimpleRNN(2, go_backwards=value), "go_backwards"),
    (lambda value: keras_seq.LSTM(2, stateful=value), "stateful"),
    (lambda value: keras_seq.LSTM(2, unroll=value), "unroll"),
    (lambda value: keras_seq.LSTM(2, zero_output_for_mask=value), "zero_output_for_mask"),
    (
        lambda value: keras_seq.StackedRNN(keras_seq.LSTM(2), num_layers=2, bidirectional=value),
        "bidirectional",
    ),
    (
        lambda value: keras_seq.StackedRNN(keras_seq.LSTM(2), num_layers=2, residual=value),
        "residual",
    ),
    (lambda value: keras_seq.SequencePooling("mean", bidirectional=value), "bidirectional"),
    (
        lambda value: keras_seq.AttentionDecoder(keras_seq.LSTM(4), DotAttention(), residual=value),
        "residual",
    ),
    (lambda value: keras_seq.Bridge("copy", [[2, 2]], bidirectional=value), "bidirectional"),
    (lambda value: DotAttention(scaled=value), "scaled"),
    (lambda value: AdditiveAttention(use_scale=value), "use_scale"),
    (lambda value: AdditiveAttention(normalize=value), "normalize"),
    (lambda value: MultiHeadCrossAttention(2, 4, use_bias=value), "use_bias"),
]


@pytest.mark.parametrize("make, name", FLAGS)
@pytest.mark.parametrize("value", ["false", None, 1])
def test_a_flag_that_is_not_a_bool_is_refused(make, name, value):
    with pytest.raises(TypeError, match=f"^`{name}` must be a bool, got {value!r}"):
        make(value)


def test_a_str_flag_no_longer_builds_what_it_denies():
    # Before: LSTMCell(2, use_bias="false") had a bias; now refused, and a NumPy bool is read
    # as the bool it is (a config read back from NumPy arrays).
    with pytest.raises(TypeError, match="`use_bias` must be a bool"):
        keras_seq.LSTMCell(2, use_bias="false")
    cell = keras_seq.LSTMCell(2, use_bias=np.bool_(False))
    assert cell.use_bias is False
    keras.layers.RNN(cell)(np.zeros((1, 3, 4), "float32"))
    assert [weight.name for weight in cell.weights] == ["kernel", "recurrent_kernel"]
    assert cell.get_config()["use_bias"] is False
