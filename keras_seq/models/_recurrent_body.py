"""What the models share: argument checks, embedding → recurrent stack, forbidden token ids."""

import inspect
import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import checked_ids, poisoned
from keras_seq.layers.gru import GRU
from keras_seq.layers.lstm import LSTM
from keras_seq.layers.stacked_rnn import StackedRNN

CELL_LAYERS = {"lstm": LSTM, "gru": GRU}


def token_ids(values, vocabulary_size, name):
    """``(ids, fine)``: ``values`` as int32 token ids, checked, and a scalar bool that is False
    when an id is out of range. Checked: ids in ``[0, vocabulary_size)`` (the embedding read
    row V - 1 for -1, and an id >= V failed deep in a gather on the CPU and gave zeros on a
    GPU), in the ids' own dtype (an int64 id of 2**32 + 5 must not wrap to 5); float ids must
    be whole numbers (5.9 was read as 5; whole float ids are taken, as Keras builds a model
    under a `tf.distribute` strategy with float32 symbolic inputs); other dtypes raise
    TypeError. The range is checked when the graph runs (an eager call raises at once) by
    TensorFlow's ``Assert``, which TF Serving runs; XLA drops it, so the callers poison their
    embeddings with `poisoned` (NaN, not a clamped row: see `keras_seq._checked_ids`)."""
    return checked_ids(
        values,
        vocabulary_size,
        lambda ids: [
            f"`{name}` must hold token ids (whole numbers) in [0, {vocabulary_size}) (the "
            "vocabulary size); smallest and largest id:",
            tf.reduce_min(ids),
            tf.reduce_max(ids),
        ],
        name=name,
    )


def embed_ids(embedding, values, vocabulary_size, name):
    """``(ids, embedded)``: the `token_ids` of ``values`` and their ``embedding``, NaN when an
    id is out of range (the ``Assert`` raises first, except under XLA, which drops it)."""
    ids, fine = token_ids(values, vocabulary_size, name)
    return ids, poisoned(embedding(ids), fine)


def forbid_ids(logits, ids, vocabulary_size):
    """``logits`` [..., V] with -inf at the token ``ids``: a `where`, not a subtracted large
    constant, which overflows float16 (inf · 0 = NaN in the other columns) and which a large
    sampling temperature divides back into reach."""
    never = ops.sum(ops.one_hot(ops.convert_to_tensor(ids), vocabulary_size), axis=0) > 0
    return ops.where(never, ops.cast(float("-inf"), logits.dtype), logits)


def resolve_vocabulary_size(vocabulary_size, tokenizer, minimum=2):
    """``vocabulary_size``, or the tokenizer's when it is None; checked to be an int >= minimum
    (2 by default: padding and one token; a size of 1 failed in `build` on an "id out of
    range") and, with a tokenizer, to equal the tokenizer's."""
    if vocabulary_size is not None and tokenizer is not None:
        # A smaller size fails on the tokenizer's ids; a larger one generates ids the
        # tokenizer cannot turn back into text.
        if vocabulary_size != tokenizer.vocabulary_size:
            raise ValueError(
                "`vocabulary_size` must equal the vocabulary size of the tokenizer "
                f"({tokenizer.vocabulary_size}), or be None to take it; got {vocabulary_size!r}."
            )
    if vocabulary_size is None and tokenizer is not None:
        vocabulary_size = tokenizer.vocabulary_size
    # NumPy integers are taken (`ids.max() + 1`), as `check_size` takes them.
    if (
        isinstance(vocabulary_size, bool)
        or not isinstance(vocabulary_size, numbers.Integral)
        or vocabulary_size < minimum
    ):
        raise ValueError(
            f"`vocabulary_size` must be an int >= {minimum}, or come from a tokenizer; got "
            f"{vocabulary_size!r}."
        )
    return int(vocabulary_size)


_MAX_LENGTH_BOUND = 2**31 - 1


def check_optional_length(value, name):
    """``value`` as a Python int (a NumPy integer too, as `beam_size` and `top_k` take it) or
    None; ValueError for anything else or a value outside [1, 2**31 - 1], for a length bound
    called ``name``.

    The upper end is that of the int32 lengths in the graphs. A larger bound is no longer a
    bound at all, and near 2**63 TensorFlow's ragged slice ``ids[:, :bound]`` adds it to each
    row's start and overflows int64: every row after the first came out empty, so texts were
    translated as "", classified from padding and tagged with no tokens, silently."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 1 <= value <= _MAX_LENGTH_BOUND
    ):
        raise ValueError(f"`{name}` must be None or an int >= 1 and <= 2**31 - 1, got {value!r}.")
    return int(value)


def check_size(value, name):
    """``value`` as a Python int; ValueError naming ``name`` unless it is an int >= 1 (a NumPy
    integer too, which Keras' layers refuse). The layers check their own sizes under their
    own names: an ``embedding_dim`` of 0 was told as "`output_dim` must be a positive
    integer", an argument no caller of the model wrote."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")
    return int(value)


def check_cell_and_dropout(cell, dropout):
    """``dropout`` as a Python float, once ``cell`` and ``dropout`` are checked (a NumPy
    float was kept as such in the models' configs, which `json.dumps` refuses)."""
    if not isinstance(cell, str) or cell not in CELL_LAYERS:  # ["lstm"] is unhashable
        raise ValueError(f"`cell` must be one of {sorted(CELL_LAYERS)}, got {cell!r}.")
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, numbers.Real)
        or not 0.0 <= dropout < 1.0
    ):
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    return float(dropout)


def sublayer_policy(model):
    """The dtype policy for the layers a model makes: its own. Keras layers otherwise take the
    global policy, so ``Seq2Seq(..., dtype="float64")`` computed in float32 (and said float64
    in its config), and a model saved under ``mixed_bfloat16`` and loaded under float32 ran
    in another precision than it was trained in."""
    return model.dtype_policy


class RefusesClassWeight:
    """Mixin of the models with one target per token: their `fit` refuses a
    ``class_weight``. Keras reads it as one class per example: from [B, T] targets it takes
    the arg-max over the time axis (a position, not a class) and weighs the whole example
    with the class weight of that position, so the weights were silently wrong."""

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; a ``class_weight`` is refused (see `RefusesClassWeight`)."""
        bound = inspect.signature(keras.Model.fit).bind(None, *args, **kwargs)
        if bound.arguments.get("class_weight") is not None:
            raise ValueError(
                "`class_weight` does not apply to a model with one target per token (Keras "
                "reads one class per example, and would weigh each example by the class of an "
                "arg-max over its time steps). Weigh the tokens instead: "
                "`sample_weight=np.asarray(weight_of_class)[y]`, of shape [batch, time]."
            )
        return super().fit(*args, **kwargs)


def build_recurrent_body(model, bidirectional=False, return_state=False):
    """Sets ``model.embedding`` (ids → vectors, 0 masked), ``model.embedding_dropout`` and
    ``model.stack`` (a `StackedRNN` returning sequences) from the model's attributes
    ``vocabulary_size``, ``embedding_dim``, ``units``, ``num_layers``, ``cell``, ``dropout``.
    Every layer takes the model's dtype policy (see `sublayer_policy`).
    """
    policy = sublayer_policy(model)
    model.embedding = keras.layers.Embedding(
        model.vocabulary_size,
        model.embedding_dim,
        mask_zero=True,
        name="embedding",
        dtype=policy,
    )
    model.embedding_dropout = keras.layers.Dropout(model.dropout, dtype=policy)
    model.stack = StackedRNN(
        CELL_LAYERS[model.cell](model.units, name=model.cell, dtype=policy),
        num_layers=model.num_layers,
        bidirectional=bidirectional,
        dropout=model.dropout,
        return_sequences=True,
        return_state=return_state,
        name="stack",
        dtype=policy,
    )
