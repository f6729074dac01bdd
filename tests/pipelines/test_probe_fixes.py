"""Bad inputs that once hung a pipeline, wrapped labels or made tag ids run-dependent."""

import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.pipelines import (
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
    translation_dataset,
)
from keras_seq.text import WordTokenizer
from tests.text.corpus import TAGGED, UNIVERSAL_TAGS


def test_infinite_datasets_raise_instead_of_hanging(tokenizers):
    # The counting pass read a `.repeat()`ed dataset forever.
    german, english = tokenizers
    texts = tf.data.Dataset.from_tensor_slices(["I am tired."]).repeat()
    with pytest.raises(ValueError, match="`texts` is an infinite tf.data.Dataset"):
        language_model_dataset(texts, english, 2, 8)
    pairs = tf.data.Dataset.zip((texts, texts))
    with pytest.raises(ValueError, match="`pairs` is an infinite"):
        translation_dataset(pairs, german, english, 2)
    labelled = tf.data.Dataset.zip((texts, tf.data.Dataset.range(1).repeat()))
    with pytest.raises(ValueError, match="`examples` is an infinite"):
        classification_dataset(labelled, english, 2)
    sentences = tf.data.Dataset.from_tensors((tf.constant(["He"]), tf.constant(["PRON"])))
    with pytest.raises(ValueError, match="`examples` is an infinite"):
        tagging_dataset(sentences.repeat(), english, UNIVERSAL_TAGS, 2)
    # A finite repeat is a corpus like any other: 3 copies, 2 batches.
    dataset, statistics = language_model_dataset(texts.take(1).repeat(3), english, 2, 8)
    assert (statistics.num_kept, int(dataset.cardinality())) == (3, 2)


def test_classification_labels_outside_int32_class_ids_raise(tokenizers):
    # Before: 2**32 + 5 came out as the label 5, and -1 went through to the loss.
    _, english = tokenizers
    for label in (-1, 2**31, 2**32 + 5):
        with pytest.raises(ValueError, match=f"entry 1 has the label {label}; labels are"):
            classification_dataset([("I am tired.", 0), ("Good.", label)], english, 2)
    texts = ["I am tired.", "Good morning!"]
    for labels in ([2**32 + 5, 1], [1, -1]):
        dataset = tf.data.Dataset.from_tensor_slices((texts, tf.constant(labels, tf.int64)))
        with pytest.raises(tf.errors.InvalidArgumentError, match="label outside"):
            classification_dataset(dataset, english, 2)
    big = tf.constant([2**64 - 1, 1], tf.uint64)  # -1 once cast to int64
    with pytest.raises(tf.errors.InvalidArgumentError, match="label outside"):
        classification_dataset(tf.data.Dataset.from_tensor_slices((texts, big)), english, 2)
    # In range, any integer dtype gives the same int32 labels.
    for dtype in (tf.int64, tf.uint8):
        dataset = tf.data.Dataset.from_tensor_slices((texts, tf.constant([0, 200], dtype)))
        batches, _ = classification_dataset(dataset, english, 2, shuffle=False)
        labels = next(iter(batches))[1]
        assert labels.dtype == tf.int32
        np.testing.assert_array_equal(labels, [0, 200])


def test_tag_vocabulary_must_be_ordered(tokenizers):
    # A set's order, hence every tag id, changed between processes (PYTHONHASHSEED).
    words = WordTokenizer.from_corpus([tokens for tokens, _ in TAGGED])
    for tags in (set(UNIVERSAL_TAGS), {tag: 0 for tag in UNIVERSAL_TAGS}, ["", "X"]):
        with pytest.raises(ValueError, match="`tag_vocabulary` must be a non-empty list"):
            tagging_dataset(TAGGED, words, tags, 2)
    dataset, _ = tagging_dataset(TAGGED[4:5], words, tuple(UNIVERSAL_TAGS), 1)
    tag_ids = next(iter(dataset))[1].numpy().tolist()
    assert tag_ids == [[UNIVERSAL_TAGS.index(tag) + 1 for tag in TAGGED[4][1]]]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(shuffle_buffer_size=0), ValueError, "`shuffle_buffer_size` must be a positive int"),
        (dict(shuffle_buffer_size=-3), ValueError, "`shuffle_buffer_size`"),
        (dict(shuffle_buffer_size=2.5), ValueError, "`shuffle_buffer_size`"),
        (dict(seed="x"), TypeError, "`seed` must be an int or None, got 'x'"),
        (dict(seed=1.5), TypeError, "`seed`"),
        (dict(bucket_boundaries=3), ValueError, "`bucket_boundaries` must be None"),
        (dict(bucket_boundaries=iter([3, 5])), ValueError, "`bucket_boundaries` must be None"),
    ],
)
def test_shuffle_and_bucket_arguments_are_checked_first(tokenizers, kwargs, error, message):
    # Before: 0 silently meant "whole corpus"; the others raised raw TensorFlow or Python
    # errors, and only after the whole corpus had been tokenized and counted.
    german, english = tokenizers
    counted = []
    texts = tf.data.Dataset.from_tensor_slices(["I am tired."]).map(
        lambda text: tf.py_function(lambda t: counted.append(1) or t, [text], tf.string)
    )
    texts = texts.map(lambda text: tf.ensure_shape(text, []))
    with pytest.raises(error, match=message):
        language_model_dataset(texts, english, 2, 8, **kwargs)
    assert counted == []
    for build in (
        lambda: classification_dataset([("I am tired.", 1)], english, 2, **kwargs),
        lambda: translation_dataset([("Ich.", "I.")], german, english, 2, **kwargs),
        lambda: tagging_dataset([(["He"], ["X"])], english, ["X"], 2, **kwargs),
    ):
        with pytest.raises(error, match=message):
            build()


def test_length_limits_beyond_int32_keep_everything(tokenizers):
    # Before: a limit of 2**31 or more (sys.maxsize as "no limit") dropped every example.
    german, english = tokenizers
    words = WordTokenizer.from_corpus([tokens for tokens, _ in TAGGED])
    for limit in (2**31, sys.maxsize):
        _, statistics = classification_dataset(
            [("I am tired.", 1), ("Good morning!", 0)], english, 2, max_length=limit
        )
        assert statistics.num_kept == 2
    limit = sys.maxsize
    _, statistics = language_model_dataset(["I am tired."], english, 2, limit)
    assert statistics.num_kept == 1
    _, statistics = translation_dataset(
        [("Ich bin müde.", "I am tired.")],
        german,
        english,
        2,
        max_source_length=limit,
        max_target_length=limit,
    )
    assert statistics.num_kept == 1
    _, statistics = tagging_dataset(TAGGED, words, UNIVERSAL_TAGS, 2, max_length=limit)
    assert statistics.num_kept == len(TAGGED)
    with pytest.raises(ValueError, match=r"`bucket_boundaries` .*at most 2\*\*31 - 1"):
        classification_dataset([("I am tired.", 1)], english, 2, bucket_boundaries=[2**31])
