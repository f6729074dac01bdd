import base64
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests

from keras_seq.export import export
from keras_seq.serving import Client, ModelServer, ServingError
from tests.export.toy_models import (
    LABELS,
    TEXTS,
    eager_outputs,
    make_classifier,
    reference_normalize,
)
from tests.serving.local_server import (
    ServerThread,
    free_port,
    listening_addresses,
    toy_config,
    tree_snapshot,
    wait_for,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# With TFSERVING_URL (e.g. http://127.0.0.1:8501) pointing at a real TensorFlow Serving whose
# --model_config_file serves model "toy" from $TFSERVING_MODEL_BASE/toy (all versions, label
# stable -> 1; docs/serving.md shows the docker command), the REST tests run against it instead
# of the local server, proving the two answer alike. Tests of the local server's own machinery
# (overload, CLI, config reload) are skipped then.
TFSERVING_URL = os.environ.get("TFSERVING_URL")
local_server_only = pytest.mark.skipif(
    bool(TFSERVING_URL), reason="exercises the local server itself, not the REST protocol"
)


@pytest.fixture(scope="module")
def models():
    return {1: make_classifier(seed=1), 2: make_classifier(seed=2)}


class _RealServing:
    def __init__(self, url):
        self.url = url.rstrip("/")


@pytest.fixture(scope="module")
def served(tmp_path_factory, models):
    if TFSERVING_URL:
        base = pathlib.Path(os.environ["TFSERVING_MODEL_BASE"])
        if not (base / "toy" / "1").exists():
            export(models[1], base, name="toy", version=1)
        client = Client(TFSERVING_URL, "toy", version=1)

        def available():
            try:
                return client.status()[0]["state"] == "AVAILABLE"
            except (ServingError, requests.RequestException):
                return False

        assert wait_for(available, timeout=120), f"{TFSERVING_URL} never served toy/1"
        yield base, _RealServing(TFSERVING_URL)
        return
    base = tmp_path_factory.mktemp("models")
    export(models[1], base, name="toy")
    model_server = ModelServer(toy_config(base), poll_interval=0.2)
    with ServerThread(model_server, num_threads=2, max_queued=4) as server:
        yield base, server


@pytest.fixture
def client(served):
    _, server = served
    with Client(server.url, "toy", timeout=30) as client:
        yield client


def _assert_classify(predictions, model):
    expected = eager_outputs(model, "serving_default", TEXTS)
    assert [p["label"] for p in predictions] == [s.decode() for s in expected["label"]]
    np.testing.assert_allclose(
        [p["probabilities"] for p in predictions], expected["probabilities"], rtol=1e-6
    )
    assert set(expected["label"].tolist()) <= {s.encode() for s in LABELS}


def test_row_predict_equals_eager(client, models):
    _assert_classify(client.predict(TEXTS, version=1), models[1])


def test_columnar_predict_equals_eager(client, models):
    outputs = client.predict_columnar({"text": TEXTS}, version=1)
    expected = eager_outputs(models[1], "serving_default", TEXTS)
    assert outputs["label"] == [s.decode() for s in expected["label"]]
    np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"], rtol=1e-6)


def test_every_input_is_sent_over_rest_defaults_included(client):
    # TF Serving's JSON layer (json_tensor.cc) wants every signature input, those with a
    # default included (the defaults apply to gRPC requests): so does our server.
    rows = client.predict([{"text": t} for t in TEXTS], signature_name="normalize", version=1)
    assert [r["normalized"] for r in rows] == reference_normalize(TEXTS)
    assert [r["token_count"] for r in rows] == [len(t.split()) for t in TEXTS]
    outputs = client.predict_columnar(
        {"text": TEXTS, "separator": "+"}, signature_name="normalize_with", version=1
    )
    assert outputs["normalized"] == reference_normalize(TEXTS, separator="+")
    with pytest.raises(ServingError, match="Missing named input: separator") as columnar:
        client.predict_columnar({"text": TEXTS}, signature_name="normalize_with", version=1)
    with pytest.raises(ServingError, match="separator,text") as rows:
        client.predict([{"text": t} for t in TEXTS], signature_name="normalize_with", version=1)
    assert columnar.value.status_code == rows.value.status_code == 400


def test_b64_in_and_bytes_out(served, client):
    _, server = served
    texts = ["the cat", "dog on mat"]
    rows = client.predict([Client.b64(t) for t in texts], signature_name="normalize_bytes")
    assert rows == [s.encode() for s in reference_normalize(texts)]
    raw = requests.post(
        f"{server.url}/v1/models/toy/versions/1:predict",
        json={"signature_name": "normalize_bytes", "instances": [{"b64": "dGhlIGNhdA=="}]},
        timeout=30,
    ).json()
    assert raw == {"predictions": [{"b64": base64.b64encode(b"the cat").decode()}]}


def test_status_and_metadata(client):
    status = client.status(version=1)
    assert status == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
    metadata = client.metadata(version=1)
    assert metadata["model_spec"] == {"name": "toy", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "normalize", "normalize_bytes", "spin"} <= set(signatures)
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert default["inputs"]["text"]["dtype"] == "DT_STRING"
    assert sorted(default["outputs"]) == ["label", "probabilities"]


def test_new_version_is_picked_up_and_selectable(served, models):
    base, server = served
    if not os.path.exists(base / "toy" / "2"):
        export(models[2], base, name="toy")
    with Client(server.url, "toy") as latest:
        # Version 2 is listed LOADING while it loads and warms up (as TF Serving lists it):
        # wait for it to be AVAILABLE, not merely listed.
        assert wait_for(
            lambda: (
                [(s["version"], s["state"]) for s in latest.status()]
                == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
            )
        )
        _assert_classify(latest.predict(TEXTS), models[2])
    _assert_classify(Client(server.url, "toy", version=1).predict(TEXTS), models[1])
    _assert_classify(Client(server.url, "toy", label="stable").predict(TEXTS), models[1])
    assert Client(server.url, "toy", version=2).status()[0]["version"] == "2"


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("toy:predict", "{", 400, "JSON Parse error"),
        ("toy:predict", "[1]", 400, "Is not object"),
        ("toy:predict", '{"instances": ["a"], "inputs": ["a"]}', 400, "only one of"),
        ("toy:predict", '{"signature_name": "serving_default"}', 400, "Missing 'inputs'"),
        ("toy:predict", '{"instances": []}', 400, "empty"),
        ("toy:predict", '{"instances": "the cat"}', 400, "list/array"),
        ("toy:predict", '{"instances": [1, 2]}', 400, "not of expected type: string"),
        ("toy:predict", '{"instances": [["a"], "b"]}', 400, "ragged"),
        ("toy:predict", '{"instances": [{"b64": "!!"}]}', 400, "base64"),
        ("toy:predict", '{"inputs": {"txt": ["a"]}}', 400, "Missing named input: text"),
        (
            "toy:predict",
            '{"signature_name": "normalize_with", "inputs": {"separator": "-"}}',
            400,
            "Missing named input: text",
        ),
        (
            "toy:predict",
            '{"signature_name": "spin", "instances": [{"text": "a"}]}',
            400,
            "keys must be equal to: iterations,text",
        ),
        (
            "toy:predict",
            '{"signature_name": "spin", "inputs": {"text": ["a"], "iterations": 1.5}}',
            400,
            "not of expected type: int32",
        ),
        ("toy:predict", '{"signature_name": "nope", "instances": ["a"]}', 400, "not found"),
        ("nope:predict", '{"instances": ["a"]}', 404, "Servable not found"),
        ("toy/versions/7:predict", '{"instances": ["a"]}', 404, "Specific(toy, 7)"),
        ("toy/labels/beta:predict", '{"instances": ["a"]}', 400, "Unrecognized"),
        ("toy/versions/1/labels/stable:predict", '{"instances": ["a"]}', 400, "Malformed"),
        ("toy:predict", '{"instances": [{"text": "a", "extra": "b"}]}', 400, "extra"),
        ("toy/versions/x:predict", '{"instances": ["a"]}', 400, "Malformed request"),
        (
            "toy/versions/9223372036854775808:predict",
            '{"instances": ["a"]}',
            400,
            "Failed to convert version: 9223372036854775808 to numeric.",
        ),
        ("toy/versions/9223372036854775807:predict", '{"instances": ["a"]}', 404, "Specific"),
        ("toy:explode", '{"instances": ["a"]}', 400, "Malformed request"),
    ],
)
def test_malformed_requests_get_tf_serving_errors(served, path, body, status, message):
    _, server = served
    response = requests.post(f"{server.url}/v1/models/{path}", data=body, timeout=30)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_unknown_model_and_version_status_are_404(served):
    _, server = served
    with pytest.raises(ServingError) as info:
        Client(server.url, "missing").status()
    assert info.value.status_code == 404
    assert "Could not find any versions of model missing" in info.value.message
    with pytest.raises(ServingError) as info:
        Client(server.url, "toy", version=9).metadata()
    assert info.value.status_code == 404


@local_server_only
def test_overload_answers_503_quickly_and_slow_runs_504(served):
    base, _ = served
    model_server = ModelServer(toy_config(base, versions=[1]), poll_interval=5)
    with ServerThread(model_server, num_threads=1, max_queued=0, timeout=1.0) as server:
        slow_result = {}

        def slow_request():
            # Cancelled at the 1.0 s deadline; 600_000 iterations (3 s here) would not
            # outlast it on a CPU 3 times faster.
            slow = {"text": ["a"], "iterations": 2**31 - 1}
            try:
                Client(server.url, "toy", timeout=60).predict_columnar(slow, signature_name="spin")
            except ServingError as error:
                slow_result["error"] = error

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.3)  # the slow request now holds the only thread
        start = time.monotonic()
        with pytest.raises(ServingError) as info:
            Client(server.url, "toy").predict(["b"], signature_name="spin")
        elapsed = time.monotonic() - start
        assert thread.is_alive(), "the slow request ended before the overload was tested"
        thread.join()
    assert info.value.status_code == 503
    assert "overloaded" in info.value.message
    assert elapsed < 1.0
    assert slow_result["error"].status_code == 504
    assert "timed out after 1.0 s" in slow_result["error"].message


def test_client_timeout(served):
    _, server = served
    slow = {"text": ["a"], "iterations": 150_000}
    with pytest.raises(requests.Timeout):
        Client(server.url, "toy", timeout=0.05).predict_columnar(slow, signature_name="spin")


def test_client_argument_errors():
    with pytest.raises(ValueError, match="version or label, not both"):
        Client("http://127.0.0.1:1", "m", version=1, label="a")
    with pytest.raises(TypeError, match="version must be an int"):
        Client("http://127.0.0.1:1", "m", version="1")


def available(client):
    """Whether the server behind ``client`` answers that its model is AVAILABLE."""
    try:
        return client.status()[0]["state"] == "AVAILABLE"
    except (ServingError, OSError):  # not up yet, or another process holds the port
        return False


@local_server_only
def test_cli_serve_subprocess_sigterm_loopback_and_no_files_written(served, tmp_path):
    """`keras-seq serve` binds 127.0.0.1 by default; on SIGTERM an in-flight request completes
    (200), a runaway one is cut at its deadline (504), and the process exits 0 within the
    deadline plus a margin, having written nothing to its working directory or the models."""
    base, _ = served
    timeout_s = 5
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    models_before = tree_snapshot(base / "toy")
    # The port is free when chosen, but the server binds it only after loading the model:
    # should another process take it in between, the server exits and another is tried.
    for _attempt in range(3):
        port = free_port()
        command = [
            sys.executable, "-m", "keras_seq.cli", "serve",
            "--model_base_path", str(base / "toy"), "--model_name", "toy",
            "--rest_api_port", str(port), "--log_level", "warning",
            "--rest_api_num_threads", "2", "--rest_api_timeout_in_ms", str(timeout_s * 1000),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        client = Client(f"http://127.0.0.1:{port}", "toy", timeout=5)
        wait_for(lambda p=process, c=client: p.poll() is not None or available(c), timeout=90)
        if process.poll() is None:
            break
        output = process.stdout.read().decode()
        process.stdout.close()
        assert "address already in use" in output, output
    else:
        pytest.fail("the server found no free port in 3 attempts")
    try:
        assert available(client), "the server did not become AVAILABLE in 90 s"
        if os.path.exists("/proc/net/tcp"):  # Linux: the socket table says who may connect
            assert listening_addresses(port) == {"127.0.0.1"}
        assert client.predict([{"text": "the cat"}], signature_name="normalize") == [
            {"normalized": "the cat", "token_count": 2}
        ]
        answers = {}

        def spin(key, iterations):
            try:
                answers[key] = Client(client.url, "toy", timeout=60).predict_columnar(
                    {"text": [key], "iterations": iterations}, signature_name="spin"
                )
            except ServingError as error:
                answers[key] = error

        threads = [
            threading.Thread(target=spin, args=("slow", 150_000)),  # about 0.5 s
            threading.Thread(target=spin, args=("endless", 2**31 - 1)),  # hours uncut
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        for thread in threads:
            thread.join(timeout=60)
        assert answers["slow"] == ["slow0"]
        assert answers["endless"].status_code == 504
        assert process.wait(timeout=60) == 0
        exit_s = time.monotonic() - signalled
        assert exit_s < timeout_s + 10, f"exit took {exit_s:.1f} s after SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()  # else a ResourceWarning surfaces in a later test
    assert list(workdir.iterdir()) == []
    assert tree_snapshot(base / "toy") == models_before


@local_server_only
def test_model_config_file_versions_and_labels(served, tmp_path, models):
    base, _ = served
    config_file = tmp_path / "models.config"
    config_file.write_text(
        "model_config_list {\n"
        "  config {\n"
        '    name: "toy"\n'
        f'    base_path: "{base / "toy"}"\n'
        '    model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 1 } }\n"
        '    version_labels { key: "stable" value: 1 }\n'
        "  }\n"
        "}\n"
    )
    model_server = ModelServer.from_config_file(config_file)
    try:
        model_server.poll()
        servable = model_server.servable("toy", label="stable")
        assert servable.version == 1
        assert servable.num_warmup_records == 5
        outputs = servable.predict(None, {"text": np.array([t.encode() for t in TEXTS], object)})
        expected = eager_outputs(models[1], "serving_default", TEXTS)
        np.testing.assert_array_equal(outputs["label"], expected["label"])
        np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"], rtol=1e-6)
        assert model_server.status("toy")["model_version_status"][0]["version"] == "1"
    finally:
        model_server.stop()
    bad = tmp_path / "bad.config"
    bad.write_text("model_config_list { config { nme: 1 } }")
    with pytest.raises(ValueError, match="not a text ModelServerConfig"):
        ModelServer.from_config_file(bad)


@local_server_only
def test_failed_version_is_reported_and_previous_keeps_serving(served, tmp_path, models):
    base, _ = served
    shutil.copytree(base / "toy" / "1", tmp_path / "toy" / "1")
    model_server = ModelServer.for_base_path("toy", tmp_path / "toy")
    try:
        model_server.poll()
        assert model_server.servable("toy").version == 1
        os.makedirs(tmp_path / "toy" / "2")
        (tmp_path / "toy" / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
        model_server.poll()
        statuses = model_server.status("toy")["model_version_status"]
        assert [(s["version"], s["state"]) for s in statuses] == [("2", "END"), ("1", "AVAILABLE")]
        assert statuses[0]["status"]["error_code"] == "DATA_LOSS"
        assert statuses[0]["status"]["error_message"]
        servable = model_server.servable("toy")
        assert servable.version == 1
        outputs = servable.predict(None, {"text": np.array([b"the cat"], object)})
        expected = eager_outputs(models[1], "serving_default", ["the cat"])
        np.testing.assert_array_equal(outputs["label"], expected["label"])
    finally:
        model_server.stop()


@local_server_only
def test_request_size_limit_answers_413(served):
    base, _ = served
    model_server = ModelServer(toy_config(base, versions=[1]), poll_interval=5)
    with ServerThread(model_server, max_request_bytes=2000) as server:
        url = f"{server.url}/v1/models/toy/versions/1:predict"
        small = requests.post(url, json={"instances": ["the cat"]}, timeout=30)
        assert small.status_code == 200, small.text
        big = requests.post(url, json={"instances": ["x" * 5000]}, timeout=30)
        assert big.status_code == 413
        assert "exceeds the limit of 2000" in big.json()["error"]

        def chunks():  # no Content-Length: the streamed size is checked too
            for _ in range(10):
                yield b'{"instances": ["' + b"y" * 400 + b'"]}'

        streamed = requests.post(url, data=chunks(), timeout=30)
        assert streamed.status_code == 413
