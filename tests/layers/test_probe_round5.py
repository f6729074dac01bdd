"""Layer probe, round 5: Bidirectional refuses a layer that already runs backwards."""

import pytest

from keras_seq.layers import LSTM, Bidirectional, SimpleRNN


def test_bidirectional_refuses_a_layer_running_backwards():
    # Both directions' outputs would come out in reversed time order, silently.
    with pytest.raises(ValueError, match="go_backwards=False"):
        Bidirectional(LSTM(4, return_sequences=True, go_backwards=True))
    with pytest.raises(ValueError, match="go_backwards=False"):
        Bidirectional(
            SimpleRNN(4, go_backwards=True, return_sequences=True),
            backward_layer=SimpleRNN(4, return_sequences=True),
        )
