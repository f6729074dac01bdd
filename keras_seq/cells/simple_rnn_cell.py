"""Elman recurrent cell."""

import keras
from keras import ops

from keras_seq.cells.recurrent_cell import RecurrentCell


@keras.saving.register_keras_serializable(package="keras_seq")
class SimpleRNNCell(RecurrentCell):
    """Elman (simple) recurrent cell.

    ``h_t = g(W x_t + U h_{t-1} + b)``, with ``g`` = ``activation`` (tanh by default);
    the output is ``h_t``. Weights are laid out as in `keras.layers.SimpleRNNCell`
    (``kernel`` = W [input_dim, units], ``recurrent_kernel`` = U [units, units]).

    Args:
        units: int. Size of ``h_t``.
        activation: the nonlinearity ``g``.
        (and the common arguments of `RecurrentCell`; ``recurrent_activation`` is unused.)

    Call arguments:
        inputs: [batch, input_dim] input of one step.
        states: [h_{t-1}] (a list with one [batch, units] tensor).
        training: bool. Enables dropout.

    Returns:
        ``(h_t, [h_t])``.

    Example:
    >>> cell = SimpleRNNCell(4)
    >>> layer = keras.layers.RNN(cell)
    >>> tuple(layer(np.ones((2, 3, 5))).shape)
    (2, 4)

    Reference: Elman, "Finding structure in time", Cognitive Science 1990.
    """

    gate_count = 1
    state_count = 1

    def step(self, projected, states, training=False):
        h_prev = states[0]  # carry from t-1
        h = self.activation(
            projected + ops.matmul(self.recurrent_input(h_prev, training), self.recurrent_kernel)
        )
        return h, [h]
