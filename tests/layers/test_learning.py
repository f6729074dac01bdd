"""Each layer learns a real sequence task through plain `model.fit`.

Task ("recall the first digit"): read 8 random digits and output the first one. Nothing but
the recurrence carries it to the end, so chance accuracy is 10%; the models must reach 95% on
held-out sequences. A bidirectional tagger must also output, at every step, the next digit
(y_t = x_{t+1}, 0 at the end), which only the backward direction can see.
"""

import keras
import numpy as np
import pytest

from keras_seq import layers

T, DIGITS = 8, 10


def recall_data(count, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, DIGITS, size=(count, T))
    return x, x[:, 0]


def fit_and_score(recurrent, x, y, x_test, y_test, epochs, sequence_output=False):
    # ``recurrent`` was made before this call, and Keras draws an initializer's seed when the
    # layer is made: its initial weights follow conftest's seed, the rest of the model this one.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T,), dtype="int32")
    hidden = keras.layers.Embedding(DIGITS, 16)(inputs)
    hidden = recurrent(hidden)
    outputs = keras.layers.Dense(DIGITS, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    return model.evaluate(x_test, y_test, verbose=0)[1]


LAYERS = {
    "simple_rnn": lambda: layers.SimpleRNN(32),
    "lstm": lambda: layers.LSTM(32),
    "peephole_lstm": lambda: layers.PeepholeLSTM(32),
    "coupled_lstm": lambda: layers.CoupledLSTM(32),
    "gru": lambda: layers.GRU(32),
    "gru_reset_before": lambda: layers.GRU(32, reset_after=False),
    "stacked_bidirectional": lambda: layers.StackedRNN(
        layers.GRU(16), num_layers=2, bidirectional=True, return_sequences=False
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_learns_to_recall_the_first_digit(name):
    x, y = recall_data(2048, seed=1)
    x_test, y_test = recall_data(512, seed=2)
    # After 10 epochs the peephole LSTM is still learning and where it stands moves with float
    # rounding (seen: 0.88 to 1.0 over runs, with the fused and with the general loop); after
    # 15 epochs every run seen was at 1.0.
    epochs = 15 if name == "peephole_lstm" else 10
    accuracy = fit_and_score(LAYERS[name](), x, y, x_test, y_test, epochs=epochs)
    assert accuracy >= 0.95, f"{name}: held-out accuracy {accuracy:.3f} < 0.95"


def next_digit(x):
    return np.pad(x[:, 1:], ((0, 0), (0, 1)))


def test_bidirectional_learns_to_look_ahead():
    x, _ = recall_data(2048, seed=3)
    x_test, _ = recall_data(512, seed=4)
    layer = layers.Bidirectional(layers.LSTM(32, return_sequences=True))
    accuracy = fit_and_score(layer, x, next_digit(x), x_test, next_digit(x_test), epochs=6)
    assert accuracy >= 0.95, f"held-out per-token accuracy {accuracy:.3f} < 0.95"
