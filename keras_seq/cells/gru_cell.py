"""Gated recurrent unit cell."""

import keras
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.cells.recurrent_cell import RecurrentCell


@keras.saving.register_keras_serializable(package="keras_seq")
class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014).

    With ``reset_after=False`` (the original form, reset before the recurrent matmul)::

        z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                 update gate
        r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                 reset gate
        h̃_t = tanh(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)      candidate
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t

    With ``reset_after=True`` (the Keras and cuDNN default) the reset gate is applied after the
    recurrent matmul, and the recurrent part has its own bias ``b'``::

        h̃_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h_{t-1} + b'_h))

    (``z_t`` and ``r_t`` then also carry ``b'_z``, ``b'_r``). The update gate keeps the
    previous state, as in Keras; the seed notes' ``z`` is this ``1 − z_t``. Blocks are ordered
    (z, r, h) and ``bias`` is [3u] or [2, 3u] (input row, recurrent row) as in
    `keras.layers.GRUCell`, so weights copy between the two.

    Args:
        units: int. Size of ``h_t``.
        reset_after: bool. Where the reset gate applies (see above).
        (and the common arguments of `RecurrentCell`.)

    Call arguments:
        inputs: [batch, input_dim]. states: [h_{t-1}]. training: bool.

    Returns:
        ``(h_t, [h_t])``.

    Example:
    >>> layer = keras.layers.RNN(GRUCell(8, reset_after=False))
    >>> tuple(layer(np.ones((2, 5, 3))).shape)
    (2, 8)
    """

    gate_count = 3
    state_count = 1

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = check_bool(reset_after, "reset_after")

    def _bias_shape(self):
        width = 3 * self.units
        return (2, width) if self.reset_after else (width,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def step(self, projected, states, training=False):
        h_prev = states[0]  # carry from t-1
        h_in = self.recurrent_input(h_prev, training)
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        u = self.units
        if self.reset_after:
            recurrent = ops.matmul(h_in, self.recurrent_kernel)
            if self.bias is not None:
                recurrent = recurrent + self.bias[1]
            r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            recurrent = ops.matmul(h_in, self.recurrent_kernel[:, : 2 * u])
            r_z, r_r = ops.split(recurrent, 2, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(
                x_h + ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * u :])
            )
        h = z * h_prev + (1.0 - z) * candidate
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config
