"""The six cells of keras_seq, each with its float64 NumPy step (tests/references.py)."""

import functools

from keras_seq.cells import CoupledLSTMCell, GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell
from tests import references


def cells_and_steps(units):
    """name -> (a function making the cell of ``units`` units, its NumPy step)."""
    return {
        "simple_rnn": (lambda: SimpleRNNCell(units), references.simple_rnn_step),
        "lstm": (lambda: LSTMCell(units), references.lstm_step),
        "peephole_lstm": (lambda: PeepholeLSTMCell(units), references.peephole_lstm_step),
        "coupled_lstm": (lambda: CoupledLSTMCell(units), references.coupled_lstm_step),
        "gru_reset_after": (
            lambda: GRUCell(units, reset_after=True),
            functools.partial(references.gru_step, reset_after=True),
        ),
        "gru_reset_before": (
            lambda: GRUCell(units, reset_after=False),
            functools.partial(references.gru_step, reset_after=False),
        ),
    }
