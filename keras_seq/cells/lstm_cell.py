"""Long short-term memory cell."""

import keras
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.cells.recurrent_cell import RecurrentCell, distinct_initializers


@keras.saving.register_keras_serializable(package="keras_seq")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with forget gate).

    With ``[h_{t-1}, x_t]`` entering every gate through its own block of ``kernel`` (W) and
    ``recurrent_kernel`` (U)::

        i_t = σ(W_i x_t + U_i h_{t-1} + b_i)          input gate
        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)          forget gate
        c̃_t = tanh(W_c x_t + U_c h_{t-1} + b_c)       candidate
        o_t = σ(W_o x_t + U_o h_{t-1} + b_o)          output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t
        h_t = o_t ⊙ tanh(c_t)

    σ is ``recurrent_activation`` and tanh is ``activation``. The blocks are ordered
    (i, f, c, o) as in `keras.layers.LSTMCell`, so weights copy between the two.

    Args:
        units: int. Size of ``h_t`` and ``c_t``.
        unit_forget_bias: bool. Initialise ``b_f`` to 1 (Jozefowicz et al. 2015); the rest of
            the bias uses ``bias_initializer``.
        (and the common arguments of `RecurrentCell`.)

    Call arguments:
        inputs: [batch, input_dim] input of one step.
        states: [h_{t-1}, c_{t-1}], each [batch, units].
        training: bool. Enables dropout.

    Returns:
        ``(h_t, [h_t, c_t])``.

    Example:
    >>> layer = keras.layers.RNN(LSTMCell(8), return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3))).shape)
    (2, 5, 8)
    """

    gate_count = 4
    state_count = 2
    # Index of the forget-gate block in the kernel layout, for ``unit_forget_bias``.
    forget_block = 1

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = check_bool(unit_forget_bias, "unit_forget_bias")

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, blocks, forget = self.units, self.gate_count, self.forget_block
        # One initializer per block: an unseeded one would give every block the same values.
        bases = distinct_initializers(self.bias_initializer, blocks)

        def initializer(shape, dtype=None):
            parts = [base((units,), dtype=dtype) for base in bases]
            parts[forget] = ops.ones((units,), dtype=dtype)
            return ops.concatenate(parts, axis=0)

        return initializer

    def carry_and_output_gate(self, z, c_prev):
        """Hook of the LSTM family: from the gate pre-activations ``z`` [B, 4u] and
        ``c_{t-1}``, returns ``(c_t, o_t)``."""
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return c, o

    def step(self, projected, states, training=False):
        h_prev, c_prev = states  # carries from t-1
        z = projected + ops.matmul(self.recurrent_input(h_prev, training), self.recurrent_kernel)
        c, o = self.carry_and_output_gate(z, c_prev)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config
