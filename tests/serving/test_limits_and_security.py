"""The local server's limits (rows, string bytes, deadlines) and what a client cannot reach.

Companion of docs/security.md: every limit it names is tested here against a real server on
127.0.0.1, and so are the claims that URLs only resolve to configured models and that nothing
in the package deserializes objects unsafely.
"""

import http.client
import json
import pathlib
import re
import shutil
import time

import pytest
import requests

from keras_seq.serving import ModelServer, create_app
from tests.serving.local_server import ServerThread, toy_config, tree_snapshot, wait_for

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2] / "keras_seq"


@pytest.fixture(scope="module")
def base(tmp_path_factory, toy_version_dir):
    """BASE/toy/1 (served) and BASE/secret/1, a model that no configuration names."""
    base = tmp_path_factory.mktemp("limits_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    shutil.copytree(toy_version_dir, base / "secret" / "1")
    return base


def _server(base, **options):
    return ServerThread(ModelServer(toy_config(base, versions=[1]), poll_interval=5), **options)


@pytest.fixture(scope="module")
def default_server(base):
    """A server with the default limits."""
    with _server(base) as server:
        yield server


def _raw(port, method, path, body=b""):
    """(status, JSON body) for a path sent exactly as written (no dot-segment removal)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _normalize(url, texts, **fields):
    return requests.post(
        f"{url}/v1/models/toy:predict",
        json={"signature_name": "normalize", **fields, "instances": texts},
        timeout=60,
    )


def test_batch_and_string_limits_answer_400_with_the_limit(base):
    with _server(base, max_batch_size=3, max_string_bytes=100) as server:
        ok = _normalize(server.url, [{"text": "the cat"}] * 3)
        assert ok.status_code == 200, ok.text
        assert [p["token_count"] for p in ok.json()["predictions"]] == [2, 2, 2]
        rows = _normalize(server.url, [{"text": "the cat"}] * 4)
        assert rows.status_code == 400
        assert (
            "'instances' has 4 rows, more than this server's max_batch_size of 3"
            in (rows.json()["error"])
        )
        columnar = requests.post(
            f"{server.url}/v1/models/toy:predict", json={"inputs": ["a"] * 4}, timeout=30
        )
        assert columnar.status_code == 400
        assert "max_batch_size of 3" in columnar.json()["error"]
        exact = _normalize(server.url, [{"text": "é" * 50}])  # 100 UTF-8 bytes
        assert exact.status_code == 200, exact.text
        long = _normalize(server.url, [{"text": "é" * 50 + "a"}])
        assert long.status_code == 400
        assert (
            "has 101 bytes, more than this server's max_string_bytes of 100"
            in (long.json()["error"])
        )


def test_huge_string_answers_within_the_deadline(base, default_server):
    """Without a string limit a 4 MB string is still tokenized within the deadline (the
    toy's cost is linear in its length); with the default limit it is refused at once."""
    text = "the cat " * 500_000
    with _server(base, max_string_bytes=None, timeout=20.0) as server:
        response = _normalize(server.url, [{"text": text}])
        assert response.status_code == 200, response.text[:300]
        assert response.json()["predictions"][0]["token_count"] == 1_000_000
    start = time.monotonic()
    response = _normalize(default_server.url, [{"text": text}])
    elapsed = time.monotonic() - start
    assert response.status_code == 400
    assert "max_string_bytes of 65536" in response.json()["error"]
    assert elapsed < 5.0  # refused while parsing, before any session run


def test_runaway_run_is_cancelled_at_the_deadline_and_frees_its_thread(base):
    with _server(base, num_threads=1, max_queued=0, timeout=1.0) as server:
        endless = {"signature_name": "spin", "inputs": {"text": ["a"], "iterations": 2**31 - 1}}
        start = time.monotonic()
        response = requests.post(f"{server.url}/v1/models/toy:predict", json=endless, timeout=60)
        assert response.status_code == 504
        assert response.json() == {"error": "Request timed out after 1.0 s"}
        # The single thread is soon free again (the session run was cancelled, not
        # abandoned): without the cancellation every answer would be 503 for hours.
        statuses = []

        def served():
            statuses.append(_normalize(server.url, [{"text": "the cat"}]).status_code)
            return statuses[-1] == 200

        assert wait_for(served, timeout=10.0), statuses
        assert set(statuses) <= {200, 503}
        assert time.monotonic() - start < 12.0


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/secret",
        "/v1/models/secret/versions/1:predict",
        "/v1/models/..%2Fsecret/versions/1",
        "/v1/models/..%2F..%2Fetc/versions/1",
        "/v1/models/%2e%2e%2fsecret:predict",
        "/v1/models/../secret/versions/1",
        "/v1/models/toy/../secret/versions/1:predict",
        "/v1/models/toy/versions/..%2F..%2Fsecret%2F1:predict",
        "/v1/models/toy/versions/1%2F..%2F..%2Fsecret:predict",
        "/v1/models/toy/labels/..%2F..%2Fsecret:predict",
        "/v1/models/%2Fetc%2Fpasswd/metadata",
        "/v1/models/{base}%2Fsecret/metadata",
        "/v1/models/toy/versions/-1/metadata",
        "/v1/models/toy/versions/%EF%BC%91/metadata",  # fullwidth digit one
    ],
)
def test_urls_cannot_reach_models_outside_the_configuration(base, default_server, path):
    path = path.replace("{base}", str(base).replace("/", "%2F"))
    models_before = tree_snapshot(base)
    method = "POST" if path.endswith(":predict") else "GET"
    status, answer = _raw(default_server.port, method, path, b'{"instances": ["the cat"]}')
    assert 400 <= status < 500, (status, answer)
    assert list(answer) == ["error"]
    control, _ = _raw(default_server.port, "GET", "/v1/models/toy/versions/1")
    assert control == 200
    assert tree_snapshot(base) == models_before


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/", 404),
        ("GET", "/v2/models/toy", 404),
        ("GET", "/v1", 404),
        ("POST", "/v1/models/toy/versions/1", 400),
        ("DELETE", "/v1/models/toy", 400),
        ("PUT", "/v1/models/toy:predict", 400),
        ("GET", "/v1/models/toy:predict", 400),
    ],
)
def test_unknown_routes_and_methods_answer_json_errors(default_server, method, path, status):
    answer_status, answer = _raw(default_server.port, method, path, b"{}")
    assert (answer_status, list(answer)) == (status, ["error"])


def test_create_app_rejects_bad_limits():
    model_server = ModelServer.for_base_path("toy", "unused")
    for options, message in [
        ({"max_batch_size": 0}, "max_batch_size must be None or an int >= 1, got 0"),
        ({"max_string_bytes": -1}, "max_string_bytes must be None or an int >= 1, got -1"),
        ({"max_batch_size": 2.5}, "max_batch_size must be None or an int >= 1, got 2.5"),
        ({"max_request_bytes": 0}, "max_request_bytes >= 1"),
        ({"timeout": 0}, "timeout > 0"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            create_app(model_server, **options)


def test_package_has_no_unsafe_deserialization():
    """Models load as SavedModels (TF1 session loader) or `.keras` files in Keras' default
    safe mode; nothing in keras_seq unpickles or turns safe mode off."""
    unsafe = re.compile(
        r"safe_mode\s*=\s*False|enable_unsafe_deserialization|import pickle|"
        r"pickle\.loads?\(|allow_pickle\s*=\s*True|import dill|import cloudpickle|joblib\.load"
    )
    offenders = [
        f"{path.relative_to(PACKAGE_ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line)
    ]
    assert offenders == []
