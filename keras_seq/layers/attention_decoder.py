"""Recurrent decoder with attention: a teacher-forced sequence path and a single-step path."""

import keras
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import (
    check_bool,
    check_static_shape,
    leading_dims_matching,
    mask_tensor,
)
from keras_seq.attention.multi_head_cross_attention import MultiHeadCrossAttention
from keras_seq.layers.bidirectional import unshared_config
from keras_seq.layers.recurrent import keras_mask
from keras_seq.layers.stacked_rnn import StackedRNN

ATTENTION_STYLES = ("luong", "bahdanau")


@keras.saving.register_keras_serializable(package="keras_seq")
class AttentionDecoder(keras.layers.Layer):
    """A stack of recurrent levels that attends over an encoder memory at every step.

    With ``e_t`` the embedded previous target token, ``s_t`` the top level's output, ``M``
    the memory (encoder outputs) and ``attend`` any keras_seq attention layer:

    - ``luong`` (Luong et al. 2015, attention after the RNN)::

          s_t = RNN(e_t, s_{t-1})
          c_t = attend(s_t, M)
          o_t = tanh(W_o [c_t ; s_t])

    - ``bahdanau`` (Bahdanau et al. 2015, attention before the RNN, its context fed in)::

          c_t = attend(s_{t-1}, M)
          s_t = RNN([e_t ; c_t], s_{t-1})
          o_t = tanh(W_o [c_t ; s_t])

      where the query ``s_{t-1}`` is the top level's state ``h`` after the previous step
      (its initial state at the first one): with ``residual`` that is the top level's
      recurrent output without the residual, which only ``o_t`` sees.

    ``o_t`` (size ``units``) goes to the model's output projection; the attention weights
    ``a_t`` (averaged over heads for multi-head attention) come with it at every step.

    Two paths share the same weights (OpenNMT-tf's ``Decoder.call``):
    ``call`` runs a whole teacher-forced target sequence (for ``fit``; the Luong form runs the
    recurrent levels as whole-sequence layers, the Bahdanau form loops over ``step`` in a
    ``tf.while_loop``), and ``step`` runs one token (for beam search).

    Args:
        layer: a recurrent sequence layer with a ``cell`` (e.g. ``LSTM(256)``), used as
            template for each level; it must run forwards (``go_backwards=False``).
        attention: an attention layer (e.g. ``GeneralAttention()``).
        num_layers: int. Number of recurrent levels.
        attention_style: "luong" or "bahdanau".
        dropout: float. Dropout between recurrent levels.
        residual: bool. Residual connections between levels (from the second one on), adding
            each level's input before dropout: ``y^l = RNN_l(d(y^{l-1})) + y^{l-1}``.

    Call arguments:
        inputs: [B, T, E] embedded target inputs (``<s> y_1 … y_{T-1}``).
        memory: [B, S, D] encoder outputs.
        memory_mask: optional [B, S] bool mask of valid source steps.
        initial_state: optional list per level of its state tensors (from a `Bridge`).
        mask: optional [B, T] target mask. A masked step leaves the recurrent states as they
            were (both styles), so left- and right-padded targets give the same outputs at
            their valid steps as the unpadded sequence; outputs at masked steps are not
            meaningful. When None, the Keras mask that ``inputs`` carries (from
            ``Embedding(mask_zero=True)``), which Keras does not pass to a layer of several
            inputs itself.
        training: bool.

    Returns:
        ``(outputs [B, T, units], attention_weights [B, T, S])``.

    Example:
    >>> decoder = AttentionDecoder(LSTM(8), GeneralAttention())
    >>> outputs, weights = decoder(np.ones((2, 3, 4)), np.ones((2, 5, 6)))
    >>> tuple(outputs.shape), tuple(weights.shape)
    ((2, 3, 8), (2, 3, 5))
    """

    def __init__(
        self,
        layer,
        attention,
        num_layers=1,
        attention_style="luong",
        dropout=0.0,
        residual=False,
        **kwargs,
    ):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        if not hasattr(layer, "cell") or not hasattr(layer, "units"):
            raise ValueError(
                "`layer` must be a recurrent layer with a `cell` and `units` (e.g. LSTM(256)), "
                f"used as the template of every level; got {type(layer).__name__}."
            )
        if getattr(layer, "go_backwards", False):
            # The teacher-forced path would read the targets backwards, `step` forwards.
            raise ValueError(
                "A decoder reads its targets in order: `layer` must have go_backwards=False."
            )
        if not isinstance(attention, keras.layers.Layer):
            # A name such as "dot" (or None) failed at the first call with an AttributeError
            # ("'str' object has no attribute 'built'") naming no argument.
            raise ValueError(
                "`attention` must be an attention layer (e.g. `GeneralAttention()`, or "
                "`keras_seq.attention.get(name)()` for one named in the registry), got "
                f"{attention!r}."
            )
        if attention_style not in ATTENTION_STYLES:
            raise ValueError(
                f"`attention_style` must be one of {ATTENTION_STYLES}, got {attention_style!r}."
            )
        super().__init__(**kwargs)
        self._layer_config = unshared_config(keras.saving.serialize_keras_object(layer))
        self.units = layer.units
        self.attention_style = attention_style
        self.residual = check_bool(residual, "residual")
        self.supports_masking = True  # the target mask: the `mask` argument or `inputs`' own
        self.rnn = StackedRNN(
            layer,
            num_layers=num_layers,
            dropout=dropout,
            residual=residual,
            return_sequences=True,
            return_state=True,
            name="rnn",
            # The levels' policy: the global one would round a float64 template's outputs
            # to float32 before the attention and the projection.
            dtype=layer.dtype_policy,
        )
        # As `StackedRNN` checked them (plain Python numbers): a NumPy `num_layers` or
        # `dropout` kept here left the config unserializable to JSON (`Model.save` failed).
        self.num_layers = self.rnn.num_layers
        self.dropout = self.rnn.dropout
        self.attention = attention
        self.output_projection = keras.layers.Dense(
            self.units,
            activation="tanh",
            use_bias=False,
            name="attentional_projection",
            dtype=self.dtype_policy,  # it makes the outputs: this layer's policy
        )

    # --------------------------------------------------------------------------- build
    def _context_size(self, memory_size):
        if isinstance(self.attention, MultiHeadCrossAttention):
            return self.attention.output_dim or self.units
        return memory_size

    def build(self, inputs_shape, memory_shape):
        if len(memory_shape) != 3 or memory_shape[-1] is None:
            raise ValueError(
                f"{self.name}: `memory` must have shape [batch, source_length, dim] with a known "
                f"dim, got {tuple(memory_shape)}."
            )
        context = self._context_size(memory_shape[-1])
        rnn_input = inputs_shape[-1] + (context if self.attention_style == "bahdanau" else 0)
        # A sublayer may already be built (deserialized with its own build config).
        for sublayer, shapes in (
            (self.attention, ((None, None, self.units), tuple(memory_shape))),
            (self.rnn, ((None, None, rnn_input),)),
            (self.output_projection, ((None, context + self.units),)),
        ):
            if not sublayer.built:
                sublayer.build(*shapes)

    @property
    def state_size(self):
        return [list(level.state_size) for level in self.rnn.levels]

    def get_initial_state(self, batch_size):
        return [level.get_initial_state(batch_size) for level in self.rnn.levels]

    # ---------------------------------------------------------------------------- parts
    def _attend(self, query, memory, memory_mask, training):
        context, weights = self.attention(
            query, memory, value_mask=memory_mask, return_attention_scores=True, training=training
        )
        if isinstance(self.attention, MultiHeadCrossAttention):
            weights = ops.mean(weights, axis=1)  # over heads
        return context, weights

    def _rnn_step(self, inputs, states, training):
        """One step of every level, as `StackedRNN` runs them over a sequence."""
        x, new_states = inputs, []
        for index, level in enumerate(self.rnn.levels):
            previous = level_inputs = x
            if index > 0 and self.dropout > 0:
                level_inputs = self.rnn.level_dropout[index - 1](level_inputs, training=training)
            x, level_states = level.cell(level_inputs, list(states[index]), training=training)
            if self.residual and index > 0:
                x = x + previous  # the input before dropout, as in `StackedRNN`
            new_states.append(list(level_states))
        return x, new_states

    def step(self, inputs, states, memory, memory_mask=None, training=False):
        """One decoder step.

        Args:
            inputs: [B, E] embedded previous token. states: list per level of its states.
            memory, memory_mask: as in ``call`` (tiled to the beam when decoding with beams).

        Returns:
            ``(output [B, units], new_states, attention_weights [B, S])``.
        """
        self._check_state_structure(states)
        self._check_step_inputs(inputs, states)
        if self.attention_style == "bahdanau":
            context, weights = self._attend(states[-1][0], memory, memory_mask, training)
            top, states = self._rnn_step(ops.concatenate([inputs, context], -1), states, training)
        else:
            top, states = self._rnn_step(inputs, states, training)
            context, weights = self._attend(top, memory, memory_mask, training)
        output = self.output_projection(ops.concatenate([context, top], axis=-1))
        return output, states, weights

    def _check_step_inputs(self, inputs, states):
        """`step`'s ``inputs`` must be one step, [B, E], of the states' batch: the Bahdanau
        form concatenates them with the context first, where a sequence [B, T, E] or another
        batch failed as a bare ``ConcatOp`` error (the Luong form's cell names them)."""
        if not hasattr(inputs, "shape"):  # a nested list
            inputs = ops.convert_to_tensor(inputs)
        shape = tf.TensorShape(inputs.shape)
        if shape.rank is None:
            return
        if shape.rank != 2:
            raise ValueError(
                f"{self.name}: `step` takes one embedded token per row, `inputs` of shape "
                f"[batch, features], got shape {tuple(shape)} (`call` runs a whole sequence)."
            )
        rows = tf.TensorShape(getattr(states[-1][0], "shape", None))
        if rows.rank and None not in (rows[0], shape[0]) and rows[0] != shape[0]:
            raise ValueError(
                f"{self.name}: `inputs` of `step` has batch size {shape[0]} (shape "
                f"{tuple(shape)}) but the states have {rows[0]} row(s)."
            )

    # ----------------------------------------------------------------------------- call
    def call(self, inputs, memory, memory_mask=None, initial_state=None, mask=None, training=None):
        # Keras fills `mask` only for a layer of one input; with `memory` beside them the
        # targets' mask (from `Embedding(mask_zero=True)`) rides on `inputs` alone, and
        # `compute_mask` puts it on the outputs: it must also mask the steps.
        mask = keras_mask(inputs, mask)
        if memory_mask is not None:
            memory_mask = ops.cast(memory_mask, "bool")
        if initial_state is None:
            initial_state = self.get_initial_state(ops.shape(inputs)[0])
        if self.attention_style == "luong":
            outputs, _ = self.rnn(inputs, initial_state=initial_state, mask=mask, training=training)
            context, weights = self._attend(outputs, memory, memory_mask, training)
            outputs = self.output_projection(ops.concatenate([context, outputs], axis=-1))
            # The outputs follow this layer's dtype policy (the parts compute in their own).
            return ops.cast(outputs, self.compute_dtype), ops.cast(weights, self.compute_dtype)
        return self._loop(inputs, initial_state, memory, memory_mask, mask, bool(training))

    def _check_loop_arguments(self, inputs, states, memory, mask):
        """The static checks the Luong path's recurrent layers make, for the Bahdanau loop,
        which calls the cells directly: there a state or mask of batch 1 broadcast over the
        batch, and a wrong rank or size failed inside a transpose or a matmul."""
        shape = tuple(inputs.shape)
        if len(shape) != 3:
            raise ValueError(
                f"{self.name}: `inputs` must have rank 3 [batch, T, features], got shape {shape}."
            )
        # As the Luong path's recurrent layer does: a zero-step sequence is an error.
        if shape[1] == 0:
            raise ValueError(f"{self.name}: `inputs` has zero time steps (shape {shape}).")
        # Level 0 reads [e_t ; c_t]: the size of e_t it was built for is its kernel's rows
        # less the context's (read from the projection of [c_t ; s_t], not from `memory`, whose
        # size the attention checks).
        kernel = getattr(self.rnn.levels[0].cell, "kernel", None)
        if kernel is not None and self.output_projection.built and shape[-1] is not None:
            context = self.output_projection.kernel.shape[0] - self.units
            if shape[-1] + context != kernel.shape[0]:
                raise ValueError(
                    f"{self.name}: `inputs` has {shape[-1]} features (shape {shape}) but the "
                    f"decoder was built for {kernel.shape[0] - context}."
                )
        if mask is not None:
            check_static_shape(self.name, "mask", mask, shape[:2], "[batch, T] = ")
        self._check_state_structure(states)
        for level, level_states in enumerate(states):
            for i, (state, size) in enumerate(
                zip(level_states, self._level_state_sizes(level), strict=True)
            ):
                label = f"initial_state[{level}][{i}]"
                check_static_shape(self.name, label, state, (shape[0], size))

    def _level_state_sizes(self, level):
        return keras.tree.flatten(self.rnn.levels[level].cell.state_size)

    def _check_state_structure(self, states):
        """One list of states per level, each with the level's number of states."""
        if len(states) != len(self.rnn.levels):
            raise ValueError(
                f"{self.name}: the states must have one entry per level ({len(self.rnn.levels)}), "
                f"got {len(states)}."
            )
        for level, level_states in enumerate(states):
            sizes = self._level_state_sizes(level)
            if not isinstance(level_states, (list, tuple)) or len(level_states) != len(sizes):
                got = (
                    f"{len(level_states)}"
                    if isinstance(level_states, (list, tuple))
                    else f"a {type(level_states).__name__}"
                )
                raise ValueError(
                    f"{self.name}: the states of level {level} must be a list of {len(sizes)} "
                    f"tensor(s) of sizes {sizes}, got {got}."
                )

    def _loop(self, inputs, states, memory, memory_mask, mask, training):
        mask = mask_tensor(mask)  # a nested list too
        self._check_loop_arguments(inputs, states, memory, mask)
        cells = [level.cell for level in self.rnn.levels]
        # Cells that draw per-sequence dropout masks (keras_seq's, and Keras' own cells).
        dropout_cells = [c for c in cells if hasattr(c, "get_dropout_mask")]
        if training:  # per-sequence dropout masks, drawn outside the loop
            batch = tf.shape(inputs)[0]
            # Level 0 reads [input, context]; level l > 0 the output of level l - 1.
            size = inputs.shape[-1] + self._context_size(memory.shape[-1])
            for cell, level_states in zip(cells, states, strict=True):
                if cell in dropout_cells:
                    cell.get_dropout_mask(tf.zeros(tf.stack([batch, size]), inputs.dtype))
                    cell.get_recurrent_dropout_mask(level_states[0])
                size = getattr(cell, "output_size", None) or keras.tree.flatten(cell.state_size)[0]
        sequence = tf.transpose(inputs, [1, 0, 2])
        length = tf.shape(sequence)[0]
        if inputs.shape[1] is None:
            message = f"{self.name}: `inputs` has zero time steps."
            with tf.control_dependencies([tf.debugging.assert_positive(length, message=message)]):
                length = tf.identity(length)
        outputs_ta = tf.TensorArray(self.compute_dtype, size=length)
        weights_ta = tf.TensorArray(self.compute_dtype, size=length)
        # As the Luong path's recurrent layers check them: in a graph traced with unknown
        # sizes a [1, T] mask or a [1, u] state would broadcast over the batch.
        states = [
            [
                leading_dims_matching(
                    state,
                    inputs,
                    1,
                    f"{self.name}: `initial_state[{level}][{i}]` must have the batch size of "
                    "`inputs`",
                )
                for i, state in enumerate(level_states)
            ]
            for level, level_states in enumerate(states)
        ]
        if mask is not None:
            mask = leading_dims_matching(
                mask, inputs, 2, f"{self.name}: `mask` must have shape [batch, T]"
            )
        # A masked target step keeps the states it received (as the Luong path's recurrent
        # layer does), so a left-padded target starts its valid steps from the initial state.
        mask_ta = None
        if mask is not None:
            mask = tf.transpose(ops.cast(mask, "bool"), [1, 0])  # time-major, as `sequence`
            mask_ta = tf.TensorArray(tf.bool, size=length).unstack(mask)
            # As in `Recurrent`: a NaN or inf at a masked step, whose states are dropped,
            # would still reach the weights' gradients (NaN·0 through the matmuls).
            sequence = tf.where(mask[:, :, None], sequence, tf.zeros_like(sequence))
        inputs_ta = tf.TensorArray(sequence.dtype, size=length).unstack(sequence)

        def body(t, states, outputs_ta, weights_ta):
            output, new_states, weights = self.step(
                inputs_ta.read(t), states, memory, memory_mask, training
            )
            if mask_ta is not None:
                keep = mask_ta.read(t)[:, None]
                new_states = [
                    [
                        tf.where(keep, new, old)
                        for new, old in zip(level_new, level_old, strict=True)
                    ]
                    for level_new, level_old in zip(new_states, states, strict=True)
                ]
            states = [list(level) for level in new_states]
            # The lists hold this layer's dtype (the parts compute in their own).
            output, weights = (ops.cast(v, self.compute_dtype) for v in (output, weights))
            return t + 1, states, outputs_ta.write(t, output), weights_ta.write(t, weights)

        _, _, outputs_ta, weights_ta = tf.while_loop(
            lambda t, *_: t < length,
            body,
            (tf.constant(0), states, outputs_ta, weights_ta),
            # A known bound: XLA (`jit_compile`, Keras' default on a GPU) builds the gradient's
            # per-step lists only for a loop with one.
            maximum_iterations=length if inputs.shape[1] is None else inputs.shape[1],
        )
        for cell in dropout_cells:
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        return (
            tf.transpose(outputs_ta.stack(), [1, 0, 2]),
            tf.transpose(weights_ta.stack(), [1, 0, 2]),
        )

    def compute_mask(self, inputs, mask=None, **kwargs):
        return [mask_tensor(mask), None]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": self._layer_config,
                "attention": keras.saving.serialize_keras_object(self.attention),
                "num_layers": self.num_layers,
                "attention_style": self.attention_style,
                "dropout": self.dropout,
                "residual": self.residual,
            }
        )
        return config
