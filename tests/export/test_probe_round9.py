"""Round 9 of the export audit: two exports of the same version racing to their rename."""

import os

import pytest

from keras_seq.export import export
from tests.export.test_probe_round6 import _model


def test_an_export_losing_the_race_to_its_version_raises_file_exists(tmp_path, monkeypatch):
    # Both exports pass the "already exists" check; the other one renames its version into
    # place first. The loser's rename fails with ENOTEMPTY: the documented FileExistsError
    # (what a caller retrying with the next version catches), and nothing of it stays.
    real_rename = os.rename

    def rename_after_the_other_export(source, target):
        os.makedirs(os.path.join(target, "variables"))
        with open(os.path.join(target, "saved_model.pb"), "wb") as f:
            f.write(b"the other export")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename_after_the_other_export)
    with pytest.raises(FileExistsError, match="version 1 of 'toy' appeared at"):
        export(_model(), tmp_path, name="toy", version=1)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "toy")) == ["1"]
    assert (tmp_path / "toy" / "1" / "saved_model.pb").read_bytes() == b"the other export"
