"""Regression tests of the tokenizers (audit round 10)."""

import pytest
import tensorflow as tf

from keras_seq.text import WordPieceTokenizer, WordTokenizer

TEXTS = ["the cat sat", "a dog ran", "the dog"]
WORDS = ["<pad>", "<s>", "</s>", "<unk>", "dog", "the", "a", "cat", "ran", "sat"]


def test_word_vocabulary_from_a_batched_dataset_of_texts_is_refused():
    # `.batch()` on a dataset of texts gives [None] vectors, which `from_corpus` read as token
    # lists: the vocabulary held the whole sentences ("a dog ran") and every text of the
    # corpus tokenized to <unk> words. WordPieceTokenizer reads the same dataset as texts.
    batched = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2)
    with pytest.raises(ValueError, match="batched dataset of texts"):
        WordTokenizer.from_corpus(batched)
    assert WordTokenizer.from_corpus(batched.unbatch()).vocabulary == WORDS
    assert WordTokenizer.from_corpus(TEXTS).vocabulary == WORDS
    # Token lists stay token lists: dense vectors without whitespace, and rows of a ragged
    # tensor (whose tokens may hold whitespace, as a list of lists may).
    lists = tf.data.Dataset.from_tensor_slices([["the", "cat"], ["a", "dog"]])
    assert WordTokenizer.from_corpus(lists).vocabulary == WORDS[:4] + ["a", "cat", "dog", "the"]
    ragged = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([["a", "b c"], ["d"]]))
    assert WordTokenizer.from_corpus(ragged).vocabulary == WORDS[:4] + ["a", "b c", "d"]
    pieces = WordPieceTokenizer.from_corpus(batched, 300).vocabulary
    assert "the" in pieces and "a dog ran" not in pieces
