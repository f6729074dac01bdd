"""Which version directories ModelServer loads, and when it tries a failed one again."""

import re
import shutil

import numpy as np
import pytest

from keras_seq.serving import ModelServer, ServingError
from tests.export.toy_models import TEXTS, reference_normalize


def _states(model_server):
    return [(s["version"], s["state"]) for s in model_server.status("toy")["model_version_status"]]


def _normalized(servable):
    texts = np.array([t.encode() for t in TEXTS], object)
    outputs = servable.predict("normalize", {"text": texts})
    return [s.decode() for s in outputs["normalized"]]


@pytest.fixture
def model_server(tmp_path):
    server = ModelServer.for_base_path("toy", tmp_path / "toy")
    yield server
    server.stop()


def test_zero_padded_version_directory_is_that_version(tmp_path, toy_version_dir, model_server):
    # TF Serving reads version directory names as integers: BASE/0007 is version 7.
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "0007")
    model_server.poll()
    assert _states(model_server) == [("7", "AVAILABLE")]
    servable = model_server.servable("toy", version=7)
    assert servable.path.endswith("0007")
    assert _normalized(servable) == reference_normalize(TEXTS)


def _failed_version(tmp_path, model_server, saved_model_bytes):
    """Version 1 of toy holding a broken saved_model.pb, polled once: reported END."""
    version_dir = tmp_path / "toy" / "1"
    version_dir.mkdir(parents=True)
    (version_dir / "saved_model.pb").write_bytes(saved_model_bytes)
    model_server.poll()
    assert _states(model_server) == [("1", "END")]
    return version_dir


def test_failed_version_is_loaded_once_its_directory_changes(
    tmp_path, toy_version_dir, model_server
):
    version_dir = _failed_version(tmp_path, model_server, b"half copied")
    error = model_server.status("toy")["model_version_status"][0]["status"]["error_message"]
    model_server.poll()  # unchanged: not tried again, same report
    assert model_server.status("toy")["model_version_status"][0]["status"]["error_message"] == (
        error
    )
    # The copy finishes over the half-written files: the next poll loads it.
    shutil.copytree(toy_version_dir, version_dir, dirs_exist_ok=True)
    model_server.poll()
    assert _states(model_server) == [("1", "AVAILABLE")]
    assert _normalized(model_server.servable("toy")) == reference_normalize(TEXTS)


def test_failed_version_deleted_and_exported_again_is_loaded(
    tmp_path, toy_version_dir, model_server
):
    version_dir = _failed_version(tmp_path, model_server, b"not a SavedModel")
    shutil.rmtree(version_dir)
    model_server.poll()  # a failed version whose directory is gone is forgotten
    with pytest.raises(ServingError, match="Could not find any versions of model toy") as info:
        model_server.status("toy")
    assert info.value.status_code == 404
    shutil.copytree(toy_version_dir, version_dir)
    model_server.poll()
    assert _states(model_server) == [("1", "AVAILABLE")]
    assert _normalized(model_server.servable("toy")) == reference_normalize(TEXTS)


@pytest.mark.parametrize(
    "configs, message",
    [
        (
            'config { name: "toy" base_path: "/a" } config { name: "toy" base_path: "/b" }',
            "model names must be unique, got ['toy'] more than once",
        ),
        ('config { name: "toy" }', "config 0 ('toy') needs both a name and a base_path"),
        ('config { base_path: "/a" }', "config 0 ('') needs both a name and a base_path"),
        (
            'config { name: "toy" base_path: "/a" model_platform: "pytorch" }',
            "model 'toy' has model_platform 'pytorch'",
        ),
    ],
)
def test_config_tf_serving_refuses_is_a_value_error(tmp_path, configs, message):
    config_file = tmp_path / "models.config"
    config_file.write_text("model_config_list { " + configs + " }\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        ModelServer.from_config_file(config_file)


def test_a_directory_number_beyond_int64_is_no_version(tmp_path, toy_version_dir, model_server):
    # TF Serving parses names as int64: 18446744073709551616 is skipped, not served.
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "1")
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "18446744073709551616")
    model_server.poll()
    assert _states(model_server) == [("1", "AVAILABLE")]


def test_a_base_path_without_versions_is_named_once(tmp_path, toy_version_dir, caplog):
    # The usual slip: the base path is the version directory itself.
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "1")
    server = ModelServer.for_base_path("toy", tmp_path / "toy" / "1")
    try:
        with caplog.at_level("WARNING", logger="keras_seq.serving.model_server"):
            server.poll()
            server.poll()
        warnings = [r.getMessage() for r in caplog.records if "No versions" in r.getMessage()]
        assert len(warnings) == 1
        assert "No versions of servable toy found under base path" in warnings[0]
        assert "point the base path at its parent directory" in warnings[0]
    finally:
        server.stop()


def test_a_base_path_that_cannot_be_listed_is_named_once_until_it_can(
    tmp_path, toy_version_dir, caplog
):
    # Each poll (every second under `keras-seq serve`) logged "cannot list ..." again.
    base_path = tmp_path / "toy"
    server = ModelServer.for_base_path("toy", base_path)
    try:
        with caplog.at_level("WARNING", logger="keras_seq.serving.model_server"):

            def warnings():
                return [r.getMessage() for r in caplog.records if "cannot list" in r.getMessage()]

            server.poll()
            server.poll()
            assert len(warnings()) == 1
            assert str(base_path) in warnings()[0] and "No such file" in warnings()[0]
            shutil.copytree(toy_version_dir, base_path / "1")
            server.poll()
            assert _states(server) == [("1", "AVAILABLE")]
            shutil.rmtree(base_path)
            server.poll()  # listable again in between: a new failure is said again
            server.poll()
            assert len(warnings()) == 2
    finally:
        server.stop()
