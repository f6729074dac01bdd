import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.pipelines import (
    PipelineStatistics,
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
)
from keras_seq.text import WordTokenizer
from tests.text.corpus import GERMAN_ENGLISH, TAGGED, UNIVERSAL_TAGS

ENGLISH = [english for _, english in GERMAN_ENGLISH]


@pytest.fixture(scope="module")
def english():
    return WordTokenizer.from_corpus(ENGLISH)


@pytest.fixture(scope="module")
def words():
    return WordTokenizer.from_corpus([tokens for tokens, _ in TAGGED])


def test_language_model_shift_and_filter(english):
    texts = ["I am tired.", "Good morning!", "The street is wet because it rained."]
    dataset, statistics = language_model_dataset(
        texts, english, 2, sequence_length=6, shuffle=False
    )
    assert statistics == PipelineStatistics(num_examples=3, num_kept=2, num_dropped=1, num_empty=0)
    ids_in, ids_out = next(iter(dataset))
    tired = english.tokenize(["I am tired."]).to_list()[0]
    morning = english.tokenize(["Good morning!"]).to_list()[0]
    np.testing.assert_array_equal(ids_in, [[1] + tired, [1] + morning + [0]])
    np.testing.assert_array_equal(ids_out, [tired + [2], morning + [2, 0]])


def test_tagging_exact_values(words):
    dataset, statistics = tagging_dataset(
        TAGGED[:2] + TAGGED[4:], words, UNIVERSAL_TAGS, 3, shuffle=False
    )
    assert statistics.num_dropped == 0
    token_ids, tag_ids = next(iter(dataset))
    tag = {t: UNIVERSAL_TAGS.index(t) + 1 for t in UNIVERSAL_TAGS}
    np.testing.assert_array_equal(
        tag_ids,
        [
            [tag[t] for t in TAGGED[0][1]],
            [tag[t] for t in TAGGED[1][1]],
            [tag[t] for t in TAGGED[4][1]] + [0, 0],
        ],
    )
    np.testing.assert_array_equal(
        token_ids[2], [words.token_to_id(w) for w in TAGGED[4][0]] + [0, 0]
    )
    np.testing.assert_array_equal(token_ids.numpy() == 0, tag_ids.numpy() == 0)


def test_tagging_filter_seed_and_dataset_input(words):
    examples = TAGGED * 4
    dataset, statistics = tagging_dataset(examples, words, UNIVERSAL_TAGS, 3, max_length=5, seed=5)
    assert statistics == PipelineStatistics(20, 8, 12, 0)  # only the two 5- and 4-token sentences
    again, _ = tagging_dataset(examples, words, UNIVERSAL_TAGS, 3, max_length=5, seed=5)
    as_lists = lambda d: [[x.numpy().tolist() for x in b] for b in d]  # noqa: E731
    first_epoch = as_lists(dataset)
    assert first_epoch == as_lists(again)
    from_dataset = tf.data.Dataset.from_tensor_slices(
        (tf.ragged.constant([t for t, _ in examples]), tf.ragged.constant([g for _, g in examples]))
    )
    dataset_input, stats = tagging_dataset(
        from_dataset, words, UNIVERSAL_TAGS, 3, max_length=5, seed=5
    )
    assert stats == statistics
    assert as_lists(dataset_input) == first_epoch


def test_tagging_bad_examples(words):
    with pytest.raises(ValueError, match="entry 1 has 2 tokens but 1 tags"):
        tagging_dataset([TAGGED[0], (["a", "b"], ["X"])], words, UNIVERSAL_TAGS, 2)
    with pytest.raises(ValueError, match=r"entry 0 has tags \['NN'\] not in `tag_vocabulary`"):
        tagging_dataset([(["a"], ["NN"])], words, UNIVERSAL_TAGS, 2)
    with pytest.raises(ValueError, match="`tag_vocabulary`"):
        tagging_dataset(TAGGED, words, ["X", "X"], 2)
    with pytest.raises(TypeError, match="`word_tokenizer` must be a keras_seq WordTokenizer"):
        tagging_dataset(TAGGED, "words", UNIVERSAL_TAGS, 2)
    from_dataset = tf.data.Dataset.from_tensors((tf.constant(["a"]), tf.constant(["NN"])))
    # The counting pass reads the whole corpus, so the error comes when the pipeline is built.
    with pytest.raises(tf.errors.InvalidArgumentError, match="tag not in `tag_vocabulary`"):
        tagging_dataset(from_dataset, words, UNIVERSAL_TAGS, 2)


def test_tagging_fits_a_model(words):
    dataset, _ = tagging_dataset(TAGGED * 3, words, UNIVERSAL_TAGS, 4, seed=2)
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(words.vocabulary_size, 8, mask_zero=True),
            keras.layers.GRU(8, return_sequences=True),
            keras.layers.Dense(len(UNIVERSAL_TAGS) + 1),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_classification(english):
    examples = [
        ("I am tired.", 0),
        ("Good morning!", 1),
        ("The street is wet because it rained.", 1),
    ]
    dataset, statistics = classification_dataset(
        examples, english, 2, max_length=6, add_end=True, shuffle=False
    )
    assert statistics == PipelineStatistics(3, 2, 1, 0)
    token_ids, labels = next(iter(dataset))
    np.testing.assert_array_equal(labels, [0, 1])
    tired = english.tokenize(["I am tired."]).to_list()[0]
    np.testing.assert_array_equal(token_ids[0], tired + [2])

    from_dataset = tf.data.Dataset.from_tensor_slices(
        ([t for t, _ in examples], tf.constant([l for _, l in examples], tf.int64))
    )
    dataset, _ = classification_dataset(from_dataset, english, 4, seed=0)
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(english.vocabulary_size, 4, mask_zero=True),
            keras.layers.GRU(4),
            keras.layers.Dense(2),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0, shuffle=False).history["loss"][0])
    with pytest.raises(TypeError, match="`examples`.*entry 0"):
        classification_dataset([("a", "spam")], english, 2)
    with pytest.raises(ValueError, match="`max_length`"):
        classification_dataset(examples, english, 2, max_length=0)
