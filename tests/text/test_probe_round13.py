"""Round 13 probes of the tokenizers."""

from keras_seq.text import WordPieceTokenizer

# "x" and its pieces, and "a": ids 261 ... 265 after the 261 special tokens.
VOCABULARY = list(WordPieceTokenizer.SPECIAL_TOKENS) + ["x", "##x", "▁x", "a", "▁a"]
X, CONTINUED_X, MARKED_X, A, MARKED_A = range(261, 266)
SPACE = 4  # "▁"
BYTE_X = 5 + ord("x")  # "<0x78>"


def test_max_bytes_per_word_bounds_the_word_not_its_space_marker():
    """The bound counted the 3 bytes of the marker "▁" of a word after a space: a word of
    `max_bytes_per_word` bytes was pieces at the start of a sentence and bytes after a space
    (a 33-character CJK word: 1 piece, then 100 byte ids), and with a bound of 1 to 3 every
    word after a space went to bytes."""
    tokenizer = WordPieceTokenizer(VOCABULARY, max_bytes_per_word=4)
    assert tokenizer.tokenize(["xxxx a xxxx"]).to_list() == [
        [X, CONTINUED_X, CONTINUED_X, CONTINUED_X, MARKED_A, MARKED_X] + [CONTINUED_X] * 3
    ]
    # One byte more: bytes wherever the word stands.
    assert tokenizer.tokenize(["xxxxx a xxxxx"]).to_list() == [
        [BYTE_X] * 5 + [MARKED_A, SPACE] + [BYTE_X] * 5
    ]
    assert WordPieceTokenizer(VOCABULARY, max_bytes_per_word=1).tokenize(["a a"]).to_list() == [
        [A, MARKED_A]
    ]


def test_from_corpus_counts_a_word_after_a_space_by_its_own_bytes():
    """`from_corpus` left out "▁ab" at `max_bytes_per_word=3` (5 bytes with its marker) and
    the bound then sent the word to bytes after a space."""
    tokenizer = WordPieceTokenizer.from_corpus(["ab ab ab"], 300, max_bytes_per_word=3)
    assert tokenizer.vocabulary[261:] == ["a", "##a", "b", "##b", "▁a", "▁b", "▁ab", "ab"]
    ids = tokenizer.tokenize(["ab ab"]).to_list()[0]
    assert [tokenizer.id_to_token(i) for i in ids] == ["ab", "▁ab"]
    long_word = "日" * 33  # 99 bytes, under the default bound of 100
    tokenizer = WordPieceTokenizer.from_corpus([f"{long_word} {long_word}"], 300)
    ids = tokenizer.tokenize([f"{long_word} {long_word}"]).to_list()[0]
    assert [tokenizer.id_to_token(i) for i in ids] == [long_word, "▁" + long_word]
