"""Round 6 of the REST audit: request bodies as TF Serving's parser reads them, label status,
and the client's URLs and request values. A real server on 127.0.0.1, real SavedModels."""

import http.client
import json
import shutil

import numpy as np
import pytest
import requests
from tensorflow_serving.config import model_server_config_pb2

from keras_seq.serving import Client, ModelServer
from tests.serving.local_server import ServerThread, toy_config, wait_for


@pytest.fixture(scope="module")
def base(tmp_path_factory, toy_version_dir):
    """BASE/toy/1 and BASE/beta/2: the same model under two names and versions."""
    base = tmp_path_factory.mktemp("round6_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    shutil.copytree(toy_version_dir, base / "beta" / "2")
    return base


@pytest.fixture(scope="module")
def server(base):
    """Serves "toy" (version 1) and "toy?beta" (version 2): a name with a "?" in it."""
    config = toy_config(base, versions=[1])
    odd = config.model_config_list.config.add()
    odd.name = "toy?beta"
    odd.base_path = str(base / "beta")
    odd.model_platform = "tensorflow"
    with ServerThread(ModelServer(config, poll_interval=5)) as server:
        yield server


def _post(server, body, path="toy:predict"):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    response = requests.post(f"{server.url}/v1/models/{path}", data=data, timeout=30)
    return response.status_code, response.json()


def test_a_null_signature_name_is_refused_as_tf_serving_does(server):
    # FillSignature: a present signature_name that is not a string is an InvalidArgument.
    status, answer = _post(server, '{"signature_name": null, "instances": ["the cat"]}')
    assert status == 400
    assert "'signature_name' key must be a string value. Got null" in answer["error"]
    status, answer = _post(server, '{"instances": ["the cat"]}')  # absent: the default
    assert status == 200 and len(answer["predictions"]) == 1


@pytest.mark.parametrize(
    "body, expected",
    [
        # rapidjson's FindMember reads the first of two equal keys; json.loads the last.
        (
            '{"signature_name": "normalize", "instances": ["the cat"], "instances": ["a", "b"]}',
            [2],
        ),
        ('{"signature_name": "normalize", "signature_name": "nope", "inputs": ["the cat"]}', [2]),
        ('{"signature_name": "normalize", "inputs": {"text": ["x"], "text": ["a", "b"]}}', [1]),
    ],
)
def test_a_key_given_twice_is_read_from_its_first_occurrence(server, body, expected):
    status, answer = _post(server, body)
    assert status == 200, answer
    if "predictions" in answer:
        counts = [row["token_count"] for row in answer["predictions"]]
    else:
        counts = answer["outputs"]["token_count"]
    assert counts == expected


def test_the_body_must_be_utf8_as_for_tf_serving(server):
    body = '{"signature_name": "normalize", "instances": ["the café"]}'
    # A UTF-8 byte order mark is skipped, as rapidjson's UTF-8 stream does.
    status, answer = _post(server, b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert (status, answer) == (
        200,
        {"predictions": [{"normalized": "the [UNK]", "token_count": 2}]},
    )
    # json.loads alone would read UTF-16 and UTF-32 bodies; TF Serving refuses them.
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        status, answer = _post(server, body.encode(encoding))
        assert status == 400, (encoding, answer)
        assert answer["error"].startswith("JSON Parse error: Invalid encoding"), answer
    status, answer = _post(server, body.encode("latin-1"))
    assert status == 400
    offset = body.encode("latin-1").index(b"\xe9")
    assert f"Invalid encoding in string. at offset: {offset}" in answer["error"]


def _raw(server, method, path, body=b""):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_path_with_a_trailing_newline_is_malformed(server):
    status, answer = _raw(server, "POST", "/v1/models/toy:predict%0A", b'{"instances": ["a"]}')
    assert status == 400
    assert answer["error"] == "Malformed request: POST /v1/models/toy:predict\n"


@pytest.mark.parametrize(
    "path, status, version",
    [
        ("/v1/models/toy%3Fbeta", 200, "2"),  # the model named "toy?beta"
        ("/v1/models/toy%3Fbeta/versions/2", 200, "2"),
        ("/v1/models/toy%3Fbeta/versions/1", 404, None),
        ("/v1/models/toy%23beta", 404, None),  # no model "toy#beta": not "toy" either
        ("/v1/models/t%09oy", 404, None),  # a tab is part of the name, not dropped
        ("/v1/models/toy", 200, "1"),
    ],
)
def test_the_decoded_path_is_resolved_whole(server, path, status, version):
    answer_status, answer = _raw(server, "GET", path)
    assert answer_status == status, answer
    if version is not None:
        assert [s["version"] for s in answer["model_version_status"]] == [version]


def test_label_status_reports_the_labelled_version_even_when_it_failed(tmp_path, toy_version_dir):
    # stable -> 1, and version 1 does not load: /labels/stable must report what
    # /versions/1 reports (END with the load error), not "Servable not found".
    (tmp_path / "toy" / "1").mkdir(parents=True)
    (tmp_path / "toy" / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "2")
    with ServerThread(ModelServer(toy_config(tmp_path), poll_interval=5)) as server:
        by_version = requests.get(f"{server.url}/v1/models/toy/versions/1", timeout=30)
        by_label = requests.get(f"{server.url}/v1/models/toy/labels/stable", timeout=30)
        unknown = requests.get(f"{server.url}/v1/models/toy/labels/beta", timeout=30)
    assert by_version.status_code == 200, by_version.text
    (entry,) = by_version.json()["model_version_status"]
    assert (entry["version"], entry["state"], entry["status"]["error_code"]) == (
        "1",
        "END",
        "DATA_LOSS",
    )
    assert (by_label.status_code, by_label.json()) == (200, by_version.json())
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "Unrecognized servable version label: beta"}


def test_client_percent_encodes_the_model_name(server):
    # Unencoded, "toy?beta" ended the path at "toy": the other model answered.
    with Client(server.url, "toy?beta") as client:
        assert client.model_url() == f"{server.url}/v1/models/toy%3Fbeta"
        assert [s["version"] for s in client.status()] == ["2"]
        assert client.metadata()["model_spec"] == {
            "name": "toy?beta",
            "signature_name": "",
            "version": "2",
        }
        assert client.predict(["the cat"], signature_name="normalize") == [
            {"normalized": "the cat", "token_count": 2}
        ]
    with Client(server.url, "toy", label="a b#c") as client:
        assert client.model_url().endswith("/v1/models/toy/labels/a%20b%23c")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"model": ""}, "model name must be a non-empty str"),
        ({"model": "toy/versions/2"}, "model name must be a non-empty str without '/'"),
        ({"model": "toy:predict"}, "without '/' or ':'"),
        ({"model": "toy", "label": "a/b"}, "label must be a non-empty str"),
    ],
)
def test_client_refuses_names_no_rest_path_can_carry(options, message):
    with pytest.raises(ValueError, match=message):
        Client("http://127.0.0.1:1", **options)


def test_client_per_call_version_and_label_are_checked():
    client = Client("http://127.0.0.1:1", "toy")
    with pytest.raises(ValueError, match="not both"):
        client.model_url(version=1, label="stable")
    with pytest.raises(TypeError, match="version must be an int"):
        client.model_url(version="1:predict")
    with pytest.raises(ValueError, match="label must be"):
        client.model_url(label="../secret")


def test_client_sends_numpy_values_and_bytes(server):
    with Client(server.url, "toy") as client:
        rows = client.predict(np.array(["the cat", "dog x"]), signature_name="normalize")
        assert rows == [
            {"normalized": "the cat", "token_count": 2},
            {"normalized": "dog [UNK]", "token_count": 2},
        ]
        # bytes go as {"b64": ...}: exact, UTF-8 or not.
        assert client.predict([b"the \xff"], signature_name="normalize") == [
            {"normalized": "the [UNK]", "token_count": 2}
        ]
        outputs = client.predict_columnar(
            {"text": np.array([b"a", b"b"], dtype=object), "iterations": np.int32(3)},
            signature_name="spin",
        )
        assert outputs == ["a0", "b0"]
        with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
            client.predict([{"the cat"}])


def test_label_status_before_and_after_its_version_loads(tmp_path, toy_version_dir):
    """A label resolves to its version's status as soon as that version loads."""
    config = model_server_config_pb2.ModelServerConfig()
    config.CopyFrom(toy_config(tmp_path))
    model_server = ModelServer(config, poll_interval=0.2)
    (tmp_path / "toy").mkdir()
    with ServerThread(model_server) as server:
        missing = requests.get(f"{server.url}/v1/models/toy/labels/stable", timeout=30)
        assert missing.status_code == 404
        assert missing.json() == {"error": "Could not find version 1 of model toy"}
        shutil.copytree(toy_version_dir, tmp_path / "toy" / ".tmp-1")
        (tmp_path / "toy" / ".tmp-1").rename(tmp_path / "toy" / "1")

        def available():
            answer = requests.get(f"{server.url}/v1/models/toy/labels/stable", timeout=30)
            return answer.status_code == 200

        assert wait_for(available, timeout=60)
