"""Checks of the inputs the library shares: integer ids (targets, labels, tags: `checked_ids`,
`refuse_ragged`, `poisoned`), shapes that must agree (`check_static_shape` on static shapes,
`mask_matching` and `leading_dims_matching` at run time: a batch of 1 must not broadcast over
the others), bool flags (`check_bool`) and integers given as NumPy scalars (`as_int`,
`plain_seed`).

For the ids, two guards, because a check must hold wherever the graph runs:

- a `tf.debugging.Assert` that the returned ids depend on (`tf.identity` under the control
  dependency: a cast to the dtype the ids already have returns them unchanged, without it), so
  eager calls and compiled functions raise a named ``InvalidArgumentError``;
- a boolean ``fine`` for `poisoned`: XLA (``jit_compile=True``, Keras' default on a GPU) drops
  every ``Assert``, and there a gather clamps a bad id to the last row and ``one_hot`` makes it
  a row of zeros, so a bad id would give believable numbers. Poisoned with NaN instead, the
  loss or metric shows it, and `StopOnNaN` / ``TerminateOnNaN`` stop the run.
"""

import operator

import numpy as np
import tensorflow as tf


def checked_ids(values, size, data, pad_id=None, name="y_true"):
    """``values`` as int32 ids and a scalar bool ``fine``: every id in [0, ``size``) (or equal
    to ``pad_id`` when given), checked in the ids' own dtype before the int32 cast (an int64 id
    of 2**32 + 3 would wrap to the valid id 3). Float ids (Keras may hand labels over as
    floats) must be whole numbers (1.7 was read as 1). ``data`` is the ``Assert``'s message
    list (strings and tensors), or a function of the ids (int64 or float) giving it; ``size``
    an int or an int32 scalar tensor. Raises TypeError for
    ids of another dtype (bool, string) or ragged ids."""
    refuse_ragged(**{name: values})
    ids = tf.convert_to_tensor(values)
    if ids.dtype.is_floating:
        size = tf.cast(size, ids.dtype)
        fine = tf.equal(ids, tf.floor(ids))  # NaN is not a whole number either
    elif ids.dtype.is_integer:
        # int64 holds every value of the other integer dtypes; a uint64 above its range turns
        # negative, which the range check catches.
        ids = tf.cast(ids, tf.int64)
        size = tf.cast(size, tf.int64)
        fine = tf.ones_like(ids, tf.bool)
    else:
        raise TypeError(f"`{name}` must hold integer ids, got dtype {ids.dtype.name}.")
    in_range = (ids >= 0) & (ids < size)
    if pad_id is not None:
        in_range |= tf.equal(ids, tf.cast(pad_id, ids.dtype))
    fine = tf.reduce_all(fine & in_range)
    data = data(ids) if callable(data) else data
    with tf.control_dependencies([tf.debugging.Assert(fine, data, summarize=20)]):
        return tf.identity(tf.cast(ids, tf.int32)), fine


def refuse_ragged(**named):
    """TypeError naming the first RaggedTensor argument (ids and scores must be dense)."""
    for name, value in named.items():
        if isinstance(value, tf.RaggedTensor):
            raise TypeError(
                f"`{name}` must be a dense tensor, got a RaggedTensor: pad it first (e.g. "
                "`.to_tensor()`)."
            )


def poisoned(value, fine):
    """``value`` where ``fine``, else NaN of its dtype (see the module docstring)."""
    value = tf.convert_to_tensor(value)
    return tf.where(fine, value, tf.constant(float("nan"), value.dtype))


def mask_matching(mask, shape, message):
    """``mask`` checked to have the dynamic ``shape`` (an int32 vector, e.g.
    ``tf.shape(values)[:2]``) when its static shape cannot tell: a mask of batch 1 would
    otherwise broadcast over the whole batch in a graph (an eager call fails on the static
    shapes). A named ``Assert``, and a reshape to ``shape``, which fails on a different size
    also under XLA (which drops the ``Assert``)."""
    check = tf.debugging.assert_equal(tf.shape(mask), shape, message=message)
    with tf.control_dependencies([check]):
        return tf.reshape(mask, shape)


def check_static_shape(owner, label, tensor, expected, form=""):
    """Raises ValueError naming ``owner`` and ``label`` unless the static shape of ``tensor``
    has the rank of ``expected`` and its sizes where both are known (None: unknown): a mask or
    state of batch 1 would otherwise broadcast over the batch. ``form`` describes the
    dimensions in the message (``"[batch, time] = "``). Nothing is checked when even the rank
    is unknown (`leading_dims_matching` checks at run time)."""
    shape = getattr(tensor, "shape", None)
    if shape is None or getattr(shape, "rank", 0) is None:
        return
    shape = tuple(shape)
    if len(shape) != len(expected) or any(
        s is not None and e is not None and s != e for s, e in zip(shape, expected, strict=False)
    ):
        raise ValueError(
            f"{owner}: `{label}` must have shape {form}{tuple(expected)}, got {shape}."
        )


def leading_dims_matching(tensor, reference, count, message):
    """``tensor`` checked to have the first ``count`` dimensions of ``reference`` when the
    static shapes cannot tell (see `mask_matching`): in a graph traced with unknown sizes a
    mask, state or weight of batch 1 would otherwise broadcast over the whole batch.
    Unchanged when both static shapes know those dimensions (the callers check them)."""
    if None not in tensor.shape[:count] and None not in reference.shape[:count]:
        return tensor
    shape = tf.concat([tf.shape(reference)[:count], tf.shape(tensor)[count:]], axis=0)
    checked = mask_matching(tensor, shape, message)
    checked.set_shape(tensor.shape)  # the reshape's static shape is the tensor's own
    return checked


def mask_tensor(mask):
    """``mask`` as a bool tensor (None stays None): a layer's `compute_mask` hands on the mask
    it was called with, and Keras recorded a nested Python list there as the scalar True."""
    if mask is None or hasattr(mask, "shape"):
        return mask
    return tf.cast(tf.convert_to_tensor(mask), tf.bool)  # 0/1 lists too


def as_int(value):
    """``value`` as a Python int if it is an integer (int, NumPy integer, integer-tensor scalar:
    ``lengths.max()`` and ``len(...) // n`` of an array are ``np.int64``), else None; a bool
    is not one here (``True`` would be a batch of 1, id 1)."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # refuses NumPy bools and floats too
    except TypeError:
        return None


def plain_seed(seed):
    """``seed`` with an integer one as a Python int (Keras' SeedGenerator refuses a NumPy
    integer, and a NumPy value makes a config unserializable to JSON); anything else as it is,
    for SeedGenerator to judge."""
    number = as_int(seed)
    return seed if number is None else number


def check_bool(value, name):
    """Refuses a non-bool flag: ``"no"`` or ``0.5`` would otherwise read as true or false."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool, got {value!r}.")
    return bool(value)
