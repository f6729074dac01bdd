"""Exporter defects found by probing: names, versions and examples TF Serving cannot use."""

import os

import pytest
import tensorflow as tf

from keras_seq.export import export, next_version
from tests.export.test_export import TEXT_SPEC, DenseEcho


def _echo(text):
    return {"out": tf.strings.join([text, "!"])}


def _echo_model(examples):
    model = DenseEcho((_echo, TEXT_SPEC))
    model.serving_examples = lambda: examples
    model(tf.zeros([1, 3]))
    return model


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_names_are_refused_before_anything_is_written(tmp_path, name):
    # ".." matched the name pattern and exported into the parent of base_dir.
    base = tmp_path / "models"
    base.mkdir()
    with pytest.raises(ValueError, match=r"not \. or \.\."):
        export(_echo_model({"serving_default": {"text": ["a"]}}), base, name=name)
    assert sorted(os.listdir(tmp_path)) == ["models"]
    assert os.listdir(base) == []


def test_versions_beyond_int64_are_refused_and_ignored(tmp_path):
    # TF Serving parses version directories as int64 and skips names that overflow.
    model = _echo_model({"serving_default": {"text": ["a"]}})
    with pytest.raises(ValueError, match=r"version must be a positive int <= 2\*\*63 - 1"):
        export(model, tmp_path, name="echo", version=2**63)
    assert os.listdir(tmp_path) == []  # echo/, made by the export, is taken back
    (tmp_path / "echo" / "7").mkdir(parents=True)
    (tmp_path / "echo" / str(2**64)).mkdir()
    assert next_version(tmp_path / "echo") == 8


@pytest.mark.parametrize(
    "example, message",
    [
        ("one string", r"\['text'\] has shape \(\), which does not fit .* \(None,\)"),
        ([["a"], ["b"]], r"\['text'\] has shape \(2, 1\), which does not fit"),
        ([1, 2], r"examples\['serving_default'\]\['text'\] is not a string array"),
    ],
    ids=["scalar", "matrix", "ints"],
)
def test_examples_that_do_not_fit_the_signature_publish_no_version(tmp_path, example, message):
    # A scalar example used to be exported: its warm-up record then fails in TF Serving's
    # session ("Cannot feed value of shape ()"), which refuses the whole version at load.
    model = _echo_model({"serving_default": {"text": example}})
    with pytest.raises(ValueError, match=message):
        export(model, tmp_path, name="echo")
    assert os.listdir(tmp_path) == []


def test_examples_missing_a_required_input_are_refused(tmp_path):
    def join(text, suffix):
        return {"out": tf.strings.join([text, suffix])}

    specs = [*TEXT_SPEC, tf.TensorSpec([None], tf.string, name="suffix")]
    model = DenseEcho((join, specs))
    model.serving_examples = lambda: {"serving_default": {"text": ["a"]}}
    model(tf.zeros([1, 3]))
    with pytest.raises(ValueError, match=r"lacks inputs \['suffix'\], which have no default"):
        export(model, tmp_path, name="join")
    assert os.listdir(tmp_path) == []
