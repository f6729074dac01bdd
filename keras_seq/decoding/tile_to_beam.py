"""Repeats every batch entry of a nested structure once per beam."""

import numbers

import tensorflow as tf


def tile_to_beam(structure, beam_size):
    """Repeats each batch row of every tensor in `structure` `beam_size` times.

    Row `b` of a `[B, ...]` tensor becomes rows `b * beam_size ... b *
    beam_size + beam_size - 1` of the `[B * beam_size, ...]` result: the
    layout `BeamSearch` uses for its `B × k` hypotheses. Models tile what
    their `step` closes over (encoder outputs, source masks) with it;
    `BeamSearch` tiles `start_ids` and `initial_state` itself.

    Args:
        structure: a tensor or any nested structure (dict, list, tuple,
            namedtuple) of tensors whose leading dimension is the batch. A
            None in it (e.g. a source mask a model does not use) is kept.
        beam_size: int >= 1. The number of copies of each row.

    Returns:
        The same structure with every tensor of leading dimension
        `B * beam_size` (and every None left as None).

    Example:

    >>> tile_to_beam({"memory": tf.constant([[1.0], [2.0]])}, 2)["memory"].numpy()
    array([[1.],
           [1.],
           [2.],
           [2.]], dtype=float32)
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, numbers.Integral):
        raise TypeError(f"`beam_size` must be an int >= 1, got {beam_size!r}.")
    if beam_size < 1:
        raise ValueError(f"`beam_size` must be >= 1, got {beam_size}.")
    beam_size = int(beam_size)

    def tile(tensor):
        if tensor is None:  # an absent entry (e.g. no source mask) stays absent
            return None
        tensor = tf.convert_to_tensor(tensor)
        if tensor.shape.rank == 0:
            raise ValueError(
                "`tile_to_beam` needs tensors with a leading batch dimension, got a scalar."
            )
        if beam_size == 1:
            return tensor
        return tf.repeat(tensor, beam_size, axis=0)

    return tf.nest.map_structure(tile, structure)
