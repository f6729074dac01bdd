"""Tiny string-in / string-out Keras models with tensorflow-text ops, for export tests."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

VOCABULARY = ["the", "cat", "sat", "on", "mat", "dog"]
LABELS = ["negative", "neutral", "positive"]
TEXTS = ["the cat sat", "a dog on the mat", ""]
# Tensor defaults of signature arguments become SignatureDef.defaults (optional inputs).
DEFAULT_SEPARATOR = tf.constant(" ")
DEFAULT_ITERATIONS = tf.constant(0)


class ToyTextClassifier(keras.Model):
    """Whitespace tokens -> StringLookup ids -> Embedding -> masked mean -> Dense.

    Signatures:
    - ``serving_default``: ``text`` [B] -> ``label`` [B] string, ``probabilities`` [B, 3].
    - ``normalize``: ``text`` [B] -> ``normalized`` [B] (in-vocabulary words joined back from
      the vocabulary with tf.gather + reduce_join, out of vocabulary ones as "[UNK]") and
      ``token_count`` [B] int64.
    - ``normalize_with``: ``normalize`` with an optional scalar ``separator`` (default " "):
      TF Serving's REST API wants it sent anyway, in columnar form.
    - ``normalize_bytes``: ``text`` [B] -> ``normalized_bytes`` [B] (base64 over REST).
    - ``spin``: ``text`` [B], optional ``iterations`` (default 0) -> ``echo`` [B] = text + "0",
      after a while_loop of ``iterations`` steps: a request as slow as asked.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tf_text.WhitespaceTokenizer()
        self.lookup = keras.layers.StringLookup(vocabulary=VOCABULARY)
        self.embedding = keras.layers.Embedding(len(VOCABULARY) + 1, 4)
        self.classifier = keras.layers.Dense(len(LABELS))
        self.label_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.range(len(LABELS), dtype=tf.int64), tf.constant(LABELS)
            ),
            default_value="?",
        )
        self.words = tf.constant(["[UNK]", *VOCABULARY])

    def token_ids(self, text):
        return self.lookup(self.tokenizer.tokenize(text))

    def call(self, text):
        ids = self.token_ids(text)
        embedded = self.embedding(ids.to_tensor())
        mask = tf.cast(tf.sequence_mask(ids.row_lengths()), embedded.dtype)[..., None]
        pooled = tf.reduce_sum(embedded * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)
        return self.classifier(pooled)

    def classify(self, text):
        probabilities = tf.nn.softmax(self(text))
        label = self.label_table.lookup(tf.argmax(probabilities, axis=-1))
        return {"label": label, "probabilities": probabilities}

    def normalize(self, text, separator=DEFAULT_SEPARATOR):
        ids = self.token_ids(text)
        words = tf.gather(self.words, ids)
        return {
            "normalized": tf.strings.regex_replace(
                tf.strings.reduce_join(words, axis=-1, separator=" "), " ", separator
            ),
            "token_count": ids.row_lengths(),
        }

    def normalize_text(self, text):
        """``normalize`` with the default separator, as a function of ``text`` alone (a
        tensor default of a signature's function becomes an optional input)."""
        return self.normalize(text)

    def normalize_bytes(self, text):
        return {"normalized_bytes": self.normalize(text)["normalized"]}

    def spin(self, text, iterations=DEFAULT_ITERATIONS):
        """Echoes ``text`` after a while_loop of ``iterations`` steps (a slow request)."""
        (count,) = tf.while_loop(lambda i: i < iterations, lambda i: (i + 1,), (tf.constant(0),))
        suffix = tf.strings.as_string(tf.zeros_like(text, dtype=tf.int32) + count * 0)
        return {"echo": tf.strings.join([text, suffix])}

    def serving_signatures(self):
        text = tf.TensorSpec([None], tf.string, name="text")
        return {
            "serving_default": (self.classify, [text]),
            "normalize": (self.normalize_text, [text]),
            "normalize_with": (
                self.normalize,
                [text, tf.TensorSpec([], tf.string, name="separator")],
            ),
            "normalize_bytes": (self.normalize_bytes, [text]),
            "spin": (self.spin, [text, tf.TensorSpec([], tf.int32, name="iterations")]),
        }

    def serving_examples(self):
        return {key: {"text": TEXTS} for key in self.serving_signatures()}


def make_classifier(seed=0):
    """A built ToyTextClassifier whose weights depend on ``seed``."""
    keras.utils.set_random_seed(seed)
    model = ToyTextClassifier()
    model(tf.constant(TEXTS))
    return model


def reference_normalize(texts, separator=" "):
    """NumPy/Python reference of the ``normalize`` signature."""
    return [
        separator.join(w if w in VOCABULARY else "[UNK]" for w in text.split()) for text in texts
    ]


def eager_outputs(model, signature, texts, **options):
    """The eager model's outputs of one signature, as NumPy arrays."""
    function = dict(model.serving_signatures())[signature][0]
    outputs = function(tf.constant(texts), **{k: tf.constant(v) for k, v in options.items()})
    return {name: np.asarray(value) for name, value in outputs.items()}
