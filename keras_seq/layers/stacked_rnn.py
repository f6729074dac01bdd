"""A stack of recurrent layers, optionally bidirectional, with dropout and residuals."""

import numbers

import keras
from keras import ops

from keras_seq._checked_ids import check_bool, mask_tensor, plain_seed
from keras_seq.cells.recurrent_cell import _check_rate
from keras_seq.layers.bidirectional import Bidirectional, clone_layer, unshared_config
from keras_seq.layers.recurrent import keras_mask
from keras_seq.layers.sequence_pooling import SequencePooling


@keras.saving.register_keras_serializable(package="keras_seq")
class StackedRNN(keras.layers.Layer):
    """``num_layers`` copies of a recurrent layer, each reading the previous one's outputs.

    Layer ``l`` computes ``y^l = RNN_l(d(y^{l-1}))`` over the whole sequence (``y^0`` = the
    inputs, ``d`` = dropout between layers, Srivastava et al. 2014 / Zaremba et al. 2014). With
    ``residual=True`` the layers from the second one on add their input as it was before the
    dropout (Wu et al. 2016, GNMT): ``y^l = RNN_l(d(y^{l-1})) + y^{l-1}``. With
    ``bidirectional=True`` each layer is a `Bidirectional` (its merged output feeds the next
    layer).

    Args:
        layer: a sequence layer used as template (e.g. ``LSTM(256)``), running forwards
            (``go_backwards=False``); each level is a copy of its config (its own
            ``return_sequences`` / ``return_state`` are overridden). With a stateful template
            every level carries its states across batches, and `reset_states()` zeroes them.
            With an explicit dropout ``seed`` in the template, level ``l`` gets ``seed + 2l``
            (its backward direction ``seed + 2l + 1``), so no two recurrent layers of the
            stack draw the same dropout masks. An ``activity_regularizer`` of the template
            penalises each level's output (a bidirectional level's merged one), not the
            final states the levels hand the stack.
        num_layers: int >= 1.
        bidirectional: bool. Wrap each level in `Bidirectional`.
        merge_mode: "concat", "sum", "mul" or "ave" for bidirectional levels (any other value
            is refused, also when ``bidirectional=False``; None only then).
        dropout: float in [0, 1). Dropout on the inputs of levels 2..num_layers.
        residual: bool. Residual connections from the second level on; each adds the level's
            input before dropout.
        return_sequences: bool. Return the top level's whole sequence, or its final output:
            the last valid step, and for a bidirectional level the forward half at the last
            valid step with the backward half at the first (each direction's final state).
        return_state: bool. Also return the final states of every level.
        seed: int or None. Seed of the dropout between levels.
        **kwargs: `keras.layers.Layer` arguments; a ``dtype`` given here is the dtype of the
            output (as for `Bidirectional`); the levels compute in the template's policy.

    Call arguments:
        inputs: [batch, time, features].
        initial_state: optional list with one entry per level, each the list of that level's
            states (for a bidirectional level: forward states then backward states) or None.
        mask: optional [batch, time] boolean mask (applied at every level); when None, the
            Keras mask of ``inputs`` (also when ``initial_state`` is given).
        training: bool.

    Returns:
        The top output; with ``return_state``, ``[output, states]`` where ``states[l]`` is the
        list of the final states of level ``l`` (what a seq2seq bridge needs).

    Example:
    >>> stack = StackedRNN(keras_seq.layers.LSTM(8), num_layers=2, bidirectional=True)
    >>> stack(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        layer,
        num_layers=2,
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        residual=False,
        return_sequences=True,
        return_state=False,
        seed=None,
        **kwargs,
    ):
        if isinstance(layer, dict):  # a serialized template (from `get_config`)
            layer = keras.saving.deserialize_keras_object(layer)
        if (
            isinstance(num_layers, bool)
            or not isinstance(num_layers, numbers.Integral)
            or num_layers < 1
        ):
            raise ValueError(f"`num_layers` must be an integer >= 1, got {num_layers!r}.")
        num_layers = int(num_layers)
        # Checked without `bidirectional` too: a misspelt mode ("avg") was kept in the config
        # and only failed once the stack was made bidirectional.
        if merge_mode not in ("concat", "sum", "mul", "ave") and (
            bidirectional or merge_mode is not None
        ):
            raise ValueError(
                "`merge_mode` of a stack must be 'concat', 'sum', 'mul' or 'ave' (each level "
                f"feeds one tensor to the next), got {merge_mode!r}."
            )
        # A string or None failed on `<=` with a TypeError naming no argument, and a NumPy
        # float left the config unserializable to JSON.
        dropout = _check_rate("dropout", dropout)
        if not hasattr(layer, "return_sequences"):
            raise ValueError(f"`layer` must be a recurrent sequence layer, got {layer!r}.")
        if isinstance(layer, Bidirectional):
            # Its config takes no `return_sequences` / `return_state`, which every level's
            # copy overrides: it failed with "Unrecognized keyword arguments passed to
            # Bidirectional".
            raise ValueError(
                "`layer` must be the recurrent layer itself, not a `Bidirectional`: pass "
                "`bidirectional=True` (and `merge_mode`) to make every level bidirectional."
            )
        if getattr(layer, "go_backwards", False):
            # Its outputs come in reverse order: the next level, the residuals and the mask
            # (in time order) would be misaligned with them.
            raise ValueError(
                "The levels of a stack run forwards: `layer` must have go_backwards=False "
                "(bidirectional=True adds a backward direction to every level)."
            )
        # With residuals the top level must return its sequence (the residual is added per
        # step) and the stack then picks the final step itself, which for a bidirectional
        # level means the forward half at the last valid step and the backward half at the
        # first: only separable when the directions are concatenated.
        pooled_top = residual and num_layers > 1 and not return_sequences
        if pooled_top and bidirectional and merge_mode != "concat":
            raise ValueError(
                "A residual bidirectional stack with `return_sequences=False` needs "
                f"merge_mode='concat' (to take each direction's final step), got {merge_mode!r}."
            )
        super().__init__(**kwargs)
        self._layer_config = unshared_config(keras.saving.serialize_keras_object(layer))
        self.num_layers = num_layers
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.merge_mode = merge_mode
        self.dropout = dropout
        self.residual = check_bool(residual, "residual")
        self.return_sequences = check_bool(return_sequences, "return_sequences")
        self.return_state = check_bool(return_state, "return_state")
        # Keras' `Dropout` (its SeedGenerator) refused a NumPy integer seed as "must be an
        # integer", and a string failed on `seed + index` with a TypeError naming no argument.
        seed = plain_seed(seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None, got seed={seed!r}.")
        self.seed = seed
        self.supports_masking = True

        # What the stack makes around its levels computes in the template's policy, not the
        # global one, which would cast every level's inputs and outputs to it (a float64
        # stack rounded to float32 between its levels).
        policy = layer.dtype_policy
        # The levels return their states (the stack needs them), and Keras applies a layer's
        # activity regularizer to every tensor it returns: the template's regularizer would
        # have penalised each level's final h (again) and c too. The stack applies it to each
        # level's output only, as on a stack of Keras layers returning sequences.
        self._level_activity_regularizer = getattr(layer, "activity_regularizer", None)
        self.levels = []
        for index in range(num_layers):
            top = index == num_layers - 1
            level = clone_layer(
                layer,
                seed_offset=2 * index,  # level l: seed + 2l, its backward direction seed + 2l + 1
                name=f"{layer.name}_{index}",
                return_sequences=not top or return_sequences or pooled_top,
                return_state=True,
                **({"activity_regularizer": None} if self._level_activity_regularizer else {}),
            )
            if bidirectional:
                level = Bidirectional(
                    level, merge_mode=merge_mode, name=f"bidirectional_{index}", dtype=policy
                )
            self.levels.append(level)
        # Final step of the top level's sequence after its residual (mask-aware).
        self.last_step = (
            SequencePooling("last", bidirectional=bidirectional, name="last_step", dtype=policy)
            if pooled_top
            else None
        )
        self.level_dropout = [
            keras.layers.Dropout(dropout, seed=None if seed is None else seed + index, dtype=policy)
            for index in range(num_layers - 1)
        ]

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        for level in self.levels:
            if not level.built:
                level.build(shape)
            shape = level.compute_output_shape(shape)[0]
            shape = tuple(shape)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        inputs = sequences
        mask = keras_mask(inputs, mask)  # also with `initial_state` (see `keras_mask`)
        if initial_state is not None and not isinstance(initial_state, (list, tuple)):
            # `len()` of one tensor is its batch size, and its rows went to the levels.
            raise ValueError(
                f"{self.name}: `initial_state` must be a list with one entry per level "
                f"({self.num_layers}), each the list of that level's states, got a "
                f"{type(initial_state).__name__} of shape "
                f"{tuple(getattr(initial_state, 'shape', ()))}."
            )
        if initial_state is not None and len(initial_state) != self.num_layers:
            raise ValueError(
                f"{self.name}: `initial_state` must have one entry per level "
                f"({self.num_layers}), got {len(initial_state)}."
            )
        outputs, states = inputs, []
        for index, level in enumerate(self.levels):
            previous = level_inputs = outputs
            if index > 0 and self.dropout > 0:
                level_inputs = self.level_dropout[index - 1](level_inputs, training=training)
            level_state = None if initial_state is None else initial_state[index]
            outputs, *level_states = level(
                level_inputs, initial_state=level_state, mask=mask, training=training
            )
            if self._level_activity_regularizer is not None:
                loss = self._level_activity_regularizer(outputs)
                # Divided by the batch size, as `keras.layers.Layer` does.
                self.add_loss(ops.divide_no_nan(loss, ops.cast(ops.shape(outputs)[0], loss.dtype)))
            if self.residual and index > 0:
                # The residual skips the dropout too: y^l = RNN_l(d(y^{l-1})) + y^{l-1} (GNMT).
                outputs = outputs + previous
            states.append(level_states)
        if mask is not None:
            mask = ops.cast(mask, "bool")
        if self.last_step is not None:
            outputs = self.last_step(outputs, mask=mask)
        elif self.return_sequences and mask is not None and not self.bidirectional:
            # Masked steps of returned sequences are zeros, as in a bidirectional level.
            outputs = ops.where(mask[:, :, None], outputs, ops.zeros_like(outputs))
        # The output follows this layer's dtype policy (the levels compute in their own).
        outputs = ops.cast(outputs, self.compute_dtype)
        if self.return_state:
            return [outputs, states]
        return outputs

    def reset_states(self):
        """Zeroes the carried states of every level (of a stateful template)."""
        for level in self.levels:
            level.reset_states()

    reset_state = reset_states

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        state_shapes = []
        for level in self.levels:
            level_shape = level.compute_output_shape(shape)
            shape = tuple(level_shape[0])
            state_shapes.append([tuple(s) for s in level_shape[1:]])
        if not self.return_sequences and len(shape) == 3:
            shape = (shape[0], shape[-1])
        return [shape, state_shapes] if self.return_state else shape

    def compute_mask(self, inputs, mask=None):
        output_mask = mask_tensor(mask) if self.return_sequences else None
        if self.return_state:
            return [output_mask, [[None] * len(level.state_size) for level in self.levels]]
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": self._layer_config,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "dropout": self.dropout,
                "residual": self.residual,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "seed": self.seed,
            }
        )
        return config
