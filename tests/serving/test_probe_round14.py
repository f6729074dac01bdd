"""Round 14 of the REST audit, each against TF Serving's sources: floats are written as its
WriteDecimal writes them (json_tensor.cc: six significant digits when they round-trip, else 9
for float and 17 for double; not the shortest round-trip form); an unknown signature, or one
without inputs, answers the REST handler's message (GetInfoMap / FillPredictRequestFromJson),
looked up before the body's keys; a row-format output of 0 rows is a 400
(MakeRowFormatJsonFromTensors). A real server on 127.0.0.1 where HTTP matters."""

import http.client
import json
import re
import shutil

import numpy as np
import pytest
import requests
import tensorflow as tf

from keras_seq.serving import ModelServer, ServingError
from keras_seq.serving.json_tensor import format_predict_response
from tests.serving.local_server import ServerThread, toy_config


@pytest.fixture(scope="module")
def server(tmp_path_factory, toy_version_dir):
    base = tmp_path_factory.mktemp("round14_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    with ServerThread(ModelServer(toy_config(base), poll_interval=30)) as running:
        yield running


def _post(server, path, body):
    answer = requests.post(
        f"{server.url}/v1/models/{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    return answer.status_code, answer.text


def _write_decimal(value, float32):
    """TF Serving's WriteDecimal, restated: "%g" (absl::StrCat) when it reads back as the
    same value, else "%.9g" / "%.17g"; ".0" after a number with neither "." nor "e"."""
    text = f"{value:g}"
    back = np.float32(text) if float32 else float(text)
    if back != value:
        text = f"{value:.{9 if float32 else 17}g}"
    return text if ("." in text or "e" in text) else text + ".0"


def test_float_outputs_are_written_as_tf_serving_writes_them():
    floats = np.array([0.1, 1 / 3, 9e6, 3.0, 123456789.0, 1e-8, -0.0, np.nan], np.float32)
    assert format_predict_response({"p": floats}, row_format=False) == (
        '{"outputs": [0.1, 0.333333343, 9e+06, 3.0, 123456792.0, 1e-08, -0.0, NaN]}'
    )
    doubles = np.array([0.1, 1 / 3, 0.1 + 0.2, 1e15, 2.5, -np.inf], np.float64)
    assert format_predict_response({"p": doubles}, row_format=True) == (
        '{"predictions": [0.1, 0.33333333333333331, 0.30000000000000004, 1e+15, 2.5, -Infinity]}'
    )


def test_served_probabilities_are_written_as_tf_serving_writes_them(server):
    status, text = _post(server, "toy:predict", '{"instances": ["the cat", "a dog on the mat"]}')
    assert status == 200, text
    rows = re.findall(r'"probabilities": \[([^\]]*)\]', text)
    assert len(rows) == 2, text
    for row in rows:
        for token in row.split(", "):
            assert token == _write_decimal(np.float32(token), float32=True), text


@pytest.mark.parametrize(
    "body, message",
    [
        (
            '{"signature_name": "nope", "instances": ["the cat"]}',
            'Serving signature name: "nope" not found in signature def',
        ),
        # The signature is looked up before the body's keys, as FillPredictRequestFromJson.
        (
            '{"signature_name": "nope", "instances": ["a"], "inputs": ["a"]}',
            'Serving signature name: "nope" not found in signature def',
        ),
        (
            '{"signature_name": "nope"}',
            'Serving signature name: "nope" not found in signature def',
        ),
        (
            '{"signature_name": "__saved_model_init_op", "instances": ["the cat"]}',
            "Failed to get input map for signature: __saved_model_init_op",
        ),
    ],
)
def test_unknown_signature_answers_the_rest_handlers_message(server, body, message):
    status, text = _post(server, "toy:predict", body)
    assert (status, json.loads(text)) == (400, {"error": message})


def test_row_format_output_without_rows_is_an_error():
    with pytest.raises(ServingError) as raised:
        format_predict_response({"y": np.zeros((0, 2), np.float32)}, row_format=True)
    assert (raised.value.status_code, raised.value.message) == (
        400,
        "Tensor name: y has invalid batch size: 0",
    )
    # Columnar format has no batch to check: an empty tensor is an empty list there.
    assert format_predict_response({"y": np.zeros((0, 2), np.float32)}, False) == (
        '{"outputs": []}'
    )


def _raw(server, method, path, body=b""):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_paths_match_without_regard_to_case_as_tf_servings_patterns(server):
    # http_rest_api_util.cc: kPredictionApiGegex and kModelStatusApiRegex start with (?i).
    status, answer = _raw(server, "GET", "/V1/MODELS/toy/VERSIONS/1")
    assert status == 200, answer
    assert [entry["version"] for entry in answer["model_version_status"]] == ["1"]
    status, answer = _raw(server, "GET", "/v1/Models/toy/Labels/stable/metadata")
    assert (status, answer["model_spec"]["version"]) == (200, "1"), answer
    body = b'{"signature_name": "normalize", "instances": ["the cat"]}'
    status, answer = _raw(server, "POST", "/V1/models/toy/versions/1:predict", body)
    assert (status, answer) == (200, {"predictions": [{"normalized": "the cat", "token_count": 2}]})
    # The method and the subresource are then compared exactly: ":PREDICT" is no method, and
    # a GET of "/METADATA" answers the status.
    status, answer = _raw(server, "POST", "/v1/models/toy:PREDICT", body)
    assert (status, answer) == (400, {"error": "Malformed request: POST /v1/models/toy:PREDICT"})
    status, answer = _raw(server, "GET", "/v1/models/toy/METADATA")
    assert (status, list(answer)) == (200, ["model_version_status"])
    # ProcessModelStatusRequest: the status pattern matches without a model name.
    status, answer = _raw(server, "GET", "/v1/models")
    assert (status, answer) == (400, {"error": "Missing model name in request."})
    for path in ["/v1", "/", "/v2/models/toy", "/x/v1/models/toy"]:
        assert _raw(server, "GET", path) == (404, {"error": "Not Found"}), path


def test_an_empty_body_is_the_empty_document(server):
    # ParseJson (json_tensor.cc) checks this before parsing.
    assert _raw(server, "POST", "/v1/models/toy:predict") == (
        400,
        {"error": "JSON Parse error: The document is empty"},
    )


@pytest.mark.parametrize(
    "dtype, name",
    [(np.float16, "half"), (tf.bfloat16.as_numpy_dtype, "bfloat16"), (np.uint16, "uint16")],
)
def test_outputs_of_dtypes_tf_serving_does_not_write_are_refused(dtype, name):
    # AddSingleValueAndAdvance writes float, double, int8/16/32/64, uint8/32/64, bool and
    # strings; any other output fails the request there, so an export with one must not seem
    # to serve here.
    for row_format in (True, False):
        with pytest.raises(ServingError) as raised:
            format_predict_response({"y": np.ones((2, 3), dtype)}, row_format)
        assert (raised.value.status_code, raised.value.message) == (
            400,
            f"Failed to write JSON value for tensor type: {name}",
        )
    # Without a value nothing is written, and nothing fails there either.
    assert format_predict_response({"y": np.ones((2, 0), dtype)}, True) == (
        '{"predictions": [[], []]}'
    )
