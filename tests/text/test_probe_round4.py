"""Round-4 probes: users' own vocabulary files and text (BOM, CRLF, NFD, lone surrogates),
generator corpora, CSV headers. Each test fails on the code before its fix."""

import sys
import unicodedata
import warnings

import pytest

from keras_seq.datasets import readers
from keras_seq.text import Tokenizer, WordPieceTokenizer, WordTokenizer

RESERVED = list(Tokenizer.RESERVED_TOKENS)


def decode(strings):
    return [s.decode("utf-8") for s in strings.numpy()]


def test_word_piece_from_corpus_learns_from_a_generator():
    # The items were checked by iterating the generator, which left nothing to learn from:
    # the vocabulary was the 261 special tokens alone.
    texts = ["hello world", "hello there", "world peace"]
    from_list = WordPieceTokenizer.from_corpus(texts, 300)
    from_generator = WordPieceTokenizer.from_corpus((text for text in texts), 300)
    assert from_list.vocabulary_size > len(WordPieceTokenizer.SPECIAL_TOKENS)
    assert from_generator.vocabulary == from_list.vocabulary
    with pytest.raises(TypeError, match="texts_or_dataset"):
        WordPieceTokenizer.from_corpus((x for x in ["a", 1]), 300)


@pytest.mark.parametrize("final_newline", [True, False])
def test_vocabulary_file_with_a_byte_order_mark_and_crlf_line_ends(tmp_path, final_newline):
    # As Windows Notepad saves it: both used to fail ('\ufeff<pad>', '<pad>\r', ...).
    vocabulary = RESERVED + ["hello", "world"]
    text = "\ufeff" + "\r\n".join(vocabulary) + ("\r\n" if final_newline else "")
    path = tmp_path / "vocab ü.txt"
    path.write_bytes(text.encode("utf-8"))
    tokenizer = WordTokenizer(vocabulary=str(path))
    assert tokenizer.vocabulary == vocabulary
    assert tokenizer.tokenize(["hello world"]).to_list() == [[4, 5]]
    pieces = WordPieceTokenizer.from_corpus(["hello world"], 300)
    path.write_bytes(("\ufeff" + "\r\n".join(pieces.vocabulary) + "\r\n").encode("utf-8"))
    assert WordPieceTokenizer(vocabulary=path).vocabulary == pieces.vocabulary


def test_vocabulary_file_keeps_a_carriage_return_inside_tokens_and_names_bad_bytes(tmp_path):
    # `save_assets` writes "\n" ends: a token holding "\r" still comes back as it was.
    # (Input never matches such tokens, whose "\r" normalizes to a space: hence the warnings.)
    vocabulary = RESERVED + ["a\rb", "c\r"]
    with pytest.warns(UserWarning, match="normalization changes"):
        WordTokenizer(vocabulary=vocabulary).save_assets(str(tmp_path))
    restored = WordTokenizer()
    with pytest.warns(UserWarning, match="normalization changes"):
        restored.load_assets(str(tmp_path))
    assert restored.vocabulary == vocabulary
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("\n".join(RESERVED + ["ok", "café"]).encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt' is not UTF-8: line 6 holds the byte 0xe9"):
        WordTokenizer(vocabulary=str(latin1))


def test_lone_surrogates_of_python_strings_become_replacement_characters():
    # A str with a lone surrogate (JSON "\ud800", `surrogateescape`) has no UTF-8 form: every
    # list input raised "Failed to convert a NumPy array to a Tensor".
    pieces = WordPieceTokenizer.from_corpus(["a b"], 300)
    ids = pieces.tokenize(["a\ud800b", "x\udcff"])
    assert ids.to_list() == pieces.tokenize(["a\ufffdb", "x\ufffd"]).to_list()
    assert decode(pieces.detokenize(ids)) == ["a\ufffdb", "x\ufffd"]
    # A surrogate pair (a UTF-16 source) is its character.
    assert decode(pieces.detokenize(pieces.tokenize(["\ud83d\ude00"]))) == ["\U0001f600"]
    words = WordTokenizer.from_corpus(["a\ud800 b"])
    assert words.vocabulary == RESERVED + ["a", "b", "\ufffd"]
    pre_split = words.tokenize([["a\ud800", "b"]]).to_list()
    assert pre_split == words.tokenize([["a\ufffd", "b"]]).to_list()
    with pytest.raises(ValueError, match="valid Unicode"):
        WordTokenizer(vocabulary=RESERVED + ["a\ud800"])


def test_tokens_that_the_normalization_changes_are_named_in_a_warning():
    # Normalized input never matches them: all three words read as <unk> without a word.
    nfd = unicodedata.normalize("NFD", "café")
    vocabulary = RESERVED + [nfd, "hello ", "ﬁne", "ok"]
    with pytest.warns(UserWarning, match=r"3 token\(s\) that the normalization changes") as record:
        tokenizer = WordTokenizer(vocabulary=vocabulary)
    assert repr([nfd, "hello ", "ﬁne"]) in str(record[0].message)
    assert tokenizer.tokenize([["café", "hello", "ﬁne", "ok"]]).to_list() == [[3, 3, 3, 7]]
    # NFD text is fine for an NFD tokenizer; WordPiece pieces are checked without "##" / "▁".
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WordTokenizer(vocabulary=RESERVED + [nfd], normalization="NFD")
        WordPieceTokenizer(vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS) + ["##fi", "▁a"])
    special = list(WordPieceTokenizer.SPECIAL_TOKENS)
    with pytest.warns(UserWarning, match=r"\['##ﬁ', '▁①'\]"):
        WordPieceTokenizer(vocabulary=special + ["##ﬁ", "▁①", "##fi"])
    # Learned vocabularies are normalized: no warning, whatever the script.
    corpus = [
        "Café déjà vu, naïve façade ﬁne ①.",
        "日本語のテキスト。한국어 텍스트 각",
        "مُحَمَّد بالعالم שָׁלוֹם עולם",
        "👍🏽 👨‍👩‍👧 ΣΊΣΥΦΟΣ İstanbul ǅemal ﾊﾝｶｸ क्षत्रिय",
    ]
    corpus += [unicodedata.normalize("NFD", text) for text in corpus]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for normalization in ("NFKC", "NFD", None):
            WordTokenizer.from_corpus(corpus, normalization=normalization)
            WordPieceTokenizer.from_corpus(corpus, 400, normalization=normalization)


def test_csv_column_named_twice_in_the_header_raises(tmp_path):
    # The first "text" column was taken without a word.
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"text,text,label\r\nshort,the long review,1\r\n")
    with pytest.raises(ValueError, match=r"text_column='text' names 2 columns of .*reviews\.csv"):
        readers.read_classification_csv(path)
    assert readers.read_classification_csv(path, 1, "label").examples == [("the long review", "1")]


def test_word_piece_max_bytes_per_word_beyond_int32_means_no_limit():
    # sys.maxsize ("no limit") was a pybind TypeError from FastWordpieceTokenizer's builder.
    texts = ["aaaa aaaa", "bb"]
    bounded = WordPieceTokenizer.from_corpus(texts, 300, max_bytes_per_word=2**31 - 1)
    unbounded = WordPieceTokenizer.from_corpus(texts, 300, max_bytes_per_word=sys.maxsize)
    assert unbounded.vocabulary == bounded.vocabulary
    long_word = ["a" * 1000 + " bb"]
    assert unbounded.tokenize(long_word).to_list() == bounded.tokenize(long_word).to_list()
    assert WordPieceTokenizer.from_config(unbounded.get_config()).max_bytes_per_word == sys.maxsize


def test_metrics_take_tag_and_class_names_from_a_generator():
    # SpanF1 read the generator in its checks and kept no tag: every id was then "out of
    # range [0, 1)"; ClassF1Score raised "object of type 'generator' has no len()".
    from keras_seq.metrics import ClassF1Score, SpanF1

    metric = SpanF1(tag for tag in ["O", "B-PER", "I-PER"])
    assert metric.tag_vocabulary == ["O", "B-PER", "I-PER"]
    metric.update_state([[2, 3, 1]], [[2, 3, 1]])
    assert float(metric.result()) == 1.0
    assert SpanF1.from_config(metric.get_config()).tag_vocabulary == metric.tag_vocabulary
    classes = ClassF1Score(2, class_names=(name for name in ["ham", "spam"]))
    classes.update_state([0, 1], [0, 1])
    assert list(classes.report()["per_class"]) == ["ham", "spam"]
