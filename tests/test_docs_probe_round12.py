"""Claims of README.md and docs/*.md checked against the code (docs audit, round 12)."""

from keras_seq.text import WordPieceTokenizer, WordTokenizer


def test_normalize_replaces_a_lone_surrogate_of_a_list_input():
    # docs/text.md, "Normalization", step 1: `Tokenizer.normalize` gives a Python str holding
    # a lone surrogate U+FFFD in its place for a list input. It raised ValueError ("Error
    # converting unicode string while converting Python sequence to Tensor"), while
    # `tokenize` took the same list, so `detokenize(tokenize(s)) == normalize(s)` (the
    # documented round trip) could not even be evaluated for such an `s`.
    texts = ["a\ud800b", "c d"]
    for tokenizer in (
        WordTokenizer.from_corpus(["a b"]),
        WordPieceTokenizer.from_corpus(["a b"], vocabulary_size=270),
    ):
        normalized = [s.decode("utf-8") for s in tokenizer.normalize(texts).numpy()]
        assert normalized == ["a\ufffdb", "c d"]
        assert tokenizer.normalize(tuple(texts)).numpy().tolist() == [
            s.encode("utf-8") for s in normalized
        ]
    round_trip = tokenizer.detokenize(tokenizer.tokenize(texts)).numpy().tolist()
    assert round_trip == tokenizer.normalize(texts).numpy().tolist()
