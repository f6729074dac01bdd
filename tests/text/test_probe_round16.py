"""Text probe round 16: `tokenize` refuses a flag that is not a bool (`add_start="False"`
put `<s>` first, and with a `sequence_length` failed with "invalid literal for int()")."""

import numpy as np
import pytest

from keras_seq.text import WordPieceTokenizer, WordTokenizer


@pytest.fixture(scope="module")
def words():
    return WordTokenizer.from_corpus(["a b"])


@pytest.mark.parametrize("flag", ["add_start", "add_end"])
@pytest.mark.parametrize("value", ["False", "no", 0, 1, None, 0.0])
def test_tokenize_refuses_a_flag_that_is_not_a_bool(words, flag, value):
    with pytest.raises(TypeError, match=rf"`{flag}` must be a bool, got {value!r}"):
        words.tokenize(["a b"], **{flag: value})
    with pytest.raises(TypeError, match=rf"`{flag}` must be a bool, got {value!r}"):
        words.tokenize(["a b"], sequence_length=4, **{flag: value})


def test_tokenize_takes_numpy_bools(words):
    a, b = words.token_to_id("a"), words.token_to_id("b")
    ids = words.tokenize(["a b"], add_start=np.bool_(True), add_end=np.bool_(False))
    assert ids.to_list() == [[1, a, b]]
    ids = words.tokenize(["a b"], add_start=np.bool_(False), add_end=np.bool_(True))
    assert ids.to_list() == [[a, b, 2]]
    dense = words.tokenize(["a b"], add_end=np.True_, sequence_length=np.int64(2))
    assert dense.numpy().tolist() == [[a, 2]]


def test_word_piece_tokenize_refuses_a_str_flag():
    tokenizer = WordPieceTokenizer(vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS))
    with pytest.raises(TypeError, match="`add_end` must be a bool, got 'False'"):
        tokenizer.tokenize(["x"], add_end="False")
    assert tokenizer.tokenize(["x"], add_end=True).to_list() == [[5 + ord("x"), 2]]
