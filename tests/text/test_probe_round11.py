"""Round 11 probes of the tokenizers."""

import warnings

import pytest

from keras_seq.text import WordPieceTokenizer, WordTokenizer

# Lowering leaves mathematical bold letters and "ℝ" as they are; NFKC then makes them "Hello"
# and "R": upper case in the normalized text of a `lowercase=True` tokenizer.
CORPUS = ["𝐇𝐞𝐥𝐥𝐨 world", "ℝ is big"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: WordTokenizer.from_corpus(CORPUS, lowercase=True),
        lambda: WordPieceTokenizer.from_corpus(CORPUS, 300, lowercase=True),
    ],
    ids=["word", "word_piece"],
)
def test_a_learned_vocabulary_raises_no_warning_about_its_own_upper_case(build):
    """`from_corpus(lowercase=True)` warned that its own tokens "Hello", "R" (and "H", "##H",
    "▁H") hold upper case "which lowercase=True input does not match (their words read as
    <unk>)", while the corpus's words read exactly as those tokens."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizer = build()
    vocabulary = tokenizer.vocabulary
    assert "R" in vocabulary and ("Hello" in vocabulary or "H" in vocabulary)
    ids = tokenizer.tokenize(["𝐇𝐞𝐥𝐥𝐨 ℝ"]).to_list()[0]
    assert tokenizer.UNKNOWN_ID not in ids
    assert tokenizer.detokenize([ids]).numpy()[0].decode() == "Hello R"
    if isinstance(tokenizer, WordTokenizer):
        assert ids == [tokenizer.token_to_id("Hello"), tokenizer.token_to_id("R")]
    else:
        # Learned pieces, no byte fallback.
        assert all(i >= len(WordPieceTokenizer.SPECIAL_TOKENS) for i in ids)
    # A hand-written vocabulary with such tokens is still named (the declared behaviour).
    with pytest.warns(UserWarning, match="upper-case letters"):
        type(tokenizer)(vocabulary=vocabulary, lowercase=True)
