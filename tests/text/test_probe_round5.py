"""Text probe, round 5: a bare string is not a corpus."""

import re

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


@pytest.mark.parametrize(
    "text, line, hint",
    [
        ("<pad>\n<s>\n</s>\n<unk>\ncat\n\n", 6, " (a blank line at the end?)"),
        ("<pad>\r\n<s>\r\n</s>\r\n<unk>\r\ncat\r\n\r\n", 6, " (a blank line at the end?)"),
        ("<pad>\n<s>\n</s>\n<unk>\n\ncat\n", 5, ""),
    ],
)
def test_an_empty_line_of_a_vocabulary_file_is_named_with_its_file_and_line(
    tmp_path, text, line, hint
):
    path = tmp_path / "vocab.txt"
    path.write_bytes(text.encode("utf-8"))
    message = re.escape(f"vocab.txt': line {line} is empty{hint}; every line must hold one token")
    with pytest.raises(ValueError, match=message):
        WordTokenizer(vocabulary=str(path))
    path.write_bytes(text.rstrip("\r\n").replace("\n\n", "\n").replace("\r\n\r\n", "\r\n").encode())
    assert WordTokenizer(vocabulary=str(path)).vocabulary[-1] == "cat"
