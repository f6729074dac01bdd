"""In-graph checks shared by the metrics that count class or tag ids."""

import tensorflow as tf


def ids_in_range(named_ids, size, what="class ids"):
    """Assert ops: every id of each ``{name: ids}`` lies in [0, ``size``). `one_hot` and
    gathers would otherwise make an id outside it a row of zeros or a raw gather error."""
    return [
        tf.debugging.Assert(
            tf.reduce_all((ids >= 0) & (ids < size)),
            [f"`{name}` must hold {what} in [0, {size}), got", ids],
            summarize=20,
        )
        for name, ids in named_ids.items()
    ]
