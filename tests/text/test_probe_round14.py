"""Round 14 probes of the tokenizers."""

import json

import numpy as np
import pytest

from keras_seq.text import WordPieceTokenizer, WordTokenizer

WORDS = ["<pad>", "<s>", "</s>", "<unk>", "a", "b", "c"]


def test_numpy_integers_are_ints_for_the_word_tokenizer():
    """`sequence_length=lengths.max()` (an np.int64) was refused as "must be a positive int or
    None, got np.int64(3)", and so were `min_count` and `max_vocabulary_size`; the pipelines
    and metrics take NumPy integers. They are kept as Python ints (a JSON config)."""
    lengths = np.array([1, 3])
    tokenizer = WordTokenizer(WORDS, sequence_length=lengths.max(), lowercase=np.True_)
    assert type(tokenizer.sequence_length) is int and tokenizer.lowercase is True
    json.dumps(tokenizer.get_config())
    assert tokenizer(["A b"]).numpy().tolist() == [[4, 5, 0]]
    ids = tokenizer.tokenize(["a b c a"], add_end=True, sequence_length=np.int64(3))
    assert ids.numpy().tolist() == [[4, 5, 2]]
    learned = WordTokenizer.from_corpus(
        ["a a b", "b c"], min_count=np.int64(2), max_vocabulary_size=np.int32(5)
    )
    assert learned.vocabulary == WORDS[:4] + ["a"]
    for bad in (True, 1.0, "3", np.float64(3.0)):
        with pytest.raises(ValueError, match="`sequence_length` must be a positive int"):
            WordTokenizer(WORDS, sequence_length=bad)
    with pytest.raises(ValueError, match="`min_count` must be an int >= 1, got np.int64"):
        WordTokenizer.from_corpus(["a"], min_count=np.int64(0))


def test_numpy_integers_are_ints_for_the_word_piece_tokenizer():
    tokenizer = WordPieceTokenizer.from_corpus(
        ["ab ab"], vocabulary_size=np.int64(270), max_bytes_per_word=np.int64(5)
    )
    assert type(tokenizer.max_bytes_per_word) is int
    json.dumps(tokenizer.get_config())
    assert len(tokenizer.vocabulary) <= 270
    assert tokenizer.detokenize(tokenizer.tokenize(["ab abc"])).numpy().tolist() == [b"ab abc"]
    with pytest.raises(TypeError, match="`max_bytes_per_word` must be an int, got 5.0"):
        WordPieceTokenizer(tokenizer.vocabulary, max_bytes_per_word=5.0)


def test_learn_params_that_are_not_a_dict_are_named():
    """A str or list of learner arguments failed with "'str' object is not a mapping"."""
    for bad in ("num_iterations=2", [("num_iterations", 2)]):
        with pytest.raises(TypeError, match="`learn_params` must be a dict"):
            WordPieceTokenizer.from_corpus(["a b"], vocabulary_size=300, learn_params=bad)


def test_detokenize_takes_rows_as_numpy_vectors_of_different_lengths():
    """Ids collected per sentence as NumPy vectors failed with TensorFlow's "Can't convert
    non-rectangular Python sequence to Tensor"; lists of lists of those lengths work."""
    tokenizer = WordTokenizer(WORDS)
    rows = [np.array([4, 5, 2, 6]), np.array([6], np.int64), np.array([], np.int32)]
    assert tokenizer.detokenize(rows).numpy().tolist() == [b"a b", b"c", b""]
    assert tokenizer.detokenize([np.array([4, 5]), [6]]).numpy().tolist() == [b"a b", b"c"]
    with pytest.raises(ValueError, match=r"`ids` must lie in \[0, vocabulary_size = 7\)"):
        tokenizer.detokenize([np.array([4, 7]), np.array([4])])
    with pytest.raises(TypeError, match="`ids` must be integers"):
        tokenizer.detokenize([np.array([4.0, 5.0]), np.array([4.0])])


def test_pre_split_tokens_as_numpy_vectors_are_token_lists():
    """A tagged corpus whose sentences are NumPy vectors of str (`np.load` of token arrays)
    was refused by `tokenize` and `from_corpus`; lists of the same tokens work."""
    tokenizer = WordTokenizer(WORDS)
    rows = [np.array(["a", "b"]), np.array(["c"], dtype=object)]
    assert tokenizer.tokenize(rows).to_list() == [[4, 5], [6]]
    assert tokenizer.tokenize(rows).to_list() == tokenizer.tokenize([["a", "b"], ["c"]]).to_list()
    learned = WordTokenizer.from_corpus([np.array(["b", "a"]), np.array(["b"])])
    assert learned.vocabulary == WORDS[:4] + ["b", "a"]
    with pytest.raises(TypeError, match="`strings` must hold str"):
        tokenizer.tokenize([np.array([1, 2])])
