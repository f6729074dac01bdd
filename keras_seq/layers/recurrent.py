"""Runs a recurrent cell over a sequence."""

import contextlib
import copy

import keras
import tensorflow as tf
from keras import ops
from keras.src.backend import AutocastScope, get_autocast_scope
from keras.src.utils import tracking

from keras_seq._checked_ids import (
    check_bool,
    check_static_shape,
    leading_dims_matching,
    mask_tensor,
)
from keras_seq.cells.recurrent_cell import DropoutRNNCell, RecurrentCell
from keras_seq.layers._fused_recurrence import fused_recurrence, supports_fused_recurrence

# Arguments of the sequence layer (and of any Keras layer); every other keyword argument of a
# cell-family layer such as `LSTM` goes to its cell.
LAYER_ARGUMENTS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "name",
    "dtype",
    "trainable",
    "autocast",
    "activity_regularizer",
    "input_shape",
    "batch_size",
    "input_dim",
)
_CELL_CONFIG_SKIP = ("name", "trainable", "dtype")


def ragged_inputs_message(name):
    return (
        f"{name}: ragged `inputs` are not supported; pad them and pass their mask, e.g. "
        "`layer(x.to_tensor(), mask=tf.sequence_mask(x.row_lengths()))`."
    )


def _shape(x):
    return tuple(x.shape)


def keras_mask(sequences, mask):
    """``mask``, or when None the Keras mask that ``sequences`` carry (e.g. from
    ``Embedding(mask_zero=True)``). Keras fills a layer's ``mask`` argument from its inputs
    only when it is called with one tensor argument: given ``initial_state`` too (a seq2seq
    decoder started from the encoder's states), the mask of the sequences was dropped, every
    padding step was read as valid, and the outputs still carried the mask."""
    if mask is None:
        mask = getattr(sequences, "_keras_mask", None)
    return mask


def _dropout_cells(cell):
    """``[(cell, input_size)]`` for every cell whose per-sequence dropout masks the layer
    draws and resets: ``cell`` itself (``input_size`` None: it reads the layer's inputs), or
    each cell stacked in a Keras `StackedRNNCells`, which reads the previous one's output."""
    if not isinstance(cell, keras.layers.StackedRNNCells):
        return [(cell, None)] if isinstance(cell, DropoutRNNCell) else []
    found, input_size = [], None
    for inner in cell.cells:
        found += [(c, input_size if size is None else size) for c, size in _dropout_cells(inner)]
        input_size = getattr(inner, "output_size", None) or keras.tree.flatten(inner.state_size)[0]
    return found


@keras.saving.register_keras_serializable(package="keras_seq")
class Recurrent(keras.layers.Layer):
    """Runs a recurrent cell over the time axis of a [batch, time, features] sequence.

    For a keras_seq cell the input projection ``x_t W + b`` of every step is computed before
    the recurrence with one matmul over [batch·time, features] (``cell.project_inputs``), and
    the loop (a ``tf.while_loop``, or unrolled) runs only the recurrence ``cell.step``; any
    other Keras cell (e.g. `keras.layers.LSTMCell`) is called step by step. A plain
    `LSTMCell` / `PeepholeLSTMCell` / `CoupledLSTMCell` / `GRUCell` (sigmoid/tanh) or tanh
    `SimpleRNNCell` without dropout in training or ``unroll`` (and outside a
    `tf.autodiff.ForwardAccumulator`), computing in float32, float64 or bfloat16 (the
    "mixed_bfloat16" policy), runs a fused loop with a hand-written backward pass instead
    (same numbers, faster training; see ``_fused_recurrence``). On a CPU, a batch of 64 rows
    or more runs there as two loops over its halves, side by side on the cores, where that
    was measured faster: with oneDNN's matmuls the LSTMs above 256 units and the GRU up to
    512; with Eigen's the LSTMs of 129 to 256 units and never the GRU (`_batch_halves`).

    Masking: at a masked step the states are carried over unchanged and the output repeats
    the last valid output (zeros if ``zero_output_for_mask``); right- and left-padded batches
    both work, and a fully masked row returns its initial state (zeros) and zero outputs. The
    inputs at masked steps are never read: a NaN there reaches neither the outputs nor the
    gradients.

    Args:
        cell: a keras_seq `RecurrentCell` or any cell following the Keras cell contract,
            Keras' `StackedRNNCells` included (its nested states are flattened here: in
            ``state_size``, ``initial_state`` and the returned states, ``[h_1, c_1, h_2, …]``).
        return_sequences: bool. Return every step's output [B, T, units] instead of the last
            valid one [B, units].
        return_state: bool. Also return the final states.
        go_backwards: bool. Process the sequence in reverse; the returned sequence is then in
            reverse order too (as in Keras), and so is the mask it carries to the next layer
            (which Keras' RNN leaves in time order).
        stateful: bool. Carry the final states of a batch over as the initial states of the
            next one; `reset_states()` zeroes them. As in Keras' RNN layers, the carried
            states (``layer.states``) are variables outside the layer's weights, so neither
            ``get_weights`` nor a saved model or weights file holds them (reloaded, the
            states are zeros; a file saved when they were weights restores them). Needs a
            fixed batch size: every call must have the batch size the layer was built
            with, else a ValueError. Inside a
            `tf.function` traced with an unknown batch size (e.g. `predict` with a last,
            partial batch) the check runs in the graph and raises an InvalidArgumentError:
            either this message or, where TensorFlow checks shapes first (always under XLA),
            "Shape of tensor ... is not compatible with expected shape" at the op
            ``stateful_layer_needs_batch_size_<n>``.
        unroll: bool. Unroll the loop in Python (needs a static length).
        zero_output_for_mask: bool. Output zeros at masked steps instead of repeating the last
            valid output (`Bidirectional` sets it when returning sequences, as Keras does).

    Call arguments:
        inputs: [batch, time, features] float tensor (time > 0); integer or boolean inputs
            are cast to the layer's compute dtype, as in Keras' recurrent layers.
        initial_state: optional list of [batch, state_size] tensors, one per cell state.
        mask: optional [batch, time] boolean (or 0/1) tensor or nested list, True at valid
            steps. When None, the Keras mask that ``inputs`` carry (from
            ``Embedding(mask_zero=True)``), also when ``initial_state`` is given (Keras fills
            ``mask`` only for a layer called with one tensor; its own RNN layers then run
            unmasked).
        training: bool. Enables the cell's dropout.

        A mask or an initial state of another batch size (or a mask of another number of
        steps) is a ValueError; in a graph traced with unknown sizes it is checked when the
        graph runs (an InvalidArgumentError naming it; under XLA a reshape that fails), not
        broadcast over the batch.

    Returns:
        The output ([B, T, units] or [B, units]); with ``return_state``, a list
        ``[output, *final_states]``. The cell computes in its own dtype policy (as in a Keras
        cell, whose ``__call__`` casts its inputs); the outputs and states are of the
        layer's compute dtype. (The cell-family layers give their cell their own policy.)

    Example:
    >>> layer = Recurrent(keras_seq.cells.GRUCell(8), return_sequences=True)
    >>> layer(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    # Set by the cell-family subclasses (`LSTM`, `GRU`, ...), which build their cell from the
    # cell's own keyword arguments and flatten its config into theirs, as Keras' layers do.
    cell_class = None

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            raise ValueError(
                "`cell` must be a single cell; stack layers with `StackedRNN` or wrap cells in "
                f"`keras.layers.StackedRNNCells`. Got a {type(cell).__name__}."
            )
        if hasattr(cell, "return_sequences"):  # ours, Keras' RNN and Bidirectional alike
            # A sequence layer has `call` and (ours) `state_size` too, and failed when called,
            # on a [batch, features] step it was handed, with an error naming that layer.
            raise ValueError(
                "`cell` must be a recurrent cell (one step, e.g. `keras_seq.cells.LSTMCell`), "
                f"not a sequence layer: got {type(cell).__name__} "
                f"{getattr(cell, 'name', '')!r}; pass its cell (e.g. `LSTMCell(units)`) or use "
                "the layer itself."
            )
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(
                f"`cell` must be a recurrent cell with `call` and `state_size`, got {cell!r}."
            )
        self.cell = cell
        self.return_sequences = check_bool(return_sequences, "return_sequences")
        self.return_state = check_bool(return_state, "return_state")
        self.go_backwards = check_bool(go_backwards, "go_backwards")
        self.stateful = check_bool(stateful, "stateful")
        self.unroll = check_bool(unroll, "unroll")
        self.zero_output_for_mask = check_bool(zero_output_for_mask, "zero_output_for_mask")
        self.supports_masking = True
        self.states = None
        # The fused loop may run a large batch as two loops over its halves, which the
        # executor runs side by side (`_fused_recurrence._batch_halves`); `Bidirectional`
        # turns that off, its two directions being two such loops already.
        self._split_batch = True

    @classmethod
    def _split_arguments(cls, kwargs):
        layer_kwargs = {k: v for k, v in kwargs.items() if k in LAYER_ARGUMENTS}
        cell_kwargs = {k: v for k, v in kwargs.items() if k not in LAYER_ARGUMENTS}
        return layer_kwargs, cell_kwargs

    # ------------------------------------------------------------------------ properties
    @property
    def state_size(self):
        """The sizes of the cell's states, flattened (a Keras `StackedRNNCells` nests them)."""
        return keras.tree.flatten(self.cell.state_size)

    @property
    def units(self):
        """The size of the outputs: the cell's ``output_size``, or (a cell without one, which
        the Keras cell contract allows) the size of its first state, as in `keras.layers.RNN`."""
        output_size = getattr(self.cell, "output_size", None)
        return self.state_size[0] if output_size is None else output_size

    # ---------------------------------------------------------------------------- build
    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                f"{self.name}: `inputs` must have rank 3 [batch, time, features], got shape "
                f"{tuple(sequences_shape)}."
            )
        if sequences_shape[-1] is None:
            raise ValueError(
                f"{self.name}: the feature size (last axis) of `inputs` must be known, got "
                f"shape {tuple(sequences_shape)}."
            )
        step_shape = (sequences_shape[0], sequences_shape[-1])
        if not self.cell.built:
            self.cell.build(step_shape)
        if self.stateful:
            batch_size = sequences_shape[0]
            if batch_size is None:
                raise ValueError(
                    f"{self.name}: a stateful layer needs a fixed batch size; give the input a "
                    "`batch_shape` (e.g. `keras.Input(batch_shape=(32, None, 8))`)."
                )
            if self.states is not None:  # built again (as Keras' RNN): zeroed, kept
                self.reset_states()
            else:
                self._create_state_variables(batch_size)

    @tracking.no_automatic_dependency_tracking
    def _create_state_variables(self, batch_size):
        """The carried states of a stateful layer: variables, but not among its weights (as
        in `keras.layers.RNN`), so that its ``get_weights`` / ``set_weights`` hold the
        cell's weights alone and match Keras' stateful layers (with them, ``set_weights``
        of a Keras layer's weights failed on the count), and a saved model or weights file
        holds no batch of states (reloaded, a stateful layer starts from zeros)."""
        with keras.name_scope(self.name, caller=self):
            self.states = [
                keras.Variable(
                    ops.zeros((batch_size, size)),
                    trainable=False,
                    dtype=self.variable_dtype,
                    name=f"state_{i}",
                )
                for i, size in enumerate(self.state_size)
            ]

    def load_own_variables(self, store):
        # A file saved before the carried states left the weights (`_create_state_variables`)
        # holds them as this layer's own variables: restored into the states, as then, rather
        # than failing with "expected 0 variables, but received 2".
        own = self._trainable_variables + self._non_trainable_variables
        if not own and self.states and len(store.keys()) == len(self.states):
            for i, state in enumerate(self.states):
                state.assign(store[f"{i}"])
            return
        super().load_own_variables(store)

    def reset_states(self):
        """Zeroes the carried states of a stateful layer."""
        for state in self.states or []:
            state.assign(ops.zeros_like(state))

    reset_state = reset_states

    def get_initial_state(self, batch_size):
        if hasattr(self.cell, "get_initial_state"):
            return keras.tree.flatten(self.cell.get_initial_state(batch_size=batch_size))
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    # ----------------------------------------------------------------------------- shapes
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, time = sequences_shape[0], sequences_shape[1]
        output_shape = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            # A tuple, as `keras.layers.RNN`: `keras.layers.Bidirectional` adds the states'
            # shapes to a tuple (a list failed its symbolic call with `return_state`).
            return (output_shape, *[(batch, size) for size in self.state_size])
        return output_shape

    def compute_mask(self, inputs, mask=None):
        output_mask = mask_tensor(mask) if self.return_sequences else None
        if output_mask is not None and self.go_backwards:
            # The returned sequence runs in reverse, so does its mask (Keras' RNN passes the
            # inputs' mask on unreversed, so the next layer reads padding as valid steps).
            output_mask = ops.flip(output_mask, axis=1)
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # ----------------------------------------------------------------------------- checks
    @property
    def _stateful_batch_size(self):
        """The batch size of the carried states of a stateful layer (fixed at build)."""
        return self.states[0].shape[0]

    def _stateful_batch_message(self, batch_size=""):
        return (
            f"{self.name}: the layer is stateful, so the batch size of `inputs` must be the "
            "batch size of its carried states (the one it was built for). Expected batch size: "
            f"{self._stateful_batch_size}, received batch size: {batch_size}"
        ).rstrip()

    def _check_inputs(self, inputs, initial_state, mask):
        shape = _shape(inputs)
        if len(shape) != 3:
            raise ValueError(
                f"{self.name}: `inputs` must have rank 3 [batch, time, features], got shape "
                f"{shape}."
            )
        expected = getattr(self.cell, "input_dim", None)
        if expected is not None and shape[-1] is not None and shape[-1] != expected:
            raise ValueError(
                f"{self.name}: `inputs` has {shape[-1]} features (shape {shape}) but the layer "
                f"was built for {expected}."
            )
        if shape[1] == 0:
            raise ValueError(f"{self.name}: `inputs` has zero time steps (shape {shape}).")
        if self.stateful and shape[0] is not None and shape[0] != self._stateful_batch_size:
            raise ValueError(f"{self._stateful_batch_message(shape[0])}.")
        if mask is not None:
            check_static_shape(self.name, "mask", mask, shape[:2], "[batch, time] = ")
        if initial_state is not None:
            if len(initial_state) != len(self.state_size):
                raise ValueError(
                    f"{self.name}: `initial_state` must hold {len(self.state_size)} tensor(s) of "
                    f"shapes {[(shape[0], s) for s in self.state_size]}, got "
                    f"{len(initial_state)}."
                )
            for i, (state, size) in enumerate(zip(initial_state, self.state_size, strict=True)):
                check_static_shape(self.name, f"initial_state[{i}]", state, (shape[0], size))

    def _check_dynamic_shapes(self, inputs, initial_state, mask):
        """``(mask, initial_state)`` checked against the shape of ``inputs`` when the static
        shapes cannot tell (a graph traced with unknown batch or time sizes): there a [1, T]
        mask or a [1, u] state would broadcast over the whole batch, every row read with row
        0's mask or starting from row 0's state. `_check_inputs` refuses them eagerly."""
        if mask is not None:
            mask = leading_dims_matching(
                mask, inputs, 2, f"{self.name}: `mask` must have shape [batch, time] of `inputs`"
            )
        if initial_state is not None:
            initial_state = [
                leading_dims_matching(
                    state,
                    inputs,
                    1,
                    f"{self.name}: `initial_state[{i}]` must have shape [batch, {size}] with "
                    "the batch size of `inputs`",
                )
                for i, (state, size) in enumerate(zip(initial_state, self.state_size, strict=True))
            ]
        return mask, initial_state

    # ------------------------------------------------------------------------------- call
    def call(self, sequences, initial_state=None, mask=None, training=None):
        inputs = sequences
        if isinstance(inputs, tf.RaggedTensor):  # failed deep in the loop ("not uniform")
            raise ValueError(ragged_inputs_message(self.name))
        mask = keras_mask(inputs, mask)  # read before the cast below, which drops it
        if not keras.backend.is_float_dtype(inputs.dtype):  # as Keras' RNN layers: ids to floats
            inputs = ops.cast(inputs, self.compute_dtype)
        if initial_state is not None:
            initial_state = keras.tree.flatten(initial_state)
        mask = mask_tensor(mask)  # a nested list too
        self._check_inputs(inputs, initial_state, mask)
        mask, initial_state = self._check_dynamic_shapes(inputs, initial_state, mask)
        training = bool(training)
        batch_size = ops.shape(inputs)[0]
        if initial_state is None:
            initial_state = self.states if self.stateful else self.get_initial_state(batch_size)
        # The loop computes in the cell's policy (as a Keras cell, which its `__call__` casts
        # the inputs for), the layer returns its own: a cell and a layer of different
        # policies (e.g. `Recurrent(GRUCell(8), dtype="float64")`) failed on mixed dtypes.
        loop_dtype = getattr(self.cell, "compute_dtype", None) or self.compute_dtype
        inputs = ops.cast(inputs, loop_dtype)
        states = [ops.cast(s, loop_dtype) for s in initial_state]

        # The static checks above cannot see a dynamic length or batch size: check at run time.
        runtime_checks = []
        if inputs.shape[1] is None:
            runtime_checks.append(
                tf.debugging.assert_positive(
                    tf.shape(inputs)[1], message=f"{self.name}: `inputs` has zero time steps."
                )
            )
        stateful_batch = self.stateful and inputs.shape[0] is None
        if stateful_batch:
            actual = tf.shape(inputs)[0]
            runtime_checks.append(
                tf.debugging.Assert(
                    tf.equal(actual, self._stateful_batch_size),
                    [self._stateful_batch_message(), actual],
                )
            )
        if runtime_checks:
            with tf.control_dependencies(runtime_checks):
                if stateful_batch:
                    # XLA drops asserts, and graph optimizations that know the input shape may
                    # check this one before the assert runs: its op name says what failed.
                    inputs = tf.ensure_shape(
                        inputs,
                        (self._stateful_batch_size, *inputs.shape[1:]),
                        name=f"stateful_layer_needs_batch_size_{self._stateful_batch_size}",
                    )
                else:
                    inputs = tf.identity(inputs)
                if mask is not None:
                    # The fused path reads the mask alone (its last column) after the loop:
                    # unguarded, that slice raced the zero-steps check and failed unnamed.
                    mask = tf.identity(mask)
        if mask is not None:
            mask = ops.cast(mask, "bool")
            # A masked step's input is never used (its states carry over), but a NaN or inf
            # there (padding read from anywhere) would still reach the weights' gradients,
            # as NaN·0 through the input matmul: zeros change nothing else.
            inputs = tf.where(mask[:, :, None], inputs, tf.zeros_like(inputs))
        if self.go_backwards:
            inputs = ops.flip(inputs, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)

        with self._cell_autocast_scope():
            last_output, outputs, states = self._run_loop(inputs, states, mask, training)
        last_output = ops.cast(last_output, self.compute_dtype)
        outputs = None if outputs is None else ops.cast(outputs, self.compute_dtype)
        states = [ops.cast(s, self.compute_dtype) for s in states]

        if self.stateful:
            for variable, state in zip(self.states, states, strict=True):
                variable.assign(ops.cast(state, variable.dtype))
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output, *states]
        return output

    def _cell_autocast_scope(self):
        """The autocast scope a keras_seq cell's ``project_inputs`` and ``step`` run in: the
        one its ``__call__`` would open (its variables read in its compute dtype), as the
        layer calls them directly. Other cells go through their ``__call__``."""
        cell = self.cell
        if isinstance(cell, RecurrentCell):
            current = get_autocast_scope()
            if (current is not None and current.dtype != cell.compute_dtype) or (
                current is None and cell.compute_dtype != cell.variable_dtype
            ):
                return AutocastScope(cell.compute_dtype)
        return contextlib.nullcontext()

    def _run_loop(self, inputs, states, mask, training):
        """Runs the recurrence; returns ``(last_valid_output, outputs [B, T, u], states)``."""
        cell = self.cell
        if supports_fused_recurrence(cell, training, self.unroll):
            # Plain LSTM / GRU without dropout: same numbers, hand-written BPTT.
            return self._run_fused(inputs, states, mask)
        dropout_cells = _dropout_cells(cell)
        if training:
            # Draw the per-sequence masks outside the loop, to be reused at every step.
            batch_size = tf.shape(inputs)[0]
            for dropout_cell, input_size in dropout_cells:
                if input_size is None:
                    step_input, state = inputs[:, 0, :], states[0]
                else:  # a stacked cell: only the shapes of the masks matter
                    state_size = keras.tree.flatten(dropout_cell.state_size)[0]
                    step_input = tf.zeros(tf.stack([batch_size, input_size]), inputs.dtype)
                    state = tf.zeros(tf.stack([batch_size, state_size]), inputs.dtype)
                dropout_cell.get_dropout_mask(step_input)
                dropout_cell.get_recurrent_dropout_mask(state)
        if isinstance(cell, RecurrentCell):
            sequence = cell.project_inputs(inputs, training)

            def step(x, s):
                return cell.step(x, s, training)

        elif keras.tree.is_nested(cell.state_size) and any(
            keras.tree.is_nested(size) for size in cell.state_size
        ):
            # A Keras `StackedRNNCells`: the loop carries the flat states, the cell takes them
            # nested (one list per stacked cell).
            sequence = inputs

            def step(x, s):
                output, new_states = cell(
                    x, keras.tree.pack_sequence_as(cell.state_size, s), training=training
                )
                return output, keras.tree.flatten(new_states)

        else:
            sequence = inputs

            def step(x, s):
                output, new_states = cell(x, s, training=training)
                new_states = (
                    list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
                )
                return output, new_states

        sequence = tf.transpose(sequence, [1, 0, 2])  # time-major
        mask_tm = None if mask is None else tf.transpose(mask)[:, :, None]
        zero_output = tf.zeros(tf.stack([tf.shape(inputs)[0], self.units]), dtype=inputs.dtype)

        def masked_update(t, output, new_states, old_states, last_output):
            if mask_tm is None:
                return output, output, new_states
            m = mask_tm[t]
            new_states = [tf.where(m, n, o) for n, o in zip(new_states, old_states, strict=True)]
            last_output = tf.where(m, output, last_output)
            emitted = tf.where(m, output, zero_output) if self.zero_output_for_mask else last_output
            return emitted, last_output, new_states

        time_steps = inputs.shape[1]
        if self.unroll:
            if time_steps is None:
                raise ValueError(f"{self.name}: `unroll=True` needs a static number of time steps.")
            last_output, emitted_all = zero_output, []
            for t in range(time_steps):
                output, new_states = step(sequence[t], states)
                emitted, last_output, states = masked_update(
                    t, output, new_states, states, last_output
                )
                emitted_all.append(emitted)
            outputs = tf.stack(emitted_all, axis=1)
        else:
            length = tf.shape(sequence)[0]
            inputs_ta = tf.TensorArray(sequence.dtype, size=length).unstack(sequence)
            # The outputs' array is a loop variable only when it is written: an array never
            # written is an uninitialized TensorList, whose gradient XLA (`jit_compile`,
            # Keras' default on a GPU) cannot build.
            outputs_ta = (
                [tf.TensorArray(inputs.dtype, size=length)] if self.return_sequences else []
            )

            def body(t, states, last_output, outputs_ta):
                output, new_states = step(inputs_ta.read(t), list(states))
                emitted, last_output, new_states = masked_update(
                    t, output, new_states, states, last_output
                )
                outputs_ta = [array.write(t, emitted) for array in outputs_ta]
                return t + 1, new_states, last_output, outputs_ta

            _, states, last_output, outputs_ta = tf.while_loop(
                lambda t, *_: t < length,
                body,
                (tf.constant(0), states, zero_output, outputs_ta),
                maximum_iterations=length if time_steps is None else time_steps,
                # As Keras' own loop: lets the backward pass overlap independent per-step work.
                parallel_iterations=32,
            )
            states = list(states)
            outputs = (
                tf.transpose(outputs_ta[0].stack(), [1, 0, 2]) if self.return_sequences else None
            )
        for dropout_cell, _ in dropout_cells:
            dropout_cell.reset_dropout_mask()
            dropout_cell.reset_recurrent_dropout_mask()
        return last_output, outputs, states

    def _run_fused(self, inputs, states, mask):
        """`_run_loop` on `fused_recurrence`, which returns the state h after every step."""
        h_all, states = fused_recurrence(  # h_all [B, T, u]
            self.cell, inputs, states, mask, split_batch=self._split_batch
        )
        if mask is None:
            return states[0], h_all if self.return_sequences else None, states
        # The last valid output is the state h once a row has had a valid step, zeros before.
        mask = tf.convert_to_tensor(mask)[:, :, None]
        seen = tf.cumsum(tf.cast(mask, tf.int32), axis=1) > 0
        last_output = tf.where(seen[:, -1], states[0], tf.zeros_like(states[0]))
        outputs = None
        if self.return_sequences:
            emitted = mask if self.zero_output_for_mask else seen
            outputs = tf.where(emitted, h_all, tf.zeros_like(h_all))
        return last_output, outputs, states

    # ----------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
            }
        )
        if self.cell_class is None:
            config["cell"] = keras.saving.serialize_keras_object(self.cell)
        else:
            cell_config = self.cell.get_config()
            config.update({k: v for k, v in cell_config.items() if k not in _CELL_CONFIG_SKIP})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # A deep copy: Keras' `StackedRNNCells.from_config` pops its "cells" from the nested
        # config, which would leave the caller's config unusable for a second call.
        config = copy.deepcopy(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        if "cell" in config:
            config["cell"] = keras.saving.deserialize_keras_object(
                config["cell"], custom_objects=custom_objects
            )
        return cls(**config)


def cell_family_layer(cell_class, doc_name):
    """Returns ``__init__`` for a layer that builds ``cell_class`` from its keyword arguments."""

    def __init__(self, units, **kwargs):
        layer_kwargs, cell_kwargs = Recurrent._split_arguments(kwargs)
        cell_kwargs.setdefault("dtype", layer_kwargs.get("dtype"))
        cell = cell_class(units, name=f"{doc_name}_cell", **cell_kwargs)
        Recurrent.__init__(self, cell, **layer_kwargs)

    return __init__
