"""A dense [batch, 1] column of whole texts is refused instead of read as one token each."""

import pytest
import tensorflow as tf

from keras_seq.text import WordTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return WordTokenizer.from_corpus([["the", "cat", "sat", "New York"]])


def test_text_column_refused_eagerly(tokenizer):
    # Before: [[3], [3]] (each whole text one <unk>), silently.
    with pytest.raises(ValueError, match=r"dense \[batch, 1\].*tf.squeeze"):
        tokenizer.tokenize(tf.constant([["the cat"], ["sat"]]))
    with pytest.raises(ValueError, match=r"dense \[batch, 1\]"):  # a no-break space
        tokenizer.tokenize(tf.constant([["the\u00a0cat"]]))


def test_text_column_refused_in_a_graph(tokenizer):
    tokenize = tf.function(
        tokenizer.tokenize, input_signature=[tf.TensorSpec([None, 1], tf.string)]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"dense \[batch, 1\]"):
        tokenize(tf.constant([["sat"], ["the cat"]]))
    assert tokenize(tf.constant([["sat"], ["cat"]])).to_list() == [[6], [5]]


def test_single_tokens_and_the_squeezed_column_still_read(tokenizer):
    vocabulary = tokenizer.vocabulary
    ids = {token: vocabulary.index(token) for token in ("the", "cat", "sat", "New York")}
    assert tokenizer.tokenize(tf.constant([["the"], ["sat"]])).to_list() == [
        [ids["the"]],
        [ids["sat"]],
    ]
    column = tf.constant([["the cat"], ["sat"]])
    assert tokenizer.tokenize(tf.squeeze(column, -1)).to_list() == [
        [ids["the"], ids["cat"]],
        [ids["sat"]],
    ]
    # A pre-split token with whitespace passes as ragged or as a list of lists.
    assert tokenizer.tokenize([["New York"]]).to_list() == [[ids["New York"]]]
    ragged = tf.ragged.constant([["New York", "sat"], ["New York"]])
    assert tokenizer.tokenize(ragged).to_list() == [
        [ids["New York"], ids["sat"]],
        [ids["New York"]],
    ]
    # Wider dense rows are pre-split tokens as before ("" pads).
    dense = tf.constant([["New York", "sat"], ["cat", ""]])
    assert tokenizer.tokenize(dense).to_list() == [[ids["New York"], ids["sat"]], [ids["cat"]]]
