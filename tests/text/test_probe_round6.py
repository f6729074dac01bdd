"""Round-6 audit of the tokenizers: infinite corpora, eager vs tf.data ids on tricky text."""

import pytest
import tensorflow as tf

from keras_seq.text import WordPieceTokenizer, WordTokenizer

TEXTS = ["Er hat es tun müssen.", "He had to do it."]


def _infinite(dataset, limit=2000):
    """``dataset.repeat()`` (infinite cardinality) that fails after ``limit`` elements, so that
    a `from_corpus` that reads it to the end errors out instead of hanging."""

    def checked(text, index):
        with tf.control_dependencies(
            [tf.debugging.assert_less(index, tf.constant(limit, tf.int64), message="guard")]
        ):
            return tf.identity(text)

    return tf.data.Dataset.zip((dataset.repeat(), tf.data.Dataset.counter())).map(checked)


@pytest.mark.parametrize(
    "build",
    [
        lambda dataset: WordTokenizer.from_corpus(dataset),
        lambda dataset: WordPieceTokenizer.from_corpus(dataset, vocabulary_size=300),
    ],
    ids=["word", "word_piece"],
)
def test_from_corpus_refuses_an_infinite_dataset(build):
    # Before: `from_corpus(dataset.repeat())` counted words forever (a hang); the pipelines
    # already refused infinite datasets.
    texts = tf.data.Dataset.from_tensor_slices(TEXTS)
    infinite = _infinite(texts)
    assert int(infinite.cardinality()) == tf.data.INFINITE_CARDINALITY
    with pytest.raises(ValueError, match=r"infinite tf\.data\.Dataset.*take\(n\)"):
        build(infinite)
    # A finite `.repeat(3)` or `.take(n)` of it is fine and counts what it holds.
    tokenizer = WordTokenizer.from_corpus(texts.repeat(3), min_count=3)
    assert tokenizer.vocabulary[4:] == sorted(
        ["Er", "hat", "es", "tun", "müssen", ".", "He", "had", "to", "do", "it"],
        key=lambda word: (-(6 if word == "." else 3), word),
    )
    assert WordTokenizer.from_corpus(infinite.take(1)).vocabulary[4:] == sorted(
        ["Er", "hat", "es", "tun", "müssen", "."]
    )


def test_token_lists_dataset_that_never_ends_is_refused():
    tokens = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([["Ja", "."], ["Nein"]]))
    with pytest.raises(ValueError, match="infinite"):
        WordTokenizer.from_corpus(_infinite(tokens))


TRICKY = [
    "",
    " \t\u3000 ",
    "e\u0301 vs \u00e9",  # NFD and NFC of the same letter
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",  # ZWJ emoji sequence
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd.",  # RTL (Hebrew)
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",  # CJK without spaces
    "zero\u200bwidth\ufeffmarks",
    "ctrl\x01\x7f\x1b[0m",
    "x" * 150,  # longer than max_bytes_per_word
    "\u2581 ##a <unk> <s>",
]


def test_eager_batch_single_and_tf_data_ids_agree_and_round_trip():
    tokenizer = WordPieceTokenizer.from_corpus(TEXTS + TRICKY, vocabulary_size=400)
    batch = tokenizer.tokenize(TRICKY)
    singles = [tokenizer.tokenize([text]).to_list()[0] for text in TRICKY]
    assert batch.to_list() == singles
    mapped = tf.data.Dataset.from_tensor_slices(TRICKY).batch(3).map(tokenizer.tokenize)
    assert [row for ragged in mapped for row in ragged.to_list()] == singles
    # Lossless modulo normalization: NFKC, whitespace runs to one space, stripped.
    back = tokenizer.detokenize(batch).numpy().tolist()
    assert back == tokenizer.normalize(TRICKY).numpy().tolist()
    assert back[:3] == [b"", b"", "\u00e9 vs \u00e9".encode()]
    assert back[8] == b"x" * 150
    assert 3 not in {i for row in singles for i in row}  # <unk> is never produced
    # Dense output equals the padded ragged one.
    dense = tokenizer.tokenize(TRICKY, sequence_length=200).numpy().tolist()
    assert dense == [row + [0] * (200 - len(row)) for row in singles]


@pytest.mark.parametrize("tokenizer_class", [WordTokenizer, WordPieceTokenizer])
def test_vocabulary_file_with_a_repeated_token_names_both_lines(tmp_path, tokenizer_class):
    # Before: "`vocabulary` holds the token 'Haus' twice." with neither the file nor a line.
    special = getattr(tokenizer_class, "SPECIAL_TOKENS", tokenizer_class.RESERVED_TOKENS)
    tokens = [*special, "Haus", "Maus", "Laus", "Haus", "Baum"]
    path = tmp_path / "vocabulary.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(t + "\r\n" for t in tokens).encode())
    first = len(special) + 1
    with pytest.raises(ValueError) as error:
        tokenizer_class(vocabulary=str(path))
    assert str(error.value) == (
        f"`vocabulary` file {str(path)!r}: line {first + 3} repeats the token 'Haus' of line "
        f"{first}; every token must be listed once."
    )
    # Without the repeat the file loads exactly (byte order mark and CRLF line ends dropped).
    path.write_bytes(b"\xef\xbb\xbf" + "".join(t + "\r\n" for t in tokens[:-2]).encode())
    assert tokenizer_class(vocabulary=str(path)).vocabulary == tokens[:-2]
