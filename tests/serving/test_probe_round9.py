"""Round 9 of the REST audit: base64 values as TF Serving's absl decoder reads them, gzip
request bodies, and versions whose directories disappear. A real server on 127.0.0.1, real
SavedModels."""

import base64
import gzip
import json
import shutil

import numpy as np
import pytest
import requests
import tensorflow as tf

from keras_seq.export import export
from keras_seq.serving import ModelServer, ServingError
from keras_seq.serving.servable import _canonical_code
from tests.export.toy_models import TEXTS, eager_outputs, make_classifier
from tests.serving.local_server import ServerThread


@pytest.fixture(scope="module")
def server(tmp_path_factory, toy_version_dir):
    base = tmp_path_factory.mktemp("round9_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    with ServerThread(ModelServer.for_base_path("toy", base / "toy", poll_interval=5)) as server:
        yield server


def _predict(server, body, headers=None):
    response = requests.post(
        f"{server.url}/v1/models/toy:predict", data=body, headers=headers, timeout=30
    )
    return response.status_code, response.json()


RAW = b"the cat sat on the mat "
PADDED = base64.b64encode(RAW).decode()


@pytest.mark.parametrize(
    "encoded, raw",
    [
        (PADDED.rstrip("="), RAW),  # unpadded (Go's RawStdEncoding)
        (base64.encodebytes(RAW * 5).decode(), RAW * 5),  # a line break every 76 characters
        (" " + PADDED + "\r\n", RAW),
        (PADDED.replace("=", "."), RAW),  # absl reads "." as padding
    ],
)
def test_b64_values_tf_serving_decodes_are_accepted(server, encoded, raw):
    # TF Serving decodes {"b64": ...} with absl::Base64Unescape, which skips ASCII whitespace
    # and takes the padding as optional: these all worked against it and were a 400 here.
    assert PADDED.endswith("=") and "\n" in base64.encodebytes(RAW * 5).decode()[:-1]
    body = {"signature_name": "normalize_bytes", "instances": [{"b64": encoded}]}
    status, answer = _predict(server, json.dumps(body))
    assert status == 200, answer
    assert answer["predictions"] == [{"b64": base64.b64encode(raw.strip()).decode()}]


@pytest.mark.parametrize("encoded", ["QQ=", "QUJD=", "QUI==", "Q", "QQ==QQ==", "====", "-_8="])
def test_b64_values_tf_serving_refuses_stay_400(server, encoded):
    # Padding, when given, must be exactly right; one character alone, padding in the middle
    # and the URL-safe alphabet are refused by absl too.
    body = {"signature_name": "normalize_bytes", "instances": [{"b64": encoded}]}
    status, answer = _predict(server, json.dumps(body))
    assert status == 400, answer
    assert "Unable to base64 decode" in answer["error"]


def _status(server, suffix=""):
    response = requests.get(f"{server.url}/v1/models/toy{suffix}", timeout=30)
    return response.status_code, response.json()


def test_deleting_every_version_unloads_and_a_new_export_under_its_number_serves(
    tmp_path, toy_version_dir
):
    # TF Serving's AvailabilityPreservingPolicy unloads when no version is aspired any more
    # (the base path exists and holds no version directory). Keeping the deleted version
    # loaded answered from it forever, and version 1 exported again was never loaded.
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "1")
    model_server = ModelServer.for_base_path("toy", tmp_path / "toy", poll_interval=3600)
    with ServerThread(model_server) as server:
        shutil.rmtree(tmp_path / "toy" / "1")
        model_server.poll()
        assert _predict(server, '{"instances": ["the cat"]}') == (
            404,
            {"error": "Servable not found for request: Latest(toy)"},
        )
        assert _status(server) == (
            200,
            {
                "model_version_status": [
                    {
                        "version": "1",
                        "state": "END",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            },
        )
        model = make_classifier(seed=2)
        export(model, tmp_path, name="toy", version=1)
        model_server.poll()
        status, answer = _predict(server, json.dumps({"instances": TEXTS}))
        assert status == 200, answer
        expected = eager_outputs(model, "serving_default", TEXTS)["probabilities"]
        np.testing.assert_allclose(
            [p["probabilities"] for p in answer["predictions"]], expected, rtol=1e-5
        )
        assert _status(server)[1]["model_version_status"][0]["state"] == "AVAILABLE"


def test_a_missing_base_path_unloads_nothing(tmp_path, toy_version_dir):
    # TF Serving's poll fails on a base path it cannot find and changes nothing (a volume
    # remounting must not take the model down).
    shutil.copytree(toy_version_dir, tmp_path / "models" / "toy" / "1")
    model_server = ModelServer.for_base_path("toy", tmp_path / "models" / "toy")
    try:
        model_server.poll()
        (tmp_path / "models").rename(tmp_path / "elsewhere")
        model_server.poll()
        assert model_server.servable("toy").version == 1
    finally:
        model_server.stop()


def test_an_unloaded_version_is_reported_end_ok(tmp_path, toy_version_dir):
    # TF Serving's ServableStateMonitor keeps the state of an unloaded version: GET
    # /versions/1 answers END with status OK, not 404, once version 2 replaced it.
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "1")
    model_server = ModelServer.for_base_path("toy", tmp_path / "toy", poll_interval=3600)
    with ServerThread(model_server) as server:
        shutil.copytree(toy_version_dir, tmp_path / "toy" / "2")
        model_server.poll()
        status, answer = _status(server)
        assert status == 200, answer
        assert [(s["version"], s["state"]) for s in answer["model_version_status"]] == [
            ("2", "AVAILABLE"),
            ("1", "END"),
        ]
        status, answer = _status(server, "/versions/1")
        assert status == 200, answer
        assert answer["model_version_status"][0]["status"] == {
            "error_code": "OK",
            "error_message": "",
        }
        missing = requests.post(
            f"{server.url}/v1/models/toy/versions/1:predict",
            data='{"instances": ["a"]}',
            timeout=30,
        )
        assert missing.status_code == 404


def test_a_gzip_request_body_is_decompressed_as_tf_serving_does(server):
    # TF Serving's HTTP server gunzips a body whose Content-Encoding holds "gzip"
    # (auto_uncompress_input, on by default): a client compressing large batches worked
    # against it and got "JSON Parse error: Invalid encoding" here.
    body = json.dumps({"signature_name": "normalize", "instances": ["the cat", "a dog"]})
    plain = _predict(server, body)
    assert plain[0] == 200, plain
    gzip_headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert _predict(server, gzip.compress(body.encode()), gzip_headers) == plain
    assert _predict(server, gzip.compress(body.encode()), {"Content-Encoding": "x-gzip"}) == plain


def test_a_gzip_body_is_held_to_the_limits(tmp_path, toy_version_dir):
    shutil.copytree(toy_version_dir, tmp_path / "toy" / "1")
    model_server = ModelServer.for_base_path("toy", tmp_path / "toy", poll_interval=3600)
    with ServerThread(model_server, max_request_bytes=10_000) as server:
        headers = {"Content-Encoding": "gzip"}
        bomb = gzip.compress(b'{"instances": ["' + b"a" * 1_000_000 + b'"]}')
        assert len(bomb) < 10_000
        status, answer = _predict(server, bomb, headers)
        assert status == 413, answer
        assert "once decompressed" in answer["error"]
        whole = gzip.compress(b'{"instances": ["a"]}')
        for body in (b'{"instances": ["a"]}', whole[:-12], whole + whole):
            status, answer = _predict(server, body, headers)
            assert status == 400, answer
            assert "Content-Encoding: gzip" in answer["error"]


def test_every_tensorflow_error_gets_tf_serving_status():
    # ToHTTPStatusCode (model_servers/http_server.cc) maps every canonical code; a session
    # run failing with PermissionDenied, Unauthenticated or Aborted was a 500 here.
    expected = {
        "AbortedError": 409,
        "AlreadyExistsError": 409,
        "CancelledError": 499,
        "DataLossError": 500,
        "DeadlineExceededError": 504,
        "FailedPreconditionError": 400,
        "InternalError": 500,
        "InvalidArgumentError": 400,
        "NotFoundError": 404,
        "OutOfRangeError": 400,
        "PermissionDeniedError": 403,
        "ResourceExhaustedError": 429,
        "UnauthenticatedError": 401,
        "UnavailableError": 503,
        "UnimplementedError": 501,
        "UnknownError": 500,
    }
    classes = [
        name
        for name, value in vars(tf.errors).items()
        if isinstance(value, type) and issubclass(value, tf.errors.OpError) and name != "OpError"
    ]
    assert sorted(classes) == sorted(expected)
    for name, status in expected.items():
        assert ServingError.from_code(_canonical_code(name), "x").status_code == status, name


def test_columnar_keys_that_name_no_input_are_ignored_as_tf_serving_does(server):
    # FillTensorMapFromInputsMap looks up each signature input in the "inputs" object and
    # never reads the other keys; a key of an "instances" object must be an input there.
    status, answer = _predict(
        server, '{"signature_name": "normalize", "inputs": {"text": ["the cat"], "debug": 1}}'
    )
    assert (status, answer) == (200, {"outputs": {"normalized": ["the cat"], "token_count": [2]}})
    status, answer = _predict(server, '{"inputs": {"txt": ["the cat"]}}')
    assert (status, answer) == (400, {"error": "Missing named input: text in 'inputs' object."})
    status, answer = _predict(server, '{"instances": [{"text": "the cat", "debug": 1}]}')
    assert status == 400, answer
