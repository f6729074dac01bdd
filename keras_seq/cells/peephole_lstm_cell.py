"""LSTM cell with diagonal peephole connections."""

import keras

from keras_seq.cells.lstm_cell import LSTMCell
from keras_seq.cells.recurrent_cell import distinct_initializers


@keras.saving.register_keras_serializable(package="keras_seq")
class PeepholeLSTMCell(LSTMCell):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    The gates also see the cell state, through diagonal (element-wise) weights
    ``p_i``, ``p_f``, ``p_o`` [units]::

        i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
        f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(W_c x_t + U_c h_{t-1} + b_c)
        o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)      (note: the new c_t)
        h_t = o_t ⊙ tanh(c_t)

    With all peephole weights at zero this is exactly `LSTMCell`.

    Args:
        units: int. Size of ``h_t`` and ``c_t``.
        peephole_initializer: initializer of ``p_i``, ``p_f``, ``p_o``.
        peephole_regularizer, peephole_constraint: regularizer and constraint of them.
        (and the arguments of `LSTMCell`.)

    Call arguments and returns: as `LSTMCell`.

    Example:
    >>> layer = keras.layers.RNN(PeepholeLSTMCell(8))
    >>> tuple(layer(np.ones((2, 5, 3))).shape)
    (2, 8)
    """

    def __init__(
        self,
        units,
        peephole_initializer="glorot_uniform",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.peephole_regularizer = keras.regularizers.get(peephole_regularizer)
        self.peephole_constraint = keras.constraints.get(peephole_constraint)

    def build(self, input_shape):
        super().build(input_shape)
        # One initializer per peephole: an unseeded one would give all three the same values.
        initializers = distinct_initializers(self.peephole_initializer, 3)
        self.input_gate_peephole, self.forget_gate_peephole, self.output_gate_peephole = (
            self.add_weight(
                shape=(self.units,),
                name=f"{gate}_gate_peephole",
                initializer=initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
            for gate, initializer in zip(("input", "forget", "output"), initializers, strict=True)
        )

    def carry_and_output_gate(self, z, c_prev):
        z_i, z_f, z_c, z_o = keras.ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_gate_peephole * c_prev)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_gate_peephole * c)
        return c, o

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "peephole_initializer": keras.initializers.serialize(self.peephole_initializer),
                "peephole_regularizer": keras.regularizers.serialize(self.peephole_regularizer),
                "peephole_constraint": keras.constraints.serialize(self.peephole_constraint),
            }
        )
        return config
