"""Base class of every keras_seq cell: shared weights, dropout masks and the two-phase step."""

import numbers

import keras
from keras import ops

# Keras' RNN layer prepares and resets the per-sequence dropout masks only for cells that are
# instances of this mixin, so our cells must inherit it to drop out correctly inside
# `keras.layers.RNN` / `StackedRNNCells` / `Bidirectional`. It is not exported publicly.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_seq._checked_ids import check_bool, check_static_shape, plain_seed


def _positive_integer(name, value):
    """``value`` as an int, if it is an integer > 0 (a NumPy integer too; not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {name}={value!r}.")
    return int(value)


def _check_rate(name, value):
    """``value`` as a Python float, if it is a real number in [0, 1) (a NumPy float too; not a
    bool): None failed inside ``float()`` with a TypeError naming no argument, and a string
    such as ``"0.2"`` was read as a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1), got {name}={value!r}.")
    return float(value)


def _static_shape(x):
    """The static shape of ``x`` as a tuple, or None where even its rank is unknown."""
    shape = getattr(x, "shape", None)
    if shape is None or getattr(shape, "rank", 0) is None:
        return None
    return tuple(shape)


def distinct_initializers(initializer, count):
    """``count`` initializers drawing as ``initializer`` does, but different values.

    A Keras random initializer that is unseeded or seeded with an int gives the same values
    at every call, so one used for several weights of the same shape (the three peepholes,
    the gate blocks of a bias) would make them all equal. The copies get their own seeds:
    ``seed + i`` for an int seed, fresh ones (from Keras' global seed) for none. A
    `SeedGenerator` seed, or an initializer without a seed, is used as it is.
    """
    config = (
        initializer.get_config() if isinstance(initializer, keras.initializers.Initializer) else {}
    )
    seed = config.get("seed", False)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return [initializer] * count
    return [initializer] + [
        type(initializer).from_config({**config, "seed": None if seed is None else seed + i})
        for i in range(1, count)
    ]


class RecurrentCell(DropoutRNNCell, keras.layers.Layer):
    """Base recurrent cell: one time step, split into an input projection and a recurrence.

    A step computes ``z_t = x_t W + b`` (``project_inputs``) and then the recurrence on
    ``z_t`` and the previous state (``step``). ``call(x_t, states)`` chains the two, which is
    the Keras cell contract, so every cell runs inside `keras.layers.RNN`,
    `keras.layers.StackedRNNCells` and `keras.layers.Bidirectional`. The keras_seq sequence
    layers instead project all time steps at once (one large matmul) and run only ``step``
    inside the loop.

    Weights: ``kernel`` [input_dim, gate_count * units], ``recurrent_kernel``
    [units, gate_count * units] and ``bias`` [gate_count * units], laid out as in the Keras cell
    of the same family so that weights can be copied between them.

    Dropout follows Gal & Ghahramani (2016): one input mask and one recurrent mask per
    sequence, reused at every step, applied to ``x_t`` and ``h_{t-1}`` before the matmuls;
    the carried state itself is never dropped. One mask serves every gate (their "tied"
    form); Keras' LSTM and GRU cells draw one per gate, for the inputs and the state, once
    ``recurrent_dropout`` is set (their ``implementation=1``).

    Args:
        units: int. Dimensionality of the output and of each state.
        activation: activation of the candidate (and of the LSTM output), default ``tanh``.
        recurrent_activation: activation of the gates, default ``sigmoid``.
        use_bias: bool. Whether the gates have biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout: float in [0, 1). Fraction of the input units dropped.
        recurrent_dropout: float in [0, 1). Fraction of the recurrent units dropped.
        seed: int or None. Seed of the dropout masks.
    """

    # Number of [units]-wide blocks in the kernels (4 for LSTM) and of [batch, units] states.
    gate_count = 1
    state_count = 1

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        units = _positive_integer("units", units)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = check_bool(use_bias, "use_bias")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        # SeedGenerator refused a NumPy integer, even where there is no dropout.
        self.seed = seed = plain_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [units] * self.state_count
        self.output_size = units

    # ----------------------------------------------------------------------------- weights
    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known feature size; got input shape {input_shape}."
            )
        self.input_dim = int(input_dim)
        width = self.gate_count * self.units
        self.kernel = self.add_weight(
            shape=(self.input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _bias_shape(self):
        return (self.gate_count * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _input_bias(self):
        return self.bias

    # ------------------------------------------------------------------------------- step
    def project_inputs(self, inputs, training=False):
        """Returns ``x W + b`` for one step [B, D] or for every step at once [B, T, D].

        The input dropout mask is drawn once per sequence ([B, D]) and broadcast over time.
        """
        if training and self.dropout > 0:
            step_input = inputs[:, 0, :] if len(inputs.shape) == 3 else inputs
            mask = self.get_dropout_mask(step_input)
            if len(inputs.shape) == 3:
                mask = ops.expand_dims(mask, 1)
            # In the inputs' dtype: `keras.layers.RNN` draws the mask from its own (float32)
            # inputs, so a cell of a mixed policy inside a float32 RNN failed with "expected to
            # be a half tensor but is a float tensor".
            inputs = inputs * ops.cast(mask, inputs.dtype)
        projected = ops.matmul(inputs, self.kernel)
        bias = self._input_bias()
        if bias is not None:
            projected = projected + bias
        return projected

    def recurrent_input(self, h_prev, training=False):
        """``h_{t-1}`` as it enters the recurrent matmul (with the recurrent dropout mask)."""
        if training and self.recurrent_dropout > 0:
            return h_prev * ops.cast(self.get_recurrent_dropout_mask(h_prev), h_prev.dtype)
        return h_prev

    def step(self, projected, states, training=False):
        """One recurrence step on projected inputs: returns ``(output, new_states)``."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        if len(states) != self.state_count:
            raise ValueError(
                f"{type(self).__name__} expects {self.state_count} state tensor(s) in `states`, "
                f"got {len(states)}."
            )
        self._check_step_shapes(inputs, states)
        output, new_states = self.step(self.project_inputs(inputs, training), states, training)
        return output, (new_states if nested else new_states[0])

    def _check_step_shapes(self, inputs, states):
        """Refuses a step input or state of another shape: a [B, T, D] input (whose
        projection broadcast against the states when T == B) or a state of batch 1 (broadcast
        over the batch) gave outputs of a wrong shape or wrong rows, a wrong size an error
        inside a matmul."""
        name = type(self).__name__
        shape = _static_shape(inputs)
        if shape is not None and (
            len(shape) != 2 or (shape[-1] is not None and shape[-1] != self.input_dim)
        ):
            raise ValueError(
                f"{name}: `inputs` must have shape [batch, {self.input_dim}] (one step), got "
                f"{shape}."
            )
        batch = None if shape is None else shape[0]
        for i, (state, size) in enumerate(zip(states, self.state_size, strict=True)):
            check_static_shape(name, f"states[{i}]", state, (batch, size))

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    # ----------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config
