"""Edge cases: NUL characters, a vocabulary of reserved tokens only, ids beyond int32."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.text import Tokenizer, WordPieceTokenizer, WordTokenizer
from keras_seq.text.tokenizer import string_constant


def decode(strings):
    return [s.decode("utf-8") for s in strings.numpy()]


def test_lowercase_keeps_the_text_after_a_nul():
    """`tf.strings.lower(encoding="utf-8")` stops at a NUL: "Ab\\x00CD" used to become "ab"."""
    tokenizer = WordPieceTokenizer(
        vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS), lowercase=True
    )
    texts = ["Ab\x00CD EF", "\x00", "ÄÖ\x00\x00Ü\x00", "", "OHNE NUL"]
    expected = [text.lower() for text in texts]
    assert decode(tokenizer.normalize(string_constant(texts))) == expected
    assert decode(tokenizer.detokenize(tokenizer.tokenize(string_constant(texts)))) == expected
    words = WordTokenizer(vocabulary=list(Tokenizer.RESERVED_TOKENS) + ["ab\x00cd"], lowercase=True)
    assert words.tokenize([["AB\x00CD", "ab"]]).to_list() == [[4, Tokenizer.UNKNOWN_ID]]


def test_word_piece_corpus_with_nul_learns_and_keeps_it_as_a_byte():
    """A NUL in the corpus used to crash `from_corpus` inside FastWordpieceTokenizer."""
    tokenizer = WordPieceTokenizer.from_corpus(["Er hat\x00es tun müssen."], vocabulary_size=300)
    assert not [token for token in tokenizer.vocabulary if "\x00" in token]
    ids = tokenizer.tokenize(["hat\x00es"]).to_list()[0]
    assert tokenizer.token_to_id("<0x00>") in ids
    assert decode(tokenizer.detokenize([ids])) == ["hat\x00es"]
    with pytest.raises(ValueError, match="`vocabulary` tokens must not hold a NUL"):
        WordPieceTokenizer(vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS) + ["a\x00b"])


def test_word_tokenizer_with_only_reserved_tokens_maps_every_word_to_unknown():
    """`max_vocabulary_size=4` (allowed) and an empty corpus used to fail in the hash table."""
    for tokenizer in (
        WordTokenizer.from_corpus(["a b"], max_vocabulary_size=4),
        WordTokenizer.from_corpus([]),
    ):
        assert tokenizer.vocabulary == list(Tokenizer.RESERVED_TOKENS)
        assert tokenizer.tokenize(["a b", ""], add_end=True).to_list() == [[3, 3, 2], [2]]
        assert tokenizer.tokenize([["a"], []]).to_list() == [[3], []]
        restored = WordTokenizer.from_config(tokenizer.get_config())
        graph = tf.function(lambda strings, layer=restored: layer(strings))
        np.testing.assert_array_equal(graph(tf.constant(["x y z"])), [[3, 3, 3]])
        assert decode(tokenizer.detokenize([[3, 3]])) == ["<unk> <unk>"]


def test_detokenize_rejects_int64_ids_that_int32_would_wrap():
    """2**32 + 4 used to be cast to int32 first and read as the valid id 4."""
    tokenizer = WordTokenizer.from_corpus(["a b"])
    wrapped = 2**32 + 4
    with pytest.raises(ValueError, match="`ids` must lie in"):
        tokenizer.detokenize(np.array([[4, wrapped]], np.int64))
    with pytest.raises(ValueError, match="`ids` must lie in"):
        tokenizer.detokenize(tf.ragged.constant([[4, wrapped], [4]], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`ids` must lie in"):
        tf.function(tokenizer.detokenize)(tf.constant([[4, wrapped]], tf.int64))
    # Narrow and unsigned integer types still work.
    a, b = tokenizer.token_to_id("a"), tokenizer.token_to_id("b")
    assert decode(tokenizer.detokenize(np.array([[a, b]], np.uint8))) == ["a b"]
    graph = tf.function(tokenizer.detokenize)(tf.constant([[b, a]], tf.uint8))
    assert decode(graph) == ["b a"]


def test_id_to_token_takes_numpy_integers():
    """An element of `tokenize(...).numpy()` was refused as not an int."""
    tokenizer = WordTokenizer.from_corpus(["a b"])
    ids = tokenizer.tokenize(["b a"]).to_tensor().numpy()[0]
    assert [tokenizer.id_to_token(i) for i in ids] == ["b", "a"]
    assert tokenizer.id_to_token(np.uint8(4)) == tokenizer.id_to_token(4)
    for bad in (np.int64(99), np.bool_(True), True, 1.0):
        with pytest.raises(ValueError, match="`id` must be an int"):
            tokenizer.id_to_token(bad)


def test_dense_pre_split_tokens_padded_with_empty_strings_give_no_ids():
    tokenizer = WordTokenizer.from_corpus([["He", "had", "it"]])
    he, had, it = (tokenizer.token_to_id(w) for w in ("He", "had", "it"))
    dense = tf.constant([["He", "had", "it"], ["it", "", ""], ["", "", ""]])
    ragged = [["He", "had", "it"], ["it"], []]
    assert tokenizer.tokenize(dense).to_list() == [[he, had, it], [it], []]
    assert tokenizer.tokenize(dense).to_list() == tokenizer.tokenize(ragged).to_list()
    # As a layer: padded with the pad id, not <unk>.
    np.testing.assert_array_equal(tokenizer(dense), [[he, had, it], [it, 0, 0], [0, 0, 0]])
    # An empty token inside a row is a token, as in ragged input.
    unk = Tokenizer.UNKNOWN_ID
    assert tokenizer.tokenize(tf.constant([["He", "", "it"]])).to_list() == [[he, unk, it]]


def test_upper_case_tokens_of_a_lowercase_tokenizer_are_named_in_a_warning():
    vocabulary = list(Tokenizer.RESERVED_TOKENS) + ["The", "cat", "SAT"]
    with pytest.warns(UserWarning, match=r"2 token\(s\) with upper-case .*\['The', 'SAT'\]"):
        tokenizer = WordTokenizer(vocabulary=vocabulary, lowercase=True)
    # What the warning is about: the lowered words miss those tokens.
    unk, cat = Tokenizer.UNKNOWN_ID, tokenizer.token_to_id("cat")
    assert tokenizer.tokenize(["The cat SAT"]).to_list() == [[unk, cat, unk]]
    # No warning where lowered input can match every token, or without lowercasing.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WordTokenizer(vocabulary=vocabulary, lowercase=False)
        WordTokenizer.from_corpus(["The cat SAT"], lowercase=True)
        WordPieceTokenizer.from_corpus(["The cat SAT"], 300, lowercase=True)


def test_word_piece_learner_keeps_no_piece_with_an_inner_space_marker():
    # Such a piece ("##▁") can never match: the marker only ever starts a word.
    marker = WordPieceTokenizer.SPACE_MARKER
    learned = WordPieceTokenizer.from_corpus(["!!! ... ?? !!"], 300).vocabulary[261:]
    assert learned and not [piece for piece in learned if marker in piece[1:]]
    # A literal marker character in the text is a word of its own and goes to bytes.
    text = f"a{marker}b a{marker}b"
    tokenizer = WordPieceTokenizer.from_corpus([text], 300)
    assert not [piece for piece in tokenizer.vocabulary[261:] if marker in piece[1:]]
    ids = tokenizer.tokenize([text]).to_list()[0]
    byte_ids = [tokenizer.token_to_id(f"<0x{b:02X}>") for b in marker.encode("utf-8")]
    assert ids[1:4] == byte_ids
    assert decode(tokenizer.detokenize([ids])) == [text]


def test_upper_case_made_by_the_compatibility_form_is_no_mistake():
    # "™" is left by lowering and NFKC makes it "TM": a vocabulary learned from "xg3™" holds
    # "xg3TM", which lowered input matches; the warning called it unreachable.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizer = WordTokenizer.from_corpus(["xg3™ at 5 ㎒"], lowercase=True)
    assert "xg3TM" in tokenizer.vocabulary and "MHz" in tokenizer.vocabulary
    unk = Tokenizer.UNKNOWN_ID
    assert unk not in tokenizer.tokenize(["XG3™ at 5 ㎒"]).to_list()[0]
    # Under NFC nothing makes upper case, and a plain capital is still named.
    vocabulary = list(Tokenizer.RESERVED_TOKENS) + ["xg3TM", "Cat"]
    with pytest.warns(UserWarning, match=r"2 token\(s\) with upper-case"):
        WordTokenizer(vocabulary=vocabulary, lowercase=True, normalization="NFC")
    with pytest.warns(UserWarning, match=r"1 token\(s\) with upper-case .*\['Cat'\]"):
        WordTokenizer(vocabulary=vocabulary, lowercase=True)


def test_overlapping_compatibility_capitals_do_not_depend_on_their_order():
    # NFKC makes "㏋" "HP" and "㎩" "Pa": "xHPa" (from "x㏋a") is reachable. Fragments were
    # removed one after another, in set order (PYTHONHASHSEED): removing "Pa" first left
    # "xH", and the warning fired in some processes only.
    from keras_seq.text.tokenizer import _only_compatibility_capitals

    for fragments in (("HP", "Pa"), ("Pa", "HP")):
        assert _only_compatibility_capitals("xHPa", fragments)
        assert not _only_compatibility_capitals("xHQa", fragments)
        assert not _only_compatibility_capitals("Cat", fragments)
    vocabulary = list(Tokenizer.RESERVED_TOKENS) + ["xHPa"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizer = WordTokenizer(vocabulary=vocabulary, lowercase=True)
    assert tokenizer.tokenize(["X㏋A"]).to_list() == [[len(vocabulary) - 1]]
