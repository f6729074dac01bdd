"""Text classifier: (bi)directional recurrent stack → masked pooling → MLP head."""

import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.layers.sequence_pooling import SequencePooling
from keras_seq.models._recurrent_body import (
    build_recurrent_body,
    check_cell_and_dropout,
    check_optional_length,
    check_size,
    embed_ids,
    resolve_vocabulary_size,
    sublayer_policy,
)
from keras_seq.models._text_inputs import FunctionCache, check_texts
from keras_seq.text.tokenizer import string_constant

POOLING_MODES = ("last", "mean", "max")
PAD_ID = 0


@keras.saving.register_keras_serializable(package="keras_seq")
class SequenceClassifier(keras.Model):
    """Classifies a whole sequence (binary or multi-class) from its pooled recurrent states.

    ::

        h_1 … h_T = BiRNN(d(E x_1) … d(E x_T))          ``num_layers`` levels
        v = pool(h_1 … h_T)                              last / mean / max over valid steps
        z = relu(W_k … relu(W_1 d(v) + b_1) … + b_k)     ``hidden_units`` (may be empty)
        p(class | x) = softmax(W d(z) + b)

    Pooling is `keras_seq.layers.SequencePooling` on the mask of the non-padding tokens;
    bidirectional "last" joins the forward state after the last token and the backward state
    after the first one. A binary task is two classes (softmax over two logits, equivalent to
    one sigmoid logit). Train with ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``
    on ``(token_ids, label)`` batches (`keras_seq.pipelines.classification_dataset`); score with
    accuracy and `keras_seq.metrics.ClassF1Score` (per-class precision / recall / F1).

    Args:
        class_names: list of >= 2 distinct str. Class ``i`` is ``class_names[i]``.
        vocabulary_size: int (taken from the tokenizer when given).
        embedding_dim: int.
        units: int. Units of each recurrent layer (per direction when bidirectional).
        num_layers: int.
        bidirectional: bool.
        cell: "lstm" or "gru".
        pooling: "last", "mean" or "max".
        hidden_units: list or tuple of positive ints. Sizes of the ReLU layers of the head
            (``[]``: linear head); a bare int is an error (write ``[64]``).
        dropout: float in [0, 1). On embeddings, between levels and in the head.
        max_length: optional int. `classify` keeps the first ``max_length`` tokens of a text.
        tokenizer: optional `keras_seq.text.Tokenizer`.

    Call arguments:
        inputs: int token ids [B, T] (0 is padding).
        training: bool.

    Returns:
        Logits [B, len(class_names)].

    Example:
    >>> model = SequenceClassifier(["ham", "spam"], vocabulary_size=50, units=8, pooling="max")
    >>> model(np.ones((2, 5), "int32")).shape
    TensorShape([2, 2])
    """

    def __init__(
        self,
        class_names,
        vocabulary_size=None,
        embedding_dim=64,
        units=64,
        num_layers=1,
        bidirectional=True,
        cell="lstm",
        pooling="last",
        hidden_units=(64,),
        dropout=0.0,
        max_length=None,
        tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        if (
            isinstance(class_names, str)
            or not isinstance(class_names, (list, tuple))
            or len(class_names) < 2
            or not all(isinstance(name, str) and name for name in class_names)
            or len(set(class_names)) != len(class_names)
        ):
            raise ValueError(
                "`class_names` must be a list of at least 2 distinct non-empty str, got "
                f"{class_names!r:.200}."
            )
        vocabulary_size = resolve_vocabulary_size(vocabulary_size, tokenizer)
        dropout = check_cell_and_dropout(cell, dropout)
        embedding_dim = check_size(embedding_dim, "embedding_dim")
        units = check_size(units, "units")
        # A NumPy integer was kept as such in the config (`json.dumps` refuses it).
        num_layers = check_size(num_layers, "num_layers")
        if pooling not in POOLING_MODES:
            raise ValueError(f"`pooling` must be one of {POOLING_MODES}, got {pooling!r}.")
        # A bare int is refused rather than taken as [int]: `hidden_units=2` would read as
        # either two layers or one layer of 2, and the sizes list stays the one config type.
        if not isinstance(hidden_units, (list, tuple)) or not all(
            isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
            for size in hidden_units
        ):
            raise ValueError(
                "`hidden_units` must be positive ints: a list or tuple of layer sizes, e.g. "
                f"[64] (or [] for a linear head), got {hidden_units!r:.100}."
            )
        # NumPy integers are taken (as `units` takes them), as Python ints in the config.
        hidden_units = [int(size) for size in hidden_units]
        max_length = check_optional_length(max_length, "max_length")
        self.class_names = list(class_names)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.cell = cell
        self.pooling = pooling
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.max_length = max_length
        self.tokenizer = tokenizer

        policy = sublayer_policy(self)
        build_recurrent_body(self, bidirectional=bidirectional)
        self.pool = SequencePooling(
            pooling, bidirectional=bidirectional, name="pooling", dtype=policy
        )
        self.head = []
        for index, size in enumerate(hidden_units):
            self.head.append(keras.layers.Dropout(dropout, dtype=policy))
            self.head.append(
                keras.layers.Dense(size, activation="relu", name=f"hidden_{index}", dtype=policy)
            )
        self.head_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.output_layer = keras.layers.Dense(len(self.class_names), name="logits", dtype=policy)
        self._classifiers = FunctionCache()

    def build(self, input_shape=None):
        self.call(ops.ones((1, 2), dtype="int32"))
        self.built = True

    def encode(self, inputs, training=False):
        """Pooled features [B, units · directions] of token ids [B, T]."""
        ids, embedded = embed_ids(self.embedding, inputs, self.vocabulary_size, "inputs")
        if len(ids.shape) != 2:
            raise ValueError(f"`inputs` must be int ids of shape [batch, length], got {ids.shape}.")
        mask = ops.not_equal(ids, PAD_ID)
        embedded = self.embedding_dropout(embedded, training=training)
        outputs = self.stack(embedded, mask=mask, training=training)
        return self.pool(outputs, mask=mask)

    def call(self, inputs, training=False):
        features = self.encode(inputs, training)
        for layer in self.head:
            features = layer(features, training=training)
        return self.output_layer(self.head_dropout(features, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' loss (the compiled loss plus the layers' losses), which under a
        `tf.distribute` strategy trains and logs as on one device also when the replicas hold
        different numbers of examples (a last batch of 3 split 2 + 1 between 2 replicas).

        Keras divides each replica's per-example mean by the number of replicas N and sums the
        replicas' gradients: the update was the mean of the replicas' means, which is the
        global mean only when every replica holds as many examples; the lone example of
        replica 2 weighed as much as the two of replica 1 (one device's weights were 0.06 away
        after two epochs of 7 examples in batches of 4). Each replica's loss is therefore
        weighted by ``N · d_r / Σ d``, its share of the global batch (``d_r`` its rows; the
        sum of its sample weights for a ``reduction="mean_with_sample_weight"`` loss): the
        summed gradients are one device's. A replica without rows counts for nothing.

        The value returned is rescaled outside the gradient for Keras' loss tracker, which
        weighs each replica by its rows: ``loss``, ``val_loss`` and `evaluate` are the
        one-device values (they were already for a mean over rows; a ``"sum"`` loss, whose
        gradient was already right, logged 4.53 for 4.33). Other reductions (``"none"``,
        or a mean over rows next to one over sample weights) are left as Keras computes them.
        """
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        share = self._replica_share(y_pred, sample_weight)
        if share is None:
            return loss
        return _one_device_loss(loss, share, ops.shape(y_pred)[0])

    def _replica_share(self, y_pred, sample_weight):
        """The weight of this replica's loss that makes the replicas' summed gradients one
        device's (``N · d_r / Σ d`` for a mean over ``d``, 1 for a sum), or None when there is
        nothing to correct: one replica, no compiled loss, or reductions this does not know."""
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1 or self._compile_loss is None:
            return None
        # Keras' `CompileLoss` keeps the resolved losses in `_flat_losses` (path, loss, ...).
        losses = self._compile_loss._flat_losses or ()
        kinds = {
            _divided_by(getattr(entry.loss, "reduction", None), sample_weight is not None)
            for entry in losses
        }
        if len(kinds) != 1:  # none, or two kinds of means: no one share
            return None
        (kind,) = kinds
        if kind == "sum":  # the replicas' sums add up to one device's
            return ops.ones((), "float32")
        if kind == "rows":
            divisor = ops.cast(ops.shape(y_pred)[0], "float32")
        elif kind == "sample weights":
            divisor = ops.sum(ops.cast(sample_weight, "float32"))
        else:
            return None
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, divisor)
        return ops.divide_no_nan(context.num_replicas_in_sync * divisor, total)

    # ---------------------------------------------------------------------------- text
    def _require_tokenizer(self, method):
        if self.tokenizer is None:
            raise ValueError(f"`{method}` needs the model to be built with a `tokenizer`.")

    def classify_text(self, texts, max_length=None):
        """Graph-friendly classification of tf.string [B]: ``{"label": tf.string [B],
        "probabilities": float32 [B, C]}`` (float32 also under a mixed-precision policy). An
        empty text is classified from padding alone (its pooled features are zeros). A text
        keeps its first ``self.max_length`` tokens, and its first ``max_length`` (None or an
        int >= 1) when that is smaller."""
        max_length = check_optional_length(max_length, "max_length")
        bounds = [b for b in (self.max_length, max_length) if b is not None]
        ids = self.tokenizer.tokenize(texts)
        if bounds:
            ids = ids[:, : min(bounds)]
        ids = ids.to_tensor(PAD_ID)
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        # float32 whatever the dtype policy: bfloat16 probabilities are coarse, and TF
        # Serving's REST API cannot carry them.
        probabilities = tf.nn.softmax(tf.cast(self(ids), tf.float32), axis=-1)
        label = tf.gather(tf.constant(self.class_names), tf.argmax(probabilities, axis=-1))
        return {"label": label, "probabilities": probabilities}

    def classify(self, texts, max_length=None):
        """Classifies raw strings.

        Args:
            texts: a string or a list of strings (an empty string is allowed, see
                `classify_text`).
            max_length: None or an int >= 1: classify from the first ``max_length`` tokens
                of each text (the model's own ``max_length`` when smaller), as the serving
                signatures do (``max_length=512`` there), so that a served answer can be
                reproduced.

        Returns:
            ``(labels, probabilities)``: a list of class names and a float32 NumPy array
            [B, len(class_names)] whose rows sum to 1.
        """
        self._require_tokenizer("classify")
        texts = check_texts(texts)
        max_length = check_optional_length(max_length, "max_length")
        classify = self._classifiers.compiled(
            ("text", max_length),
            lambda texts: self.classify_text(texts, max_length),
            [tf.TensorSpec([None], tf.string)],
        )
        outputs = classify(string_constant(texts))
        labels = [label.decode("utf-8") for label in outputs["label"].numpy()]
        return labels, outputs["probabilities"].numpy()

    # ------------------------------------------------------------------------- serving
    def serving_signatures(self, max_length=512):
        """String-in signatures for `keras_seq.export.export` (TF Serving).

        - ``classify(text)`` and ``serving_default(text)``: ``label`` tf.string [B] and
          ``probabilities`` float32 [B, C] (in the order of ``class_names``), from the first
          ``max_length`` tokens of each text (the model's own ``max_length`` when smaller;
          None: only the model's). The bound keeps one request's RNN work finite whatever
          its length.
        """
        self._require_tokenizer("serving_signatures")
        max_length = check_optional_length(max_length, "max_length")
        if not self.built:  # the export tracks the weights, which only `build` creates
            self.build()
        text_spec = tf.TensorSpec([None], tf.string, name="text")

        def classify(text):
            return self.classify_text(text, max_length)

        return {"serving_default": (classify, [text_spec]), "classify": (classify, [text_spec])}

    def serving_examples(self):
        """Warm-up inputs of every signature (a spam-like and a ham-like text, and "")."""
        texts = ["Buy cheap pills now", "Are we still meeting on Monday?", ""]
        return {name: {"text": texts} for name in ("serving_default", "classify")}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "class_names": self.class_names,
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "cell": self.cell,
                "pooling": self.pooling,
                "hidden_units": self.hidden_units,
                "dropout": self.dropout,
                "max_length": self.max_length,
                "tokenizer": None
                if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer),
            }
        )
        return config


def _divided_by(reduction, weighted):
    """What a Keras loss of ``reduction`` divides a replica's sum by: ``"rows"``, ``"sample
    weights"`` (their sum), ``"sum"`` (nothing), or None (a reduction this does not know, such
    as ``"none"``). ``weighted``: whether the batch has sample weights."""
    if reduction in ("sum_over_batch_size", "mean"):
        return "rows"
    if reduction == "mean_with_sample_weight":
        return "sample weights" if weighted else "rows"
    return "sum" if reduction == "sum" else None


def _one_device_loss(loss, share, rows):
    """``loss · share``, whose value is rescaled outside the gradient by ``Σ rows / (N · rows)``
    (0 without rows): Keras' loss tracker records ``N · value`` weighted by the replica's
    ``rows``, which then adds up to the one-device value."""
    context = tf.distribute.get_replica_context()
    replicas = ops.cast(context.num_replicas_in_sync, "float32")
    rows = ops.cast(rows, "float32")
    all_rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)
    shown = ops.cast(ops.divide_no_nan(all_rows, replicas * rows), loss.dtype)
    weighted = loss * ops.cast(share, loss.dtype)
    return weighted + ops.stop_gradient(weighted * (shown - 1))
