"""Recipe probe round 16: a configuration value the recipe's model refuses is refused by the
recipe before it writes anything (an odd ``units`` of the translator, whose bidirectional
encoder has ``units // 2`` per direction, failed in `Seq2Seq` with a traceback once the data
was loaded and --out/backup written), as is a classifier ``max_length`` above 2**31 - 1,
which `SequenceClassifier` refuses (it failed the same way, after vocabulary.txt was
written)."""

import pytest

from tests.recipes.recipe_modules import load_recipe


@pytest.mark.parametrize("units", [7, 129])
def test_translate_refuses_an_odd_units_before_writing_anything(tmp_path, units):
    translate = load_recipe("translate", "recipes_round16")
    out = tmp_path / "out"
    argv = ["--quick", "--out", str(out), "--max-train-pairs", "20", "--epochs", "1"]
    argv += ["--set", f"units={units}", "--set", "tokenizer_sentences=20"]
    with pytest.raises(SystemExit) as raised:
        translate.main(argv)
    assert str(raised.value) == (
        f"units must be even (the bidirectional encoder has units // 2 per direction), got {units}"
    )
    assert not out.exists()


def test_translate_takes_an_even_units():
    translate = load_recipe("translate", "recipes_round16")
    common = load_recipe("_common", "recipes_round16")
    config = dict(translate.CONFIGS["quick"], units=130)
    common._check_values(config, translate.CONFIGS, translate.LIMITS)  # no exit
    assert translate.LIMITS["units"](130) is None
    assert translate.LIMITS["units"](131) is not None


def test_a_function_limit_names_the_entry_and_its_value():
    common = load_recipe("_common", "recipes_round16")
    configs = {"quick": {"units": 8, "pooling": "mean"}}

    def positive_power_of_two(value):
        return None if value & (value - 1) == 0 else "must be a power of 2"

    common._check_values({"units": 8, "pooling": "mean"}, configs, {"units": positive_power_of_two})
    with pytest.raises(SystemExit, match=r"^units must be a power of 2, got 12$"):
        common._check_values(
            {"units": 12, "pooling": "mean"}, configs, {"units": positive_power_of_two}
        )


def test_classifier_refuses_a_max_length_beyond_int32_before_writing_anything(tmp_path):
    classifier = load_recipe("classifier", "recipes_round16")
    out = tmp_path / "out"
    argv = ["--quick", "--out", str(out), "--max-train-examples", "20", "--epochs", "1"]
    argv += ["--set", "max_length=3000000000", "--set", "units=4", "--set", "embedding_dim=4"]
    with pytest.raises(SystemExit) as raised:
        classifier.main(argv)
    assert str(raised.value) == (
        "max_length must be <= 2**31 - 1 (a length of the model's int32 graphs), got 3000000000"
    )
    assert not out.exists()


def test_classifier_takes_the_largest_int32_max_length():
    classifier = load_recipe("classifier", "recipes_round16")
    common = load_recipe("_common", "recipes_round16")
    config = dict(classifier.CONFIGS["quick"], max_length=2**31 - 1)
    common._check_values(config, classifier.CONFIGS, classifier.LIMITS)  # no exit
    with pytest.raises(SystemExit, match=r"got 2147483648$"):
        common._check_values(dict(config, max_length=2**31), classifier.CONFIGS, classifier.LIMITS)
