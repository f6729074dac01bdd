import collections
import os
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from keras_seq.datasets import load_ding
from keras_seq.text import Tokenizer, WordPieceTokenizer
from keras_seq.text.tokenizer import string_constant
from tests.test_case import run_serialization_test
from tests.text.corpus import GERMAN_ENGLISH
from tests.text.serving_checks import assert_servable_ops

SENTENCES = [text for pair in GERMAN_ENGLISH for text in pair]
HYPOTHESIS = settings(max_examples=40, deadline=None)
# Emoji (with a skin tone, a ZWJ family), combining marks, the space marker itself and
# whitespace, mixed with arbitrary code points.
SPECIAL_CHARACTERS = [
    "\u0301",
    "\u0308",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "▁",
    " ",
    "\t",
    "\n",
    "\x00",
]


def texts_of(characters):
    return st.lists(
        st.lists(characters | st.sampled_from(SPECIAL_CHARACTERS)).map("".join), max_size=6
    )


def python_normalize(text, lowercase=False):
    """The declared normalization, written with the Python standard library."""
    if lowercase:
        text = text.lower()
    return " ".join(unicodedata.normalize("NFKC", text).split())


def decode(strings):
    return [s.decode("utf-8") for s in strings.numpy()]


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer.from_corpus(SENTENCES, vocabulary_size=400)


def golden_tokenizer(**kwargs):
    pieces = ["He", "▁had", "▁to", "▁do", "▁it", ".", "▁mü", "##ssen", "m", "##ü"]
    return WordPieceTokenizer(vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS) + pieces, **kwargs)


def test_reserved_and_special_ids(tokenizer):
    assert (Tokenizer.PAD_ID, Tokenizer.START_ID, Tokenizer.END_ID, Tokenizer.UNKNOWN_ID) == (
        0,
        1,
        2,
        3,
    )
    assert tokenizer.vocabulary[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert tokenizer.vocabulary[4:261] == ["▁"] + [f"<0x{b:02X}>" for b in range(256)]
    assert tokenizer.token_to_id("</s>") == 2
    assert tokenizer.id_to_token(1) == "<s>"
    assert tokenizer.vocabulary_size == len(tokenizer.vocabulary) <= 400


def test_golden_pieces():
    tokenizer = golden_tokenizer()
    base = len(WordPieceTokenizer.SPECIAL_TOKENS)
    ids = tokenizer.tokenize(
        ["He had to do it.", "He had to müssen."], add_start=True, add_end=True
    )
    assert ids.to_list() == [
        [1, base, base + 1, base + 2, base + 3, base + 4, base + 5, 2],
        [1, base, base + 1, base + 2, base + 6, base + 7, base + 5, 2],
    ]
    # Glued to ".": "m" "##ü" "##ssen" covers "müssen"; nothing covers "de" of "müde", so that
    # word falls back to its bytes (the byte token of value b has id 5 + b).
    assert tokenizer.tokenize(["He.müssen"]).to_list() == [
        [base, base + 5, base + 8, base + 9, base + 7]
    ]
    glued = tokenizer.tokenize(["He.müde"]).to_list()[0]
    assert glued == [base, base + 5] + [5 + b for b in "müde".encode()]


def test_round_trip_real_sentences(tokenizer):
    texts = SENTENCES + [
        "Er hat's (wirklich) tun müssen!?",
        "Preis: 1.299,00 € — inkl. 19 % MwSt.",
        "„Anführungszeichen“ und «Guillemets»",
        "ÄÖÜ äöü ß ẞ",
    ]
    ids = tokenizer.tokenize(texts, add_start=True, add_end=True)
    assert decode(tokenizer.detokenize(ids)) == texts
    assert Tokenizer.UNKNOWN_ID not in ids.flat_values.numpy()


def test_declared_normalization(tokenizer):
    texts = ["  He  had\tto\n\ndo it.  ", "ﬁnden ① Ｈｅｌｌｏ", "a\u00a0b\u2003c\u3000d", "e\u0301"]
    expected = ["He had to do it.", "finden 1 Hello", "a b c d", "é"]
    assert decode(tokenizer.normalize(tf.constant(texts))) == expected
    assert decode(tokenizer.detokenize(tokenizer.tokenize(texts))) == expected


def test_lowercase():
    tokenizer = WordPieceTokenizer.from_corpus(SENTENCES, vocabulary_size=300, lowercase=True)
    texts = ["ÖFFNEN Sie bitte das Fenster.", "Guten MORGEN!"]
    round_trip = decode(tokenizer.detokenize(tokenizer.tokenize(texts)))
    assert round_trip == [python_normalize(t, lowercase=True) for t in texts]


def test_unseen_characters_fall_back_to_bytes(tokenizer):
    byte = {value: tokenizer.token_to_id(f"<0x{value:02X}>") for value in range(256)}
    space = tokenizer.token_to_id("▁")
    ids = tokenizer.tokenize(["€ ∑"]).to_list()[0]
    assert ids == [byte[b] for b in "€".encode()] + [space] + [byte[b] for b in "∑".encode()]
    # The marker character itself always goes through bytes, so it cannot turn into a space.
    assert decode(tokenizer.detokenize(tokenizer.tokenize(["a ▁ b▁▁"]))) == ["a ▁ b▁▁"]


def test_padding_and_truncation(tokenizer):
    texts = ["He had to do it.", "Guten Morgen!", ""]
    ragged = tokenizer.tokenize(texts).to_list()
    for length in (3, 5, 40):
        dense = tokenizer.tokenize(texts, add_start=True, add_end=True, sequence_length=length)
        expected = [([1] + row[: length - 2] + [2] + [0] * length)[:length] for row in ragged]
        assert dense.dtype == tf.int32
        np.testing.assert_array_equal(dense.numpy(), expected)
    dense = tokenizer.tokenize(texts, sequence_length=2)
    np.testing.assert_array_equal(dense.numpy(), [(row + [0, 0])[:2] for row in ragged])


def test_call_pads_to_sequence_length_or_longest(tokenizer):
    texts = tf.constant(["He had to do it.", "Ich bin müde."])
    longest = max(len(row) for row in tokenizer.tokenize(texts).to_list())
    assert tuple(tokenizer(texts).shape) == (2, longest)
    fixed = WordPieceTokenizer(vocabulary=tokenizer.vocabulary, sequence_length=6)
    np.testing.assert_array_equal(fixed(texts), tokenizer.tokenize(texts, sequence_length=6))


def test_detokenize_stops_at_end_and_drops_pad_and_start(tokenizer):
    ids = tokenizer.tokenize(["He had to do it.", "Ich bin müde."], add_start=True, add_end=True)
    rows = [row + [tokenizer.token_to_id("▁")] + row for row in ids.to_list()]  # junk after </s>
    dense = tf.ragged.constant(rows).to_tensor()
    assert decode(tokenizer.detokenize(dense)) == ["He had to do it.", "Ich bin müde."]
    assert decode(tokenizer.detokenize(tf.ragged.constant(rows))) == [
        "He had to do it.",
        "Ich bin müde.",
    ]
    assert decode(tokenizer.detokenize([[0, 0], [1, 2]])) == ["", ""]
    # Lists without any id (which TensorFlow would read as float32): empty rows, empty batch.
    assert decode(tokenizer.detokenize([[]])) == [""]
    assert decode(tokenizer.detokenize([[], []])) == ["", ""]
    assert tokenizer.detokenize([]).shape == (0,)


def test_invalid_utf8_is_replaced(tokenizer):
    raw = [b"M\xfcller", b"\xc3", b"ok \xe2\x82 ok"]
    expected = [python_normalize(b.decode("utf-8", errors="replace")) for b in raw]
    assert expected == ["M\ufffdller", "\ufffd", "ok \ufffd ok"]
    assert decode(tokenizer.detokenize(tokenizer.tokenize(tf.constant(raw)))) == expected


@HYPOTHESIS
@given(texts_of(st.characters(exclude_categories=["Cs"])))
def test_round_trip_arbitrary_unicode(tokenizer, texts):
    ids = tokenizer.tokenize(string_constant(texts))
    flat = ids.flat_values.numpy()
    assert not np.isin(flat, [0, 1, 2, 3]).any()
    assert decode(tokenizer.detokenize(ids)) == decode(tokenizer.normalize(string_constant(texts)))


@HYPOTHESIS
@given(texts_of(st.characters(exclude_categories=["Cn", "Co", "Cs"])))
def test_normalize_matches_python(tokenizer, texts):
    got = decode(tokenizer.normalize(string_constant(texts)))
    assert got == [python_normalize(t) for t in texts]


@HYPOTHESIS
@given(st.lists(st.binary(), max_size=6))
def test_round_trip_arbitrary_bytes(tokenizer, raw):
    strings = string_constant(raw)
    round_trip = decode(tokenizer.detokenize(tokenizer.tokenize(strings)))
    assert round_trip == decode(tokenizer.normalize(strings))
    assert round_trip == [
        " ".join(unicodedata.normalize("NFKC", b.decode("utf-8", errors="replace")).split())
        for b in raw
    ]


def test_from_corpus_with_dataset_matches_list():
    from_list = WordPieceTokenizer.from_corpus(SENTENCES, vocabulary_size=350)
    scalars = tf.data.Dataset.from_tensor_slices(SENTENCES)
    assert WordPieceTokenizer.from_corpus(scalars, 350).vocabulary == from_list.vocabulary
    assert WordPieceTokenizer.from_corpus(scalars.batch(5), 350).vocabulary == from_list.vocabulary


def test_frequent_words_become_single_pieces():
    corpus = ["He had to do it."] * 20 + SENTENCES
    # 261 special tokens, then "c" and "##c" of each character, then each "▁c", come first.
    tokenizer = WordPieceTokenizer.from_corpus(corpus, vocabulary_size=500)
    ids = tokenizer.tokenize(["He had to do it."]).to_list()[0]
    assert [tokenizer.id_to_token(i) for i in ids] == ["He", "▁had", "▁to", "▁do", "▁it", "."]


def test_seen_characters_never_fall_back_to_bytes(tokenizer):
    # Reversed sentences are new words made of characters seen in training: every one of them
    # has a piece in both forms ("c" and "##c"), so no byte token is needed.
    reversed_texts = [text[::-1] for text in SENTENCES]
    ids = tokenizer.tokenize(reversed_texts)
    byte_ids = [tokenizer.token_to_id(token) for token in WordPieceTokenizer.BYTE_TOKENS]
    assert not np.isin(ids.flat_values.numpy(), byte_ids).any()
    assert decode(tokenizer.detokenize(ids)) == reversed_texts


def test_serialization(tokenizer):
    layer = WordPieceTokenizer(vocabulary=tokenizer.vocabulary, sequence_length=12)
    run_serialization_test(layer, tf.constant(["He had to do it.", "Ich bin müde."]))


def test_assets_and_vocabulary_file(tokenizer, tmp_path):
    tokenizer.save_assets(str(tmp_path))
    path = tmp_path / WordPieceTokenizer.VOCABULARY_ASSET
    assert path.read_text(encoding="utf-8").split("\n")[:-1] == tokenizer.vocabulary
    restored = WordPieceTokenizer()
    restored.load_assets(str(tmp_path))
    from_file = WordPieceTokenizer(vocabulary=str(path))
    texts = tf.constant(SENTENCES)
    for other in (restored, from_file):
        assert other.vocabulary == tokenizer.vocabulary
        np.testing.assert_array_equal(
            other.tokenize(texts).flat_values, tokenizer.tokenize(texts).flat_values
        )


def _model(tokenizer):
    inputs = keras.Input(shape=(), dtype="string")
    ids = tokenizer(inputs)
    hidden = keras.layers.Embedding(tokenizer.vocabulary_size, 4, mask_zero=True)(ids)
    return keras.Model(inputs, [ids, keras.layers.GRU(3)(hidden)])


def test_keras_round_trip_in_model(tokenizer, tmp_path):
    layer = WordPieceTokenizer(vocabulary=tokenizer.vocabulary, sequence_length=10)
    model = _model(layer)
    texts = tf.constant(["He had to do it.", "Öffnen Sie 12 Fenster!"])
    expected_ids, expected_states = model(texts)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    ids, states = restored(texts)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(states, expected_states, atol=1e-6)
    assert restored.layers[1].vocabulary == tokenizer.vocabulary


def test_saved_model_reload_with_both_loaders(tokenizer, tmp_path):
    layer = WordPieceTokenizer(vocabulary=tokenizer.vocabulary, sequence_length=24)
    texts = ["He had to do it.", "Er hat es tun  müssen.", "€ ünseen ▁"]
    expected = layer(tf.constant(texts)).numpy()
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "serve",
        lambda strings: {"ids": layer(strings), "text": layer.detokenize(layer(strings))},
        input_signature=[tf.TensorSpec([None], tf.string, name="strings")],
    )
    path = str(tmp_path / "export")
    archive.write_out(path, verbose=False)
    names = assert_servable_ops(path)
    assert {"FastWordpieceTokenizeWithOffsets", "NormalizeUTF8"} <= names

    reloaded = tf.saved_model.load(path).serve(tf.constant(texts))
    np.testing.assert_array_equal(reloaded["ids"], expected)
    assert decode(reloaded["text"]) == [python_normalize(t) for t in texts]

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature = meta_graph.signature_def["serve"]
        ids, text = session.run(
            [signature.outputs["ids"].name, signature.outputs["text"].name],
            {signature.inputs["strings"].name: [t.encode("utf-8") for t in texts]},
        )
    np.testing.assert_array_equal(ids, expected)
    assert [t.decode("utf-8") for t in text] == [python_normalize(t) for t in texts]


@pytest.mark.parametrize(
    "strings, error, match",
    [
        ([1, 2], TypeError, "`strings`"),
        (tf.constant([1.0]), TypeError, "`strings`.*float32"),
        ("He had to do it.", ValueError, "`strings`.*rank 1"),
        (tf.constant([["a", "b"]]), ValueError, "`strings`.*rank 1.*shape"),
        (tf.ragged.constant([["a"], ["b", "c"]]), ValueError, "`strings`.*rank 1"),
    ],
)
def test_bad_strings(tokenizer, strings, error, match):
    with pytest.raises(error, match=match):
        tokenizer.tokenize(strings)


def test_bad_ids_and_arguments(tokenizer):
    with pytest.raises(TypeError, match="`ids`.*float32"):
        tokenizer.detokenize(tf.constant([[1.5]]))
    with pytest.raises(ValueError, match="`ids`.*rank 2"):
        tokenizer.detokenize(tf.constant([4, 5]))
    with pytest.raises(ValueError, match="`ids` must lie in"):
        tokenizer.detokenize([[4, tokenizer.vocabulary_size]])
    with pytest.raises(ValueError, match="`ids` must lie in"):
        tokenizer.detokenize([[-1]])
    with pytest.raises(ValueError, match="`sequence_length`"):
        tokenizer.tokenize(["a"], add_start=True, add_end=True, sequence_length=1)
    with pytest.raises(ValueError, match="`sequence_length`"):
        WordPieceTokenizer(sequence_length=0)
    with pytest.raises(ValueError, match="`normalization`"):
        WordPieceTokenizer(normalization="NFX")
    with pytest.raises(ValueError, match="reserved tokens"):
        WordPieceTokenizer(vocabulary=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="byte tokens"):
        WordPieceTokenizer(vocabulary=list(Tokenizer.RESERVED_TOKENS) + ["▁"])
    with pytest.raises(ValueError, match="twice"):
        WordPieceTokenizer(vocabulary=list(WordPieceTokenizer.SPECIAL_TOKENS) + ["a", "a"])
    with pytest.raises(ValueError, match="no vocabulary"):
        WordPieceTokenizer().tokenize(["a"])
    with pytest.raises(ValueError, match="`vocabulary_size` must be >= 261"):
        WordPieceTokenizer.from_corpus(SENTENCES, vocabulary_size=100)
    with pytest.raises(ValueError, match="`learn_params` cannot set 'joiner'"):
        WordPieceTokenizer.from_corpus(SENTENCES, 300, learn_params={"joiner": "@@"})
    with pytest.raises(ValueError, match="`id`"):
        tokenizer.id_to_token(10**6)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.token_to_id("Zyzzyva")


def test_words_after_a_space_never_start_with_a_lone_marker():
    tokenizer = WordPieceTokenizer.from_corpus(SENTENCES, vocabulary_size=500)
    text = "He had to do it. Nothing stands here"
    assert set(text) <= set("".join(SENTENCES))  # no byte fallback (which keeps a lone "▁")
    pieces = [tokenizer.id_to_token(i) for i in tokenizer.tokenize([text]).to_list()[0]]
    assert tokenizer.SPACE_MARKER not in pieces
    starts = [p for p in pieces if not p.startswith("##")]
    assert len(starts) == len(text.replace(".", " .").split())
    assert tokenizer.detokenize(tokenizer.tokenize([text])).numpy()[0].decode() == text


def test_a_full_vocabulary_keeps_the_learned_pieces_used_most(monkeypatch):
    """When the learner's pieces do not all fit next to the coverage forms, the pieces kept
    are those the tokenizer uses most on the corpus (not the learner's own ranking, which
    cut "▁until" and "▁wait" from the Ding vocabularies)."""
    english = [target for _, target in load_ding("train")[:1000]]
    learner = {}
    learn = wordpiece_tokenizer_learner_lib.learn

    def spy(*args, **kwargs):
        learner["pieces"] = learn(*args, **kwargs)
        return learner["pieces"]

    monkeypatch.setattr(wordpiece_tokenizer_learner_lib, "learn", spy)
    tokenizer = WordPieceTokenizer.from_corpus(english, vocabulary_size=800)
    vocabulary = tokenizer.vocabulary
    characters = set("".join(english).replace(" ", ""))
    coverage = {f for c in characters for f in (c, "##" + c, tokenizer.SPACE_MARKER + c)}
    learned = [
        p
        for p in learner["pieces"]
        if p not in coverage and p not in WordPieceTokenizer.SPECIAL_TOKENS
    ]
    kept = [p for p in learned if p in vocabulary]
    dropped = [p for p in learned if p not in vocabulary]
    assert len(vocabulary) == 800 and kept and dropped

    # Usage with every learned piece available, counted by the real tokenizer.
    everything = WordPieceTokenizer(vocabulary=vocabulary + dropped)
    usage = collections.Counter(everything.tokenize(english).flat_values.numpy().tolist())
    kept_usage = [usage[everything.token_to_id(p)] for p in kept]
    dropped_usage = [usage[everything.token_to_id(p)] for p in dropped]
    assert min(kept_usage) >= max(dropped_usage)
