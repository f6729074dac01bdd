"""Round trip over every line of the bundled corpora (slow: ~28 MB of text)."""

import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.text import WordPieceTokenizer, WordTokenizer
from keras_seq.text.tokenizer import string_constant

datasets = pytest.importorskip("keras_seq.datasets")

SPLITS = ("train", "dev", "test")
pytestmark = pytest.mark.slow


def python_normalize(text):
    return " ".join(unicodedata.normalize("NFKC", text).split())


def all_texts():
    texts = []
    for split in SPLITS:
        texts += [text for pair in datasets.load_ding(split) for text in pair]
        texts += [text for pair in datasets.load_bible(split) for text in pair]
        texts += [" ".join(tokens) for tokens, _ in datasets.load_brown_pos(split)]
        texts += [text for text, _ in datasets.load_spam_assassin(split)]
        texts += datasets.load_moby_dick(split)
    return texts


@pytest.fixture(scope="module")
def subword():
    training = [text for pair in datasets.load_ding("train")[:1000] for text in pair]
    return WordPieceTokenizer.from_corpus(training, vocabulary_size=1000)


def test_word_piece_round_trip_on_every_line(subword):
    texts = all_texts()
    assert len(texts) > 50_000
    for start in range(0, len(texts), 2000):
        chunk = texts[start : start + 2000]
        ids = subword.tokenize(string_constant(chunk), add_start=True, add_end=True)
        assert not np.isin(ids.flat_values.numpy()[:, None], [0, 3]).any()
        round_trip = [s.decode("utf-8") for s in subword.detokenize(ids).numpy()]
        expected = [python_normalize(text) for text in chunk]
        mismatches = [
            (t, r) for t, r in zip(chunk, round_trip, strict=True) if python_normalize(t) != r
        ]
        assert round_trip == expected, mismatches[:3]


def test_word_tokenizer_on_every_tagged_sentence():
    sentences = [tokens for split in SPLITS for tokens, _ in datasets.load_brown_pos(split)]
    tokenizer = WordTokenizer.from_corpus(sentences)
    ids = tokenizer.tokenize(sentences)
    assert ids.row_lengths().numpy().tolist() == [len(tokens) for tokens in sentences]
    assert not np.isin(ids.flat_values.numpy(), [0, 1, 2, 3]).any()
    detokenized = [s.decode("utf-8") for s in tokenizer.detokenize(ids).numpy()]
    assert detokenized == [" ".join(python_normalize(t) for t in tokens) for tokens in sentences]
    tf.debugging.assert_equal(tf.size(ids.flat_values), sum(len(t) for t in sentences))
