"""Round 11 of the REST audit: the error type across processes, dot-segment labels in the
client's URLs, NumPy values json.dumps cannot reduce, and a version being loaded reported
LOADING. A real server on 127.0.0.1, real
SavedModels."""

import copy
import pickle
import shutil
import threading

import numpy as np
import pytest
import requests

from keras_seq.serving import Client, ModelServer, ServingError
from keras_seq.serving import model_server as model_server_module
from tests.serving.local_server import ServerThread, toy_config, wait_for


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, toy_version_dir):
    """base/toy/{1,2} (the same export twice: the answers tell the versions apart by number)."""
    base = tmp_path_factory.mktemp("round11_models")
    for version in (1, 2):
        shutil.copytree(toy_version_dir, base / "toy" / str(version))
    return base


def test_serving_error_survives_pickle_and_copy(two_versions):
    # ServingError(status_code, message) kept only the formatted "HTTP 404: ..." in args, so
    # unpickling called ServingError("HTTP 404: ...") -> TypeError: a client call raising it
    # in a ProcessPoolExecutor worker broke the pool ("A process in the process pool was
    # terminated abruptly") and the server's message was lost; copy.copy failed the same way.
    config = toy_config(two_versions)
    with ServerThread(ModelServer(config, poll_interval=5)) as server:
        with Client(server.url, "toy", version=7) as client, pytest.raises(ServingError) as info:
            client.predict(["the cat"])
    error = info.value
    assert error.status_code == 404 and "Specific(toy, 7)" in error.message
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(clone) is ServingError
        assert (clone.status_code, clone.message, str(clone)) == (
            404,
            error.message,
            str(error),
        )


@pytest.mark.parametrize("label", ["..", "."])
def test_client_sends_a_dot_label_as_a_label_not_a_dot_segment(two_versions, label):
    # requests (urllib3) removes the dot segments of a URL: label ".." made the client's
    # metadata URL .../labels/../metadata, sent as /v1/models/toy/metadata, and the answer
    # was the latest version's metadata (2), silently, in place of the labelled version's (1);
    # its status URL became /v1/models/toy/ (a 400 "Malformed request").
    config = toy_config(two_versions)
    config.model_config_list.config[0].version_labels[label] = 1
    with ServerThread(ModelServer(config, poll_interval=5)) as server:
        with Client(server.url, "toy", label=label) as client:
            assert client.metadata()["model_spec"]["version"] == "1"
            assert [s["version"] for s in client.status()] == ["1"]
            assert client.predict(["the cat"])[0]["label"]
        with Client(server.url, "toy") as client:
            assert client.metadata(label=label)["model_spec"]["version"] == "1"
            assert client.metadata()["model_spec"]["version"] == "2"
        # Unknown labels of that form are a 400 naming them, not another resource's answer.
        with Client(server.url, "toy", label=label * 2 if label == "." else "...") as client:
            with pytest.raises(ServingError) as info:
                client.metadata()
            assert info.value.status_code == 400 and "Unrecognized" in info.value.message


def test_a_version_being_loaded_is_reported_loading(two_versions, tmp_path, monkeypatch):
    # TF Serving's status reports a version LOADING while it loads and warms up; here it was
    # absent until loaded: GET /v1/models/toy/versions/2 answered 404 "Could not find
    # version 2" while version 2 loaded, and the model's status listed only version 1.
    base = tmp_path / "models"
    shutil.copytree(two_versions / "toy" / "1", base / "toy" / "1")
    started, release = threading.Event(), threading.Event()
    real_servable = model_server_module.Servable

    def slow_servable(name, version, path, **kwargs):
        if version == 2:  # hold the load of version 2 until the test has looked at it
            started.set()
            assert release.wait(60)
        return real_servable(name, version, path, **kwargs)

    monkeypatch.setattr(model_server_module, "Servable", slow_servable)
    config = toy_config(base)
    with ServerThread(ModelServer(config, poll_interval=0.1)) as server:
        url = f"{server.url}/v1/models/toy"
        try:
            shutil.copytree(two_versions / "toy" / "2", base / "toy" / "2")
            assert started.wait(30)
            response = requests.get(f"{url}/versions/2", timeout=10)
            assert response.status_code == 200, response.text
            assert response.json()["model_version_status"] == [
                {
                    "version": "2",
                    "state": "LOADING",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
            states = {s["version"]: s["state"] for s in Client(server.url, "toy").status()}
            assert states == {"2": "LOADING", "1": "AVAILABLE"}
            # Predictions still go to the loaded version; version 2 is not servable yet.
            assert (
                requests.get(f"{url}/metadata", timeout=10).json()["model_spec"]["version"] == "1"
            )
            assert requests.get(f"{url}/versions/2/metadata", timeout=10).status_code == 404
        finally:
            release.set()
        assert wait_for(
            lambda: (
                requests.get(f"{url}/versions/2", timeout=10).json()["model_version_status"][0][
                    "state"
                ]
                == "AVAILABLE"
            )
        )


def test_client_sends_longdouble_values_and_refuses_complex_ones(two_versions):
    # np.longdouble(...).item() is a np.longdouble again: json.dumps called the client's
    # converter on it without end and the call died with a RecursionError before sending.
    config = toy_config(two_versions)
    with ServerThread(ModelServer(config, poll_interval=5)) as server:
        with Client(server.url, "toy") as client:
            # Sent (as the double 2.0): the server names the int32 input it does not fit.
            for iterations in (np.longdouble(2), np.array(np.longdouble(2))):
                with pytest.raises(ServingError) as info:
                    client.predict_columnar(
                        {"text": ["the cat"], "iterations": iterations}, signature_name="spin"
                    )
                assert info.value.status_code == 400
                assert "JSON Value: 2.0" in info.value.message and "int32" in info.value.message
            answer = client.predict_columnar(
                {"text": np.array(["the cat"]), "iterations": np.int64(2)}, signature_name="spin"
            )
            assert answer == ["the cat0"]
            with pytest.raises(TypeError, match="clongdouble is not JSON serializable"):
                client.predict_columnar({"text": [np.clongdouble(1 + 2j)]})
