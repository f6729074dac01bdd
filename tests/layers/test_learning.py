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
    # layer is made: its initial weights follow the seed set then, the rest of the model this one.
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


def learns(make_layer, x, y, x_test, y_test, epochs, initializations=(0, 1)):
    """``(reached, accuracies)``: trains from the seeded initial weights of ``make_layer()``
    in turn until one run reaches 95% held-out accuracy.

    At Adam(0.01) training on this task is chaotic: a relative 1e-6 change of the initial
    weights, or the float rounding of another thread count or CPU, can turn a run that ends
    at 1.0 into one stuck near 0.9. Over 100 seeded initializations (seeds 100-199) the
    peephole LSTM missed 95% in 2 with its batch-major fused loop and in 2 with its
    feature-major one (docs/benchmarks.md), so one run is a coin with a few percent of
    failure for any correct layer, on any machine. Two initializations make that a fraction
    of a percent, while a layer that does not learn (a wrong gradient, a lost state) fails
    both."""
    accuracies = []
    for seed in initializations:
        keras.utils.set_random_seed(seed)
        layer = make_layer()
        accuracies.append(fit_and_score(layer, x, y, x_test, y_test, epochs=epochs))
        if accuracies[-1] >= 0.95:
            return True, accuracies
    return False, accuracies


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_learns_to_recall_the_first_digit(name):
    x, y = recall_data(2048, seed=1)
    x_test, y_test = recall_data(512, seed=2)
    # After 10 epochs the peephole LSTM is still learning; after 15 it is at 1.0 in most runs.
    epochs = 15 if name == "peephole_lstm" else 10
    reached, accuracies = learns(LAYERS[name], x, y, x_test, y_test, epochs=epochs)
    assert reached, f"{name}: held-out accuracies {accuracies} all < 0.95"


def next_digit(x):
    return np.pad(x[:, 1:], ((0, 0), (0, 1)))


def test_bidirectional_learns_to_look_ahead():
    x, _ = recall_data(2048, seed=3)
    x_test, _ = recall_data(512, seed=4)
    reached, accuracies = learns(
        lambda: layers.Bidirectional(layers.LSTM(32, return_sequences=True)),
        x,
        next_digit(x),
        x_test,
        next_digit(x_test),
        epochs=6,
    )
    assert reached, f"held-out per-token accuracies {accuracies} all < 0.95"
