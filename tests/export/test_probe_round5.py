"""Export probe, round 5: version directories named with leading zeros (TF Serving reads
``0007`` as version 7) and numbers beyond int64."""

import os
import shutil

import pytest

from keras_seq.export import check_export, export
from keras_seq.export.standalone_checker import version_directories, version_dirs
from tests.export.toy_models import make_classifier


@pytest.fixture(scope="module")
def classifier():
    return make_classifier()


def test_version_directories_read_names_as_tf_serving_does(tmp_path):
    for name in ["0007", "7", "012", "3", "18446744073709551616", "v4", "x"]:
        os.makedirs(tmp_path / name)
    assert version_directories(tmp_path) == {7: "7", 12: "012", 3: "3"}
    assert version_dirs(str(tmp_path)) == [str(tmp_path / n) for n in ["012", "7", "3"]]


def test_export_refuses_a_version_present_under_a_padded_name(tmp_path, classifier):
    os.makedirs(tmp_path / "toy" / "0007")
    with pytest.raises(FileExistsError, match="version 7 of 'toy' already exists at .*0007"):
        export(classifier, tmp_path, name="toy", version=7)
    assert sorted(os.listdir(tmp_path / "toy")) == ["0007"]
    assert os.path.basename(export(classifier, tmp_path, name="toy")) == "8"


def test_checker_checks_a_padded_version_directory(tmp_path, classifier):
    path = export(classifier, tmp_path, name="toy", version=7)
    shutil.move(path, tmp_path / "toy" / "0007")
    result = check_export(str(tmp_path / "toy"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "0007" in result.stdout
