"""Round 14 of the export audit: a failed export takes back the directories it made."""

import os

import pytest
import tensorflow as tf

from keras_seq.export import export
from tests.export.test_export import TEXT_SPEC, DenseEcho


def _echo(text):
    return {"out": tf.strings.join([text, "!"])}


def _model(example=("a",)):
    model = DenseEcho((_echo, TEXT_SPEC))
    model.serving_signatures = lambda: {"serving_default": (_echo, TEXT_SPEC)}
    model.serving_examples = lambda: {"serving_default": {"text": list(example)}}
    model(tf.zeros([1, 3]))
    return model


BAD_EXAMPLE = [["a"], ["b"]]  # refused after the SavedModel is written: "has shape (2, 1)"


def test_a_failed_export_removes_the_directories_it_made(tmp_path):
    # The export used to leave base/ and base/echo/ behind, empty, after a failure its
    # docstring promised "leaves nothing behind".
    base = tmp_path / "a" / "b"
    with pytest.raises(ValueError, match=r"has shape \(2, 1\)"):
        export(_model(BAD_EXAMPLE), base, name="echo")
    assert os.listdir(tmp_path) == []
    # A version refused before anything is written: the same.
    with pytest.raises(ValueError, match="version must be a positive int"):
        export(_model(), base, name="echo", version=0)
    assert os.listdir(tmp_path) == []
    # Then a good export makes them all.
    assert export(_model(), base, name="echo") == os.path.join(base, "echo", "1")
    assert sorted(os.listdir(base / "echo")) == ["1"]


def test_a_failed_export_keeps_the_directories_that_were_there(tmp_path):
    (tmp_path / "echo").mkdir()
    with pytest.raises(ValueError, match=r"has shape \(2, 1\)"):
        export(_model(BAD_EXAMPLE), tmp_path, name="echo")
    assert os.listdir(tmp_path) == ["echo"] and os.listdir(tmp_path / "echo") == []
    # base/ was there, base/other/ was made: only other/ goes.
    with pytest.raises(ValueError, match=r"has shape \(2, 1\)"):
        export(_model(BAD_EXAMPLE), tmp_path, name="other")
    assert os.listdir(tmp_path) == ["echo"]


def test_a_made_directory_that_is_no_longer_empty_is_kept(tmp_path, monkeypatch):
    # Another job writing into base/echo while this export fails: its file stays, and so do
    # the directories holding it.
    import keras_seq.export.exporter as exporter

    base = tmp_path / "base"
    real_resolve = exporter._resolve_version

    def resolve_while_another_job_writes(model_dir, version):
        (base / "echo" / "notes.txt").write_text("another job's")
        return real_resolve(model_dir, version)

    monkeypatch.setattr(exporter, "_resolve_version", resolve_while_another_job_writes)
    with pytest.raises(ValueError, match="version must be a positive int"):
        export(_model(), base, name="echo", version=-1)
    assert os.listdir(base / "echo") == ["notes.txt"]
