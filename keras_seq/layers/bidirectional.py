"""Bidirectional wrapper for keras_seq sequence layers."""

import keras
from keras import ops

from keras_seq._checked_ids import mask_tensor
from keras_seq.layers.recurrent import keras_mask

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _offset_seed(config, offset):
    """``config`` with its dropout seed (top level, or its nested cell's) moved by ``offset``."""
    config = dict(config)
    if isinstance(config.get("seed"), int) and not isinstance(config["seed"], bool):
        config["seed"] = config["seed"] + offset
    cell = config.get("cell")
    if isinstance(cell, dict) and isinstance(cell.get("config"), dict):
        config["cell"] = {**cell, "config": _offset_seed(cell["config"], offset)}
    return config


def unshared_config(config):
    """A copy of the serialized ``config`` without Keras' ``shared_object_id`` entries.

    Inside `keras.saving.load_model` (and `Model.save`) Keras marks an object serialized twice
    with a ``shared_object_id`` (in the config it returned the first time too) and
    deserializes every config marked with that id into one object: copies of a `Recurrent`
    template made there would share its cell, and so one set of weights. The copy is not
    marked by later serializations either.
    """
    if isinstance(config, dict):
        return {k: unshared_config(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, (list, tuple)):
        return type(config)(unshared_config(v) for v in config)
    return config


def clone_layer(layer, seed_offset=0, **overrides):
    """A fresh, unbuilt copy of ``layer`` with some config entries replaced.

    Goes through ``from_config`` directly, with an unshared config: inside
    `keras.saving.load_model`, deserializing the same serialized object twice may hand back
    one shared object instead of two (see `unshared_config`).
    ``seed_offset`` moves an explicit dropout seed of the layer (or of its cell), so that
    copies of one seeded template (the two directions, the levels of a stack) draw different
    dropout masks rather than the same ones; a ``None`` seed stays ``None``.
    """
    config = unshared_config(layer.get_config())
    if seed_offset:
        config = _offset_seed(config, seed_offset)
    return type(layer).from_config({**config, **overrides})


@keras.saving.register_keras_serializable(package="keras_seq")
class Bidirectional(keras.layers.Layer):
    """Runs a sequence layer forwards and a copy of it backwards, and merges the two.

    With ``h^f_t`` the forward output after ``x_1..x_t`` and ``h^b_t`` the backward output
    after ``x_T..x_t`` (Schuster & Paliwal 1997)::

        concat: y_t = [h^f_t ; h^b_t]     sum: h^f_t + h^b_t     mul: h^f_t ⊙ h^b_t
        ave:    (h^f_t + h^b_t) / 2       None: the list [h^f, h^b]

    With a mask, the backward direction starts at each row's last valid step (padding is
    skipped, whether right or left), and its outputs are put back in time order. Without
    ``return_sequences`` the outputs are the forward final output and the backward output at
    the first step (each direction's last valid step). As in `keras.layers.Bidirectional`,
    masked steps of returned sequences are zeros.

    Each direction of a keras_seq layer runs its fused loop over the whole batch, the two
    directions side by side; a keras_seq layer alone runs a large batch as two loops over
    its halves instead (`Recurrent`), which `keras.layers.Bidirectional` around it would
    keep in each direction (four loops: 0.88–0.90× this wrapper's train step at 64 rows and
    512 units on a 2-core CPU).

    Args:
        layer: a `Recurrent` layer (e.g. `LSTM`) or any layer with ``go_backwards``
            (False: it runs forwards), ``return_sequences``, ``return_state`` and a config;
            it is copied for each
            direction, so the instance given is not itself used. With an explicit dropout
            ``seed`` (of the layer or its cell) the backward copy gets ``seed + 1``, so the
            two directions draw different dropout masks.
        merge_mode: one of "concat", "sum", "mul", "ave" or None.
        backward_layer: optional layer for the backward direction (``go_backwards=True``).
        **kwargs: `keras.layers.Layer` arguments. As in `keras.layers.Bidirectional`, a
            ``dtype`` given here is the dtype of the (merged) outputs; each direction
            computes in its own layer's policy (the states it returns are its own).

    Call arguments:
        inputs: [batch, time, features].
        initial_state: optional list: the forward layer's states then the backward layer's.
        mask: optional [batch, time] boolean mask; when None, the Keras mask of ``inputs``
            (also when ``initial_state`` is given).
        training: bool.

    Returns:
        The merged output; with ``return_state``, ``[output, *forward_states,
        *backward_states]`` (with ``merge_mode=None``, ``[forward_output, backward_output,
        *forward_states, *backward_states]``).

    Example:
    >>> layer = Bidirectional(keras_seq.layers.LSTM(4, return_sequences=True))
    >>> layer(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if isinstance(layer, dict):  # a serialized template (from `get_config`)
            layer = keras.saving.deserialize_keras_object(layer)
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"`merge_mode` must be one of {MERGE_MODES}, got merge_mode={merge_mode!r}."
            )
        if not isinstance(layer, keras.layers.Layer) or not hasattr(layer, "go_backwards"):
            raise ValueError(
                f"`layer` must be a recurrent sequence layer with `go_backwards`, got {layer!r}."
            )
        if layer.go_backwards:
            # Its outputs would run in reversed time order, and the other direction's too.
            raise ValueError(
                "`layer` must run forwards (`go_backwards=False`): Bidirectional runs the "
                f"backward copy itself; got {layer.name!r} with go_backwards=True."
            )
        super().__init__(**kwargs)
        # Keep the template's config rather than the (never built) layer itself.
        self._layer_config = unshared_config(keras.saving.serialize_keras_object(layer))
        self.merge_mode = merge_mode
        self.forward_layer = clone_layer(layer, name=f"forward_{layer.name}")
        if backward_layer is None:
            self.backward_layer = clone_layer(
                layer,
                seed_offset=1,
                name=f"backward_{layer.name}",
                go_backwards=not layer.go_backwards,
            )
        else:
            if not isinstance(backward_layer, keras.layers.Layer) or not hasattr(
                backward_layer, "go_backwards"
            ):
                # A cell or a name failed below with an AttributeError ("'LSTMCell' object
                # has no attribute 'stateful'") naming no argument.
                raise ValueError(
                    "`backward_layer` must be a recurrent sequence layer with `go_backwards` "
                    f"(e.g. `LSTM(units, go_backwards=True)`), got {backward_layer!r}."
                )
            self.backward_layer = backward_layer
        for attribute in ("stateful", "return_sequences", "return_state"):
            forward, backward = (
                getattr(self.forward_layer, attribute),
                getattr(self.backward_layer, attribute),
            )
            if forward != backward:
                raise ValueError(
                    f"The forward and backward layers must agree on `{attribute}`, got "
                    f"{forward} and {backward}."
                )
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("`backward_layer` must run in the other direction (`go_backwards`).")
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
            if hasattr(direction, "_split_batch"):
                # The two directions are two independent loops already: each split in two
                # more ran the BiLSTM's train step 0.88-0.90x at size C (`Recurrent`).
                direction._split_batch = False
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True

    @property
    def state_size(self):
        return list(self.forward_layer.state_size) + list(self.backward_layer.state_size)

    def build(self, sequences_shape, initial_state_shape=None):
        if self.merge_mode in ("sum", "mul", "ave"):
            forward, backward, _, _ = self._direction_output_shapes(sequences_shape)
            if forward[-1] != backward[-1]:
                raise ValueError(
                    f"merge_mode={self.merge_mode!r} combines the two directions element-wise, "
                    "so their outputs must have the same size; got "
                    f"{forward[-1]} (forward) and {backward[-1]} (backward)."
                )
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(sequences_shape)

    def _merge(self, forward, backward):
        if self.merge_mode == "concat":
            return ops.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        if self.merge_mode == "ave":
            return (forward + backward) / 2
        return [forward, backward]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        inputs = sequences
        mask = keras_mask(inputs, mask)  # also with `initial_state` (see `keras_mask`)
        forward_state = backward_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                # `list()` of one tensor split it into its rows, which passed the count below
                # when the batch size equalled the number of states, and failed in a
                # direction on shapes the caller never gave ([units] for [batch, units]).
                raise ValueError(
                    f"{self.name}: `initial_state` must be a list of the forward layer's "
                    f"{len(self.forward_layer.state_size)} state(s) then the backward layer's "
                    f"{len(self.backward_layer.state_size)}, got a "
                    f"{type(initial_state).__name__} of shape "
                    f"{tuple(getattr(initial_state, 'shape', ()))}."
                )
            initial_state = list(initial_state)
            count = len(self.forward_layer.state_size)
            if len(initial_state) != count + len(self.backward_layer.state_size):
                raise ValueError(
                    f"{self.name}: `initial_state` must hold the forward layer's {count} "
                    f"state(s) then the backward layer's, got {len(initial_state)} tensor(s)."
                )
            forward_state, backward_state = initial_state[:count], initial_state[count:]
        forward = self.forward_layer(
            inputs, initial_state=forward_state, mask=mask, training=training
        )
        backward = self.backward_layer(
            inputs, initial_state=backward_state, mask=mask, training=training
        )
        if self.return_state:
            forward, *forward_states = forward
            backward, *backward_states = backward
        if self.return_sequences:
            backward = ops.flip(backward, axis=1)  # back in time order
        # As keras.layers.Bidirectional: the outputs follow this layer's dtype policy (the
        # directions run in their own, which may differ from it and from each other).
        forward = ops.cast(forward, self.compute_dtype)
        backward = ops.cast(backward, self.compute_dtype)
        output = self._merge(forward, backward)
        if self.return_state:
            head = output if self.merge_mode is None else [output]
            return [*head, *forward_states, *backward_states]
        return output

    def _direction_output_shapes(self, sequences_shape):
        """The shapes ``(forward output, backward output, forward states, backward states)``."""
        shapes = []
        for direction in (self.forward_layer, self.backward_layer):
            shape = direction.compute_output_shape(sequences_shape)
            shape = list(shape) if self.return_state else [shape]
            shapes.append([tuple(s) for s in shape])
        return shapes[0][0], shapes[1][0], shapes[0][1:], shapes[1][1:]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        # The backward layer may differ from the forward one (`backward_layer`).
        forward, backward, forward_states, backward_states = self._direction_output_shapes(
            sequences_shape
        )
        if self.merge_mode is None:
            outputs = [forward, backward]
        elif self.merge_mode == "concat":
            size = None if None in (forward[-1], backward[-1]) else forward[-1] + backward[-1]
            outputs = [(*forward[:-1], size)]
        else:
            outputs = [forward]
        if self.return_state:
            return outputs + forward_states + backward_states
        return outputs if self.merge_mode is None else outputs[0]

    def compute_mask(self, inputs, mask=None):
        output_mask = mask_tensor(mask) if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            return masks + [None] * len(self.state_size)
        return masks if self.merge_mode is None else output_mask

    def reset_states(self):
        """Zeroes the carried states of both directions (of a stateful layer)."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    def get_config(self):
        config = super().get_config()
        config["layer"] = self._layer_config
        config["merge_mode"] = self.merge_mode
        config["backward_layer"] = keras.saving.serialize_keras_object(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        config["layer"] = keras.saving.deserialize_keras_object(
            config["layer"], custom_objects=custom_objects
        )
        if config.get("backward_layer") is not None:
            config["backward_layer"] = keras.saving.deserialize_keras_object(
                config["backward_layer"], custom_objects=custom_objects
            )
        return cls(**config)
