"""A newcomer's journey through the translator recipe's corpora (round 12): what the recipe
says about its data must hold for every corpus it trains on, not only for Ding's German.

- its help described your own files as replacing "Ding", and itself as a German→English
  trainer, while `--corpus bible_en_es` / `bible_es_en` train English / Spanish translators;
- the example translations it prints labelled the source "DE" (a Spanish verse read "DE  Y
  ACONTECIÓ después ...")."""

import pytest

from keras_seq.datasets import load_bible
from tests.recipes.recipe_modules import load_recipe
from tests.recipes.test_own_data import TINY, run_recipe


@pytest.fixture
def translate():
    return load_recipe("translate", prefix="journey12")


def test_help_names_the_bundled_corpus_that_own_files_replace(translate):
    text = " ".join(translate.make_parser().format_help().split())
    assert "instead of Ding" not in text  # --corpus may have picked the Bible
    assert "instead of the bundled corpus of --corpus" in text
    # The description (the first line of the recipe's docstring) is not German-only.
    assert not translate.make_parser().description.startswith("Train a German→English")


@pytest.mark.slow
def test_printed_examples_do_not_call_a_spanish_source_german(tmp_path):
    stdout, results = run_recipe(
        "translate",
        tmp_path / "run",
        *TINY,
        "--corpus",
        "bible_es_en",
        "--max-train-pairs",
        "100",
        "--max-eval-examples",
        "3",
        "--beam-size",
        "1",
        "--set",
        "max_length=80",
    )
    assert results["corpus"] == "bible_es_en"
    spanish = load_bible("test", source="es")[0][0]
    assert f"  SRC {spanish}" in stdout
    assert "  DE  " not in stdout
