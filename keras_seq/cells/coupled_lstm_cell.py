"""LSTM cell with coupled input and forget gates (CIFG)."""

import keras

from keras_seq.cells.lstm_cell import LSTMCell


@keras.saving.register_keras_serializable(package="keras_seq")
class CoupledLSTMCell(LSTMCell):
    """LSTM with coupled input and forget gates, "CIFG" (Greff et al. 2017, "LSTM: A Search
    Space Odyssey").

    There is no input gate: what is forgotten is replaced by the candidate::

        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
        c̃_t = tanh(W_c x_t + U_c h_{t-1} + b_c)
        o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
        c_t = f_t ⊙ c_{t-1} + (1 − f_t) ⊙ c̃_t
        h_t = o_t ⊙ tanh(c_t)

    The kernels have three blocks, ordered (f, c, o), so a quarter fewer weights than
    `LSTMCell`. ``unit_forget_bias`` sets ``b_f`` to 1.

    Call arguments and returns: as `LSTMCell`.

    Example:
    >>> layer = keras.layers.RNN(CoupledLSTMCell(8))
    >>> tuple(layer(np.ones((2, 5, 3))).shape)
    (2, 8)
    """

    gate_count = 3
    forget_block = 0

    def carry_and_output_gate(self, z, c_prev):
        z_f, z_c, z_o = keras.ops.split(z, 3, axis=-1)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + (1.0 - f) * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return c, o
