import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.text import Tokenizer, WordTokenizer
from tests.test_case import run_serialization_test
from tests.text.corpus import GERMAN_ENGLISH, TAGGED
from tests.text.serving_checks import assert_servable_ops

ENGLISH = [english for _, english in GERMAN_ENGLISH]


def decode(strings):
    return [s.decode("utf-8") for s in strings.numpy()]


def test_from_corpus_orders_by_count_then_alphabet_and_cuts():
    corpus = ["the cat sat.", "The cat ran!", "the dog"]
    # counts: the 2, cat 2, . 1, ! 1, The 1, dog 1, ran 1, sat 1
    tokenizer = WordTokenizer.from_corpus(corpus)
    assert tokenizer.vocabulary == list(Tokenizer.RESERVED_TOKENS) + [
        "cat", "the", "!", ".", "The", "dog", "ran", "sat",
    ]  # fmt: skip
    assert WordTokenizer.from_corpus(corpus, min_count=2).vocabulary[4:] == ["cat", "the"]
    assert WordTokenizer.from_corpus(corpus, max_vocabulary_size=7).vocabulary[4:] == [
        "cat",
        "the",
        "!",
    ]
    lowered = WordTokenizer.from_corpus(corpus, lowercase=True, min_count=2)
    assert lowered.vocabulary[4:] == ["the", "cat"]


def test_tokenize_strings_and_unknowns():
    tokenizer = WordTokenizer.from_corpus(ENGLISH)
    ids = tokenizer.tokenize(["He had to do it.", "He had to go (now)."], add_start=True)
    expected = [
        [1] + [tokenizer.token_to_id(w) for w in ["He", "had", "to", "do", "it", "."]],
        [1]
        + [tokenizer.token_to_id(w) for w in ["He", "had", "to"]]
        + [Tokenizer.UNKNOWN_ID] * 4
        + [tokenizer.token_to_id(".")],
    ]
    assert ids.to_list() == expected
    assert decode(tokenizer.detokenize(ids)) == [
        "He had to do it .",
        "He had to <unk> <unk> <unk> <unk> .",
    ]
    assert decode(tokenizer.detokenize([[], ids.to_list()[0]])) == ["", "He had to do it ."]
    assert decode(tokenizer.detokenize([[]])) == [""]
    assert decode(tokenizer.detokenize([])) == []


def test_pre_split_tokens_align_with_tags():
    tokenizer = WordTokenizer.from_corpus([tokens for tokens, _ in TAGGED], min_count=1)
    sentences = [tokens for tokens, _ in TAGGED] + [["New York", "12.50", "<s>", "Zyzzyva"]]
    ids = tokenizer.tokenize(sentences)
    assert ids.row_lengths().numpy().tolist() == [len(s) for s in sentences]
    # "12.50" is one token when pre-split; "<s>" in the text is not the start id.
    assert ids.to_list()[-1] == [3, tokenizer.token_to_id("12.50"), 3, 3]
    ragged = tf.ragged.constant(sentences)
    np.testing.assert_array_equal(tokenizer.tokenize(ragged).flat_values, ids.flat_values)
    for row, sentence in zip(ids.to_list(), sentences, strict=True):
        assert [tokenizer.id_to_token(i) for i in row if i != 3] == [
            t for t in sentence if t in tokenizer.vocabulary[4:]
        ]


def test_corpus_as_datasets():
    from_list = WordTokenizer.from_corpus(ENGLISH)
    texts = tf.data.Dataset.from_tensor_slices(ENGLISH)
    assert WordTokenizer.from_corpus(texts).vocabulary == from_list.vocabulary
    token_lists = [tokens for tokens, _ in TAGGED]
    tokens = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(token_lists))
    assert (
        WordTokenizer.from_corpus(tokens).vocabulary
        == WordTokenizer.from_corpus(token_lists).vocabulary
    )


def test_padding_truncation_keeps_end():
    tokenizer = WordTokenizer.from_corpus(ENGLISH)
    ids = tokenizer.tokenize(["He had to do it.", "I am"], add_end=True, sequence_length=4)
    he, had, to = (tokenizer.token_to_id(w) for w in ["He", "had", "to"])
    i, am = tokenizer.token_to_id("I"), tokenizer.token_to_id("am")
    np.testing.assert_array_equal(ids, [[he, had, to, 2], [i, am, 2, 0]])


def test_serialization_assets_and_saving(tmp_path):
    tokenizer = WordTokenizer.from_corpus(ENGLISH, sequence_length=8)
    texts = tf.constant(["He had to do it.", "Are you hungry?"])
    run_serialization_test(tokenizer, texts)

    tokenizer.save_assets(str(tmp_path))
    restored = WordTokenizer(sequence_length=8)
    restored.load_assets(str(tmp_path))
    np.testing.assert_array_equal(restored(texts), tokenizer(texts))

    inputs = keras.Input(shape=(), dtype="string")
    ids = tokenizer(inputs)
    states = keras.layers.GRU(2)(
        keras.layers.Embedding(tokenizer.vocabulary_size, 3, mask_zero=True)(ids)
    )
    model = keras.Model(inputs, [ids, states])
    expected_ids, expected_states = model(texts)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded_ids, loaded_states = keras.saving.load_model(path)(texts)
    np.testing.assert_array_equal(loaded_ids, expected_ids)
    np.testing.assert_allclose(loaded_states, expected_states, atol=1e-6)


def test_saved_model_reload_with_both_loaders(tmp_path):
    tokenizer = WordTokenizer.from_corpus(ENGLISH, sequence_length=7)
    texts = ["He had to do it.", "What time is it?", "Unseen words here"]
    expected = tokenizer(tf.constant(texts)).numpy()
    archive = keras.export.ExportArchive()
    archive.track(tokenizer)
    archive.add_endpoint(
        "serve",
        lambda strings: {"ids": tokenizer(strings)},
        input_signature=[tf.TensorSpec([None], tf.string, name="strings")],
    )
    path = str(tmp_path / "export")
    archive.write_out(path, verbose=False)
    assert "LookupTableFindV2" in assert_servable_ops(path)
    np.testing.assert_array_equal(
        tf.saved_model.load(path).serve(tf.constant(texts))["ids"], expected
    )
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], path).signature_def[
            "serve"
        ]
        ids = session.run(
            signature.outputs["ids"].name,
            {signature.inputs["strings"].name: [t.encode("utf-8") for t in texts]},
        )
    np.testing.assert_array_equal(ids, expected)


def test_bad_input():
    tokenizer = WordTokenizer.from_corpus(ENGLISH)
    with pytest.raises(TypeError, match="`strings`"):
        tokenizer.tokenize([["a", 1]])
    with pytest.raises(ValueError, match="`strings`.*rank 1.*or 2"):
        tokenizer.tokenize(tf.constant([[["a"]]]))
    with pytest.raises(ValueError, match="`min_count`"):
        WordTokenizer.from_corpus(ENGLISH, min_count=0)
    with pytest.raises(ValueError, match="`max_vocabulary_size`"):
        WordTokenizer.from_corpus(ENGLISH, max_vocabulary_size=2)
    with pytest.raises(TypeError, match="`texts_or_dataset`"):
        WordTokenizer.from_corpus(tf.data.Dataset.range(3))


def test_split_words_is_the_normalized_word_split():
    tokenizer = WordTokenizer.from_corpus(["He had to do it."], min_count=1)
    words = tokenizer.split_words(tf.constant(["He had  to do it.", " Ｈｅ’s ok!"]))
    assert [[w.decode() for w in row] for row in words.to_list()] == [
        ["He", "had", "to", "do", "it", "."],
        ["He", "’", "s", "ok", "!"],
    ]
