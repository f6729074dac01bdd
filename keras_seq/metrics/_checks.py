"""In-graph checks shared by the metrics that count class or tag ids."""

import tensorflow as tf

from keras_seq._checked_ids import checked_ids


def ids_in_range(named_ids, size, what="class ids"):
    """``([int32 ids of each {name: ids}], fine)``: every id lies in [0, ``size``), asserted
    and, for XLA which drops the assert, reported by the scalar bool ``fine`` (see
    `keras_seq._checked_ids`). `one_hot` and gathers would otherwise make an id outside it a
    row of zeros or a raw gather error; ids are checked before the int32 cast, and float ids
    must be whole numbers."""
    checked = [
        checked_ids(ids, size, [f"`{name}` must hold {what} in [0, {size}), got", ids], name=name)
        for name, ids in named_ids.items()
    ]
    return [ids for ids, _ in checked], tf.reduce_all([fine for _, fine in checked])


def accumulator_dtype(dtype):
    """The dtype a metric made with ``dtype`` counts and computes in: float64 when asked for
    (as Keras' own metrics honour ``dtype="float64"``: float32 sums stop growing past 2**24
    counts), else float32 (a half-precision count would overflow past 65504)."""
    return "float64" if dtype == "float64" else "float32"
