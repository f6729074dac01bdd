"""Per-token tagger: (bi)directional recurrent stack → softmax over tags."""

import keras
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import check_bool
from keras_seq.models._recurrent_body import (
    RefusesClassWeight,
    build_recurrent_body,
    check_cell_and_dropout,
    check_optional_length,
    check_size,
    embed_ids,
    resolve_vocabulary_size,
    sublayer_policy,
    token_ids,
)
from keras_seq.models._text_inputs import FunctionCache, check_texts
from keras_seq.text.tokenizer import string_constant
from keras_seq.text.word_tokenizer import WordTokenizer

PAD_ID = 0


@keras.saving.register_keras_serializable(package="keras_seq")
class SequenceTagger(RefusesClassWeight, keras.Model):
    """Tags every token of a sentence (part of speech, named-entity BIO/IOBES tags, ...).

    ::

        e_t = E x_t
        h_t = [h→_t ; h←_t] = BiRNN(d(e_1 … e_T))_t     ``num_layers`` levels
        p(tag_t | x) = softmax(W d(h_t) + b)

    Tag ids follow `keras_seq.pipelines.tagging_dataset`: tag ``tag_vocabulary[i]`` is id
    ``i + 1`` and id 0 is padding, so the output has ``len(tag_vocabulary) + 1`` columns and
    `MaskedSequenceLoss` / `MaskedAccuracy` (pad id 0) skip padded tokens; span scores come from
    `keras_seq.metrics.SpanF1`. Predictions never choose the padding id.

    With a `keras_seq.text.WordTokenizer` the model tags raw strings (`tag`): the text is
    normalized and split into words as the tokenizer splits it (punctuation apart), and each
    word gets one tag.

    Args:
        tag_vocabulary: list of distinct str. The tag set.
        vocabulary_size: int (taken from the tokenizer when given).
        embedding_dim: int.
        units: int. Units of each recurrent layer (per direction when bidirectional).
        num_layers: int. Number of stacked levels.
        bidirectional: bool.
        cell: "lstm" or "gru".
        dropout: float in [0, 1). On embeddings, between levels and before the output layer.
        tokenizer: optional `keras_seq.text.WordTokenizer`.

    Call arguments:
        inputs: int token ids [B, T] (0 is padding).
        training: bool.

    Returns:
        Logits [B, T, len(tag_vocabulary) + 1].

    Example:
    >>> tagger = SequenceTagger(["NOUN", "VERB", "."], vocabulary_size=50, units=8)
    >>> tagger(np.ones((2, 5), "int32")).shape
    TensorShape([2, 5, 4])
    """

    def __init__(
        self,
        tag_vocabulary,
        vocabulary_size=None,
        embedding_dim=64,
        units=64,
        num_layers=1,
        bidirectional=True,
        cell="lstm",
        dropout=0.0,
        tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        if (
            isinstance(tag_vocabulary, str)
            or not isinstance(tag_vocabulary, (list, tuple))
            or not tag_vocabulary
            or not all(isinstance(tag, str) and tag for tag in tag_vocabulary)
            or len(set(tag_vocabulary)) != len(tag_vocabulary)
        ):
            raise ValueError(
                "`tag_vocabulary` must be a non-empty list of distinct non-empty str, got "
                f"{tag_vocabulary!r:.200}."
            )
        if tokenizer is not None and not isinstance(tokenizer, WordTokenizer):
            raise TypeError(
                "`tokenizer` must be a `keras_seq.text.WordTokenizer` (one id per word, so one "
                f"tag per word), got {type(tokenizer).__name__}."
            )
        vocabulary_size = resolve_vocabulary_size(vocabulary_size, tokenizer)
        dropout = check_cell_and_dropout(cell, dropout)
        embedding_dim = check_size(embedding_dim, "embedding_dim")
        units = check_size(units, "units")
        # A NumPy integer was kept as such in the config (`json.dumps` refuses it).
        num_layers = check_size(num_layers, "num_layers")
        self.tag_vocabulary = list(tag_vocabulary)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.cell = cell
        self.dropout = dropout
        self.tokenizer = tokenizer

        policy = sublayer_policy(self)
        build_recurrent_body(self, bidirectional=bidirectional)
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.output_layer = keras.layers.Dense(
            len(self.tag_vocabulary) + 1, name="logits", dtype=policy
        )
        self._taggers = FunctionCache()

    def build(self, input_shape=None):
        self.call(ops.ones((1, 2), dtype="int32"))
        self.built = True

    def call(self, inputs, training=False):
        ids, embedded = embed_ids(self.embedding, inputs, self.vocabulary_size, "inputs")
        if len(ids.shape) != 2:
            raise ValueError(f"`inputs` must be int ids of shape [batch, length], got {ids.shape}.")
        mask = ops.not_equal(ids, PAD_ID)
        embedded = self.embedding_dropout(embedded, training=training)
        outputs = self.stack(embedded, mask=mask, training=training)
        return self.output_layer(self.output_dropout(outputs, training=training))

    def predict_tag_ids(self, ids):
        """Arg-max tag ids [B, T] of token ids [B, T] (never the padding id; 0 at padding).
        The ids are checked as `call` checks them (an int64 id of 2**32 + 5 was cast to the
        valid id 5 first, and tagged)."""
        ids, _ = token_ids(ids, self.vocabulary_size, "ids")
        best = ops.cast(ops.argmax(self(ids)[..., 1:], axis=-1) + 1, "int32")
        return ops.where(ops.not_equal(ids, PAD_ID), best, PAD_ID)

    # ---------------------------------------------------------------------------- text
    def _require_tokenizer(self, method):
        if self.tokenizer is None:
            raise ValueError(f"`{method}` needs the model to be built with a `tokenizer`.")

    def tag_text(self, texts, max_length=None):
        """Graph-friendly tagging of tf.string [B].

        Returns ``{"tokens": tf.string [B, T], "tags": tf.string [B, T]}``, both padded with
        "" to the longest sentence (at least one column). With ``max_length`` (None or an int
        >= 1) a sentence keeps its first ``max_length`` words, and ``tokens`` shows which.
        """
        max_length = check_optional_length(max_length, "max_length")
        # The tokenizer's own word split, so that there is one id, hence one tag, per word.
        words = self.tokenizer.split_words(texts)
        if max_length is not None:
            words = words[:, :max_length]
        ids = self.tokenizer.tokenize(words).to_tensor(PAD_ID)
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        names = tf.constant([""] + self.tag_vocabulary)
        tags = tf.gather(names, self.predict_tag_ids(ids))
        tokens = words.to_tensor("")
        tokens = tf.pad(tokens, [[0, 0], [0, tf.shape(ids)[1] - tf.shape(tokens)[1]]])
        return {"tokens": tokens, "tags": tags}

    def tag(self, texts, max_length=None):
        """Tags raw sentences.

        Args:
            texts: a string or a list of strings. An empty (or all-whitespace) string has no
                tokens and gives ``([], [])``; unseen words are ``<unk>`` to the model but keep
                their text in the returned tokens.
            max_length: None (every word) or an int >= 1: tag the first ``max_length`` words
                of each text only, as the serving signatures do (``max_length=256`` there), so
                that a served answer can be reproduced (the backward states, hence the tags,
                depend on the words kept).

        Returns:
            A list with one ``(tokens, tags)`` pair of equal-length lists of str per text.
        """
        self._require_tokenizer("tag")
        texts = check_texts(texts)
        max_length = check_optional_length(max_length, "max_length")
        tag = self._taggers.compiled(
            ("text", max_length),
            lambda texts: self.tag_text(texts, max_length),
            [tf.TensorSpec([None], tf.string)],
        )
        outputs = tag(string_constant(texts))
        pairs = []
        for tokens, tags in zip(outputs["tokens"].numpy(), outputs["tags"].numpy(), strict=True):
            kept = [
                (w.decode("utf-8"), t.decode("utf-8")) for w, t in zip(tokens, tags, strict=True)
            ]
            kept = [(w, t) for w, t in kept if w]
            pairs.append(([w for w, _ in kept], [t for _, t in kept]))
        return pairs

    # ------------------------------------------------------------------------- serving
    def serving_signatures(self, max_length=256):
        """String-in / string-out signatures for `keras_seq.export.export` (TF Serving).

        - ``tag(text)`` and ``serving_default(text)``: ``tokens`` [B, T] and ``tags`` [B, T]
          (tf.string, padded with ""), for the first ``max_length`` words of each text (None:
          all of them). The bound keeps one request's RNN work finite whatever its length;
          ``tokens`` shows the words that were tagged.
        """
        self._require_tokenizer("serving_signatures")
        max_length = check_optional_length(max_length, "max_length")
        if not self.built:  # the export tracks the weights, which only `build` creates
            self.build()
        text_spec = tf.TensorSpec([None], tf.string, name="text")

        def tag(text):
            return self.tag_text(text, max_length)

        return {"serving_default": (tag, [text_spec]), "tag": (tag, [text_spec])}

    def serving_examples(self):
        """Warm-up inputs of every signature (Brown-style sentences, and an empty one)."""
        texts = ["The dog barks .", "He said that it was over .", ""]
        return {name: {"text": texts} for name in ("serving_default", "tag")}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tag_vocabulary": self.tag_vocabulary,
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "cell": self.cell,
                "dropout": self.dropout,
                "tokenizer": None
                if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer),
            }
        )
        return config
