"""Round 14 probes of the export (models side): a NumPy integer version is taken as the int it
is (it was refused as "version must be a positive int"), and other numbers are still refused."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.export import export
from keras_seq.export.exporter import next_version
from tests.export.test_export import TEXT_SPEC, DenseEcho


def _echo(text):
    return {"out": tf.strings.join([text, "!"])}


def _model():
    model = DenseEcho((_echo, TEXT_SPEC))
    model.serving_signatures = lambda: {"serving_default": (_echo, TEXT_SPEC)}
    model.serving_examples = lambda: {"serving_default": {"text": ["a"]}}
    model(tf.zeros([1, 3]))
    return model


def test_a_numpy_integer_version_is_the_int_it_holds(tmp_path):
    model = _model()
    listed = np.array([1, 2, 6])  # e.g. the versions of another directory
    path = export(model, tmp_path, name="echo", version=listed.max() + 1)
    assert path == os.path.join(tmp_path, "echo", "7")
    assert os.listdir(tmp_path / "echo") == ["7"]
    assert next_version(tmp_path / "echo") == 8
    with pytest.raises(FileExistsError, match="version 7"):
        export(model, tmp_path, name="echo", version=np.uint16(7))


@pytest.mark.parametrize("version", [np.int64(0), np.uint64(2**63), np.float64(3.0), np.bool_(1)])
def test_numpy_versions_outside_int64_or_not_integers_are_refused(tmp_path, version):
    with pytest.raises(ValueError, match="version must be a positive int"):
        export(_model(), tmp_path, name="echo", version=version)
    assert os.listdir(tmp_path) == []
