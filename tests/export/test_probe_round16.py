"""Round 16 of the export audit: with no ``version`` given, `export` and `next_version`
refuse to go past TF Serving's highest version, 2**63 - 1. One more is no int64: `export`
wrote a directory ``9223372036854775808`` that TF Serving (safe_strto64) and
``version_directories`` ignore, so the export succeeded and was never served."""

import os

import pytest

from keras_seq.export import export, next_version
from keras_seq.export.standalone_checker import version_directories
from tests.export.toy_models import make_classifier

MAX_VERSION = 2**63 - 1


def test_next_version_stops_at_the_int64_maximum(tmp_path):
    (tmp_path / str(MAX_VERSION - 1)).mkdir()
    assert next_version(tmp_path) == MAX_VERSION
    (tmp_path / str(MAX_VERSION)).mkdir()
    with pytest.raises(ValueError, match=r"2\*\*63 - 1"):
        next_version(tmp_path)


def test_export_without_a_version_after_the_maximum_writes_nothing(tmp_path):
    model_dir = tmp_path / "toy"
    (model_dir / str(MAX_VERSION)).mkdir(parents=True)
    with pytest.raises(ValueError, match="no next one"):
        export(make_classifier(seed=1), tmp_path, name="toy")
    # Nothing left behind: no unservable 2**63 directory, no temporary one.
    assert os.listdir(model_dir) == [str(MAX_VERSION)]
    assert version_directories(model_dir) == {MAX_VERSION: str(MAX_VERSION)}
