"""Fused LSTM (plain and peephole) / GRU / simple (Elman, tanh) recurrences with a
hand-written backward pass (BPTT).

Autodiff through a ``tf.while_loop`` replays the loop backwards with one small matmul per step
for every weight gradient (``h_{t-1}ᵀ dz_t``) and keeps gradient accumulators of the loop
variables alive across iterations. Here the backward loop does only the serial part of BPTT,
``dh_{t-1} = dz_t Uᵀ`` and the elementwise gate derivatives; the recurrent-kernel gradient is
then ONE matmul over all steps, ``dU = [h_0 … h_{T-1}]ᵀ [dz_1 … dz_T]`` on [T·B, u] ×
[T·B, k·u], and the input-kernel and bias gradients flow from ``dz`` through the input
projection ``x W + b`` (computed outside, for all steps at once) by ordinary autodiff.

The forward pass computes every number with the same float operations as `LSTMCell.step` /
`PeepholeLSTMCell.step` / `GRUCell.step` / `SimpleRNNCell.step` (a gate activation may run
over several gates at once), so outputs equal the general loop's; gradients agree with
autodiff to float rounding. A mask carries the states over at masked steps
(``h_t = m_t ? h̃_t : h_{t-1}``) as the general loop does; the gradient then flows past a
masked step unchanged. Dropout in training, ``unroll`` and any other cell are left to
`Recurrent`'s general loop (`supports_fused_recurrence`).
"""

import keras
import tensorflow as tf
from keras import ops

from keras_seq.cells.gru_cell import GRUCell
from keras_seq.cells.lstm_cell import LSTMCell
from keras_seq.cells.peephole_lstm_cell import PeepholeLSTMCell
from keras_seq.cells.simple_rnn_cell import SimpleRNNCell


def supports_fused_recurrence(cell, training, unroll):
    """Whether `fused_recurrence` can run ``cell`` (exact class, sigmoid/tanh, no dropout)."""
    if unroll:
        return False
    # Exact classes only: a subclass (e.g. the coupled LSTM) changes the gate math.
    if type(cell) not in (LSTMCell, PeepholeLSTMCell, GRUCell, SimpleRNNCell):
        return False
    if cell.activation is not keras.activations.tanh:
        return False
    # The simple cell has no gates: its recurrent activation is unused.
    if type(cell) is not SimpleRNNCell and (
        cell.recurrent_activation is not keras.activations.sigmoid
    ):
        return False
    if training and (cell.dropout > 0 or cell.recurrent_dropout > 0):
        return False
    dtype = cell.compute_dtype
    return dtype in ("float32", "float64") and cell.variable_dtype == dtype


def fused_recurrence(cell, inputs, states, mask=None):
    """Runs ``cell`` over ``inputs`` [B, T, D]; returns ``(h [T, B, u], final_states)``.

    ``h`` is the time-major sequence of the state ``h_t`` after every step (carried over at
    masked steps, where ``mask`` [B, T] is False); ``final_states`` is ``[h_T, c_T]`` (LSTM)
    or ``[h_T]`` (GRU, simple).
    """
    # Projecting time-major inputs gives time-major pre-activations without a [B, T, k·u]
    # transpose.
    projected = cell.project_inputs(tf.transpose(inputs, [1, 0, 2]))
    kernel = tf.convert_to_tensor(ops.convert_to_tensor(cell.recurrent_kernel))
    states = [tf.convert_to_tensor(s) for s in states]
    if mask is not None:
        mask = tf.transpose(mask)[:, :, None]  # [T, B, 1], broadcast over units
    if isinstance(cell, PeepholeLSTMCell):
        peepholes = [
            tf.convert_to_tensor(ops.convert_to_tensor(weight))
            for weight in (
                cell.input_gate_peephole,
                cell.forget_gate_peephole,
                cell.output_gate_peephole,
            )
        ]
        outputs, c_last = _peephole_lstm(projected, states[0], states[1], kernel, peepholes, mask)
        return outputs, [outputs[-1], c_last]
    if isinstance(cell, LSTMCell):
        outputs, c_last = _lstm(projected, states[0], states[1], kernel, mask)
        return outputs, [outputs[-1], c_last]
    if isinstance(cell, SimpleRNNCell):
        outputs = _simple(projected, states[0], kernel, mask)
        return outputs, [outputs[-1]]
    if cell.reset_after:
        if cell.bias is None:
            # Adding zeros leaves every number as the cell computes it without a bias.
            bias = tf.zeros([3 * cell.units], projected.dtype)
        else:
            bias = tf.convert_to_tensor(ops.convert_to_tensor(cell.bias))[1]
        outputs = _gru_reset_after(projected, states[0], kernel, bias, mask)
    else:
        outputs = _gru_reset_before(projected, states[0], kernel, mask)
    return outputs, [outputs[-1]]


def _array(dtype, length):
    # Saved forward values are read in the backward loop and stacked again after it.
    return tf.TensorArray(dtype, size=length, clear_after_read=False)


def _stacked(arrays):
    return [array.stack() for array in arrays]


def _unstacked(tensors):
    """Step-indexed arrays of saved [T, …] tensors, made inside the backward pass: it must
    capture only plain tensors of the forward pass (no TensorArray), or a SavedModel that
    holds the layer cannot serialize the gradient."""
    return [_array(t.dtype, tf.shape(t)[0]).unstack(t) for t in tensors]


def _previous(initial, sequence):
    """``[s_0, s_1, …, s_{T-1}]`` from ``s_0`` and ``[s_1 … s_T]`` (time-major)."""
    return tf.concat([initial[None], sequence[:-1]], axis=0)


def _weight_gradient(left, right):
    """``Σ_t left_tᵀ right_t`` as one matmul over [T·B, ·]."""
    left = tf.reshape(left, [-1, tf.shape(left)[-1]])
    right = tf.reshape(right, [-1, tf.shape(right)[-1]])
    return tf.matmul(left, right, transpose_a=True)


def _run(body, length, loop_vars):
    return tf.while_loop(
        lambda t, *_: t < length,
        body,
        (tf.constant(0), *loop_vars),
        maximum_iterations=length,
    )[1:]


def _run_backwards(body, length, loop_vars):
    return tf.while_loop(
        lambda t, *_: t >= 0,
        body,
        (length - 1, *loop_vars),
        maximum_iterations=length,
    )[1:]


class _Mask:
    """The per-step mask of a fused loop; with no mask every method is the identity.

    `forward` and `backward` build the step-indexed arrays inside the pass that reads them.
    """

    def __init__(self, mask, dtype, length):
        self.masked = mask is not None
        self.mask, self.dtype, self.length = mask, dtype, length

    def forward(self):
        if self.masked:
            self.valid = _array(tf.bool, self.length).unstack(self.mask)

    def backward(self):
        if self.masked:
            self.keep = _array(self.dtype, self.length).unstack(tf.cast(self.mask, self.dtype))

    def carry(self, t, new_states, old_states):
        """The states after step t: the new ones where valid, the old ones where masked."""
        if not self.masked:
            return new_states
        valid = self.valid.read(t)
        return [tf.where(valid, n, o) for n, o in zip(new_states, old_states, strict=True)]

    def split_gradient(self, t, d_state):
        """``(part through the step, part carried past it)`` of a state's gradient."""
        if not self.masked:
            return d_state, None
        d_new = d_state * self.keep.read(t)  # exact: the mask is 0 or 1
        return d_new, d_state - d_new


def _plus(value, carried):
    return value if carried is None else value + carried


# ------------------------------------------------------------------------------------ LSTM
def _lstm_gate_derivative_terms(units, dtype):
    """``(α, β)`` [4u] such that ``a·(α − a) + β`` is every gate's derivative in one op over
    [B, 4u]: a·(1 − a) for the sigmoid blocks (i, f, o), 1 − a² for the tanh block (c̃)."""
    ones, zeros = tf.ones([units], dtype), tf.zeros([units], dtype)
    alpha = tf.concat([ones, ones, zeros, ones], axis=0)
    beta = tf.concat([zeros, zeros, ones, zeros], axis=0)
    return alpha, beta


def _lstm(projected, h0, c0, kernel, mask):
    """LSTM over time-major pre-activations ``x W + b``; returns ``(h [T, B, u], c_T)``."""
    units = h0.shape[-1]
    length = tf.shape(projected)[0]
    dtype = projected.dtype
    steps = _Mask(mask, dtype, length)

    @tf.custom_gradient
    def lstm(projected, h0, c0, kernel):
        steps.forward()
        inputs = _array(dtype, length).unstack(projected)

        def body(t, h_prev, c_prev, gates_ta, c_prev_ta, tanh_c_ta, h_ta):
            z = inputs.read(t) + tf.matmul(h_prev, kernel)
            i, f, _, o = tf.split(tf.sigmoid(z), 4, axis=-1)
            candidate = tf.tanh(z[:, 2 * units : 3 * units])
            c = f * c_prev + i * candidate
            tanh_c = tf.tanh(c)
            h, c = steps.carry(t, [o * tanh_c, c], [h_prev, c_prev])
            return (
                t + 1,
                h,
                c,
                gates_ta.write(t, tf.concat([i, f, candidate, o], axis=-1)),
                c_prev_ta.write(t, c_prev),
                tanh_c_ta.write(t, tanh_c),
                h_ta.write(t, h),
            )

        _, c_last, *arrays = _run(
            body, length, (h0, c0, *(_array(dtype, length) for _ in range(4)))
        )
        saved = _stacked(arrays[:3])
        outputs = arrays[3].stack()

        def grad(d_outputs, d_c_last):
            steps.backward()
            gates_ta, c_prev_ta, tanh_c_ta, d_outputs_ta = _unstacked([*saved, d_outputs])
            kernel_t = tf.transpose(kernel)
            alpha, beta = _lstm_gate_derivative_terms(units, dtype)
            d_c = tf.zeros_like(c0) if d_c_last is None else d_c_last

            def back(t, d_h_next, d_c_next, d_z_ta):
                gates = gates_ta.read(t)
                tanh_c = tanh_c_ta.read(t)
                i, f, candidate, o = tf.split(gates, 4, axis=-1)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs_ta.read(t) + d_h_next)
                d_c, d_c_carried = steps.split_gradient(t, d_c_next)
                d_c = d_c + d_h * o * (1.0 - tanh_c * tanh_c)
                d_gates = tf.concat(
                    [d_c * candidate, d_c * c_prev_ta.read(t), d_c * i, d_h * tanh_c], axis=-1
                )
                d_z = d_gates * (gates * (alpha - gates) + beta)
                return (
                    t - 1,
                    _plus(tf.matmul(d_z, kernel_t), d_h_carried),
                    _plus(d_c * f, d_c_carried),
                    d_z_ta.write(t, d_z),
                )

            d_h0, d_c0, d_z_ta = _run_backwards(
                back, length, (tf.zeros_like(h0), d_c, _array(dtype, length))
            )
            d_z = d_z_ta.stack()
            d_kernel = _weight_gradient(_previous(h0, outputs), d_z)
            return d_z, d_h0, d_c0, d_kernel

        return (outputs, c_last), grad

    return lstm(projected, h0, c0, kernel)


def _peephole_lstm(projected, h0, c0, kernel, peepholes, mask):
    """Peephole LSTM over ``x W + b``; returns ``(h [T, B, u], c_T)``.

    Forward as `PeepholeLSTMCell`: ``i = σ(z_i + p_i ⊙ c_{t-1})``, ``f = σ(z_f + p_f ⊙
    c_{t-1})``, ``c_t = f ⊙ c_{t-1} + i ⊙ tanh(z_c)``, ``o = σ(z_o + p_o ⊙ c_t)``, ``h_t = o ⊙
    tanh(c_t)``. Backward: the LSTM's, plus ``dc_t += dz_o ⊙ p_o`` (c_t feeds o_t),
    ``dc_{t-1} += dz_i ⊙ p_i + dz_f ⊙ p_f``, and ``dp_i = Σ dz_i ⊙ c_{t-1}``, ``dp_f = Σ dz_f ⊙
    c_{t-1}``, ``dp_o = Σ dz_o ⊙ c_t`` summed over steps and batch after the loop.
    """
    units = h0.shape[-1]
    length = tf.shape(projected)[0]
    dtype = projected.dtype
    steps = _Mask(mask, dtype, length)

    @tf.custom_gradient
    def lstm(projected, h0, c0, kernel, peephole_i, peephole_f, peephole_o):
        steps.forward()
        inputs = _array(dtype, length).unstack(projected)

        def body(t, h_prev, c_prev, gates_ta, c_prev_ta, tanh_c_ta, h_ta):
            z = inputs.read(t) + tf.matmul(h_prev, kernel)
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
            i = tf.sigmoid(z_i + peephole_i * c_prev)
            f = tf.sigmoid(z_f + peephole_f * c_prev)
            candidate = tf.tanh(z_c)
            c = f * c_prev + i * candidate
            o = tf.sigmoid(z_o + peephole_o * c)
            tanh_c = tf.tanh(c)
            h, c = steps.carry(t, [o * tanh_c, c], [h_prev, c_prev])
            return (
                t + 1,
                h,
                c,
                gates_ta.write(t, tf.concat([i, f, candidate, o], axis=-1)),
                c_prev_ta.write(t, c_prev),
                tanh_c_ta.write(t, tanh_c),
                h_ta.write(t, h),
            )

        _, c_last, *arrays = _run(
            body, length, (h0, c0, *(_array(dtype, length) for _ in range(4)))
        )
        saved = _stacked(arrays[:3])
        outputs = arrays[3].stack()

        def grad(d_outputs, d_c_last):
            steps.backward()
            gates_ta, c_prev_ta, tanh_c_ta, d_outputs_ta = _unstacked([*saved, d_outputs])
            kernel_t = tf.transpose(kernel)
            alpha, beta = _lstm_gate_derivative_terms(units, dtype)
            d_c = tf.zeros_like(c0) if d_c_last is None else d_c_last

            def back(t, d_h_next, d_c_next, d_z_ta):
                gates = gates_ta.read(t)
                tanh_c = tanh_c_ta.read(t)
                c_prev = c_prev_ta.read(t)
                i, f, candidate, o = tf.split(gates, 4, axis=-1)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs_ta.read(t) + d_h_next)
                d_c, d_c_carried = steps.split_gradient(t, d_c_next)
                d_z_o = d_h * tanh_c * o * (1.0 - o)
                d_c = d_c + d_h * o * (1.0 - tanh_c * tanh_c) + d_z_o * peephole_o
                d_gates = tf.concat([d_c * candidate, d_c * c_prev, d_c * i, d_h * tanh_c], axis=-1)
                d_z = d_gates * (gates * (alpha - gates) + beta)
                d_z_i, d_z_f, _, _ = tf.split(d_z, 4, axis=-1)
                d_c_prev = d_c * f + d_z_i * peephole_i + d_z_f * peephole_f
                return (
                    t - 1,
                    _plus(tf.matmul(d_z, kernel_t), d_h_carried),
                    _plus(d_c_prev, d_c_carried),
                    d_z_ta.write(t, d_z),
                )

            d_h0, d_c0, d_z_ta = _run_backwards(
                back, length, (tf.zeros_like(h0), d_c, _array(dtype, length))
            )
            d_z = d_z_ta.stack()
            d_kernel = _weight_gradient(_previous(h0, outputs), d_z)
            d_z_i, d_z_f, _, d_z_o = tf.split(d_z, 4, axis=-1)
            # c_t is the carried c of step t + 1's input (c_T for the last step); the two
            # differ only at masked steps, where dz_o is 0.
            c_prev_all = saved[1]
            c_all = tf.concat([c_prev_all[1:], c_last[None]], axis=0)
            d_peephole_i = tf.reduce_sum(d_z_i * c_prev_all, axis=[0, 1])
            d_peephole_f = tf.reduce_sum(d_z_f * c_prev_all, axis=[0, 1])
            d_peephole_o = tf.reduce_sum(d_z_o * c_all, axis=[0, 1])
            return d_z, d_h0, d_c0, d_kernel, d_peephole_i, d_peephole_f, d_peephole_o

        return (outputs, c_last), grad

    return lstm(projected, h0, c0, kernel, *peepholes)


# ------------------------------------------------------------------------------------- GRU
def _gru_reset_after(projected, h0, kernel, bias, mask):
    """GRU (reset after the recurrent matmul) over ``x W + b``; returns h [T, B, u]."""
    units = h0.shape[-1]
    length = tf.shape(projected)[0]
    dtype = projected.dtype
    steps = _Mask(mask, dtype, length)

    @tf.custom_gradient
    def gru(projected, h0, kernel, bias):
        steps.forward()
        inputs_zr = _array(dtype, length).unstack(projected[..., : 2 * units])
        inputs_h = _array(dtype, length).unstack(projected[..., 2 * units :])

        def body(t, h_prev, gates_ta, candidate_ta, recurrent_h_ta, h_ta):
            recurrent = tf.nn.bias_add(tf.matmul(h_prev, kernel), bias)
            recurrent_zr, recurrent_h = tf.split(recurrent, [2 * units, units], axis=-1)
            gates = tf.sigmoid(inputs_zr.read(t) + recurrent_zr)
            z, r = tf.split(gates, 2, axis=-1)
            candidate = tf.tanh(inputs_h.read(t) + r * recurrent_h)
            (h,) = steps.carry(t, [z * h_prev + (1.0 - z) * candidate], [h_prev])
            return (
                t + 1,
                h,
                gates_ta.write(t, gates),
                candidate_ta.write(t, candidate),
                recurrent_h_ta.write(t, recurrent_h),
                h_ta.write(t, h),
            )

        _, *arrays = _run(body, length, (h0, *(_array(dtype, length) for _ in range(4))))
        saved = _stacked(arrays[:3])
        outputs = arrays[3].stack()

        def grad(d_outputs):
            steps.backward()
            h_prev_all = _previous(h0, outputs)
            gates_ta, candidate_ta, recurrent_h_ta, h_prev_ta, d_outputs_ta = _unstacked(
                [*saved, h_prev_all, d_outputs]
            )
            kernel_t = tf.transpose(kernel)

            def back(t, d_h_next, d_x_ta, d_recurrent_ta):
                gates, candidate = gates_ta.read(t), candidate_ta.read(t)
                z, r = tf.split(gates, 2, axis=-1)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs_ta.read(t) + d_h_next)
                d_candidate = d_h * (1.0 - z) * (1.0 - candidate * candidate)
                d_gates = tf.concat(
                    [d_h * (h_prev_ta.read(t) - candidate), d_candidate * recurrent_h_ta.read(t)],
                    axis=-1,
                )
                d_zr = d_gates * gates * (1.0 - gates)
                d_recurrent = tf.concat([d_zr, d_candidate * r], axis=-1)
                d_h_prev = d_h * z + tf.matmul(d_recurrent, kernel_t)
                return (
                    t - 1,
                    _plus(d_h_prev, d_h_carried),
                    d_x_ta.write(t, tf.concat([d_zr, d_candidate], axis=-1)),
                    d_recurrent_ta.write(t, d_recurrent),
                )

            d_h0, d_x_ta, d_recurrent_ta = _run_backwards(
                back, length, (tf.zeros_like(h0), _array(dtype, length), _array(dtype, length))
            )
            d_recurrent = d_recurrent_ta.stack()
            d_kernel = _weight_gradient(h_prev_all, d_recurrent)
            d_bias = tf.reduce_sum(d_recurrent, axis=[0, 1])
            return d_x_ta.stack(), d_h0, d_kernel, d_bias

        return outputs, grad

    return gru(projected, h0, kernel, bias)


def _gru_reset_before(projected, h0, kernel, mask):
    """GRU (reset before the recurrent matmul) over ``x W + b``; returns h [T, B, u]."""
    units = h0.shape[-1]
    length = tf.shape(projected)[0]
    dtype = projected.dtype
    steps = _Mask(mask, dtype, length)

    @tf.custom_gradient
    def gru(projected, h0, kernel):
        steps.forward()
        inputs_zr = _array(dtype, length).unstack(projected[..., : 2 * units])
        inputs_h = _array(dtype, length).unstack(projected[..., 2 * units :])
        # Sliced once here, not at every step.
        kernel_zr, kernel_h = kernel[:, : 2 * units], kernel[:, 2 * units :]

        def body(t, h_prev, gates_ta, candidate_ta, h_ta):
            gates = tf.sigmoid(inputs_zr.read(t) + tf.matmul(h_prev, kernel_zr))
            z, r = tf.split(gates, 2, axis=-1)
            candidate = tf.tanh(inputs_h.read(t) + tf.matmul(r * h_prev, kernel_h))
            (h,) = steps.carry(t, [z * h_prev + (1.0 - z) * candidate], [h_prev])
            return (
                t + 1,
                h,
                gates_ta.write(t, gates),
                candidate_ta.write(t, candidate),
                h_ta.write(t, h),
            )

        _, *arrays = _run(body, length, (h0, *(_array(dtype, length) for _ in range(3))))
        gates_all, candidate_all = _stacked(arrays[:2])
        outputs = arrays[2].stack()

        def grad(d_outputs):
            steps.backward()
            h_prev_all = _previous(h0, outputs)
            gates_ta, candidate_ta, h_prev_ta, d_outputs_ta = _unstacked(
                [gates_all, candidate_all, h_prev_all, d_outputs]
            )
            kernel_zr_t, kernel_h_t = tf.transpose(kernel_zr), tf.transpose(kernel_h)

            def back(t, d_h_next, d_x_ta):
                gates, candidate = gates_ta.read(t), candidate_ta.read(t)
                h_prev = h_prev_ta.read(t)
                z, r = tf.split(gates, 2, axis=-1)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs_ta.read(t) + d_h_next)
                d_candidate = d_h * (1.0 - z) * (1.0 - candidate * candidate)
                d_reset_h = tf.matmul(d_candidate, kernel_h_t)  # gradient of r ⊙ h_{t-1}
                d_gates = tf.concat([d_h * (h_prev - candidate), d_reset_h * h_prev], axis=-1)
                d_zr = d_gates * gates * (1.0 - gates)
                d_h_prev = d_h * z + d_reset_h * r + tf.matmul(d_zr, kernel_zr_t)
                return (
                    t - 1,
                    _plus(d_h_prev, d_h_carried),
                    d_x_ta.write(t, tf.concat([d_zr, d_candidate], axis=-1)),
                )

            d_h0, d_x_ta = _run_backwards(back, length, (tf.zeros_like(h0), _array(dtype, length)))
            d_x = d_x_ta.stack()
            reset_h_all = gates_all[..., units:] * h_prev_all
            d_kernel = tf.concat(
                [
                    _weight_gradient(h_prev_all, d_x[..., : 2 * units]),
                    _weight_gradient(reset_h_all, d_x[..., 2 * units :]),
                ],
                axis=-1,
            )
            return d_x, d_h0, d_kernel

        return outputs, grad

    return gru(projected, h0, kernel)


# ---------------------------------------------------------------------------------- simple
def _simple(projected, h0, kernel, mask):
    """Elman recurrence ``h_t = tanh(x_t W + b + h_{t-1} U)`` over time-major ``x W + b``;
    returns h [T, B, u].

    Backward: ``da_t = dh_t ⊙ (1 − h̃_t²)`` with ``h̃_t`` the step's own output (before a
    mask carries the old state over), ``dh_{t-1} = da_t Uᵀ``, ``dU = Σ h_{t-1}ᵀ da_t`` and
    ``d(x W + b)_t = da_t``.
    """
    length = tf.shape(projected)[0]
    dtype = projected.dtype
    steps = _Mask(mask, dtype, length)

    @tf.custom_gradient
    def simple(projected, h0, kernel):
        steps.forward()
        inputs = _array(dtype, length).unstack(projected)

        def body(t, h_prev, new_ta, h_ta):
            new = tf.tanh(inputs.read(t) + tf.matmul(h_prev, kernel))
            (h,) = steps.carry(t, [new], [h_prev])
            return t + 1, h, new_ta.write(t, new), h_ta.write(t, h)

        _, new_ta, h_ta = _run(body, length, (h0, _array(dtype, length), _array(dtype, length)))
        outputs = h_ta.stack()
        # Without a mask the step's own outputs are the outputs: nothing more to keep.
        new_all = new_ta.stack() if steps.masked else outputs

        def grad(d_outputs):
            steps.backward()
            new_ta, d_outputs_ta = _unstacked([new_all, d_outputs])
            kernel_t = tf.transpose(kernel)

            def back(t, d_h_next, d_a_ta):
                d_h, d_h_carried = steps.split_gradient(t, d_outputs_ta.read(t) + d_h_next)
                new = new_ta.read(t)
                d_a = d_h * (1.0 - new * new)
                return t - 1, _plus(tf.matmul(d_a, kernel_t), d_h_carried), d_a_ta.write(t, d_a)

            d_h0, d_a_ta = _run_backwards(back, length, (tf.zeros_like(h0), _array(dtype, length)))
            d_a = d_a_ta.stack()
            return d_a, d_h0, _weight_gradient(_previous(h0, outputs), d_a)

        return outputs, grad

    return simple(projected, h0, kernel)
