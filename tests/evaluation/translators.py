"""A tiny translator with known best translations, for the attention-alignment tests."""

import math

import tensorflow as tf

from keras_seq.models import Seq2Seq
from keras_seq.text import WordPieceTokenizer

SOURCE = "das ist gut"


def good_or_nothing_translator():
    """A tiny translator whose every step gives "▁good" probability 0.85 and "</s>" 0.15
    (zero output kernel): with beam search, no length penalty prefers stopping at once (the
    empty translation), the GNMT penalty of `translate` (alpha 0.6) the longest one, 2 *
    source tokens + 10 pieces."""
    source = WordPieceTokenizer.from_corpus([SOURCE, "er hat es"] * 5, 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus(
        ["it is good", "he has it"] * 5, 300, name="target_tokenizer"
    )
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=source, target_tokenizer=target)
    model.build()
    kernel, bias = model.output_layer.get_weights()
    bias[:] = -50.0
    bias[target.vocabulary.index("▁good")] = math.log(0.85)
    bias[target.vocabulary.index("</s>")] = math.log(0.15)
    model.output_layer.set_weights([kernel * 0.0, bias])
    return model


def translation_of(model, target_tokens):
    """The string `translate` makes of these target pieces (``</s>`` ends it)."""
    vocabulary = model.target_tokenizer.vocabulary
    ids = [vocabulary.index(token) for token in target_tokens if token != "</s>"]
    if not ids:
        return ""
    return model.target_tokenizer.detokenize(tf.constant([ids])).numpy()[0].decode("utf-8")
