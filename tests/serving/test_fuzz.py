"""Property-based abuse of the real local server: no input may yield a 5xx or stop it.

A real uvicorn server on 127.0.0.1 serves the exported toy model. Hypothesis sends random and
malformed bodies (invalid JSON and UTF-8, wrong types, huge and deeply nested documents, lone
surrogates, NaN literals, empty and oversized batches, unknown signatures and inputs, row and
columnar formats mixed) and random methods and paths. Every answer must be a 200 with a JSON
prediction or a 4xx with a JSON ``{"error": "<message>"}`` body, and the server must still
answer a good request correctly afterwards. Everything runs twice: with each request in its
own session run, and with server-side batching.

The toy's ``spin`` signature is left out: it loops as many times as the request asks, the one
deliberately unbounded model (tests/export/toy_models.py); its deadline is tested elsewhere.
"""

import base64
import http.client
import json
import shutil
import urllib.parse

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keras_seq.serving import ModelServer
from tests.serving.local_server import ServerThread, toy_config

MAX_BATCH_SIZE = 50
MAX_STRING_BYTES = 4096
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", params=[False, True], ids=["alone", "batching"])
def server(tmp_path_factory, request, toy_version_dir):
    base = tmp_path_factory.mktemp("fuzz_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    model_server = ModelServer(toy_config(base, versions=[1]), poll_interval=5)
    options = dict(
        num_threads=2,
        max_queued=64,
        max_request_bytes=1024 * 1024,
        max_batch_size=MAX_BATCH_SIZE,
        max_string_bytes=MAX_STRING_BYTES,
        enable_batching=request.param,
    )
    with ServerThread(model_server, **options) as running, requests.Session() as session:
        running.session = session
        yield running
        _assert_still_serves(running)


def _assert_still_serves(server):
    response = server.session.post(
        f"{server.url}/v1/models/toy:predict",
        json={"signature_name": "normalize", "instances": [{"text": "the cat"}, {"text": "x"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "predictions": [
            {"normalized": "the cat", "token_count": 2},
            {"normalized": "[UNK]", "token_count": 1},
        ]
    }


def _assert_answer(status, content_type, content, method="POST"):
    """200 with a prediction, or 4xx with {"error": str}; never 5xx."""
    assert 200 <= status < 500 and status not in range(201, 400), (status, content[:500])
    if method == "HEAD":
        return
    assert content_type == "application/json", (status, content_type, content[:500])
    body = json.loads(content)
    if status == 200:
        assert set(body) <= {
            "predictions",
            "outputs",
            "model_version_status",
            "model_spec",
            "metadata",
        }
        assert body
        return
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"], body


# ------------------------------------------------------------------------------ strategies
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and +-Infinity included: json.dumps writes them as bare tokens
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)
b64_values = st.builds(
    lambda data: {"b64": base64.b64encode(data).decode()}, st.binary(max_size=20)
)
string_values = st.text(max_size=30) | b64_values | st.just({"b64": "!!not base64"})
input_names = st.sampled_from(["text", "separator", "txt", "", "b64"]) | st.text(max_size=6)
signature_names = st.sampled_from(
    ["serving_default", "normalize", "normalize_bytes", "nope", "", "__saved_model_init_op"]
) | st.text(max_size=8).filter(lambda name: name != "spin")
row_values = string_values | json_values | st.dictionaries(input_names, string_values, max_size=3)
tensors = st.lists(string_values | json_values, max_size=6) | string_values | json_values
# Close to valid, so that many requests reach the session run.
plausible_json = st.fixed_dictionaries(
    {"instances": st.lists(st.text(max_size=30) | b64_values, min_size=1, max_size=5)},
    optional={"signature_name": signature_names},
) | st.fixed_dictionaries(
    {"inputs": st.fixed_dictionaries({"text": st.lists(string_values, max_size=5)})},
    optional={"signature_name": st.sampled_from(["normalize", "serving_default"])},
)
requests_json = plausible_json | st.fixed_dictionaries(
    {},
    optional={
        "signature_name": signature_names | json_leaves,
        "instances": st.lists(row_values, max_size=6) | json_values,
        "inputs": tensors | st.dictionaries(input_names, tensors, max_size=3),
    },
)


def _dumps(value):
    return json.dumps(value).encode()


def _corrupt(data, position, garbage):
    """Inserts ``garbage`` (e.g. invalid UTF-8) at a relative position of a valid body."""
    index = int(position * len(data))
    return data[:index] + garbage + data[index:]


SPECIAL_BODIES = [
    b"[" * 100_000,
    b'{"instances": ' + b"[" * 100_000,
    b'{"instances": ' + b"[" * 70 + b'"a"' + b"]" * 70 + b"}",
    b'{"instances": ["\\ud800"]}',
    b'{"instances": ["\\udfff\\ud800 x"]}',
    b'{"instances": ["\xff\xfe\xfd"]}',
    b'{"instances": [NaN, Infinity, -Infinity]}',
    b'{"inputs": {"text": ["a"], "separator": NaN}, "signature_name": "normalize_with"}',
    b"NaN",
    b"null",
    b'"instances"',
    b"",
    b'{"instances": []}',
    b'{"inputs": []}',
    b'{"inputs": {}}',
    b'{"instances": [{}]}',
    b'{"instances": [[]]}',
    b'{"instances": ["a", ["b"]]}',
    b'{"instances": ["a"], "inputs": ["a"]}',
    b'{"instances": [{"text": "a"}, "b"]}',
    _dumps({"instances": ["a"] * (MAX_BATCH_SIZE + 1)}),
    _dumps({"instances": ["w "] * 5000}),
    _dumps({"inputs": {"text": ["a"] * 5000}}),
    _dumps({"instances": ["x" * (MAX_STRING_BYTES + 1)]}),
    _dumps({"instances": ["y" * 200_000]}),
    _dumps({"instances": [{"b64": base64.b64encode(b"z" * 100_000).decode()}]}),
    _dumps({"instances": [1e400, 10**400]}),
    b'{"instances": [' + b"9" * 5000 + b"]}",
    _dumps({"signature_name": "normalize_with", "inputs": {"text": ["a"], "separator": ["-"]}}),
    _dumps({"signature_name": "normalize", "inputs": {"text": [["a"]]}}),
    _dumps({"signature_name": "normalize_bytes", "instances": [{"b64": "/w=="}]}),
    _dumps({"instances": [{"text": "a", "extra": "b"}]}),
]

bodies = (
    requests_json.map(_dumps)
    | json_values.map(_dumps)
    | st.binary(max_size=64)
    | st.builds(
        _corrupt,
        requests_json.map(_dumps),
        st.floats(0, 1),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\ud800", b"NaN"]),
    )
    | st.sampled_from(SPECIAL_BODIES)
)
model_paths = st.sampled_from(
    ["toy:predict", "toy/versions/1:predict", "toy/labels/stable:predict"] * 3
    + ["toy/versions/2:predict", "nope:predict"]
)


# ----------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("body", SPECIAL_BODIES, ids=lambda body: repr(body[:40]))
def test_each_hostile_body_is_answered_4xx_or_200(server, body):
    """Every hand-picked hostile body, deterministically (the fuzz below mixes them in)."""
    response = server.session.post(f"{server.url}/v1/models/toy:predict", data=body, timeout=30)
    _assert_answer(response.status_code, response.headers["content-type"], response.content)


@FUZZ
@given(path=model_paths, body=bodies)
def test_predict_bodies_never_5xx(server, path, body):
    response = server.session.post(
        f"{server.url}/v1/models/{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows the mix
    _assert_answer(response.status_code, response.headers["content-type"], response.content)


segments = st.sampled_from(
    [
        "v1", "models", "toy", "versions", "labels", "stable", "1", "-1", "99999999999999999999",
        "metadata", ":predict", "toy:predict", ":classify", "..", "%2e%2e", "%2F", "..%2F..%2F",
        "etc", "passwd", "%00", "%ff", "%c3%a9", "//", "",
    ]
) | st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="?#"), max_size=8
).map(lambda text: urllib.parse.quote(text, safe=":"))  # fmt: skip


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    parts=st.lists(segments, max_size=7),
    prefix=st.sampled_from(["/v1/models/toy", "/v1/models", "/v1", "", "/v2/models"]),
    body=st.sampled_from([b"", b'{"instances": ["a"]}', b"{"]),
)
def test_random_methods_and_paths_never_5xx(server, method, parts, prefix, body):
    # http.client sends the path as written: no dot-segment removal, no re-quoting.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, prefix + "".join("/" + part for part in parts), body=body)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    event(f"HTTP {response.status}")
    _assert_answer(response.status, response.getheader("content-type"), content, method)
