"""Round 6 of the export audit: names with a line break, a file where the model directory goes."""

import os

import pytest
import tensorflow as tf

from keras_seq.export import export
from tests.export.test_export import TEXT_SPEC, DenseEcho


def _echo(text):
    return {"out": tf.strings.join([text, "!"])}


def _model(signature_name="serving_default"):
    model = DenseEcho((_echo, TEXT_SPEC))
    model.serving_signatures = lambda: {signature_name: (_echo, TEXT_SPEC)}
    model.serving_examples = lambda: {signature_name: {"text": ["a"]}}
    model(tf.zeros([1, 3]))
    return model


@pytest.mark.parametrize("name", ["toy\n", "toy\r\n", "\ntoy"])
def test_a_model_name_with_a_line_break_is_refused_before_anything_is_written(tmp_path, name):
    # The pattern ended in "$", which also matches before a trailing "\n": export wrote
    # BASE/"toy\n"/1, a model directory no configuration or REST path names as "toy".
    with pytest.raises(ValueError, match="name must be letters, digits"):
        export(_model(), tmp_path, name=name)
    assert os.listdir(tmp_path) == []


def test_a_signature_name_with_a_trailing_line_break_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a valid signature key"):
        export(_model("serving_default\n"), tmp_path, name="echo")
    assert not os.path.exists(tmp_path / "echo" / "1")
    assert os.path.basename(export(_model(), tmp_path, name="echo")) == "1"


def test_a_file_in_place_of_the_model_directory_is_named_clearly(tmp_path):
    # os.makedirs raised "FileExistsError: [Errno 17] File exists", the error export
    # documents for a version that already exists.
    (tmp_path / "echo").write_text("not a directory")
    with pytest.raises(NotADirectoryError, match="exists and is not a directory.*'echo'"):
        export(_model(), tmp_path, name="echo")
    assert (tmp_path / "echo").read_text() == "not a directory"
    assert os.listdir(tmp_path) == ["echo"]
