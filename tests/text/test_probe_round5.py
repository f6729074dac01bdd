"""Text probe, round 5: a bare string is not a corpus."""

import pytest

from keras_seq.text import WordTokenizer


@pytest.mark.parametrize("corpus", ["the cat sat", b"the cat sat"])
def test_word_tokenizer_refuses_a_bare_string_as_corpus(corpus):
    # It would iterate letter by letter and learn a vocabulary of characters.
    with pytest.raises(TypeError, match="single string"):
        WordTokenizer.from_corpus(corpus)
    tokenizer = WordTokenizer.from_corpus([corpus])
    assert {"the", "cat", "sat"} <= set(tokenizer.vocabulary)
    ids = tokenizer.tokenize(["the cat"]).to_list()[0]
    assert WordTokenizer.UNKNOWN_ID not in ids
