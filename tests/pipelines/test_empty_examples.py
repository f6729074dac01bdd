"""Empty texts (no ids) are dropped by every pipeline and counted, so no batch is [B, 0]."""

import keras
import numpy as np

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.models import Seq2Seq, SequenceClassifier
from keras_seq.pipelines import (
    PipelineStatistics,
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
    translation_dataset,
)
from keras_seq.text import WordTokenizer
from tests.pipelines.helpers import ids
from tests.text.corpus import TAGGED, UNIVERSAL_TAGS

EMPTY_TEXTS = ["", "   ", "\t \n"]


def batch_rows(dataset, part):
    """Every row of ``part(batch)`` over the dataset, padding removed."""
    return [[i for i in row if i != 0] for batch in dataset for row in part(batch).numpy()]


def test_classification_drops_and_counts_empty_texts(tokenizers):
    _, english = tokenizers
    # Such texts give the zero-length rows that made [1, 0] batches.
    assert [ids(english, text) for text in EMPTY_TEXTS] == [[], [], []]
    examples = [("I am tired.", 0)] + [(t, 1) for t in EMPTY_TEXTS] + [("Good morning!", 1)]
    dataset, statistics = classification_dataset(examples, english, 1, shuffle=False)
    assert statistics == PipelineStatistics(5, 2, 3, 3)
    assert [tuple(x.shape) for x, _ in dataset] == [(1, 4), (1, 3)]  # "." is a token
    assert batch_rows(dataset, lambda b: b[0]) == [
        ids(english, "I am tired."),
        ids(english, "Good morning!"),
    ]
    assert [int(y[0]) for _, y in dataset] == [0, 1]

    # Empty whatever `<s>`/`</s>`; an empty text over `max_length` counts as empty.
    _, statistics = classification_dataset(examples, english, 1, add_start=True, add_end=True)
    assert statistics == PipelineStatistics(5, 2, 3, 3)
    _, statistics = classification_dataset(
        examples, english, 1, max_length=1, add_start=True, add_end=True
    )
    assert statistics == PipelineStatistics(5, 0, 5, 3)


def test_classification_fits_with_empty_texts(tokenizers):
    # The model of /tmp/hunt/bug9.py: before, its encoder raised on the [1, 0] batch mid-epoch.
    _, english = tokenizers
    keras.utils.set_random_seed(0)
    examples = [("I am tired.", 1), ("", 0), ("Good morning!", 0), ("  ", 1)]
    dataset, _ = classification_dataset(examples, english, 1, shuffle=False)
    model = SequenceClassifier(["no", "yes"], embedding_dim=4, units=4, tokenizer=english)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_language_model_drops_and_counts_empty_texts(tokenizers):
    _, english = tokenizers
    texts = ["I am tired.", *EMPTY_TEXTS]
    dataset, statistics = language_model_dataset(texts, english, 1, 8, shuffle=False)
    assert statistics == PipelineStatistics(4, 1, 3, 3)
    tired = ids(english, "I am tired.")
    assert batch_rows(dataset, lambda b: b[0]) == [[1] + tired]
    assert batch_rows(dataset, lambda b: b[1]) == [tired + [2]]


def test_tagging_drops_and_counts_empty_sentences(tokenizers):
    words = WordTokenizer.from_corpus([tokens for tokens, _ in TAGGED])
    examples = [([], []), TAGGED[4], ([], [])]
    dataset, statistics = tagging_dataset(examples, words, UNIVERSAL_TAGS, 1, shuffle=False)
    assert statistics == PipelineStatistics(3, 1, 2, 2)
    assert [tuple(x.shape) for x, _ in dataset] == [(1, 4)]
    tag_ids = [UNIVERSAL_TAGS.index(tag) + 1 for tag in TAGGED[4][1]]
    assert batch_rows(dataset, lambda b: b[1]) == [tag_ids]


def test_translation_drops_and_counts_empty_sides(tokenizers):
    german, english = tokenizers
    pairs = [
        ("Ich bin müde.", "I am tired."),
        ("", "He had to do it."),
        ("Er hat", " "),
        ("  ", ""),
        ("Hast du Hunger?", "Are you hungry?"),
    ]
    dataset, statistics = translation_dataset(pairs, german, english, 1, shuffle=False)
    assert statistics == PipelineStatistics(5, 2, 3, 3)
    assert batch_rows(dataset, lambda b: b[0][0]) == [
        ids(german, "Ich bin müde."),
        ids(german, "Hast du Hunger?"),
    ]
    assert batch_rows(dataset, lambda b: b[1]) == [
        ids(english, "I am tired.") + [2],
        ids(english, "Are you hungry?") + [2],
    ]


def test_translation_fits_with_empty_sides(tokenizers):
    german, english = tokenizers
    keras.utils.set_random_seed(0)
    pairs = [("Ich bin müde.", "I am tired."), ("", "Good morning!"), ("Guten Morgen!", "")]
    dataset, _ = translation_dataset(pairs, german, english, 1, shuffle=False)
    assert all(min(source.shape) > 0 for (source, _), _ in dataset)
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=german, target_tokenizer=english)
    model.compile("adam", MaskedSequenceLoss())
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
