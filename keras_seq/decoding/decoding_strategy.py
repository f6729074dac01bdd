"""Base class of the search strategies: the decoding loop around a step function."""

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util

from keras_seq.decoding._ops import relax_batch_dimension

# Output buffers of up to this many steps are allocated whole, with the static length
# `T = max_length_bound`. A larger bound starts them at this length and doubles them as the
# search runs (see `DecodingStrategy._buffer_steps`): `RNNLanguageModel.generate(
# max_length=10**9)` allocated buffers of 10**9 steps up front, and the process was killed
# for memory after 51 s, with no error, though `</s>` came within 20 steps.
GROWING_BUFFERS_ABOVE = 1024

# The buffers of the search with a time axis, which grow.
_TIME_BUFFERS = ("ids", "token_scores", "alignments")


@keras.saving.register_keras_serializable(package="keras_seq")
class DecodingStrategy:
    """Runs a step function in one `tf.while_loop` until every hypothesis has ended.

    Decoding knows no model: a strategy only sees a step function
    `step(ids, state, index) -> (logits, state)` or `-> (logits, state,
    attention)`, where `ids` `[N]` int32 are the previous tokens, `state`
    any nested structure of tensors with a leading batch dimension, `index`
    the int32 scalar step number, `logits` `[N, V]` the next-token scores and
    `attention` `[N, S]` the attention probabilities over the source (only
    needed for alignments and the coverage penalty).

    The loop is pure TensorFlow: the first step is traced before the
    `tf.while_loop`, the others inside it; outputs live in `[.., T]` buffers (no
    TensorArray), with no py_func and no custom op, so the search exports in a
    SavedModel that TF Serving runs, and also compiles with
    `tf.function(jit_compile=True)`. Up to a `max_length_bound` of 1024 steps
    (`GROWING_BUFFERS_ABOVE`), and always under XLA, which needs static shapes,
    the buffers have the static length `T = max_length_bound`. Above it they
    start at 1024 steps and double when the search gets there (up to the
    bound), so memory follows the steps the search runs, not the bound (a
    language model asked for up to 10**9 tokens that says `</s>` after 20 needs
    no 10**9-step buffers); `T` is then the number of steps the search ran
    (the longest hypothesis, or more in a beam), unknown while tracing.

    XLA has no run-time errors: it compiles `Assert` ops out. Under
    `tf.function(jit_compile=True)` the checks made while the search runs (NaN
    or `+inf` logits of a live row, a row with no token to choose, a run-time
    `max_length` below 1, a step answering another number of rows when the
    batch is unknown while tracing) raise nothing, and the search answers
    unspecified tokens (NaN scores for NaN logits); check a step without XLA
    first. The checks made while tracing raise as they do without XLA.

    Called eagerly, the search is wrapped in a `tf.function` (without
    AutoGraph: the step must be graph-ready TensorFlow code, as Keras layers
    are) so that it never runs a Python loop over steps;
    a model should wrap its decoding in its own `tf.function` once, since an
    eager call traces the whole search again.

    A hypothesis of example `b` ends at its first end token, or after
    `max_length[b]` tokens. A hypothesis that has ended is frozen: its ids,
    score and length no longer change, and the step is fed the end token for
    its row until the loop stops (the logits it returns there are ignored).
    The loop carries one state: inside it the step is fed the state it
    returned at index 0, and must return the same structure, dtypes and
    shapes (beyond the batch dimension), else a `ValueError` naming the step.
    Subclasses implement `_search`.

    Example:

    >>> table = tf.math.log([[0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    >>> def step(ids, state, index):
    ...     return tf.gather(table, ids), state
    >>> result = BeamSearch(beam_size=2, n_best=2)(
    ...     step, tf.constant([0, 1]), end_id=2, initial_state=(),
    ...     max_length=tf.constant([3, 1]), max_length_bound=4)
    >>> result.ids.shape, result.lengths.numpy().tolist()
    (TensorShape([2, 2, 4]), [[2, 1], [1, 1]])

    Call arguments:
        step: callable `(ids, state, index) -> (logits, state[, attention])`.
        start_ids: int tensor `[B]`. The first input token of each example.
        end_id: int. The end token; must be a valid id of the vocabulary.
        initial_state: nested structure of `[B, ...]` tensors or NumPy
            arrays (may be `()`; a None in it is a `TypeError`).
        max_length: int >= 1, or int tensor `[]` or `[B]`: the most tokens to
            generate per example, the end token included (for instance a
            function of the source length).
        min_length: int >= 0 or int tensor `[]`/`[B]`. The end token is
            forbidden at steps `0 .. min_length - 1`, so at least `min_length`
            tokens come before it.
        seed: None, int in `[-2**63, 2**63 - 1]`, or int tensor `[]` or `[2]`.
            Seed of the stateless random draws of a sampling selector; ignored
            by deterministic searches. None draws a fresh seed at each call.
        max_length_bound: optional int. The most steps the search runs, and the
            static length `T` of the output buffers up to 1024 steps (above it,
            see the growing buffers above). Defaults to `max_length` when it is a Python int or a
            tensor of known value; needed when `max_length` is only known at
            run time. Per-example tensor lengths above it are cut to it; a
            Python int `max_length` above it is an error.

    Returns:
        A `DecodingResult`.
    """

    def __call__(
        self,
        step,
        start_ids,
        end_id,
        initial_state,
        max_length,
        min_length=0,
        seed=None,
        max_length_bound=None,
    ):
        if not callable(step):
            raise TypeError(f"`step` must be callable, got {step!r}.")
        end_id = _check_end_id(end_id)
        start_ids = _check_start_ids(start_ids)
        initial_state = _check_initial_state(initial_state)
        max_length, bound = _check_max_length(max_length, max_length_bound)
        min_length = _check_min_length(min_length)
        seed = _check_seed(seed)
        _check_state_rows(initial_state, start_ids.shape[0], "`initial_state`", "example")
        for name, value in (("max_length", max_length), ("min_length", min_length)):
            if isinstance(value, tf.Tensor) and value.shape.rank == 1:
                if None not in (value.shape[0], start_ids.shape[0]):
                    if value.shape[0] != start_ids.shape[0]:
                        raise ValueError(
                            f"`{name}` must have one value per example: shape "
                            f"[{start_ids.shape[0]}] like `start_ids`, got shape {value.shape}."
                        )

        def search():
            batch_size = tf.shape(start_ids)[0]
            max_lengths = tf.minimum(_per_example(max_length, batch_size, "max_length"), bound)
            if not isinstance(max_length, int) and tf.get_static_value(max_length) is None:
                check = tf.debugging.assert_greater_equal(
                    max_lengths, 1, message="`max_length` must be >= 1"
                )
                with tf.control_dependencies([check]):
                    max_lengths = tf.identity(max_lengths)
            min_lengths = _per_example(min_length, batch_size, "min_length")
            return self._search(
                step=step,
                start_ids=start_ids,
                end_id=end_id,
                initial_state=initial_state,
                max_lengths=max_lengths,
                min_lengths=min_lengths,
                seed=seed,
                max_steps=bound,
            )

        if tf.executing_eagerly():
            if seed is None and self._stochastic:
                # Drawn here, eagerly, not by the search's random op: the `tf.function` is a
                # new one at every eager call, so under a global seed (`tf.random.set_seed`)
                # its op drew the same seed, and the same samples, at every call.
                seed = _check_seed(tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32))
            return tf.function(search, autograph=False)()
        return search()

    @property
    def _stochastic(self):
        """Whether the search draws at random (and so needs a seed)."""
        return False

    def _search(
        self, step, start_ids, end_id, initial_state, max_lengths, min_lengths, seed, max_steps
    ):
        """Returns the `DecodingResult`; arguments are validated, lengths are `[B]` int32."""
        raise NotImplementedError(f"{type(self).__name__} must implement `_search`.")

    def _buffer_steps(self, max_steps):
        """The length the output buffers of a search of at most ``max_steps`` steps start at:
        ``max_steps`` itself up to `GROWING_BUFFERS_ABOVE` and under XLA (which needs static
        shapes), `GROWING_BUFFERS_ABOVE` above it; `_run_loop` grows them, given their
        ``time_axis``."""
        if max_steps <= GROWING_BUFFERS_ABOVE or _in_xla_context():
            return max_steps
        return GROWING_BUFFERS_ABOVE

    def _run_loop(self, step, ids, state, end_id, max_steps, initialize, advance, time_axis=None):
        """Calls `step` for indices `0 .. max_steps - 1` until every hypothesis has ended.

        `initialize(logits, attention)` builds the dict of search variables
        (with a boolean `finished`) from the first step's outputs;
        `advance(index, logits, attention, variables, state)` returns the new
        `(variables, ids, state)`. Returns the final `(variables, state)`.

        When `initialize` made the buffers `ids`, `token_scores` and `alignments`
        shorter than `max_steps` along `time_axis` (`_buffer_steps`), they double
        whenever the loop reaches their end (up to `max_steps`), and come out cut to
        the steps the loop ran.
        """
        logits, state, attention = _call_step(step, ids, state, tf.constant(0), end_id)
        variables = initialize(logits, attention)
        growing = time_axis is not None and variables["ids"].shape[time_axis] != max_steps
        variables, ids, state = advance(tf.constant(0), logits, attention, variables, state)
        has_attention = attention is not None

        def not_done(index, variables, ids, state):
            return tf.logical_and(
                index < max_steps, tf.logical_not(tf.reduce_all(variables["finished"]))
            )

        def body(index, variables, ids, state):
            fed_state = state
            logits, state, attention = _call_step(step, ids, state, index, end_id)
            if (attention is not None) != has_attention:
                raise ValueError(
                    "`step` must return attention at every step or at none: it returned "
                    f"{'no ' if not has_attention else ''}attention at index 0 and "
                    f"{'no ' if attention is None else ''}attention inside the loop."
                )
            _check_loop_state(fed_state, state)
            if growing:
                variables = _grown(variables, index, time_axis, max_steps)
            variables, ids, state = advance(index, logits, attention, variables, state)
            return index + 1, variables, ids, state

        loop_variables = (tf.constant(1), variables, ids, state)
        invariants = relax_batch_dimension(loop_variables[1:])
        if growing:
            invariants[0].update(
                {
                    name: _free_axis(shape, time_axis)
                    for name, shape in invariants[0].items()
                    if name in _TIME_BUFFERS
                }
            )
        steps, variables, _, state = tf.while_loop(
            not_done,
            body,
            loop_variables,
            shape_invariants=(tf.TensorShape([]),) + invariants,
        )
        if growing:
            variables = {
                name: _cut(value, time_axis, steps) if name in _TIME_BUFFERS else value
                for name, value in variables.items()
            }
        return variables, state

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        # The attributes themselves (`GNMTLengthPenalty(alpha=0.6)`), not their serialized
        # configs (dicts of module and class names).
        config = {key: getattr(self, key, value) for key, value in self.get_config().items()}
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        return f"{type(self).__name__}({arguments})"


def _in_xla_context():
    """Whether the search is being traced for XLA (``tf.function(jit_compile=True)``)."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _grown(variables, index, time_axis, max_steps):
    """``variables`` with the time buffers doubled along ``time_axis`` (zeros after, at most
    ``max_steps`` long) when ``index`` is at their end, else as they are."""
    capacity = tf.shape(variables["ids"])[time_axis]

    def grow():
        extra = tf.minimum(capacity, max_steps - capacity)
        grown = dict(variables)
        for name in _TIME_BUFFERS:
            if name in variables:
                paddings = [[0, 0]] * variables[name].shape.rank
                paddings[time_axis] = [0, extra]
                grown[name] = tf.pad(variables[name], paddings)
        return grown

    return tf.cond(index >= capacity, grow, lambda: dict(variables))


def _free_axis(shape, axis):
    """``shape`` with dimension ``axis`` unknown."""
    dimensions = shape.as_list()
    dimensions[axis] = None
    return tf.TensorShape(dimensions)


def _cut(buffer, axis, length):
    """The first ``length`` positions of ``buffer`` along ``axis``."""
    size = [-1] * buffer.shape.rank
    size[axis] = length
    return tf.slice(buffer, [0] * buffer.shape.rank, tf.stack(size))


def _call_step(step, ids, state, index, end_id):
    """Calls `step` and checks its outputs: `(float32 logits, state, attention or None)`."""
    outputs = step(ids, state, index)
    if not isinstance(outputs, (tuple, list)) or len(outputs) not in (2, 3):
        raise TypeError(
            "`step` must return `(logits, state)` or `(logits, state, attention)`, got "
            f"{outputs!r}."
        )
    logits, state = tf.convert_to_tensor(outputs[0]), outputs[1]
    attention = outputs[2] if len(outputs) == 3 else None
    if logits.shape.rank != 2:
        raise ValueError(
            f"`step` must return logits of shape [batch, vocabulary], got shape {logits.shape}."
        )
    vocabulary_size = logits.shape[-1]
    if vocabulary_size is not None and end_id >= vocabulary_size:
        raise ValueError(
            f"`end_id` must be a token id in [0, {vocabulary_size}) (the vocabulary size the "
            f"step's logits have), got {end_id}."
        )
    logits = tf.cast(logits, tf.float32)
    if vocabulary_size is None:
        check = tf.debugging.assert_less(
            end_id, tf.shape(logits)[-1], message="`end_id` is outside the vocabulary"
        )
        with tf.control_dependencies([check]):
            logits = tf.identity(logits)
    logits = _one_row_per_id(logits, ids, "logits")
    if attention is not None:
        attention = tf.cast(tf.convert_to_tensor(attention), tf.float32)
        if attention.shape.rank != 2:
            raise ValueError(
                "`step` must return attention of shape [batch, source_length], got shape "
                f"{attention.shape}."
            )
        attention = _one_row_per_id(attention, ids, "attention")
    state = _check_step_state(state)
    _check_state_rows(state, ids.shape[0], "the state `step` returned", "hypothesis")
    return logits, state, attention


def _check_loop_state(fed, returned):
    """Raises a `ValueError` naming the step when the state it returned inside the loop
    differs from the state it was fed there (its structure, a tensor's dtype, or a shape
    beyond the batch dimension): the loop carries one state, and `tf.while_loop` refused
    the change with the names of its own loop variables ("The two structures don't have
    the same nested structure" over the search's buffers, or "Input tensor `GatherV2_8:0`
    enters the loop with shape ...")."""
    try:
        tf.nest.assert_same_structure(fed, returned)
    except (TypeError, ValueError):
        raise ValueError(
            "`step` must return a state of the structure it is given (the loop carries one "
            "state: inside the loop the step is fed the state it returned at index 0), got "
            f"{_shapes(returned)} for {_shapes(fed)}."
        ) from None
    for (path, before), after in zip(
        keras.tree.flatten_with_path(fed), keras.tree.flatten(returned), strict=True
    ):
        # The loop's shape invariant: the batch dimension free (`relax_batch_dimension`),
        # every other one as fed; a returned shape must be as specific.
        expected, shape = before.shape, after.shape
        if expected.rank:
            expected = tf.TensorShape([None]).concatenate(expected[1:])
        fits = expected.rank is None or (
            shape.rank == expected.rank
            and all(e is None or e == a for e, a in zip(expected, shape, strict=True))
        )
        if before.dtype != after.dtype or not fits:
            raise ValueError(
                "`step` must return every state tensor with the dtype and the shape (beyond "
                f"the batch dimension) it is given, got {after.dtype.name} {shape} for "
                f"{before.dtype.name} {before.shape} at path {path}."
            )


def _shapes(state):
    """The structure of ``state`` with each tensor shown as its dtype and shape."""
    return tf.nest.map_structure(lambda tensor: f"{tensor.dtype.name}{list(tensor.shape)}", state)


_ROWS_HINT = (
    " (one per input id: `BeamSearch` feeds batch * beam_size rows, so the step must close "
    "over tensors tiled with `tile_to_beam`)"
)


def _one_row_per_id(tensor, ids, name):
    """`tensor`, once its leading dimension is known to equal that of `ids`.

    A step answering another number of rows (e.g. `B` rows for the `B * k` of a beam
    search, its encoder outputs not tiled) would otherwise be broadcast or reshaped into
    a silently wrong search.
    """
    rows, expected = tensor.shape[0], ids.shape[0]
    if rows is not None and expected is not None:
        if rows != expected:
            raise ValueError(
                f"`step` must return {name} with {expected} rows{_ROWS_HINT}, got shape "
                f"{tensor.shape}."
            )
        return tensor
    check = tf.debugging.assert_equal(
        tf.shape(tensor)[0],
        tf.shape(ids)[0],
        message=f"`step` must return {name} with as many rows as input ids{_ROWS_HINT}",
    )
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _check_state_rows(state, rows, what, unit):
    """Raises a `ValueError` when a tensor of `state` (rank >= 1) has a static leading
    dimension other than `rows` (when known): the state has one row per `unit`."""
    if rows is None:
        return
    for path, leaf in keras.tree.flatten_with_path(state):
        if getattr(leaf, "shape", None) is None:
            continue
        shape = tf.TensorShape(leaf.shape)
        if shape.rank in (None, 0) or shape[0] is None:
            continue
        if shape[0] != rows:
            raise ValueError(
                f"Every tensor of {what} must have a leading dimension of {rows} (one row per "
                f"{unit}), got shape {shape} at path {path}."
            )


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_end_id(end_id):
    if not _is_int(end_id):
        raise TypeError(f"`end_id` must be a Python int, got {end_id!r}.")
    if not 0 <= end_id <= _MAX_INT32:
        # Token ids are int32: a larger id cannot be compared with a vocabulary size only known
        # at run time (an int32/int64 dtype error in the check), nor fed to the step.
        raise ValueError(f"`end_id` must be a token id in [0, 2**31 - 1], got {end_id}.")
    return int(end_id)


def _check_start_ids(start_ids):
    if not tf.is_tensor(start_ids):
        start_ids = np.asarray(start_ids)
        if start_ids.size == 0 and start_ids.dtype == np.float64:
            # `[]` (an empty batch written as a list) converts to floats.
            start_ids = start_ids.astype(np.int32)
    start_ids = tf.convert_to_tensor(start_ids)
    if not start_ids.dtype.is_integer:
        raise TypeError(f"`start_ids` must be integer token ids, got dtype {start_ids.dtype.name}.")
    if start_ids.shape.rank != 1:
        raise ValueError(f"`start_ids` must have shape [batch], got shape {start_ids.shape}.")
    return tf.cast(start_ids, tf.int32)


def _check_initial_state(initial_state):
    """The state with every leaf a tensor (NumPy arrays converted), as the loop needs."""
    return _state_tensors(initial_state, "`initial_state` must be")


def _check_step_state(state):
    """The state `step` returned, every leaf a tensor; a None in it (a stateless step answering
    `None` rather than `()`) is a `TypeError` naming the step, as it is in `initial_state`:
    it failed deep in the loop ("'NoneType' object has no attribute 'shape'")."""
    return _state_tensors(state, "`step` must return a state that is")


def _state_tensors(state, what):
    """``state`` with every leaf a tensor; a None leaf is a `TypeError` saying ``what`` the
    state must be."""

    def to_tensor(leaf):
        if leaf is None:
            raise TypeError(
                f"{what} a nested structure of [batch, ...] tensors (`()` for no state) "
                f"without None, got {state!r}."
            )
        return leaf if tf.is_tensor(leaf) else tf.convert_to_tensor(leaf)

    return tf.nest.map_structure(to_tensor, state)


_MAX_INT32 = 2**31 - 1  # the loops count steps in int32


def _check_max_length(max_length, max_length_bound):
    if max_length_bound is not None:
        if not _is_int(max_length_bound):
            raise TypeError(f"`max_length_bound` must be a Python int, got {max_length_bound!r}.")
        if not 1 <= max_length_bound <= _MAX_INT32:
            raise ValueError(
                f"`max_length_bound` must be in [1, 2**31 - 1], got {max_length_bound}."
            )
        max_length_bound = int(max_length_bound)
    if _is_int(max_length):
        if not 1 <= max_length <= _MAX_INT32:
            raise ValueError(f"`max_length` must be in [1, 2**31 - 1], got {max_length}.")
        if max_length_bound is not None and max_length > max_length_bound:
            raise ValueError(
                f"`max_length={max_length}` exceeds `max_length_bound={max_length_bound}`."
            )
        return int(max_length), max_length_bound or int(max_length)
    if isinstance(max_length, bool) or max_length is None:
        raise TypeError(f"`max_length` must be an int or an int tensor, got {max_length!r}.")
    max_length = tf.convert_to_tensor(max_length)
    if not max_length.dtype.is_integer:
        raise TypeError(f"`max_length` must be an int tensor, got dtype {max_length.dtype.name}.")
    if max_length.shape.rank not in (0, 1):
        raise ValueError(f"`max_length` must have shape [] or [batch], got {max_length.shape}.")
    value = tf.get_static_value(max_length)
    if value is not None and np.size(value):  # empty: one length per example of no example
        if np.min(value) < 1:
            raise ValueError(f"`max_length` must be >= 1, got {value.tolist()}.")
        if max_length_bound is None:
            if np.max(value) > _MAX_INT32:
                raise ValueError(f"`max_length` must be in [1, 2**31 - 1], got {value.tolist()}.")
            max_length_bound = int(np.max(value))
    elif max_length_bound is None:
        raise ValueError(
            "`max_length_bound` (a Python int) is needed when `max_length` is a tensor whose "
            "value is only known at run time (or empty): it fixes the length of the output "
            "buffers."
        )
    # Saturated, not wrapped: an int64 length above 2**31 - 1 is cut to the bound like any
    # length above it, where a plain cast would turn 2**32 + 2 into 2 (or a negative).
    return tf.saturate_cast(max_length, tf.int32), max_length_bound


def _check_min_length(min_length):
    if _is_int(min_length):
        if min_length < 0:
            raise ValueError(f"`min_length` must be >= 0, got {min_length}.")
        # The steps are counted in int32 and none reaches 2**31 - 1, which thus forbids the end
        # token at every step: a larger value converted as is would wrap to a negative one,
        # no minimum at all.
        return min(int(min_length), _MAX_INT32)
    min_length = tf.convert_to_tensor(min_length)
    if not min_length.dtype.is_integer or min_length.shape.rank not in (0, 1):
        raise ValueError(
            "`min_length` must be an int or an int tensor of shape [] or [batch], got "
            f"dtype {min_length.dtype.name} and shape {min_length.shape}."
        )
    value = tf.get_static_value(min_length)
    if value is not None and np.size(value) and np.min(value) < 0:
        raise ValueError(f"`min_length` must be >= 0, got {value.tolist()}.")
    return tf.saturate_cast(min_length, tf.int32)  # as `max_length`: no wrapping


def _check_seed(seed):
    if seed is None:
        return None
    if _is_int(seed):
        seed = int(seed)
        if not -(2**63) <= seed < 2**63:
            # The seed becomes an int64 tensor, as the stateless random ops take it.
            raise ValueError(f"`seed` must be an int in [-2**63, 2**63 - 1], got {seed}.")
        return tf.constant([seed, 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"`seed` must be an int or an int tensor, got dtype {seed.dtype.name}.")
    if seed.shape.rank == 0:
        return tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    if seed.shape != (2,):
        raise ValueError(f"`seed` must be a scalar or have shape [2], got shape {seed.shape}.")
    return tf.cast(seed, tf.int64)


def _per_example(value, batch_size, name):
    """Broadcasts an int or an int tensor `[]`/`[B]` to int32 `[B]`."""
    value = tf.convert_to_tensor(value, tf.int32)
    if value.shape.rank == 0:
        return tf.fill([batch_size], value)
    check = tf.debugging.assert_equal(
        tf.size(value), batch_size, message=f"`{name}` must have one value per example"
    )
    with tf.control_dependencies([check]):
        return tf.identity(value)
