"""Fixtures shared by the pipeline tests."""

import pytest

from keras_seq.text import WordTokenizer
from tests.text.corpus import GERMAN_ENGLISH


@pytest.fixture(scope="module")
def tokenizers():
    """German and English word tokenizers learned on the German-English test corpus."""
    german = WordTokenizer.from_corpus([german for german, _ in GERMAN_ENGLISH])
    english = WordTokenizer.from_corpus([english for _, english in GERMAN_ENGLISH])
    return german, english
