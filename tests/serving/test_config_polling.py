"""`keras-seq serve --model_config_file_poll_wait_seconds`: the models.config re-read while
serving (TF Serving's PollFilesystemAndReloadConfig + ServerCore::ReloadConfig), against a
real HTTP server on 127.0.0.1 and real SavedModels."""

import logging
import os
import shutil

import numpy as np
import pytest
import requests

from keras_seq import cli
from keras_seq.serving import ModelServer, ServingError
from tests.export.toy_models import TEXTS
from tests.serving.local_server import ServerThread, wait_for

LOGGER = "keras_seq.serving.model_server"
CONFIG_POLL = 0.1  # seconds between reads of models.config
TIMEOUT = 30  # seconds any awaited change may take (a load takes about one)


@pytest.fixture(scope="module")
def base(tmp_path_factory, toy_version_dir):
    """BASE/toy/{1,2} and BASE/other/1, copies of the toy export; never altered."""
    base = tmp_path_factory.mktemp("config_polling")
    for model, version in [("toy", 1), ("toy", 2), ("other", 1)]:
        shutil.copytree(toy_version_dir, base / model / str(version))
    return base


def _model(name, base_path, policy="specific { versions: 1 }", labels=None):
    labels = "".join(
        f'    version_labels {{ key: "{label}" value: {version} }}\n'
        for label, version in (labels or {}).items()
    )
    return (
        "  config {\n"
        f'    name: "{name}"\n'
        f'    base_path: "{base_path}"\n'
        '    model_platform: "tensorflow"\n'
        f"    model_version_policy {{ {policy} }}\n"
        f"{labels}"
        "  }\n"
    )


def _write(path, *models, text=None):
    """Replaces ``path`` at once (written aside, then renamed), as docs/serving.md advises."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(
        text if text is not None else "model_config_list {\n" + "".join(models) + "}\n"
    )
    os.replace(partial, path)


@pytest.fixture
def serve(tmp_path):
    """serve(*models) -> (config file, ModelServer, ServerThread), the file polled."""
    servers = []

    def serve(*models):
        config_file = tmp_path / "models.config"
        _write(config_file, *models)
        model_server = ModelServer.from_config_file(
            str(config_file), poll_interval=0.2, config_poll_interval=CONFIG_POLL
        )
        server = ServerThread(model_server, num_threads=2)
        servers.append(server.__enter__())
        return config_file, model_server, server

    yield serve
    for server in servers:
        server.__exit__(None, None, None)


def _get(server, path):
    return requests.get(f"{server.url}/v1/models/{path}", timeout=TIMEOUT)


def _predict(server, path):
    body = {"instances": TEXTS[:2]}
    return requests.post(f"{server.url}/v1/models/{path}:predict", json=body, timeout=TIMEOUT)


def _states(server, name):
    response = _get(server, name)
    if response.status_code != 200:
        return response.status_code
    return [(s["version"], s["state"]) for s in response.json()["model_version_status"]]


def _served_version(server, path):
    """The version the metadata of ``path`` (e.g. toy/labels/canary) names, or the status."""
    response = _get(server, f"{path}/metadata")
    if response.status_code != 200:
        return response.status_code
    return response.json()["model_spec"]["version"]


def _logged(caplog, text):
    return lambda: any(text in record.getMessage() for record in caplog.records)


def test_added_model_is_served_and_removed_one_answers_404(serve, base):
    config_file, model_server, server = serve(_model("toy", base / "toy"))
    assert _predict(server, "other").status_code == 404
    _write(config_file, _model("toy", base / "toy"), _model("other", base / "other"))
    assert wait_for(lambda: _states(server, "other") == [("1", "AVAILABLE")], TIMEOUT)
    assert _predict(server, "other").status_code == 200
    held = model_server.servable("toy")  # as a request running on toy/1 holds it

    _write(config_file, _model("other", base / "other"))
    assert wait_for(lambda: _predict(server, "toy").status_code == 404, TIMEOUT)
    response = _predict(server, "toy")
    assert response.json() == {"error": "Servable not found for request: Latest(toy)"}
    assert _get(server, "toy/metadata").status_code == 404
    assert _get(server, "toy/versions/1/metadata").status_code == 404
    # The status keeps the unloaded version, END with OK, as TF Serving's state monitor does.
    assert _states(server, "toy") == [("1", "END")]
    assert _predict(server, "other").status_code == 200
    # What already held the unloaded version finishes with it.
    outputs = held.predict(None, {"text": np.array([t.encode() for t in TEXTS[:2]], object)})
    assert len(outputs["label"]) == 2

    # Listed again, it is loaded again.
    _write(config_file, _model("other", base / "other"), _model("toy", base / "toy"))
    assert wait_for(lambda: _predict(server, "toy").status_code == 200, TIMEOUT)
    assert _states(server, "toy") == [("1", "AVAILABLE")]


def test_changed_version_policy_and_labels_take_effect(serve, base):
    config_file, _, server = serve(_model("toy", base / "toy", labels={"stable": 1}))
    assert _states(server, "toy") == [("1", "AVAILABLE")]
    assert _get(server, "toy/labels/canary/metadata").status_code == 400  # unknown label

    # A new label may name a version not loaded yet (as with TF Serving's
    # --allow_version_labels_for_unavailable_models, which the docs' command line sets).
    both = "specific { versions: [1, 2] }"
    _write(config_file, _model("toy", base / "toy", both, {"stable": 1, "canary": 2}))
    assert wait_for(lambda: _served_version(server, "toy/labels/canary") == "2", TIMEOUT)
    assert _states(server, "toy") == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
    assert _served_version(server, "toy/labels/stable") == "1"

    # Version 2 is loaded: the stable label may move to it.
    _write(config_file, _model("toy", base / "toy", both, {"stable": 2}))
    assert wait_for(lambda: _served_version(server, "toy/labels/stable") == "2", TIMEOUT)
    assert _get(server, "toy/labels/canary/metadata").status_code == 400  # label removed

    # Only the latest version: version 1 is unloaded, its status END.
    _write(config_file, _model("toy", base / "toy", "latest { num_versions: 1 }"))
    assert wait_for(lambda: _states(server, "toy") == [("2", "AVAILABLE"), ("1", "END")], TIMEOUT)
    assert _predict(server, "toy/versions/1").status_code == 404
    assert _predict(server, "toy").status_code == 200


def test_invalid_config_edit_is_logged_and_previous_config_keeps_serving(serve, base, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    config_file, model_server, server = serve(_model("toy", base / "toy", labels={"stable": 1}))
    config = model_server.config
    bad_edits = [
        # (file text, what the log says)
        ("model_config_list { config { name: ", "is not a text ModelServerConfig"),
        ("", "has no model_config_list"),
        (
            "model_config_list {\n" + _model("toy", base / "toy") * 2 + "}\n",
            "model names must be unique, got ['toy'] more than once",
        ),
        (
            # Moving a label onto a version that is not loaded: TF Serving refuses the whole
            # reload, the policy change included.
            "model_config_list {\n"
            + _model("toy", base / "toy", "specific { versions: [1, 2] }", {"stable": 2})
            + "}\n",
            "Request to assign label to version 2 of model toy, which is not currently available",
        ),
    ]
    for text, message in bad_edits:
        _write(config_file, text=text)
        assert wait_for(_logged(caplog, message), TIMEOUT), message
        record = next(r for r in caplog.records if message in r.getMessage())
        assert record.levelno == logging.ERROR
        assert "keeping the previous one" in record.getMessage()
        assert model_server.config == config
        assert _states(server, "toy") == [("1", "AVAILABLE")]
        assert _predict(server, "toy/labels/stable").status_code == 200
    # Logged once per problem, not at every read.
    problems = [r for r in caplog.records if "failed to reload the model config" in r.getMessage()]
    assert len(problems) == len(bad_edits)

    # A valid edit is applied again.
    _write(config_file, _model("toy", base / "toy", "specific { versions: 2 }"))
    assert wait_for(lambda: _states(server, "toy") == [("2", "AVAILABLE"), ("1", "END")], TIMEOUT)
    assert wait_for(_logged(caplog, "model config reloaded: added [], removed [], changed ['toy']"))
    assert not model_server.poll_config_file()  # unchanged: nothing to apply


def _config(*models):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    text = "model_config_list {\n" + "".join(models) + "}\n"
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def test_renamed_model_and_changed_base_path(base):
    model_server = ModelServer(_config(_model("toy", base / "toy")))
    try:
        model_server.poll()
        # A changed base path serves what it holds, but a version number already loaded
        # stays loaded as it is (TF Serving's manager knows a version by name and number).
        model_server.reload_config(_config(_model("toy", base / "other", "all {}")))
        assert model_server.servable("toy").path == str(base / "toy" / "1")
        model_server.reload_config(_config(_model("toy", base / "toy", "all {}")))
        assert model_server.servable("toy").path == str(base / "toy" / "2")
        # Renamed: the old name is unloaded, the new one loaded before reload_config returns.
        model_server.reload_config(_config(_model("renamed", base / "toy")))
        assert model_server.model_names() == ["renamed"]
        assert model_server.servable("renamed").version == 1
        with pytest.raises(ServingError, match=r"Latest\(toy\)") as info:
            model_server.servable("toy")
        assert info.value.status_code == 404
        with pytest.raises(ValueError, match="no config_file"):
            model_server.poll_config_file()
    finally:
        model_server.stop()


def test_model_server_refuses_a_bad_config_poll_interval(base):
    config = ModelServer.for_base_path("toy", base / "toy").config
    for interval in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="config_poll_interval must be >= 0 seconds"):
            ModelServer(config, config_poll_interval=interval)


@pytest.fixture
def started(monkeypatch):
    """The ModelServer that `keras-seq serve` would serve; nothing is served or loaded."""
    import keras_seq.serving

    servers = []
    monkeypatch.setattr(keras_seq.serving, "run_server", lambda server, **_: servers.append(server))
    return servers


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x", ""])
def test_cli_refuses_bad_poll_values(capsys, tmp_path, started, value):
    argv = ["serve", "--model_config_file", str(tmp_path / "models.config")]
    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--model_config_file_poll_wait_seconds", value])
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        f"argument --model_config_file_poll_wait_seconds: expected a number >= 0, got {value!r}"
    )
    assert started == []


def test_cli_passes_the_poll_interval_and_ignores_it_without_config_file(
    tmp_path, base, started, caplog
):
    config_file = tmp_path / "models.config"
    _write(config_file, _model("toy", base / "toy"))
    assert cli.main(["serve", "--model_config_file", str(config_file)]) == 0
    assert started[-1].config_poll_interval == 0  # default: read once, as TF Serving
    argv = ["serve", "--model_config_file", str(config_file)]
    assert cli.main([*argv, "--model_config_file_poll_wait_seconds", "0.5"]) == 0
    assert (started[-1].config_file, started[-1].config_poll_interval) == (str(config_file), 0.5)

    # TF Serving ignores the flag with --model_base_path; so does this, with a warning.
    argv = ["serve", "--model_base_path", str(base / "toy")]
    assert cli.main([*argv, "--model_config_file_poll_wait_seconds", "5"]) == 0
    assert started[-1].config_file is None
    assert "--model_config_file_poll_wait_seconds has no effect without" in caplog.text
