"""Round 13 audit of the client, the request batcher and serving/: arguments checked when the
client is made, POST redirects not followed, non-JSON error bodies read as UTF-8 and cut
short, a batcher run that raises (or is cancelled) failing only what it must, and the
serving/ files checked against TF Serving's formats and flags. Real HTTP servers on
127.0.0.1; the batcher runs a stand-in servable in a real thread pool."""

import asyncio
import concurrent.futures
import http.server
import pathlib
import re
import threading
import time

import numpy as np
import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from keras_seq.serving import Client, ServingError
from keras_seq.serving.request_batcher import RequestBatcher

SERVING = pathlib.Path(__file__).resolve().parents[2] / "serving"

# (status, headers, body) for GET and POST by path.
ANSWERS = {
    ("POST", "/v1/models/moved:predict"): (301, {"Location": "/v1/models/toy:predict"}, b""),
    ("POST", "/v1/models/kept:predict"): (307, {"Location": "/v1/models/toy:predict"}, b""),
    ("GET", "/v1/models/toy:predict"): (200, {}, b'{"predictions": ["sent as a GET"]}'),
    ("POST", "/v1/models/toy:predict"): (200, {}, b'{"predictions": ["sent as a POST"]}'),
    ("GET", "/v1/models/moved"): (302, {"Location": "/v1/models/toy"}, b""),
    ("GET", "/v1/models/toy"): (
        200,
        {"Content-Type": "application/json"},
        b'{"model_version_status": [{"version": "1", "state": "AVAILABLE"}]}',
    ),
    ("GET", "/v1/models/proxy"): (
        502,
        {"Content-Type": "text/plain"},
        "upstream \u2014 down".encode(),
    ),
    ("GET", "/v1/models/latin"): (
        502,
        {"Content-Type": "text/plain; charset=ISO-8859-1"},
        "caf\u00e9".encode("latin-1"),
    ),
    ("GET", "/v1/models/huge"): (500, {}, b"x" * 5000),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, method):
        if method == "POST":
            self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/v1/models/echo"):
            # /v1/models/echo/labels/<label>:predict answers "<label>:predict".
            echoed = self.path.removeprefix("/v1/models/echo/labels/").encode()
            code, headers, body = 200, {}, b'{"predictions": ["%s"]}' % echoed
        else:
            code, headers, body = ANSWERS[(method, self.path)]
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


# --- the client -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, error, message",
    [
        # "/versions/-1" reached the server, a 400 "Malformed request" for the caller's mistake.
        ({"version": -1}, ValueError, r"version must be between 0 and 2\*\*63 - 1, got -1"),
        ({"version": 2**63}, ValueError, "got 9223372036854775808"),
        # Failed only at the first call, with requests' "No connection adapters were found".
        ({"url": "localhost:8501"}, ValueError, "url must be a str 'http://host:port'"),
        ({"url": "127.0.0.1:8501"}, ValueError, "url must be a str"),
        ({"url": "ftp://127.0.0.1:8501"}, ValueError, "url must be a str"),
        ({"url": "http://"}, ValueError, "url must be a str"),
        ({"url": b"http://127.0.0.1:8501"}, ValueError, "url must be a str"),
        # The model path went into the query, or after the fragment (never sent).
        ({"url": "http://127.0.0.1:8501/?a=1"}, ValueError, "no query or fragment"),
        ({"url": "http://127.0.0.1:8501#x"}, ValueError, "no query or fragment"),
        # None waited forever; 0 and -1 failed at each call; NaN never timed out.
        ({"timeout": None}, ValueError, "timeout must be a positive number of seconds"),
        ({"timeout": 0}, ValueError, "got 0"),
        ({"timeout": -1.5}, ValueError, "got -1.5"),
        ({"timeout": float("nan")}, ValueError, "got nan"),
        ({"timeout": True}, ValueError, "got True"),
        ({"timeout": "10"}, ValueError, "got '10'"),
    ],
)
def test_client_arguments_are_checked_when_it_is_made(options, error, message):
    arguments = {"url": "http://127.0.0.1:1", "model": "toy", **options}
    with pytest.raises(error, match=message):
        Client(**arguments)


def test_client_versions_per_call_and_as_numpy_integers():
    client = Client("http://127.0.0.1:1/tfs//", "toy", version=np.int64(3))
    assert client.url == "http://127.0.0.1:1/tfs"
    assert client.version == 3 and type(client.version) is int
    assert client.model_url() == "http://127.0.0.1:1/tfs/v1/models/toy/versions/3"
    assert client.model_url(version=np.uint8(0)).endswith("/v1/models/toy/versions/0")
    assert client.model_url(version=2**63 - 1).endswith("/versions/9223372036854775807")
    with pytest.raises(ValueError, match="between 0 and 2"):
        client.model_url(version=-3)
    with pytest.raises(TypeError, match="version must be an int, got 1.0"):
        client.model_url(version=1.0)


def test_a_redirected_predict_is_not_resent_as_a_get(url):
    # requests follows a 301/302/303 of a POST as a GET without the body: the predict was
    # answered by whatever that GET got (here, another handler's predictions).
    with Client(url, "moved", timeout=10) as client:
        with pytest.raises(ServingError) as info:
            client.predict(["the cat"])
    assert info.value.status_code == 301
    assert info.value.message == (
        f"{url}/v1/models/moved:predict redirects to '/v1/models/toy:predict'; the client "
        "does not follow a redirect of a POST (its body would be dropped): use that URL"
    )
    with pytest.raises(ServingError) as info:
        Client(url, "kept", timeout=10).predict_columnar({"text": ["a"]})
    assert info.value.status_code == 307
    # GETs still follow redirects; a direct POST is answered as before.
    assert Client(url, "moved", timeout=10).status() == [{"version": "1", "state": "AVAILABLE"}]
    assert Client(url, "toy", timeout=10).predict(["a"]) == ["sent as a POST"]


def test_error_bodies_that_are_not_json_are_read_as_utf8_and_cut_short(url):
    def message(model):
        with pytest.raises(ServingError) as info:
            Client(url, model, timeout=10).status()
        return info.value.status_code, info.value.message

    # requests read an undeclared text/plain body as Latin-1: "upstream â\x80\x94 down".
    assert message("proxy") == (502, "upstream \u2014 down")
    assert message("latin") == (502, "caf\u00e9")  # a declared charset is used
    # The whole body was the message (a proxy's page of any size).
    assert message("huge") == (500, "x" * 1000 + "... (5000 bytes)")


def test_one_client_shared_by_threads_gets_each_answer_right(url):
    client = Client(url, "echo", timeout=10)
    answers = {}

    def call(thread):
        for n in range(5):
            key = f"{thread}-{n}"
            answers[key] = client.predict([key], version=None, label=f"l{key}")

    threads = [threading.Thread(target=call, args=(t,)) for t in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # /v1/models/echo/labels/l<t>-<n>:predict answers "l<t>-<n>:predict" back.
    assert answers == {f"{t}-{n}": [f"l{t}-{n}:predict"] for t in range(12) for n in range(5)}
    client.close()


# --- the batcher ----------------------------------------------------------------------------


class _Servable:
    """A stand-in servable: echoes its ``text`` rows, raises RuntimeError (no ServingError,
    as a closed session or a MemoryError would) for any batch holding ``b"poison"``."""

    def __init__(self):
        self.batches = []

    def predict(self, signature_name, inputs, timeout=None):
        self.batches.append(inputs["text"].tolist())
        if b"poison" in inputs["text"].tolist():
            raise RuntimeError("Attempted to use a closed Session.")
        return {"echo": inputs["text"]}


def _texts(*values):
    return {"text": np.array(values, dtype=object)}


def test_a_merged_run_raising_other_than_serving_error_fails_only_its_culprit():
    servable = _Servable()

    async def scenario():
        batcher = RequestBatcher(pool, max_rows=8, max_running=1)
        deadline = time.monotonic() + 30
        # The first runs at once; the next three queue and merge into one run.
        futures = [
            batcher.submit(servable, None, _texts(*rows), deadline)
            for rows in ([b"a"], [b"b", b"c"], [b"poison"], [b"d"])
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        return results, batcher.runs, batcher.requests

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        results, runs, answered = asyncio.run(scenario())
    # Before, all three requests of the merged run got the RuntimeError.
    assert [r["echo"].tolist() for r in (results[0], results[1], results[3])] == [
        [b"a"],
        [b"b", b"c"],
        [b"d"],
    ]
    assert isinstance(results[2], RuntimeError)
    assert str(results[2]) == "Attempted to use a closed Session."
    assert servable.batches == [
        [b"a"],
        [b"b", b"c", b"poison", b"d"],
        [b"b", b"c"],
        [b"poison"],
        [b"d"],
    ]
    assert (runs, answered) == (5, 4)


def test_a_run_the_pool_cancels_answers_503_not_never():
    servable = _Servable()
    release = threading.Event()

    async def scenario():
        batcher = RequestBatcher(pool, max_rows=8, max_running=1)
        pool.submit(release.wait, 30)  # holds the pool's only thread
        future = batcher.submit(servable, None, _texts(b"a"), time.monotonic() + 30)
        await asyncio.sleep(0.05)  # the run is queued in the pool behind it
        pool.shutdown(wait=False, cancel_futures=True)
        release.set()
        try:
            # Before, the future was never set: the request waited for its deadline.
            return await asyncio.wait_for(future, 5)
        except ServingError as error:
            return error

    pool = concurrent.futures.ThreadPoolExecutor(1)
    error = asyncio.run(scenario())
    pool.shutdown(wait=True)
    assert isinstance(error, ServingError)
    assert (error.status_code, error.message) == (
        503,
        "Server shutting down: the request did not run",
    )
    assert servable.batches == []


# --- serving/ -------------------------------------------------------------------------------


def _batching_parameters_class():
    """TF Serving's BatchingParameters (servables/tensorflow/session_bundle_config.proto),
    which tensorflow-serving-api does not ship, built from its field list."""
    file = descriptor_pb2.FileDescriptorProto(
        name="keras_seq_test/batching_parameters.proto",
        package="tensorflow.serving.test",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = file.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, (name, kind) in enumerate(
        [
            ("max_batch_size", ".google.protobuf.Int64Value"),
            ("batch_timeout_micros", ".google.protobuf.Int64Value"),
            ("max_enqueued_batches", ".google.protobuf.Int64Value"),
            ("num_batch_threads", ".google.protobuf.Int64Value"),
            ("thread_pool_name", ".google.protobuf.StringValue"),
            ("allowed_batch_sizes", None),
            ("pad_variable_length_inputs", None),
        ],
        start=1,
    ):
        entry = message.field.add(name=name, number=number, label=field.LABEL_OPTIONAL)
        if kind:
            entry.type, entry.type_name = field.TYPE_MESSAGE, kind
        elif name == "allowed_batch_sizes":
            entry.type, entry.label = field.TYPE_INT64, field.LABEL_REPEATED
        else:
            entry.type = field.TYPE_BOOL
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.test.BatchingParameters")
    return message_factory.GetMessageClass(descriptor)


def test_batching_parameters_parse_as_tf_serving_reads_them():
    parameters = text_format.Parse(
        (SERVING / "batching_parameters.txt").read_text(), _batching_parameters_class()()
    )
    sizes = list(parameters.allowed_batch_sizes)
    # BatchingSession's rules: increasing, the last one max_batch_size.
    assert sizes == sorted(set(sizes)) and sizes[-1] == parameters.max_batch_size.value
    assert parameters.num_batch_threads.value >= 1
    assert parameters.batch_timeout_micros.value >= 0


# tensorflow_model_server's flags (model_servers/main.cc), those a deployment may set.
TF_SERVING_FLAGS = set(
    "port grpc_socket_path rest_api_port rest_api_num_threads rest_api_timeout_in_ms "
    "rest_api_enable_cors_support enable_batching allow_version_labels_for_unavailable_models "
    "batching_parameters_file enable_per_model_batching_parameters model_config_file "
    "model_config_file_poll_wait_seconds model_name model_base_path num_load_threads "
    "num_unload_threads max_num_load_retries load_retry_interval_micros "
    "file_system_poll_wait_seconds flush_filesystem_caches tensorflow_session_parallelism "
    "tensorflow_session_config_file tensorflow_intra_op_parallelism "
    "tensorflow_inter_op_parallelism ssl_config_file platform_config_file "
    "per_process_gpu_memory_fraction saved_model_tags grpc_channel_arguments grpc_max_threads "
    "enable_model_warmup num_request_iterations_for_warmup monitoring_config_file".split()
)


def _server_flags(text):
    return dict(re.findall(r"^\s*-?\s*--(\w+)=(\S+?)\s*\\?$", text, re.MULTILINE))


def test_docker_and_kubernetes_pass_tf_serving_flags_and_the_files_of_serving():
    docker = _server_flags((SERVING / "docker_run.sh").read_text())
    kubernetes = _server_flags((SERVING / "kubernetes.yaml").read_text())
    assert set(docker) <= TF_SERVING_FLAGS, set(docker) - TF_SERVING_FLAGS
    assert set(kubernetes) <= TF_SERVING_FLAGS, set(kubernetes) - TF_SERVING_FLAGS
    for flags in (docker, kubernetes):
        assert flags["model_config_file"] == "/models/models.config"
        assert flags["batching_parameters_file"] == "/models/batching_parameters.txt"
        assert flags["enable_batching"] == "true"
    assert (SERVING / "models.config").is_file()


def test_kubernetes_probes_and_grace_period_fit_tf_serving():
    text = (SERVING / "kubernetes.yaml").read_text()
    config = text_format.Parse(
        (SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    names = {model.name for model in config.model_config_list.config}
    # Every HTTP probe asks for the status of a configured model (a 200 once it loaded).
    probes = re.findall(
        r"(\w+Probe):\n\s+httpGet: \{path: /v1/models/([^,/}]+), port: rest\}", text
    )
    assert {kind for kind, _ in probes} == {"startupProbe", "readinessProbe"}
    assert {name for _, name in probes} <= names
    # TF Serving opens its REST port only after every model loaded: the liveness probe (a
    # TCP connect) must wait for a startup probe allowing minutes, not kill the load.
    startup = re.search(
        r"startupProbe:\n(?:\s+httpGet:.*\n)\s+periodSeconds: (\d+)\n\s+failureThreshold: (\d+)",
        text,
    )
    assert startup is not None and int(startup[1]) * int(startup[2]) >= 300
    # SIGTERM is ignored (bash as PID 1): the pod serves until the SIGKILL, which must come
    # after the longest request it accepted, plus the Service's delay in dropping it.
    grace = int(re.search(r"terminationGracePeriodSeconds: (\d+)", text)[1])
    timeout_ms = int(_server_flags(text)["rest_api_timeout_in_ms"])
    assert grace >= timeout_ms / 1000 + 10


def test_models_config_labels_name_versions_its_policy_loads():
    config = text_format.Parse(
        (SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    for model in config.model_config_list.config:
        if model.version_labels:
            # TF Serving refuses a label for a version it does not load (at start, without
            # --allow_version_labels_for_unavailable_models).
            policy = model.model_version_policy
            assert policy.WhichOneof("policy_choice") == "specific", model.name
            assert set(model.version_labels.values()) <= set(policy.specific.versions)
