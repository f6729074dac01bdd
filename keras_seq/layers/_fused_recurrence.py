"""Fused LSTM (plain, peephole and coupled) / GRU / simple (Elman, tanh) recurrences with a
hand-written backward pass (BPTT).

Autodiff through a ``tf.while_loop`` replays the loop backwards with one small matmul per step
for every weight gradient (``h_{t-1}ᵀ dz_t``) and keeps gradient accumulators of the loop
variables alive across iterations. Here the backward loop does only the serial part of BPTT,
``dh_{t-1} = dz_t Uᵀ`` and the elementwise gate derivatives; the weight gradients are then ONE
matmul each over all steps: ``dU = [h_0 … h_{T-1}]ᵀ [dz_1 … dz_T]`` on [T·B, u] × [T·B, k·u],
``dW = [x_1 … x_T]ᵀ [dz_1 … dz_T]``, ``dx = dz Wᵀ`` and ``db = Σ_t dz_t``.

The forward pass computes the cells' formulas with the same float operations as
`LSTMCell.step` / `PeepholeLSTMCell.step` / `CoupledLSTMCell.step` / `GRUCell.step` /
`SimpleRNNCell.step` (``z_t = (x_t W + b) + h_{t-1} U``); gradients agree with autodiff to
float rounding. The backward loops take the gradient through a sigmoid or tanh output ``y``
in one op (TensorFlow's own ``SigmoidGrad`` / ``TanhGrad``: ``dy ⊙ y ⊙ (1 − y)``, ``dy ⊙ (1
− y²)``), not three or four: on an AVX-512 machine with oneDNN, where a step's matmuls are
fast, the number of small ops per step is what the loop's time depends on. Yet each gate
gets its own activation op (a [B, u] or [u, B] block), not one op over several gates: in
the loop a large elementwise op runs several times slower per element than a small one
(`_lstm`), and the gates are saved in the lists the way the backward reads them (the
LSTMs' concatenated beside the serial path, the GRUs' one list per gate).

Under the "mixed_bfloat16" policy the loops compute in bfloat16 (the weights cast from their
float32 variables, `_weight`), as the cells' own steps do under it, with the same ops:
measured on the 2-core AVX-512 BF16 / AMX machine, the LSTM's train step ran 1.31× (C), 1.33×
(A) and 1.79× (B) the general loop's in bfloat16, and 1.27–1.39× the fused loop's in float32;
its weight gradients are as close to float32's as the general loop's (relative norm of the
difference 0.3–0.8%, the simple RNN's 1–3%; tests/layers/test_mixed_precision.py).

The GRU and simple loops run batch-major, every per-step tensor [B, n], and their outputs
equal the general loop's (but the GRU's, reset after, runs feature-major with Eigen from
512 units: see below). The LSTM, peephole and coupled LSTM loops run feature-major
(`_FeatureMajor`): every per-step tensor is [n, B] and the step's matmuls are ``Uᵀ
h_{t-1}ᵀ``, the same products summed in another order (outputs equal the general loop's to
float rounding), because Eigen's CPU matmul runs that tall, narrow shape much faster; their
weight gradients are made after the loop from the ``dz_t`` kept in lists
(`_projection_gradients`).
Measured, the LSTM's train step gained 1.1–1.34× (sizes A–C) from the layout; the GRU's
gained nothing at first (0.98–1.04× with ``h_{t-1}`` transposed at every backward step;
1.01× at C and 0.93× at A, with 15% more peak memory, when its backward read ``h_{t-1}``
from feature-major outputs kept instead), but with its gradients' lists made [u, T·B] rows,
not transposed block by block, it gained 1.05–1.18× with Eigen at 512 units (1.08–1.18×
with oneDNN forced on the AVX2 machine, but on an AMD EPYC / AVX-512 machine, where it is
the default, batch-major ran faster: see `_gru_feature_major`), where it now runs with Eigen, its
peak under Keras' GRU's, and 1.03–1.08× more once its
backward read ``h_{t-1} U_h + b_h`` saved instead of making it again
(`_gru_reset_after_feature_major`, `_gru_feature_major`); the simple RNN's lost
(0.83–0.86×: its one matmul a step gains less than the transposes cost). The peephole loop
gained 1.25× at C; it was held back while exploratory seed sweeps of the
recall-the-first-digit learning task had it missing 95% more often than the batch-major
loop, which a pre-registered sweep over 100 fresh seeds did not confirm (2 misses each;
docs/benchmarks.md).

A batch of 64 rows or more runs as two independent loops over its halves
(`fused_recurrence`, `_batch_halves`), whose steps the executor runs side by side on the
cores: the rows' numbers are the same, the weights' gradients the sum of the two loops'. On
the 2-core AVX-512 machine (oneDNN) the LSTM's train step gained 1.09–1.14× at size C (512
units), the peephole and coupled LSTMs' 1.05–1.06×, the GRU's 1.12–1.14× at A (256 units).
Where it gained nothing it is off: the LSTMs where they make per-gate products (they
already keep both cores busy; `_per_gate_products`), the GRU above
`_SPLIT_GRU_MAX_UNITS` = 512 units (1.00–1.02× at 1024; batch-major it gained 1.16–1.20× at
C on an AMD EPYC / AVX-512 machine) and the GRU wherever Eigen runs the matmuls (one loop
1.03–1.10× faster at A on an AVX2 machine; `_gru_in_halves`), batches under 64 rows (halves
of 32 and fewer: 0.92–0.98×), `Bidirectional`'s directions (two loops already:
0.88–0.90×). The simple RNN gained 1.09–1.18× but its peak rose to 1.00–1.11× Keras' (each
half's outputs are kept for the backward pass beside their concatenation), so it runs one
loop.

In the gated cells the input projection ``x_t W + b`` is made step by step inside the loop:
as fast as projecting all steps at once beforehand (the issue measured that precomputing
gained nothing), and no [T, B, k·u] tensor is alive during the loop (the simple RNN projects
beforehand: see `_simple`). A mask carries the states over at masked steps (``h_t = m_t ?
h̃_t : h_{t-1}``) as the general loop does; the gradient then flows past a masked step
unchanged. Dropout in training, ``unroll``, forward-mode autodiff (a
`tf.autodiff.ForwardAccumulator`, `_forward_accumulating`) and any other cell are left to
`Recurrent`'s general loop (`supports_fused_recurrence`).

Memory (the train step's peak must stay at or below Keras' loop's):

- Without a recording GradientTape the loops run forward only and keep nothing but the
  outputs (`_gradient_recorded`).
- With one, the forward loop keeps what the backward pass needs (the gates and little else)
  in step-indexed TensorLists: the backward loop reads them in place, with no stacked copy.
- The GRU and simple backward loops write each step's gate gradients over that step's saved
  values (same shapes), whose memory it then reuses, so the saved values and the gradients
  are never both whole; only the stacked gradients are copied, once, after the loop. The
  LSTMs' backward loop (`_backward_in_segments`, one segment by default) drops each step's
  saved values once read and keeps ``dz_t`` in lists, stacked one at a time when the
  segment ends: up to 256 units a list per gate block (one list of ``dz_tᵀ`` stacked whole
  peaked at 1.01–1.14× Keras' at size A and 1.26× at 64 × 100 steps of 128 → 256; 0.83× and
  0.79× with the block lists), one list above; their forward saves the sigmoid gates
  without the candidate's block. Peak 0.84× Keras' at size C, 0.83× at A, 0.77× at B.
- The backward loops run two iterations at a time, so that the step's side work (its
  ``dz_t`` into the list) runs beside the next step's serial part: 1.04–1.05× the train
  step's speed with one at a time at size A (LSTM, GRU, simple RNN; within ±2% at B and C),
  peak memory unchanged; a look-ahead of several iterations (the default 10) keeps their
  temporaries alive for no gain in speed (measured).
- The GRU and simple loops keep their outputs for the backward pass as the layer returns
  them, batch-major (`_batch_major`), not as the loop stacked them: the stacked copy died
  with the transpose but was alive, kept, beside the layer's output and what the loss made
  of it (the simple RNN's peak at size A: 1.10× Keras' before, 0.89–0.91× after; GRU peaks
  unchanged, at the end of its backward loop).
- In the batch-major loops ``Uᵀ`` is made when the backward pass starts, not (as the
  executor would schedule it) during the forward pass (the feature-major ones need ``U``
  itself there).
- The feature-major loops take their inputs and give their outputs batch-major, so the
  gradient of the outputs arrives as Keras gives it, [B, T, u], and is transposed whole,
  once, to [T, u, B]: one copy alive through the backward loop, as Keras' time-major copy
  was before (measured at size C: peak 36.6 MB against Keras' 45.4, 0.80×; 0.85× with
  Keras' copy and a transpose of ``dh_t`` at every step).

Limitation of the TensorLists: TensorFlow cannot serialize a custom gradient that captures
them (variant tensors), so a SavedModel of a function that *records gradients* through a fused
layer (a saved train step) must be saved with
``tf.saved_model.SaveOptions(experimental_custom_gradients=False)``; its reloaded gradients
then come from autodiff through the forward loop (the same values). Inference functions, the
usual SavedModel, hold no custom gradient and need nothing.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_seq.cells.coupled_lstm_cell import CoupledLSTMCell
from keras_seq.cells.gru_cell import GRUCell
from keras_seq.cells.lstm_cell import LSTMCell
from keras_seq.cells.peephole_lstm_cell import PeepholeLSTMCell
from keras_seq.cells.simple_rnn_cell import SimpleRNNCell


def supports_fused_recurrence(cell, training, unroll):
    """Whether `fused_recurrence` can run ``cell`` (exact class, sigmoid/tanh, no dropout)."""
    if unroll:
        return False
    # Exact classes only: a subclass may change the gate math.
    if type(cell) not in (LSTMCell, CoupledLSTMCell, PeepholeLSTMCell, GRUCell, SimpleRNNCell):
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
    if _forward_accumulating():
        return False
    dtype = cell.compute_dtype
    if dtype == "bfloat16":  # "mixed_bfloat16": float32 variables, cast to bfloat16 (_weight)
        return cell.variable_dtype in ("float32", "bfloat16")
    return dtype in ("float32", "float64") and cell.variable_dtype == dtype


def fused_recurrence(cell, inputs, states, mask=None, split_batch=True):
    """Runs ``cell`` over ``inputs`` [B, T, D]; returns ``(h [B, T, u], final_states)``.

    ``h`` is the sequence of the state ``h_t`` after every step (carried over at masked
    steps, where ``mask`` [B, T] is False); ``final_states`` is ``[h_T, c_T]`` (LSTM) or
    ``[h_T]`` (GRU, simple). The LSTMs take and give batch-major tensors (their loops
    transpose them once each way to and from feature-major, `_FeatureMajor`); the GRU and
    simple loops run time-major: x_t is a slice of contiguous memory.

    With ``split_batch`` a batch of `_SPLIT_BATCH_MIN_ROWS` rows or more runs as two
    independent loops over its two halves (`_batch_halves`), whose steps the executor runs
    side by side on the cores; the rows' numbers are the same either way (each row's
    recurrence is its own) and the weights' gradients are the sum of the two loops'.
    """
    sizes = _batch_halves(cell, inputs) if split_batch else None
    if sizes is None:
        return _one_loop(cell, inputs, states, mask)
    parts = zip(
        tf.split(inputs, sizes, axis=0, num=2),
        zip(*(tf.split(state, sizes, axis=0, num=2) for state in states), strict=True),
        [None, None] if mask is None else tf.split(mask, sizes, axis=0, num=2),
        strict=True,
    )
    halves = [_one_loop(cell, x, list(s), m) for x, s, m in parts]
    outputs = tf.concat([h for h, _ in halves], axis=0)
    final_states = [tf.concat(pair, axis=0) for pair in zip(*(f for _, f in halves), strict=True)]
    return outputs, final_states


# A batch this large runs as two loops over its halves (`_batch_halves`). Measured old
# against new in one process (2-core AVX-512 machine, two copies each, medians of 20-30 train
# steps): B = 64 gained 1.09-1.14x on the LSTM at u = 512 (size C; its forward alone
# 1.15x), 1.05-1.06x on the peephole and coupled LSTMs there, 1.12-1.14x on the GRU at
# u = 256 (A), and nothing on the GRU at u = 512 (C, 1.00x) or the LSTM at u = 256 (per-gate
# products, A, 0.96-0.98x); B = 32 lost (halves of 16 rows: the GRU 0.92-0.95x, the LSTM's
# forward 0.85x); four loops of 16 rows lost 0.84x at C.
_SPLIT_BATCH_MIN_ROWS = 64
# The GRU with oneDNN up to 512 units (`_gru_in_halves`): on an AMD EPYC / AVX-512 machine,
# 2026-12-04, old against new in one process (20-25 train steps, three runs), batch-major in
# two loops ran 1.16-1.20x the feature-major single loop at C (64 x 30, 256 -> 512), 1.09x at
# 128 rows; at 1024 units two loops gained nothing (1.00-1.02x the single feature-major loop,
# against 1.04-1.08x for one batch-major loop), and at 384 units 1.01x.
_SPLIT_GRU_MAX_UNITS = 512


def _batch_halves(cell, inputs):
    """The row counts ``[ceil(B/2), floor(B/2)]`` of the two loops `fused_recurrence` runs on
    a batch of ``B`` rows, or None for one loop.

    Two loops for the LSTM family where it makes one recurrent product a step
    (`_per_gate_products`; per-gate products already give the cores independent work) and
    the GRU where `_gru_in_halves`, on a batch of
    `_SPLIT_BATCH_MIN_ROWS` rows or more. One loop for the simple RNN (two gained speed but
    raised its peak memory above Keras') and when a GPU is visible (its kernels run one
    after the other on one stream). A batch size known only when the graph runs
    (``model.fit``'s batches: their first axis is None when traced) is split by a tensor:
    ``[B, 0]`` below the threshold, an empty second loop: its steps' ops on no rows cost
    2-4% of a train step (GRU at 32x100, u = 256: 0.93-0.94x against 0.96x for one loop
    traced the same way; the LSTM at B: 0.92-0.94x against 0.96x).
    """
    if tf.config.list_logical_devices("GPU"):
        return None
    if isinstance(cell, LSTMCell):
        if _per_gate_products(cell.units):
            return None
    elif not isinstance(cell, GRUCell) or not _gru_in_halves(cell.units):
        return None
    rows = inputs.shape[0]
    if rows is not None:
        return None if rows < _SPLIT_BATCH_MIN_ROWS else [(rows + 1) // 2, rows // 2]
    rows = tf.shape(inputs)[0]
    first = tf.where(rows >= _SPLIT_BATCH_MIN_ROWS, (rows + 1) // 2, rows)
    return tf.stack([first, rows - first])


def _gru_in_halves(units):
    """Whether the GRU runs two loops over a batch's halves: with oneDNN up to
    `_SPLIT_GRU_MAX_UNITS` units (1.12-1.14x at A, 1.16-1.20x at C in its batch-major loop;
    at 1024 units two loops gained nothing); with Eigen never (`_onednn_matmuls`): on the AMD
    EPYC / AVX2 machine one loop ran 1.03-1.10x two at A (64 x 50, 128 -> 256, three runs),
    1.03-1.05x at 64 x 100, 1.06-1.08x at 192 units, at parity on 128 rows (old against new
    in one process, two copies each)."""
    return units <= _SPLIT_GRU_MAX_UNITS and _onednn_matmuls()


def _one_loop(cell, inputs, states, mask):
    """`fused_recurrence` in one loop over all the batch's rows."""
    weights = [
        _weight(cell.kernel, inputs.dtype),
        _input_bias(cell, inputs.dtype),
        _weight(cell.recurrent_kernel, inputs.dtype),
    ]
    states = [tf.convert_to_tensor(s) for s in states]
    if isinstance(cell, PeepholeLSTMCell):
        peepholes = [
            _weight(weight, inputs.dtype)
            for weight in (
                cell.input_gate_peephole,
                cell.forget_gate_peephole,
                cell.output_gate_peephole,
            )
        ]
        outputs, c_last = _peephole_lstm(inputs, *weights, *states, peepholes, mask)
        return outputs, [outputs[:, -1], c_last]
    if isinstance(cell, LSTMCell):  # plain or coupled (CIFG)
        coupled = type(cell) is CoupledLSTMCell
        outputs, c_last = _lstm(inputs, *weights, *states, mask, coupled=coupled)
        return outputs, [outputs[:, -1], c_last]
    inputs = tf.transpose(inputs, [1, 0, 2])  # [T, B, D]
    if mask is not None:
        mask = tf.transpose(mask)[:, :, None]  # [T, B, 1], broadcast over units
    if isinstance(cell, SimpleRNNCell):
        outputs = _simple(inputs, *weights, *states, mask)
    elif cell.reset_after:
        if cell.bias is None:
            # Adding zeros leaves every number as the cell computes it without a bias.
            recurrent_bias = tf.zeros([3 * cell.units], inputs.dtype)
        else:
            recurrent_bias = _weight(cell.bias, inputs.dtype)[1]
        gru = _gru_reset_after_feature_major if _gru_feature_major(cell.units) else _gru_reset_after
        outputs = gru(inputs, *weights, recurrent_bias, *states, mask)
    else:
        outputs = _gru_reset_before(inputs, *weights, *states, mask)
    return outputs, [outputs[:, -1]]


def _weight(variable, dtype):
    """A weight as a tensor of the loop's dtype: under "mixed_bfloat16" the float32 variable
    cast to bfloat16 (as Keras' autocast does inside a layer's call; its gradient is cast
    back to float32)."""
    return tf.cast(tf.convert_to_tensor(ops.convert_to_tensor(variable)), dtype)


def _input_bias(cell, dtype):
    """The bias of ``x W + b``, or zeros (adding them changes no number) when there is none."""
    bias = cell._input_bias()
    if bias is None:
        return tf.zeros([cell.kernel.shape[-1]], dtype)
    return _weight(bias, dtype)


def _gradient_recorded():
    """Whether a GradientTape is recording: eagerly, or inside the function being traced
    (`fit`'s train step). Without one the fused loops run forward only, keep nothing for a
    backward pass and hold no custom gradient. Gradients taken anyway (a `tf.function`
    traced with no tape, later called under one) come from autodiff through that forward
    loop: the same values, more slowly."""
    try:
        from tensorflow.python.eager import record
    except ImportError:  # pragma: no cover - moved in a later TensorFlow: assume a tape
        return True
    return record.could_possibly_record()


def _forward_accumulating():
    """Whether a `tf.autodiff.ForwardAccumulator` is active (forward-mode autodiff: a JVP,
    or a Hessian-vector product taken forward over backward). It differentiates the ops of
    the loops, whose step-indexed TensorLists it cannot: the fused loops failed there with
    "`dtype` <dtype: 'variant'> is not compatible with 1 of dtype int64", so the general
    loop runs instead (as in Keras' layers, whose loop it differentiates)."""
    try:
        from tensorflow.python.eager import forwardprop_util
    except ImportError:  # pragma: no cover - moved in a later TensorFlow: assume none
        return False
    # One entry per active accumulator, whatever it watches.
    return bool(forwardprop_util.pack_tangents([]).indices)


def _array(dtype, length):
    return tf.TensorArray(dtype, size=length)


try:
    # TensorFlow's wrappers of the list ops, which also give each list its handle data (the
    # element dtype and shape): `tape.jacobian` and `tf.vectorized_map` (pfor) convert a loop
    # that carries a list only with it. With the raw ops, a GRU's Jacobian failed with
    # "Required handle data not set". The graph's ops are the same; old against new in one
    # process (GRU of 512 units at C, 15-25 train steps) measured median 0.97x over seven
    # runs (0.82-1.08x), where two copies of one loop differ by up to 3%.
    from tensorflow.python.ops import list_ops as _list_ops
except ImportError:  # pragma: no cover - moved in a later TensorFlow: the raw ops
    _list_ops = None


def _list(dtype, length, shape):
    """An empty step-indexed list of tensors of ``shape`` ([B, width] or, feature-major,
    [width, B], with -1 for B): a TensorList, whose read aliases the stored tensor and whose
    write in a loop replaces it in place."""
    if _list_ops is not None:
        return _list_ops.tensor_list_reserve(
            element_shape=tf.constant(shape), num_elements=length, element_dtype=dtype
        )
    return tf.raw_ops.TensorListReserve(
        element_shape=tf.constant(shape), num_elements=length, element_dtype=dtype
    )


def _set(values, t, value):
    if _list_ops is not None:
        return _list_ops.tensor_list_set_item(values, t, value)
    return tf.raw_ops.TensorListSetItem(input_handle=values, index=t, item=value)


def _get(values, t, dtype, shape):
    return tf.raw_ops.TensorListGetItem(
        input_handle=values, index=t, element_shape=tf.constant(shape), element_dtype=dtype
    )


def _stack(values, dtype, shape):
    """The list as one [T, *shape] tensor (a copy). ``shape`` may be a tensor: a list of no
    elements needs the full element shape."""
    return tf.raw_ops.TensorListStack(
        input_handle=values,
        element_shape=tf.convert_to_tensor(shape, tf.int32),
        element_dtype=dtype,
    )


# Batch-major layout (GRU, simple RNN): every per-step tensor is [B, n]. The loops run
# time-major and give their outputs batch-major, [B, T, u], as the layer returns them; that
# tensor is what their backward pass keeps (`_batch_major`).
def _batch_major(time_major):
    """A loop's stacked outputs [T, B, u] as [B, T, u], the one copy of them that the
    backward pass keeps: with the time-major stack kept instead, it was alive next to the
    layer's output and whatever the loss makes of it, the train step's peak (the simple
    RNN's was 1.10× Keras' at size A, 0.89× without; reading ``h_t`` as a [B, u] slice of
    [B, T, u] at every backward step costs within noise of a time-major slice)."""
    return tf.transpose(time_major, [1, 0, 2])


def _time_major(outputs, after):
    """``outputs`` [B, T, u] (`_batch_major`) as [T, B, u] for the weight gradients, made
    once ``after`` (the stacked gradients) exists, not during the backward loop. An einsum,
    not `tf.transpose`: Grappler folds a transpose of the forward's transpose into the
    time-major stack itself, which then stays alive from the forward pass to here."""
    with tf.control_dependencies(after):
        return tf.einsum("btu->tbu", outputs)


def _previous_state(t, h0, outputs):
    """``h_{t-1}`` from the batch-major ``outputs`` (a [B, u] copy), ``h0`` at t = 0."""
    return tf.where(t > 0, outputs[:, tf.maximum(t - 1, 0)], h0)


def _column_sums(matrix):
    """``Σ_rows matrix`` [n] of a [rows, n] matrix, as ``1ᵀ matrix``: a matmul, 2.4–3.6×
    faster than `tf.reduce_sum` over axis 0 for a bias gradient's [T·B, k·u] (measured at
    sizes A–C, AVX-512 machine, oneDNN on)."""
    ones = tf.ones(tf.stack([1, tf.shape(matrix)[0]]), matrix.dtype)
    return tf.matmul(ones, matrix)[0]


def _weight_gradient(left, right):
    """``Σ_t left_tᵀ right_t`` as one matmul over [T·B, ·]."""
    left = tf.reshape(left, [-1, tf.shape(left)[-1]])
    right = tf.reshape(right, [-1, tf.shape(right)[-1]])
    return tf.matmul(left, right, transpose_a=True)


def _recurrent_kernel_gradient(h0, outputs, d_z):
    """``Σ_t h_{t-1}ᵀ dz_t`` with ``h_{t-1}`` from ``h0`` and time-major ``outputs`` [T, B,
    u] (`_time_major`) and ``d_z`` [T, B, n], without a shifted copy of the outputs: ``h0ᵀ
    dz_0`` plus one matmul over steps 1 … T-1 (slices along time alias the tensors). With no
    steps (an empty segment of `_backward_in_segments`) it is zero."""
    first = tf.reshape(d_z[:1], [-1, d_z.shape[-1]])  # dz_0 [B, n], or [0, n] with no steps
    return tf.matmul(h0[: tf.shape(first)[0]], first, transpose_a=True) + _weight_gradient(
        outputs[:-1], d_z[1:]
    )


def _input_projection_gradients(inputs, input_kernel, d_z_blocks):
    """``(dx, dW, db)`` of ``z_t = x_t W + b`` over all steps, from the gradient of ``z``
    given as column blocks ``[dz^1 [T, B, k1], dz^2 [T, B, k2], …]`` (no concatenated copy):
    ``dx = Σ_j dz^j W_jᵀ``, ``dW = [Σ_t x_tᵀ dz^j_t]_j``, ``db = [Σ_t dz^j_t]_j``."""
    inputs_flat = tf.reshape(inputs, [-1, tf.shape(inputs)[-1]])
    d_inputs, d_kernel, d_bias, start = None, [], [], 0
    for block in d_z_blocks:
        width = block.shape[-1]
        flat = tf.reshape(block, [-1, width])
        part = tf.matmul(flat, tf.transpose(input_kernel[:, start : start + width]))
        d_inputs = part if d_inputs is None else d_inputs + part
        d_kernel.append(tf.matmul(inputs_flat, flat, transpose_a=True))
        d_bias.append(_column_sums(flat))
        start += width
    return (
        tf.reshape(d_inputs, tf.shape(inputs)),
        tf.concat(d_kernel, axis=-1),
        tf.concat(d_bias, axis=-1),
    )


def _transposed_in_backward(kernel, d_outputs):
    """``kernelᵀ``, made once the backward pass has begun (``d_outputs`` exists): left free,
    the executor makes it during the forward pass, where it adds to the peak."""
    with tf.control_dependencies([d_outputs]):
        return tf.transpose(kernel)


def _columns(vector, batch):
    """``vector`` [n] as [n, B], every column a copy: Eigen broadcasts a [n, 1] column along
    the inner dimension far more slowly than it adds two [n, B] tensors."""
    return tf.broadcast_to(vector[:, None], tf.stack([tf.shape(vector)[0], batch]))


# Feature-major layout (the LSTMs).
class _FeatureMajor:
    """A fused loop's layout: every per-step tensor is feature-major, [n, B], and the step's
    matmuls are ``Wᵀ x_tᵀ`` [k·u, D] × [D, B] and ``Uᵀ h_{t-1}ᵀ`` [k·u, u] × [u, B] where the
    batch-major ``x_t W`` and ``h_{t-1} U`` are [B, ·] × [·, k·u]: the same products and
    sums. Eigen's CPU matmul runs the tall, narrow shape much faster (1.6–1.8× at B = 64, u
    = 512; the backward's ``U dz_tᵀ`` [u, k·u] × [k·u, B] 1.1–1.2× ``dz_t Uᵀ``), and gate
    blocks are row blocks: contiguous, split without copies. The loop's interface stays
    batch-major: the inputs [B, T, D] become [T, D, B], the outputs [T, u, B] become [B, T,
    u] and their gradient [B, T, u] becomes [T, u, B], each in one transpose (Keras' own
    time-major transposes on top of ours would copy each twice: measured, the whole-copy
    gradient made the train step 1.04–1.10× faster than transposing ``dh_t`` step by
    step); the states are transposed once each way.

    ``inputs`` [B, T, D] and ``mask`` [B, T] are batch-major."""

    def __init__(self, inputs, input_kernel, bias, kernel, mask, blocks):
        self.inputs = tf.transpose(inputs, [1, 2, 0])  # [T, D, B]
        self.input_kernel = tf.transpose(input_kernel)  # [k·u, D]
        self.bias = self.columns(bias)
        self.kernel = tf.transpose(kernel)  # [k·u, u]
        self.blocks = blocks  # k
        # One recurrent product per gate block (`_per_gate_products`)?
        self.per_gate = _per_gate_products(kernel.shape[0])
        self.kernel_rows = tf.split(self.kernel, blocks, axis=0) if self.per_gate else None
        # What the backward loop keeps of dz_t: its gate blocks, or their concatenation?
        self.block_lists = _dz_in_gate_blocks(kernel.shape[0])
        mask = None if mask is None else tf.transpose(mask)[:, None, :]  # [T, 1, B]
        self.steps = _Mask(mask, inputs.dtype)

    def columns(self, vector):
        """`_columns` of ``vector`` for this batch."""
        return _columns(vector, tf.shape(self.inputs)[-1])

    def projection(self, t, h_prev):
        """``z_tᵀ = ((x_t W + b) + h_{t-1} U)ᵀ`` as its k gate blocks [u, B] (row blocks:
        views, not copies); with `per_gate`, ``U_jᵀ h_{t-1}ᵀ`` for each block j."""
        projected = tf.matmul(self.input_kernel, self.inputs[t]) + self.bias
        if not self.per_gate:
            return tf.split(projected + tf.matmul(self.kernel, h_prev), self.blocks, axis=0)
        projected = tf.split(projected, self.blocks, axis=0)
        return [
            p + tf.matmul(rows, h_prev) for p, rows in zip(projected, self.kernel_rows, strict=True)
        ]

    def recurrent_gradient(self, kernel, after):
        """``f(dz blocks) = ((dz_t Uᵀ)ᵀ, kept)`` for the backward loop, from ``dz_t``'s gate
        blocks [u, B]: ``U dz_tᵀ`` [u, B], and what the loop keeps of ``dz_t`` for the
        weight gradients (`_backward_in_segments`). Without `per_gate` (`_per_gate_products`)
        one product with the blocks' concatenation [k·u, B]; with `per_gate`, ``Σ_j U_j
        dz_{t,j}ᵀ`` over U's column blocks (split once ``after`` exists, when the backward
        pass has begun). Kept: the blocks as they are with `block_lists`
        (`_dz_in_gate_blocks`), otherwise their concatenation."""
        if not self.per_gate:

            def whole(d_blocks):
                d_z = tf.concat(d_blocks, axis=0)
                return tf.matmul(kernel, d_z), d_blocks if self.block_lists else [d_z]

            return whole
        with tf.control_dependencies([after]):
            columns = tf.split(kernel, self.blocks, axis=1)
        return lambda d_blocks: (
            tf.add_n([tf.matmul(c, d) for c, d in zip(columns, d_blocks, strict=True)]),
            d_blocks,
        )


# The feature-major loops make the recurrent products ``U_jᵀ h_{t-1}ᵀ`` and ``U dz_tᵀ`` one
# gate block at a time (k products of [u, u] × [u, B]) or as one product of [k·u, u] × [u, B],
# by the width and by the library that runs TensorFlow's CPU matmuls (`_onednn_matmuls`).
#
# oneDNN: per gate up to this many units, one product above. Measured on the 2-core AVX-512
# machine (old against new in one process, two copies each, 30 train steps): at size A
# (u = 256, B = 64) the LSTM's train step ran 1.16–1.18× faster (the noise control
# 0.99–1.02×), the coupled cell's 1.07–1.17×; at C (u = 512, B = 64) 0.97–0.98× (control
# 0.98×), at B (u = 512, B = 32) 1.01–1.07× (1.01×). The executor runs a step's small
# products side by side on the two cores, where one product of 4× the rows runs on both
# with less to gain from them. Forcing oneDNN on the 2-core AMD EPYC (AVX2) machine agreed:
# per gate 1.18–1.25× faster at A, 1.17× at 192 units, 1.30× at 128; 0.86× at C; at parity
# at 1024 (32 rows). The batch-major GRU follows the same bound with oneDNN (`_gru_per_gate`).
_PER_GATE_PRODUCTS_MAX_UNITS = 256
# Eigen (oneDNN off): per gate except in this band of widths, where one product is faster.
# Measured on the 2-core AMD EPYC (AVX2) machine, one product against per gate in one
# process (two copies each, 15–30 train steps; noise control 0.94–1.05×): one product
# 1.07–1.10× faster at 160 units, 1.13–1.22× at 192 and 224, 1.12–1.33× at 256 (A, and at
# B = 32, 128 and T = 100), the peephole and coupled cells' 1.08–1.21× at A; per gate faster
# at 96 and 128 units (one product 0.89–0.93×), at 1024 (32 rows: 1.19–1.22×) and at 512
# (C and B: 1.00–1.06×), at parity at 384 (0.99×).
_EIGEN_ONE_PRODUCT_UNITS = range(129, 257)
_ONEDNN = None  # `_onednn_matmuls`, once read


def _onednn_matmuls():
    """Whether TensorFlow runs its CPU matmuls with oneDNN in this process, not Eigen: by
    default on Linux x86 only on CPUs with AVX512-VNNI, AVX512-BF16, AVX-VNNI or AMX, else as
    ``TF_ENABLE_ONEDNN_OPTS`` says. Read from TensorFlow's own switch, which it reads once
    per process; True where that cannot be read (the rule measured first)."""
    global _ONEDNN
    if _ONEDNN is None:
        try:
            from tensorflow.python.util import _pywrap_util_port

            _ONEDNN = bool(_pywrap_util_port.IsMklEnabled())
        except (ImportError, AttributeError):
            _ONEDNN = True
    return _ONEDNN


def _eigen_layout():
    """Whether the LSTMs take the layout measured with Eigen's matmuls: no oneDNN
    (`_onednn_matmuls`) and no GPU visible (never measured on one: the oneDNN rule)."""
    return not _onednn_matmuls() and not tf.config.list_logical_devices("GPU")


def _per_gate_products(units):
    """Whether the feature-major loops of ``units`` units make their recurrent products per
    gate block (`_FeatureMajor`); those are never split into batch halves (`_batch_halves`)."""
    if _eigen_layout():
        return units not in _EIGEN_ONE_PRODUCT_UNITS
    return units <= _PER_GATE_PRODUCTS_MAX_UNITS


def _dz_in_gate_blocks(units):
    """Whether the LSTMs' backward loop keeps ``dz_t`` as its k gate blocks [u, B], each in a
    list of its own, or whole, ``dz_tᵀ`` [B, k·u] in one list (`_backward_in_segments`): in
    blocks with per-gate products, and with Eigen's one product too (its band of widths,
    `_EIGEN_ONE_PRODUCT_UNITS`). There one list peaked at 1.01× Keras' LSTM at 32 × 100 steps
    (128 → 256; the blocks 0.76×) and 0.86× at A (0.83×), and the blocks cost 0–6% of the
    train step (2-core AMD EPYC machine, three probes each; old against new in one process).
    With oneDNN's one product (above 256 units) one list: the blocks cost 7–12% at C and B."""
    return _per_gate_products(units) or _eigen_layout()


# One segment by default: 3 trained 1.02–1.07× faster (sizes A–C, 2-core AVX-512 machine) but
# raised the train step's peak to 0.91–0.99× Keras' (one segment: 0.72–0.93×; before dz_t was
# kept batch-major, 3 read 1.01–1.03× in loaded runs), and the peak must stay at or below
# Keras'. tests/layers/test_fast_path.py runs 3 as well.
_BACKWARD_SEGMENTS = 1


def _backward_in_segments(back, length, loop_vars, saved, inputs, input_kernel, h0, outputs):
    """Runs the step ``back(t, *states, *lists) -> (t - 1, *new_states, dz_t)`` of a
    feature-major backward loop (``states``: ``loop_vars``; ``lists``: the forward's saved
    values, ``saved`` as ``(list, rows, offset)``: a list of [rows, B] tensors whose element
    ``t + offset`` step t reads last; ``dz_t``: what `_FeatureMajor.recurrent_gradient`
    keeps of it, a list) from step T - 1 down to 0, and makes the weight gradients from
    them; returns ``(final states, (dx, dW, db, dU))``.

    The loop is serial (``dh_{t-1}`` needs ``dz_t``) and keeps one core busy, while the
    weight gradients wait for the ``dz`` of every step. So the steps run in
    `_BACKWARD_SEGMENTS` loops, from the last segment of time to the first, and once a
    segment's loop ends its share of the gradients (`_projection_gradients` over its steps:
    one matmul each) is made while the next loop runs: nothing orders them, and the executor
    runs them on the otherwise idle core. The shares add up to the whole-sequence products
    (dx: their concatenation along time); a segment is empty when T < `_BACKWARD_SEGMENTS`.

    Memory: each step's saved values are dropped once read (one zero tensor per shape
    written over them all). What the step keeps of ``dz_t`` (`_FeatureMajor.
    recurrent_gradient`) goes to the segment's lists, which `_projection_gradients` stacks
    after the loop, one at a time: each gate block [u, B] to a list of its own where
    `_dz_in_gate_blocks` (per-gate products, and Eigen's one product), so the train step's
    peak, at the end of the backward pass, holds ``dZ`` once and a k-th of it; otherwise
    ``dz_tᵀ`` [B, k·u] to one list, stacked whole. Measured on the 2-core AVX-512 machine
    (docs/benchmarks.md), the LSTM's peak with one list at 256 units was
    1.01–1.14× Keras' at size A and 1.26× at 64 × 100 steps (128 → 256), with the block
    lists 0.83× and 0.79×, and the train step ran 1.05–1.13× faster at A (noise control
    1.02–1.04×): no per-step concatenation and transpose of ``dz_t``. At 512 units (one
    product; two loops over the batch's halves) the block lists cost 7–12% (C, B) and one
    list peaks at 0.84× (C) and 0.77× (B) Keras'. The shares of ``dW``, ``db``, ``dU`` are
    summed as they come. Writing ``dz_t`` over the gates instead, the gathers of the
    segments kept the list from being updated in place and the old gates alive (peak 1.2×
    Keras' at size C with 3 segments, 2.0× with 10).

    Measured on the 2-core AVX-512 machine with 3 segments (before the block lists),
    against one loop in one process (two copies of each, 16–40 train steps interleaved):
    LSTM 1.04–1.07× at A, 1.06–1.07× at C, 1.02–1.04× at B; peephole 1.04× at C; but the
    peak rose to 0.91× Keras' at C and 0.99× at B (one segment: 0.77× and 0.72×), so
    `_BACKWARD_SEGMENTS` is 1. 2 segments gained less, 5–6 no more, with more memory (the
    shares' copies wait for the idle core); a loop waits for the share two segments back.
    With one list, 3 segments at A ran 1.00–1.05× (control 1.02×) and peaked at 0.89–0.93×
    Keras', but over it at small batches (16 × 10 steps: 6.0 against 5.4 MB)."""
    batch = tf.shape(h0)[0]
    units = h0.shape[-1]
    width = input_kernel.shape[-1]  # k·u
    # What `_FeatureMajor.recurrent_gradient` keeps of dz_t: its k blocks [u, B], kept as
    # they are, or their concatenation [k·u, B], kept as [B, k·u].
    per_block = _dz_in_gate_blocks(units)
    parts = width // units if per_block else 1
    part_shape = [units, -1] if per_block else [-1, width]
    bounds = [(length * s) // _BACKWARD_SEGMENTS for s in range(_BACKWARD_SEGMENTS + 1)]
    d_inputs, totals = [], None  # dx of each segment; running sums of dW, db, dU
    # Written over every used-up step: the list then holds this one buffer at those steps.
    # (Not an empty tensor: under XLA a list's elements all keep one shape.)
    spent = {rows: tf.zeros(tf.stack([rows, batch]), inputs.dtype) for _, rows, _ in saved}
    count = len(loop_vars)  # the states; the saved lists follow them
    loop_vars = (*loop_vars, *[values for values, _, _ in saved])
    pending = []  # the shares made so far, as ops, latest last
    for s in reversed(range(_BACKWARD_SEGMENTS)):
        lo, hi = bounds[s], bounds[s + 1]  # a segment is empty when T < _BACKWARD_SEGMENTS

        def body(t, *values, lo=lo):
            states = values[:count]
            lists, d_z_lists = values[count:-parts], values[-parts:]
            t_next, *states, d_z = back(t, *states, *lists)
            lists = [  # the saved values of step t are used up
                _set(saved_list, t + offset, spent[rows])
                for saved_list, (_, rows, offset) in zip(lists, saved, strict=True)
            ]
            d_z_lists = [
                _set(d_z_list, t - lo, part if per_block else tf.transpose(part))
                for d_z_list, part in zip(d_z_lists, d_z, strict=True)
            ]
            return (t_next, *states, *lists, *d_z_lists)

        d_z_lists = [_list(inputs.dtype, hi - lo, part_shape) for _ in range(parts)]
        # At most one share made alongside a loop: a loop waits for the share two segments
        # back, so slow shares (a loaded machine) do not pile up their copies.
        with tf.control_dependencies(pending[-2:-1]):
            start = tf.identity(hi - 1)
        results = tf.while_loop(
            lambda t, *_, lo=lo: t >= lo,
            _keeping_shapes(body),
            (start, *loop_vars, *d_z_lists),
            maximum_iterations=hi - lo,
            parallel_iterations=2,  # side work beside the next step (module docstring)
        )
        loop_vars, d_z_lists = results[1:-parts], results[-parts:]
        h_start = tf.where(lo > 0, outputs[:, tf.maximum(lo - 1, 0)], h0)  # h_{lo-1}
        d_x, *share = _projection_gradients(
            inputs[:, lo:hi], input_kernel, h_start, outputs[:, lo:hi], d_z_lists, per_block
        )
        d_inputs.insert(0, d_x)
        pending.append(tf.group(d_x, *share))
        # Summed as they come: one share alive at a time, not one per segment.
        totals = share if totals is None else [a + b for a, b in zip(totals, share, strict=True)]
    d_kernel, d_bias, d_recurrent = totals
    gradients = (tf.concat(d_inputs, axis=1), d_kernel, d_bias, d_recurrent)
    return loop_vars[:count], gradients


def _projection_gradients(inputs, input_kernel, h0, outputs, d_z_lists, per_block):
    """``(dx [B, T, D], dW, db, dU)`` of ``z_t = (x_t W + b) + h_{t-1} U`` over the steps of
    ``inputs`` [B, T, D] and ``outputs`` [B, T, u] (batch-major; a segment of the sequence,
    `_backward_in_segments`, with ``h0`` the state before its first step) from ``dZ`` in
    column blocks, each a list of the steps' values: with ``per_block`` the k gate blocks
    [u, B], otherwise one list of ``dz_tᵀ`` [B, k·u]. Block j stacked (and made batch-major)
    is ``dZ_j`` [T·B, n] (time-major rows), and ``dX = Σ_j dZ_j W_jᵀ``, ``dW_j = Xᵀ dZ_j``,
    ``db_j = Σ dZ_j`` over its rows, ``dU_j = [h_0 … h_{T-1}]ᵀ dZ_j`` with X and the states
    time-major (`_recurrent_kernel_gradient`). One block at a time: block j + 1 is stacked
    once block j's products are made, so that one stacked block is alive beside the lists
    (each freed as it is stacked), not a stacked copy of all of them."""
    dtype = inputs.dtype
    batch = tf.shape(h0)[0]
    width = input_kernel.shape[-1] // len(d_z_lists)  # n: u per gate block, or k·u
    kernel_blocks = tf.split(input_kernel, len(d_z_lists), axis=1)  # W_j [D, n]
    d_inputs, d_kernel, d_bias, d_recurrent, done = None, [], [], [], []
    for d_z_list, kernel_block in zip(d_z_lists, kernel_blocks, strict=True):
        with tf.control_dependencies(done):  # the previous block's products
            if per_block:  # [T, n, B] to [T, B, n]
                d_z = tf.transpose(_stack(d_z_list, dtype, tf.stack([width, batch])), [0, 2, 1])
            else:
                d_z = _stack(d_z_list, dtype, tf.stack([batch, width]))
        if not done:
            states = _time_major(outputs, [d_z])  # not during the backward loop: the peak
            with tf.control_dependencies([d_z]):
                time_major = tf.transpose(inputs, [1, 0, 2])  # [T, B, D]
            inputs_flat = tf.reshape(time_major, [-1, tf.shape(inputs)[-1]])
        d_z_flat = tf.reshape(d_z, [-1, width])  # row t·B + b: step t's row b
        part = tf.matmul(d_z_flat, kernel_block, transpose_b=True)
        d_inputs = part if d_inputs is None else d_inputs + part
        d_kernel.append(tf.matmul(inputs_flat, d_z_flat, transpose_a=True))
        d_bias.append(_column_sums(d_z_flat))
        d_recurrent.append(_recurrent_kernel_gradient(h0, states, d_z))
        done = [d_inputs, d_kernel[-1], d_bias[-1], d_recurrent[-1]]
    return (
        tf.transpose(tf.reshape(d_inputs, tf.shape(time_major)), [1, 0, 2]),
        tf.concat(d_kernel, axis=-1),
        tf.concat(d_bias, axis=-1),
        tf.concat(d_recurrent, axis=-1),
    )


def _keeping_shapes(body):
    """``body`` whose new loop values keep the static shapes of the ones it was given. A
    value read from a TensorList has an unknown batch size (its element shape says -1), and
    where the batch size is statically 1, ``[u, 1] + [u, ?]`` is [u, ?] (the 1 may
    broadcast): without this, `tf.while_loop` rejects the loop's state as changing shape."""

    def kept(t, *values):
        t_next, *new_values = body(t, *values)
        for new, old in zip(new_values, values, strict=True):
            if isinstance(new, tf.Tensor):
                new.set_shape(old.shape)
        return (t_next, *new_values)

    return kept


def _run(body, length, loop_vars):
    return tf.while_loop(
        lambda t, *_: t < length,
        _keeping_shapes(body),
        (tf.constant(0), *loop_vars),
        maximum_iterations=length,
    )[1:]


def _run_backwards(body, length, loop_vars):
    return tf.while_loop(
        lambda t, *_: t >= 0,
        _keeping_shapes(body),
        (length - 1, *loop_vars),
        maximum_iterations=length,
        parallel_iterations=2,  # side work beside the next step (module docstring)
    )[1:]


class _Mask:
    """The per-step mask of a fused loop; with no mask every method is the identity."""

    def __init__(self, mask, dtype):
        self.masked = mask is not None
        self.mask, self.dtype = mask, dtype

    def carry(self, t, new_states, old_states):
        """The states after step t: the new ones where valid, the old ones where masked."""
        if not self.masked:
            return new_states
        valid = self.mask[t]
        return [tf.where(valid, n, o) for n, o in zip(new_states, old_states, strict=True)]

    def split_gradient(self, t, d_state):
        """``(part through the step, part carried past it)`` of a state's gradient."""
        if not self.masked:
            return d_state, None
        d_new = d_state * tf.cast(self.mask[t], self.dtype)  # exact: the mask is 0 or 1
        return d_new, d_state - d_new


def _plus(value, carried):
    return value if carried is None else value + carried


def _forward(step, length, initial_states, shapes=(), histories=()):
    """Runs ``step(t, *states) -> (h, new_states, saved)`` forward; returns ``(h [T, …],
    final states, lists)``. ``saved()`` makes the values a backward pass needs; with
    ``shapes`` they are kept, step by step, in TensorLists of those element shapes
    (``lists``), without (a forward-only pass) ``saved`` is not called and ``lists`` is
    empty. ``histories``: ``(index, value_0)`` pairs, each a list of T + 1 elements holding
    ``value_0`` and then the new state ``index`` of every step (``c_{t-1}`` and ``c_t`` are
    elements t and t + 1: no select between ``c_0`` and the list at t = 0); they follow
    ``lists``, and like them are kept only with ``shapes``."""
    dtype = initial_states[0].dtype
    count = len(initial_states)

    def body(t, h_ta, *carried):
        states, lists = carried[:count], carried[count:]
        h, states, saved = step(t, *states)
        if shapes:
            values = saved()
            lists = [_set(v, t, value) for v, value in zip(lists, values, strict=False)]
            lists += [
                _set(v, t + 1, states[index])
                for v, (index, _) in zip(carried[count + len(values) :], histories, strict=True)
            ]
        return (t + 1, h_ta.write(t, h), *states, *lists)

    lists = [_list(dtype, length, s) for s in shapes]
    if shapes:
        lists += [
            _set(_list(dtype, length + 1, value.shape.as_list()[:-1] + [-1]), 0, value)
            for _, value in histories
        ]
    h_ta, *carried = _run(body, length, (_array(dtype, length), *initial_states, *lists))
    return h_ta.stack(), carried[:count], carried[count:]


# ------------------------------------------------------------------------------------ LSTM
def _cell_states(c_list, t, dtype, shape):
    """``(c_t, c_{t-1})`` from the history of the carried cell states (`_forward`'s
    ``histories``: element t is ``c_{t-1}``, element t + 1 is ``c_t``). At a masked step the
    gradients through the step are 0, so the carried ``c_t`` will do there."""
    return _get(c_list, t + 1, dtype, shape), _get(c_list, t, dtype, shape)


def _sigmoid_gradient(y, dy):
    """``dy ⊙ y ⊙ (1 − y)``, the gradient through ``y = σ(z)``: one op."""
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def _tanh_gradient(y, dy):
    """``dy ⊙ (1 − y²)``, the gradient through ``y = tanh(z)``: one op."""
    return tf.raw_ops.TanhGrad(y=y, dy=dy)


def _lstm(inputs, input_kernel, bias, kernel, h0, c0, mask, coupled=False):
    """LSTM over batch-major inputs [B, T, D]; returns ``(h [B, T, u], c_T)``.

    Runs feature-major (`_FeatureMajor`): ``z_t``'s gate blocks ``i, f, c̃, o`` are row blocks
    [u, B], and each gets its own sigmoid or tanh op. Measured at size A (profiler, 2-core
    AVX-512 machine), one sigmoid over the three gates' rows [3u, B] took 150–210 µs a step
    inside the loop (~45 µs in an isolated loop: in the loop a large elementwise op waits on
    threads busy with the step's concurrent ops), three over [u, B] 30–50 µs each; the train
    step gained 1.07–1.09× at A, 1.03–1.04× at C, 1.02–1.03× at B (noise controls 1.00–1.01×;
    docs/benchmarks.md). Saved per step: the gates ``σ(z_t)`` ((k-1)·u, ``i, f, o``,
    concatenated beside the serial path; one list per gate was slower), the candidate ``c̃ =
    tanh(z_c)`` (u) and the carried ``c_t`` (u, with ``c_0`` first). The backward loop
    recomputes ``tanh(c_t)``, forms ``dz_t`` in the weights' order from the gradients through
    the sigmoids and tanh (`_sigmoid_gradient`, `_tanh_gradient`: one op per block);
    `_backward_in_segments` runs it and drops each step's saved values once read.

    ``coupled``: the CIFG cell of `CoupledLSTMCell`, gate blocks ``(f, c̃, o)`` (saved gates
    ``f, o``) and ``i = 1 − f``: ``c_t = f ⊙ c_{t-1} + (1 − f) ⊙ c̃``, so ``df = dc_t ⊙ (c_{t-1}
    − c̃)`` and ``dc̃ = dc_t ⊙ (1 − f)``; everything else is the LSTM's.
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[1]
    dtype = inputs.dtype
    blocks = 3 if coupled else 4
    gates_shape = [(blocks - 1) * units, -1]  # the sigmoid gates
    state_shape = [units, -1]

    def forward(inputs, input_kernel, bias, kernel, h0, c0, shapes=()):
        layout = _FeatureMajor(inputs, input_kernel, bias, kernel, mask, blocks)
        c0 = tf.transpose(c0)

        def step(t, h_prev, c_prev):
            z = layout.projection(t, h_prev)
            if coupled:  # blocks f, c̃, o
                gates = [tf.sigmoid(z[0]), tf.sigmoid(z[2])]
                f, o = gates
                candidate = tf.tanh(z[1])
                c = f * c_prev + (1.0 - f) * candidate
            else:  # blocks i, f, c̃, o
                gates = [tf.sigmoid(z[0]), tf.sigmoid(z[1]), tf.sigmoid(z[3])]
                i, f, o = gates
                candidate = tf.tanh(z[2])
                c = f * c_prev + i * candidate
            h, c = layout.steps.carry(t, [o * tf.tanh(c), c], [h_prev, c_prev])
            return h, [h, c], lambda: [tf.concat(gates, axis=0), candidate]

        outputs, (_, c_last), lists = _forward(
            step, length, [tf.transpose(h0), c0], shapes, [(1, c0)]
        )
        return tf.transpose(outputs, [2, 0, 1]), tf.transpose(c_last), layout, lists

    if not _gradient_recorded():
        outputs, c_last, _, _ = forward(inputs, input_kernel, bias, kernel, h0, c0)
        return outputs, c_last

    @tf.custom_gradient
    def lstm(inputs, input_kernel, bias, kernel, h0, c0):
        outputs, c_last, layout, (gates_list, candidate_list, c_list) = forward(
            inputs, input_kernel, bias, kernel, h0, c0, [gates_shape, state_shape]
        )

        def grad(d_outputs, d_c_last):
            zeros = tf.zeros_like(tf.transpose(c0))  # [u, B], as every state
            d_outputs = tf.transpose(d_outputs, [1, 2, 0])  # [T, u, B]: one copy
            recurrent_gradient = layout.recurrent_gradient(kernel, d_outputs)

            def back(t, d_h_next, d_c_next, gates_list, candidate_list, c_list):
                gates = _get(gates_list, t, dtype, gates_shape)
                candidate = _get(candidate_list, t, dtype, state_shape)
                c, c_prev = _cell_states(c_list, t, dtype, state_shape)
                tanh_c = tf.tanh(c)
                d_h, d_h_carried = layout.steps.split_gradient(t, d_outputs[t] + d_h_next)
                d_c, d_c_carried = layout.steps.split_gradient(t, d_c_next)
                if coupled:
                    f, o = tf.split(gates, 2, axis=0)
                    d_c = d_c + _tanh_gradient(tanh_c, d_h * o)
                    d_gates = [
                        _sigmoid_gradient(f, d_c * (c_prev - candidate)),
                        _tanh_gradient(candidate, d_c * (1.0 - f)),
                    ]
                else:
                    i, f, o = tf.split(gates, 3, axis=0)
                    d_c = d_c + _tanh_gradient(tanh_c, d_h * o)
                    d_gates = [
                        _sigmoid_gradient(i, d_c * candidate),
                        _sigmoid_gradient(f, d_c * c_prev),
                        _tanh_gradient(candidate, d_c * i),
                    ]
                d_gates.append(_sigmoid_gradient(o, d_h * tanh_c))
                d_h_prev, d_z = recurrent_gradient(d_gates)
                return (
                    t - 1,
                    _plus(d_h_prev, d_h_carried),
                    _plus(d_c * f, d_c_carried),
                    d_z,
                )

            d_c = zeros if d_c_last is None else tf.transpose(d_c_last)
            (d_h0, d_c0), gradients = _backward_in_segments(
                back,
                length,
                (zeros, d_c),
                # c_t, element t + 1 of c_list, is read last at step t
                [(gates_list, gates_shape[0], 0), (candidate_list, units, 0), (c_list, units, 1)],
                inputs,
                input_kernel,
                h0,
                outputs,
            )
            return (*gradients, tf.transpose(d_h0), tf.transpose(d_c0))

        return (outputs, c_last), grad

    return lstm(inputs, input_kernel, bias, kernel, h0, c0)


def _peephole_lstm(inputs, input_kernel, bias, kernel, h0, c0, peepholes, mask):
    """Peephole LSTM over batch-major inputs [B, T, D]; returns ``(h [B, T, u], c_T)``.

    Forward as `PeepholeLSTMCell`: ``i = σ(z_i + p_i ⊙ c_{t-1})``, ``f = σ(z_f + p_f ⊙
    c_{t-1})``, ``c_t = f ⊙ c_{t-1} + i ⊙ tanh(z_c)``, ``o = σ(z_o + p_o ⊙ c_t)``, ``h_t = o ⊙
    tanh(c_t)``. Backward: the LSTM's, plus ``dc_t += dz_o ⊙ p_o`` (c_t feeds o_t),
    ``dc_{t-1} += dz_i ⊙ p_i + dz_f ⊙ p_f``, and ``dp_i = Σ dz_i ⊙ c_{t-1}``, ``dp_f = Σ dz_f ⊙
    c_{t-1}``, ``dp_o = Σ dz_o ⊙ c_t`` over steps and batch (summed over the batch at every
    step of the backward loop). Runs feature-major (`_FeatureMajor`), the peepholes as
    [u, B] columns. Saved per step: the gates ``[i, f, c̃, o]`` (4u; three sigmoid ops and a
    tanh, so they are concatenated) and the carried ``c_t`` (u, ``c_0`` first; at a masked
    step it differs from the step's own c_t, but there every dz is 0).
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[1]
    dtype = inputs.dtype
    gates_shape = [4 * units, -1]
    state_shape = [units, -1]

    def forward(inputs, input_kernel, bias, kernel, h0, c0, peepholes, shapes=()):
        layout = _FeatureMajor(inputs, input_kernel, bias, kernel, mask, 4)
        peephole_i, peephole_f, peephole_o = map(layout.columns, peepholes)
        c0 = tf.transpose(c0)

        def step(t, h_prev, c_prev):
            z_i, z_f, z_c, z_o = layout.projection(t, h_prev)
            i = tf.sigmoid(z_i + peephole_i * c_prev)
            f = tf.sigmoid(z_f + peephole_f * c_prev)
            candidate = tf.tanh(z_c)
            c = f * c_prev + i * candidate
            o = tf.sigmoid(z_o + peephole_o * c)
            h, c = layout.steps.carry(t, [o * tf.tanh(c), c], [h_prev, c_prev])
            return h, [h, c], lambda: [tf.concat([i, f, candidate, o], axis=0)]

        outputs, (_, c_last), lists = _forward(
            step, length, [tf.transpose(h0), c0], shapes, [(1, c0)]
        )
        columns = (peephole_i, peephole_f, peephole_o)
        return tf.transpose(outputs, [2, 0, 1]), tf.transpose(c_last), layout, columns, lists

    if not _gradient_recorded():
        outputs, c_last, *_ = forward(inputs, input_kernel, bias, kernel, h0, c0, peepholes)
        return outputs, c_last

    @tf.custom_gradient
    def lstm(inputs, input_kernel, bias, kernel, h0, c0, peephole_i, peephole_f, peephole_o):
        outputs, c_last, layout, (p_i, p_f, p_o), (gates_list, c_list) = forward(
            inputs,
            input_kernel,
            bias,
            kernel,
            h0,
            c0,
            (peephole_i, peephole_f, peephole_o),
            [gates_shape],
        )

        def grad(d_outputs, d_c_last):
            zeros = tf.zeros_like(tf.transpose(c0))  # [u, B], as every state
            d_outputs = tf.transpose(d_outputs, [1, 2, 0])  # [T, u, B]: one copy
            recurrent_gradient = layout.recurrent_gradient(kernel, d_outputs)

            def back(t, d_h_next, d_c_next, d_p_i, d_p_f, d_p_o, gates_list, c_list):
                gates = _get(gates_list, t, dtype, gates_shape)
                c, c_prev = _cell_states(c_list, t, dtype, state_shape)
                tanh_c = tf.tanh(c)
                i, f, candidate, o = tf.split(gates, 4, axis=0)
                d_h, d_h_carried = layout.steps.split_gradient(t, d_outputs[t] + d_h_next)
                d_c, d_c_carried = layout.steps.split_gradient(t, d_c_next)
                d_z_o = _sigmoid_gradient(o, d_h * tanh_c)
                d_c = d_c + _tanh_gradient(tanh_c, d_h * o) + d_z_o * p_o
                d_z_i = _sigmoid_gradient(i, d_c * candidate)
                d_z_f = _sigmoid_gradient(f, d_c * c_prev)
                d_z_c = _tanh_gradient(candidate, d_c * i)
                d_h_prev, d_z = recurrent_gradient([d_z_i, d_z_f, d_z_c, d_z_o])
                d_c_prev = d_c * f + d_z_i * p_i + d_z_f * p_f
                return (
                    t - 1,
                    _plus(d_h_prev, d_h_carried),
                    _plus(d_c_prev, d_c_carried),
                    d_p_i + tf.reduce_sum(d_z_i * c_prev, axis=1),
                    d_p_f + tf.reduce_sum(d_z_f * c_prev, axis=1),
                    d_p_o + tf.reduce_sum(d_z_o * c, axis=1),
                    d_z,
                )

            d_c = zeros if d_c_last is None else tf.transpose(d_c_last)
            no_peephole = tf.zeros([units], dtype)
            (d_h0, d_c0, d_p_i, d_p_f, d_p_o), gradients = _backward_in_segments(
                back,
                length,
                (zeros, d_c, no_peephole, no_peephole, no_peephole),
                [(gates_list, gates_shape[0], 0), (c_list, units, 1)],
                inputs,
                input_kernel,
                h0,
                outputs,
            )
            return (
                *gradients,
                tf.transpose(d_h0),
                tf.transpose(d_c0),
                d_p_i,
                d_p_f,
                d_p_o,
            )

        return (outputs, c_last), grad

    return lstm(inputs, input_kernel, bias, kernel, h0, c0, *peepholes)


# ------------------------------------------------------------------------------------- GRU
def _gru_reset_after_gates(projected, recurrent, h_prev):
    """``(z, r, h̃, h)`` of a GRU step (reset after) from the blocks ``(x W + b)_{z,r,h}``
    and ``(h_{t-1} U + b_rec)_{z,r,h}``, in either layout: ``z = σ(p_z + q_z)``, ``r = σ(p_r +
    q_r)``, ``h̃ = tanh(p_h + r ⊙ q_h)``, ``h = z ⊙ h_{t-1} + (1 − z) ⊙ h̃`` (one op per gate:
    `_lstm`)."""
    projected_z, projected_r, projected_h = projected
    recurrent_z, recurrent_r, recurrent_h = recurrent
    z = tf.sigmoid(projected_z + recurrent_z)
    r = tf.sigmoid(projected_r + recurrent_r)
    candidate = tf.tanh(projected_h + r * recurrent_h)
    return z, r, candidate, z * h_prev + (1.0 - z) * candidate


def _gru_reset_after_gradients(d_h, z, r, candidate, recurrent_h, h_prev):
    """``(dz_z, dz_r, dz_h, dz_h ⊙ r)`` of `_gru_reset_after_gates` from ``dh`` (the step's
    part, `_Mask.split_gradient`): ``dz_h = tanh'(h̃) ⊙ dh ⊙ (1 − z)``, ``dz_z = σ'(z) ⊙ dh ⊙
    (h_{t-1} − h̃)``, ``dz_r = σ'(r) ⊙ dz_h ⊙ q_h``; ``dz_h ⊙ r`` is the gradient of ``q_h``."""
    d_candidate = _tanh_gradient(candidate, d_h * (1.0 - z))
    d_z = _sigmoid_gradient(z, d_h * (h_prev - candidate))
    d_r = _sigmoid_gradient(r, d_candidate * recurrent_h)
    return d_z, d_r, d_candidate, d_candidate * r


def _gru_reset_after_back(t, d_h, d_h_carried, saved, h_prev, lists, recurrent_terms):
    """A backward step of a reset-after GRU loop, in either layout: the loop's new values
    ``(t - 1, dh_{t-1}, lists…)`` from the step's part of ``dh`` and the part carried past it
    (`_Mask.split_gradient`) and the saved ``(z, r, h̃, h_{t-1} U_h + b_h)``; ``dz_z``,
    ``dz_r``, ``dz_h`` and ``dz_h ⊙ r`` are written at t in ``lists`` (over what was saved
    there). ``recurrent_terms(blocks)`` gives the terms of ``[dz_z, dz_r, dz_h ⊙ r] Uᵀ`` in
    the loop's layout (one product, or one per gate block), which ``dh ⊙ z`` joins."""
    z, r, candidate, recurrent_h = saved
    d_z, d_r, d_candidate, d_candidate_r = _gru_reset_after_gradients(
        d_h, z, r, candidate, recurrent_h, h_prev
    )
    d_h_prev = tf.add_n([d_h * z, *recurrent_terms((d_z, d_r, d_candidate_r))])
    values = (d_z, d_r, d_candidate, d_candidate_r)
    return (
        t - 1,
        _plus(d_h_prev, d_h_carried),
        *(_set(v, t, value) for v, value in zip(lists, values, strict=True)),
    )


def _gru_per_gate(units):
    """Whether the batch-major GRU (`_gru_reset_after`; `_gru_reset_before` for its ``z`` and
    ``r`` blocks) makes its recurrent products one gate block at a time, ``h_{t-1} U_j`` [B, u]
    × [u, u] and ``Σ_j dz_{t,j} U_jᵀ``, instead of one [B, u] × [u, 3u] (or [u, 2u]) product
    split into blocks (copies) and one of the blocks' concatenation:
    with oneDNN up to `_PER_GATE_PRODUCTS_MAX_UNITS` units, as the LSTMs' loops; with Eigen
    (and where a GPU is visible, never measured) one product. Measured with
    ``TF_ENABLE_ONEDNN_OPTS=1`` on the AMD EPYC / AVX2 machine, old against new in one process
    (two copies each, 30 train steps): 1.13x at A (64 x 50, 128 -> 256, two loops over the
    halves), 1.29x at 32 x 100 with 256 units, at parity at 128 and 384 units; with Eigen
    0.93-0.95x at A."""
    return (
        _onednn_matmuls()
        and units <= _PER_GATE_PRODUCTS_MAX_UNITS
        and not tf.config.list_logical_devices("GPU")
    )


def _gru_reset_after(inputs, input_kernel, bias, kernel, recurrent_bias, h0, mask):
    """GRU (reset after the recurrent matmul) over time-major inputs; returns h [B, T, u].

    Saved per step: the gates ``z`` and ``r`` (u each), the candidate (u) and ``h_{t-1} U_h +
    b_h`` (u), each in its own list; the backward loop writes ``dz_z``, ``dz_r``, ``dz_h`` and
    ``dz_h ⊙ r`` over them. The recurrent products are made per gate block or whole
    (`_gru_per_gate`).
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[0]
    dtype = inputs.dtype
    steps = _Mask(mask, dtype)
    # Saved per step: the gates z and r, the candidate, the recurrent candidate term.
    shapes = [[-1, units]] * 4

    per_gate = _gru_per_gate(units)
    if per_gate:
        kernel_blocks = tf.split(kernel, 3, axis=1)
        recurrent_bias_blocks = tf.split(recurrent_bias, 3)

    def step(t, h_prev):
        projected_z, projected_r, projected_h = tf.split(
            tf.matmul(inputs[t], input_kernel) + bias, 3, axis=-1
        )
        if per_gate:
            recurrent_z, recurrent_r, recurrent_h = (
                tf.nn.bias_add(tf.matmul(h_prev, k), b)
                for k, b in zip(kernel_blocks, recurrent_bias_blocks, strict=True)
            )
        else:
            recurrent = tf.nn.bias_add(tf.matmul(h_prev, kernel), recurrent_bias)
            recurrent_z, recurrent_r, recurrent_h = tf.split(recurrent, 3, axis=-1)
        z, r, candidate, h = _gru_reset_after_gates(
            (projected_z, projected_r, projected_h), (recurrent_z, recurrent_r, recurrent_h), h_prev
        )
        (h,) = steps.carry(t, [h], [h_prev])
        return h, [h], lambda: [z, r, candidate, recurrent_h]

    if not _gradient_recorded():
        return _batch_major(_forward(step, length, [h0])[0])

    @tf.custom_gradient
    def gru(inputs, input_kernel, bias, kernel, recurrent_bias, h0):
        outputs, _, lists = _forward(step, length, [h0], shapes)
        outputs = _batch_major(outputs)

        def grad(d_outputs):
            kernel_t = _transposed_in_backward(kernel, d_outputs)
            if per_gate:
                kernel_t_blocks = tf.split(kernel_t, 3, axis=0)

                def recurrent_terms(blocks):
                    return [tf.matmul(d, k) for d, k in zip(blocks, kernel_t_blocks, strict=True)]
            else:

                def recurrent_terms(blocks):
                    return [tf.matmul(tf.concat(blocks, axis=-1), kernel_t)]

            def back(t, d_h_next, *lists):
                saved = [
                    _get(values, t, dtype, shape)
                    for values, shape in zip(lists, shapes, strict=True)
                ]
                h_prev = _previous_state(t, h0, outputs)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs[:, t] + d_h_next)
                return _gru_reset_after_back(
                    t, d_h, d_h_carried, saved, h_prev, lists, recurrent_terms
                )

            d_h0, *d_lists = _run_backwards(back, length, (tf.zeros_like(h0), *lists))
            d_z, d_r, d_candidate, d_candidate_r = (
                _stack(values, dtype, shape) for values, shape in zip(d_lists, shapes, strict=True)
            )
            time_major = _time_major(outputs, [d_z, d_r, d_candidate, d_candidate_r])
            # the gradients of h_{t-1} U + b_rec, column blocks z, r, h: for dU and db_rec
            d_recurrent = (d_z, d_r, d_candidate_r)
            d_kernel = tf.concat(
                [_recurrent_kernel_gradient(h0, time_major, d) for d in d_recurrent], axis=-1
            )
            d_recurrent_bias = tf.concat(
                [_column_sums(tf.reshape(d, [-1, units])) for d in d_recurrent], axis=-1
            )
            return (
                *_input_projection_gradients(inputs, input_kernel, [d_z, d_r, d_candidate]),
                d_kernel,
                d_recurrent_bias,
                d_h0,
            )

        return outputs, grad

    return gru(inputs, input_kernel, bias, kernel, recurrent_bias, h0)


# On the CPU with Eigen the GRU (reset after) runs feature-major from this many units (with oneDNN
# batch-major: `_gru_feature_major`). Measured on the AMD EPYC / AVX2 machine, old against new in
# one process (two copies each, 20-30 train steps), the loop as it is. Eigen: 1.05-1.11x at C (u =
# 512, B = 64), 1.14-1.18x at B (512, 32), peak memory 0.89-0.91x Keras' GRU at C and 0.92-0.93x at
# B (batch-major: 0.83x); at 256 units (A) 1.00-1.08x with a peak at 0.95-1.05x Keras' (batch-major
# 0.78x), at 384 units 1.00-1.02x; and 0.76-0.79x at 128 units on 32 rows (an earlier version),
# where the copies into and out of the layout cost more than the matmuls gain. oneDNN
# (``TF_ENABLE_ONEDNN_OPTS=1`` on that machine; on the AVX-512 one the other way): 1.12-1.18x and
# 1.08-1.16x at C, 1.13-1.15x and 1.15-1.18x at B in two runs, 0.98-0.99x at 384 units; at A (two
# loops over the batch's halves, `_gru_in_halves`) 1.11x, one loop 1.08x, but a peak of 33.0 and
# 31.6 MB against Keras' GRU's 31.3 (batch-major 25.0); peak at C 0.85-0.89x Keras' GRU's, at B
# 0.91x (batch-major 0.82x, 0.78x; three probes each).
_FEATURE_MAJOR_GRU_MIN_UNITS = 512


def _gru_feature_major(units):
    """Whether the GRU (reset after) runs feature-major (`_gru_reset_after_feature_major`):
    on the CPU with Eigen from `_FEATURE_MAJOR_GRU_MIN_UNITS` units; batch-major with oneDNN
    (measured on an AMD EPYC / AVX-512 machine, where TensorFlow picks it by default: one
    batch-major loop ran 1.02-1.09x the feature-major one at C, 1.06x at B, 1.04-1.08x at 1024
    units, and two batch-major loops over the halves 1.16-1.20x at C) and where a GPU is
    visible (never measured there: the rule first measured). Forcing oneDNN on the AMD
    EPYC / AVX2 machine measured the other way (feature-major 1.08-1.18x at C and B, below);
    TensorFlow does not pick oneDNN there by default."""
    return (
        units >= _FEATURE_MAJOR_GRU_MIN_UNITS
        and not _onednn_matmuls()
        and not tf.config.list_logical_devices("GPU")
    )


def _gru_reset_after_feature_major(inputs, input_kernel, bias, kernel, recurrent_bias, h0, mask):
    """`_gru_reset_after` feature-major (the LSTMs' layout, `_FeatureMajor`): every per-step
    tensor is [n, B], the step's matmuls are ``Wᵀ x_tᵀ`` [3u, D] × [D, B] and ``Uᵀ h_{t-1}ᵀ``
    [3u, u] × [u, B], and their gate blocks are row blocks (split without copies); the same
    products and sums as the batch-major loop's, in another order (and the recurrent bias of
    ``z`` and ``r`` added to the input bias first). Time-major inputs [T, B, D] and mask [T,
    B, 1], as `_gru_reset_after`; returns h [B, T, u]. Eigen runs the step's tall, narrow
    products faster than the batch-major ones ([768, 256] × [256, 64] in 318 µs in a loop, [64,
    256] × [256, 768] in 456 µs).

    Saved per step, each in its own list [u, B]: ``z``, ``r``, the candidate and ``h_{t-1}
    U_h + b_h``, as in the batch-major loop; the backward loop reads ``h_{t-1}`` from the
    outputs (a [B, u] slice, transposed) and writes ``dz_z``, ``dz_r``, ``dz_h`` and ``dz_h ⊙
    r`` over the four saved values, and makes ``U [dz_z; dz_r; dz_h ⊙ r]`` in one product.
    (An earlier version saved the states ``h_0 … h_T`` instead, which share their memory
    with the outputs' steps during the forward loop, and made ``h_{t-1} U_h + b_h`` again at
    every backward step, a [u, u] × [u, B] product; old against new in one process, two
    copies each, on the AMD EPYC / AVX2 machine: 1.04-1.06x at C and 1.03-1.04x at B with
    Eigen, 1.07-1.08x at C and B with oneDNN; peak at C 34.9-40.2 MB, median 36.0, 4 of 30
    probes at 39.9-40.2, against 33.4-36.0 before and Keras' GRU's 40.3-44.4; at B 59.0-59.9
    against 56.7-59.2 and Keras' 64.2-64.9.) After the loop each list is stacked
    [T, u, B] and made [u, T·B] (rows of B numbers moved whole: a transpose of each step's
    block to [B, u] cost 2.6 ms a list at size A here, this 1 ms), one list at a time, each
    after the previous one's products: ``dW_jᵀ = dZ_j X``, ``dU_j = H_prevᵀ dZ_jᵀ``, ``db_j``
    its row sums, ``dX = Σ_j dZ_jᵀ W_jᵀ``, with X and ``H_prev = [h_0 … h_{T-1}]`` (from the
    outputs) time-major [T·B, ·]. A gate block split off the [3u, B] product must not be
    saved as it is: the list would keep the whole product alive (6 MB more at size A).
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[0]
    dtype = inputs.dtype
    steps = _Mask(None if mask is None else tf.transpose(mask, [0, 2, 1]), dtype)  # [T, 1, B]
    shape = [units, -1]

    def forward(inputs, input_kernel, bias, kernel, recurrent_bias, h0, keep):
        inputs_t = tf.transpose(inputs, [0, 2, 1])  # [T, D, B]
        input_kernel_t = tf.transpose(input_kernel)  # [3u, D]
        kernel_t = tf.transpose(kernel)  # [3u, u]
        rows = tf.shape(inputs)[1]
        # The recurrent bias of z and r joins the input bias (an add fewer a step); b_h's is
        # added to the h block, which r multiplies.
        recurrent_bias_z_r, recurrent_bias_h = tf.split(recurrent_bias, [2 * units, units])
        bias_t = _columns(bias + tf.concat([recurrent_bias_z_r, tf.zeros([units], dtype)], 0), rows)
        recurrent_bias_t = _columns(recurrent_bias_h, rows)

        def step(t, h_prev):
            projected = tf.matmul(input_kernel_t, inputs_t[t]) + bias_t
            projected_z, projected_r, projected_h = tf.split(projected, 3, axis=0)
            recurrent_z, recurrent_r, recurrent_h = tf.split(tf.matmul(kernel_t, h_prev), 3, axis=0)
            recurrent_h = recurrent_h + recurrent_bias_t
            z, r, candidate, h = _gru_reset_after_gates(
                (projected_z, projected_r, projected_h),
                (recurrent_z, recurrent_r, recurrent_h),
                h_prev,
            )
            (h,) = steps.carry(t, [h], [h_prev])
            return h, [h], lambda: [z, r, candidate, recurrent_h]

        h0_t = tf.transpose(h0)
        outputs, _, lists = _forward(step, length, [h0_t], [shape] * 4 if keep else ())
        return tf.transpose(outputs, [2, 0, 1]), lists  # [T, u, B] to [B, T, u]

    if not _gradient_recorded():
        return forward(inputs, input_kernel, bias, kernel, recurrent_bias, h0, False)[0]

    @tf.custom_gradient
    def gru(inputs, input_kernel, bias, kernel, recurrent_bias, h0):
        outputs, lists = forward(inputs, input_kernel, bias, kernel, recurrent_bias, h0, True)

        def grad(d_outputs):
            d_outputs = tf.transpose(d_outputs, [1, 2, 0])  # [T, u, B]: one copy

            def recurrent_terms(blocks):
                return [tf.matmul(kernel, tf.concat(blocks, axis=0))]

            def back(t, d_h_next, *lists):
                saved = [_get(values, t, dtype, shape) for values in lists]
                h_prev = tf.transpose(_previous_state(t, h0, outputs))  # [u, B]
                d_h, d_h_carried = steps.split_gradient(t, d_outputs[t] + d_h_next)
                return _gru_reset_after_back(
                    t, d_h, d_h_carried, saved, h_prev, lists, recurrent_terms
                )

            zeros = tf.zeros_like(tf.transpose(h0))
            d_h0, *d_lists = _run_backwards(back, length, (zeros, *lists))
            batch = tf.shape(h0)[0]
            kernel_blocks = tf.split(input_kernel, 3, axis=1)  # W_j [D, u]
            # (list, W_j for dx and dW, for dU and db_rec): dz_h feeds W_h, dz_h ⊙ r U_h
            blocks = [
                (d_lists[0], kernel_blocks[0], True),
                (d_lists[1], kernel_blocks[1], True),
                (d_lists[2], kernel_blocks[2], False),
                (d_lists[3], None, True),
            ]
            d_inputs, d_kernel, d_bias, d_recurrent, d_recurrent_bias, done = (
                None, [], [], [], [], []
            )  # fmt: skip
            for values, kernel_block, recurrent in blocks:
                with tf.control_dependencies(done):  # the previous block's products
                    stacked = _stack(values, dtype, tf.stack([units, batch]))  # [T, u, B]
                d_z = tf.reshape(tf.transpose(stacked, [1, 0, 2]), [units, -1])  # [u, T·B]
                done = []
                if kernel_block is not None:
                    part = tf.matmul(d_z, kernel_block, transpose_a=True, transpose_b=True)
                    d_inputs = part if d_inputs is None else d_inputs + part  # [T·B, D]
                    d_kernel.append(
                        tf.transpose(tf.matmul(d_z, tf.reshape(inputs, [-1, inputs.shape[-1]])))
                    )
                    d_bias.append(tf.reduce_sum(d_z, axis=1))
                    done += [d_inputs, d_kernel[-1], d_bias[-1]]
                if recurrent:
                    if not d_recurrent:  # [h_0 … h_{T-1}] time-major [T·B, u]
                        with tf.control_dependencies([stacked]):  # not during the loop
                            states = tf.concat(
                                [h0[None], tf.transpose(outputs[:, :-1], [1, 0, 2])], axis=0
                            )[: tf.shape(stacked)[0]]  # none with no steps
                        states = tf.reshape(states, [-1, units])
                    d_recurrent.append(  # [T·B, u]ᵀ × [u, T·B]ᵀ
                        tf.matmul(states, d_z, transpose_a=True, transpose_b=True)
                    )
                    d_recurrent_bias.append(tf.reduce_sum(d_z, axis=1))
                    done += [d_recurrent[-1], d_recurrent_bias[-1]]
            return (
                tf.reshape(d_inputs, tf.shape(inputs)),
                tf.concat(d_kernel, axis=-1),
                tf.concat(d_bias, axis=-1),
                tf.concat(d_recurrent, axis=-1),
                tf.concat(d_recurrent_bias, axis=-1),
                tf.transpose(d_h0),
            )

        return outputs, grad

    return gru(inputs, input_kernel, bias, kernel, recurrent_bias, h0)


def _gru_reset_before(inputs, input_kernel, bias, kernel, h0, mask):
    """GRU (reset before the recurrent matmul) over time-major inputs; returns h [B, T, u].

    Saved per step: the gates ``z`` and ``r`` (u each) and the candidate (u), each in its own
    list; the backward loop writes ``dz_z``, ``dz_r`` and ``dz_h`` over them and keeps ``r ⊙
    h_{t-1}`` for ``dU_h``. The products with ``U_z`` and ``U_r`` are made per gate block or
    as one (`_gru_per_gate`; with oneDNN per block: 1.25-1.26x at A, 1.15-1.16x at 32 x 100
    with 256 units, at parity at 128 units and 1.02-1.04x at 384, measured as there; with
    Eigen 1.00-1.04x at A, at parity at 32 x 100, where it keeps one product).
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[0]
    dtype = inputs.dtype
    steps = _Mask(mask, dtype)
    # The gates z and r and the candidate, saved per step, then r ⊙ h_{t-1} from the backward
    # loop.
    shapes = [[-1, units]] * 4
    # Sliced once here, not at every step.
    kernel_zr, kernel_h = kernel[:, : 2 * units], kernel[:, 2 * units :]
    per_gate = _gru_per_gate(units)
    if per_gate:
        kernel_z, kernel_r = kernel[:, :units], kernel[:, units : 2 * units]

    def step(t, h_prev):
        projected_z, projected_r, projected_h = tf.split(
            tf.matmul(inputs[t], input_kernel) + bias, 3, axis=-1
        )
        if per_gate:
            recurrent_z, recurrent_r = tf.matmul(h_prev, kernel_z), tf.matmul(h_prev, kernel_r)
        else:
            recurrent_z, recurrent_r = tf.split(tf.matmul(h_prev, kernel_zr), 2, axis=-1)
        z = tf.sigmoid(projected_z + recurrent_z)  # one op per gate (`_lstm`)
        r = tf.sigmoid(projected_r + recurrent_r)
        candidate = tf.tanh(projected_h + tf.matmul(r * h_prev, kernel_h))
        (h,) = steps.carry(t, [z * h_prev + (1.0 - z) * candidate], [h_prev])
        return h, [h], lambda: [z, r, candidate]

    if not _gradient_recorded():
        return _batch_major(_forward(step, length, [h0])[0])

    @tf.custom_gradient
    def gru(inputs, input_kernel, bias, kernel, h0):
        outputs, _, lists = _forward(step, length, [h0], shapes[:3])
        outputs = _batch_major(outputs)

        def grad(d_outputs):
            kernel_zr_t = _transposed_in_backward(kernel_zr, d_outputs)
            kernel_h_t = _transposed_in_backward(kernel_h, d_outputs)
            kernel_z_t, kernel_r_t = tf.split(kernel_zr_t, 2) if per_gate else (None, None)

            def back(t, d_h_next, z_list, r_list, candidate_list, reset_h_list):
                z, r, candidate = (
                    _get(values, t, dtype, shape)
                    for values, shape in zip(
                        (z_list, r_list, candidate_list), shapes[:3], strict=True
                    )
                )
                h_prev = _previous_state(t, h0, outputs)
                d_h, d_h_carried = steps.split_gradient(t, d_outputs[:, t] + d_h_next)
                d_candidate = _tanh_gradient(candidate, d_h * (1.0 - z))
                d_reset_h = tf.matmul(d_candidate, kernel_h_t)  # gradient of r ⊙ h_{t-1}
                d_z = _sigmoid_gradient(z, d_h * (h_prev - candidate))
                d_r = _sigmoid_gradient(r, d_reset_h * h_prev)
                if per_gate:
                    d_h_prev = tf.add_n(
                        [
                            d_h * z,
                            d_reset_h * r,
                            tf.matmul(d_z, kernel_z_t),
                            tf.matmul(d_r, kernel_r_t),
                        ]
                    )
                else:
                    d_zr = tf.concat([d_z, d_r], axis=-1)
                    d_h_prev = d_h * z + d_reset_h * r + tf.matmul(d_zr, kernel_zr_t)
                return (
                    t - 1,
                    _plus(d_h_prev, d_h_carried),
                    _set(z_list, t, d_z),
                    _set(r_list, t, d_r),
                    _set(candidate_list, t, d_candidate),
                    _set(reset_h_list, t, r * h_prev),
                )

            d_h0, *d_lists = _run_backwards(
                back, length, (tf.zeros_like(h0), *lists, _list(dtype, length, shapes[3]))
            )
            d_z, d_r, d_candidate, reset_h = (
                _stack(values, dtype, shape) for values, shape in zip(d_lists, shapes, strict=True)
            )
            time_major = _time_major(outputs, [d_z, d_r])
            d_kernel = tf.concat(
                [
                    _recurrent_kernel_gradient(h0, time_major, d_z),
                    _recurrent_kernel_gradient(h0, time_major, d_r),
                    _weight_gradient(reset_h, d_candidate),
                ],
                axis=-1,
            )
            return (
                *_input_projection_gradients(inputs, input_kernel, [d_z, d_r, d_candidate]),
                d_kernel,
                d_h0,
            )

        return outputs, grad

    return gru(inputs, input_kernel, bias, kernel, h0)


# ---------------------------------------------------------------------------------- simple
def _simple(inputs, input_kernel, bias, kernel, h0, mask):
    """Elman recurrence ``h_t = tanh((x_t W + b) + h_{t-1} U)`` over time-major inputs;
    returns h batch-major, [B, T, u].

    Backward: ``da_t = dh_t ⊙ (1 − h̃_t²)`` with ``h̃_t`` the step's own output (before a
    mask carries the old state over), ``dh_{t-1} = da_t Uᵀ``, ``dU = Σ h_{t-1}ᵀ da_t``,
    ``dW = Σ x_tᵀ da_t``. Nothing but the outputs is saved: ``h̃_t`` is the output ``h_t``
    at every valid step, and at a masked step ``dh_t`` through the step is 0.

    Unlike the gated cells, the input projection is made for all steps before the loop: a
    step here is a single [B, u] × [u, u] matmul, next to which a second, per-step one is
    not free (0.93–0.94× the train-step speed in two loaded runs at size C).
    """
    units = h0.shape[-1]
    length = tf.shape(inputs)[0]
    dtype = inputs.dtype
    steps = _Mask(mask, dtype)
    state_shape = [-1, units]

    def forward(inputs, input_kernel, bias, kernel, h0):
        projected = tf.reshape(
            tf.matmul(tf.reshape(inputs, [-1, tf.shape(inputs)[-1]]), input_kernel) + bias,
            [length, -1, units],
        )

        def step(t, h_prev):
            new = tf.tanh(projected[t] + tf.matmul(h_prev, kernel))
            (h,) = steps.carry(t, [new], [h_prev])
            return h, [h], lambda: []

        return _batch_major(_forward(step, length, [h0])[0])

    if not _gradient_recorded():
        return forward(inputs, input_kernel, bias, kernel, h0)

    @tf.custom_gradient
    def simple(inputs, input_kernel, bias, kernel, h0):
        outputs = forward(inputs, input_kernel, bias, kernel, h0)

        def grad(d_outputs):
            kernel_t = _transposed_in_backward(kernel, d_outputs)

            def back(t, d_h_next, d_a_list):
                d_h, d_h_carried = steps.split_gradient(t, d_outputs[:, t] + d_h_next)
                d_a = _tanh_gradient(outputs[:, t], d_h)
                return (
                    t - 1,
                    _plus(tf.matmul(d_a, kernel_t), d_h_carried),
                    _set(d_a_list, t, d_a),
                )

            d_h0, d_a_list = _run_backwards(
                back, length, (tf.zeros_like(h0), _list(dtype, length, state_shape))
            )
            d_a = _stack(d_a_list, dtype, state_shape)
            return (
                *_input_projection_gradients(inputs, input_kernel, [d_a]),
                _recurrent_kernel_gradient(h0, _time_major(outputs, [d_a]), d_a),
                d_h0,
            )

        return outputs, grad

    return simple(inputs, input_kernel, bias, kernel, h0)
