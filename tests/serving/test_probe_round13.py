"""Round 13 of the REST audit, each against TF Serving's sources: a version that fails to load
reports its load error's own code (not UNKNOWN); an integer literal past int64/uint64 is a
double for a float input, as RapidJSON reads it; a re-read models.config whose
model_config_list lists no model unloads every model; a non-numeric version in the URL is a
"Malformed request". Real SavedModels, a real server on 127.0.0.1 where HTTP matters."""

import http.client
import json
import logging
import os
import pickle
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from keras_seq import cli
from keras_seq.export.standalone_checker import WARMUP_FILE, read_warmup_records
from keras_seq.serving import ModelServer, ServingError
from keras_seq.serving.json_tensor import parse_predict_request
from tests.serving.local_server import ServerThread, toy_config

LOGGER = "keras_seq.serving.model_server"


def _status(model_server, name="toy"):
    return {
        entry["version"]: (
            entry["state"],
            entry["status"]["error_code"],
            entry["status"]["error_message"],
        )
        for entry in model_server.status(name)["model_version_status"]
    }


def _write_warmup(version_dir, logs):
    with tf.io.TFRecordWriter(os.path.join(version_dir, WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


@pytest.fixture(scope="module")
def failing_versions(tmp_path_factory, toy_version_dir):
    """base/toy: 1 serves; 2..7 each fail to load in another way TF Serving names."""
    base = tmp_path_factory.mktemp("round13_models")
    toy = base / "toy"
    shutil.copytree(toy_version_dir, toy / "1")
    # 2: a saved_model.pb that does not parse.
    (toy / "2").mkdir()
    (toy / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    # 3: no saved_model.pb at all (variables only).
    shutil.copytree(os.path.join(toy_version_dir, "variables"), toy / "3" / "variables")
    # 4: a MetaGraph tagged "train" only.
    shutil.copytree(toy_version_dir, toy / "4")
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((toy / "4" / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        meta_graph.meta_info_def.ClearField("tags")
        meta_graph.meta_info_def.tags.append("train")
    (toy / "4" / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    # 5: 1001 warm-up records, one more than TF Serving replays.
    shutil.copytree(toy_version_dir, toy / "5")
    (record, *_) = read_warmup_records(toy_version_dir)
    _write_warmup(toy / "5", [record] * 1001)
    # 6: a warm-up record for a signature the model does not have.
    shutil.copytree(toy_version_dir, toy / "6")
    bad = type(record)()
    bad.CopyFrom(record)
    bad.predict_log.request.model_spec.signature_name = "nope"
    _write_warmup(toy / "6", [bad])
    # 7: a warm-up file that holds no PredictionLog.
    shutil.copytree(toy_version_dir, toy / "7")
    with tf.io.TFRecordWriter(str(toy / "7" / WARMUP_FILE)) as writer:
        writer.write(b"\xff not a PredictionLog")
    return base


def test_a_version_that_fails_to_load_reports_its_load_errors_code(failing_versions):
    # Every failure was ("END", "UNKNOWN", <Python's message>). TF Serving reports the
    # loader's own status (get_model_status_impl.cc: ToStatusProto(servable_state.health)).
    toy = failing_versions / "toy"
    model_server = ModelServer(toy_config(failing_versions), poll_interval=5)
    try:
        model_server.poll()
        statuses = _status(model_server)
    finally:
        model_server.stop()
    assert statuses == {
        "7": (
            "END",
            "INVALID_ARGUMENT",
            f"Failed to parse warmup record from {toy / '7' / WARMUP_FILE}",
        ),
        "6": ("END", "INVALID_ARGUMENT", 'Serving signature key "nope" not found.'),
        "5": (
            "END",
            "INVALID_ARGUMENT",
            f"Number of warmup records exceeds the maximum (1000) at {toy / '5' / WARMUP_FILE}",
        ),
        "4": (
            "END",
            "NOT_FOUND",
            "Could not find meta graph def matching supplied tags: { serve }. To inspect "
            "available tag-sets in the SavedModel, please use the SavedModel CLI: "
            "`saved_model_cli`",
        ),
        "3": (
            "END",
            "NOT_FOUND",
            f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
            f"{toy / '3'}. Check that the directory exists and that you have the right "
            "permissions for accessing it.",
        ),
        "2": ("END", "DATA_LOSS", f"Can't parse {toy / '2' / 'saved_model.pb'} as binary proto"),
        "1": ("AVAILABLE", "OK", ""),
    }


def test_the_rest_status_of_a_failed_version_carries_its_code(failing_versions):
    model_server = ModelServer(toy_config(failing_versions, versions=[1, 2]), poll_interval=5)
    with ServerThread(model_server) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/v1/models/toy/versions/2")
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
    assert response.status == 200
    path = failing_versions / "toy" / "2" / "saved_model.pb"
    assert answer == {
        "model_version_status": [
            {
                "version": "2",
                "state": "END",
                "status": {
                    "error_code": "DATA_LOSS",
                    "error_message": f"Can't parse {path} as binary proto",
                },
            }
        ]
    }


def test_serving_error_carries_its_canonical_code():
    assert ServingError(400, "bad").code == "INVALID_ARGUMENT"
    assert ServingError(404, "gone").code == "NOT_FOUND"
    assert ServingError(413, "too big").code == "UNKNOWN"  # no canonical code answers 413
    error = ServingError.from_code("DATA_LOSS", "Can't parse x as binary proto")
    assert (error.status_code, error.code, error.message) == (
        500,
        "DATA_LOSS",
        "Can't parse x as binary proto",
    )
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.status_code, clone.code, clone.message) == (500, "DATA_LOSS", error.message)
    assert ServingError.from_code("NO_SUCH_CODE", "m").code == "UNKNOWN"


def _parse(body, dtype):
    return parse_predict_request(body, lambda signature_name: {"x": dtype})[1]["x"]


@pytest.mark.parametrize(
    "literal, dtype, expected",
    [
        # RapidJSON keeps a literal neither int64 nor uint64 holds as a double, and TF
        # Serving's IsLosslessDecimal takes any double within the float range.
        ("100000000000000000000", "DT_FLOAT", np.float32(1e20)),
        ("-100000000000000000000", "DT_FLOAT", np.float32(-1e20)),
        ("18446744073709551616", "DT_FLOAT", np.float32(2.0**64)),
        ("-9223372036854775809", "DT_FLOAT", np.float32(-(2.0**63))),
        ("100000000000000000000", "DT_DOUBLE", 1e20),
        ("18446744073709551616", "DT_DOUBLE", 2.0**64),
        ("1" + "0" * 38, "DT_FLOAT", np.float32(1e38)),
    ],
)
def test_integer_literals_past_uint64_are_doubles_for_float_inputs(literal, dtype, expected):
    # They were a 400 "Cannot convert JSON value: 100000000000000000000 to float without
    # loss of precision", which TF Serving says only of integers int64/uint64 hold.
    for body in (f'{{"inputs": [{literal}]}}', f'{{"instances": [[{literal}, 1.5]]}}'):
        array = _parse(body, dtype)
        assert array.dtype == (np.float32 if dtype == "DT_FLOAT" else np.float64)
        assert array.reshape(-1)[0] == expected


@pytest.mark.parametrize(
    "literal, dtype, message",
    [
        # uint64 and int64 hold these: still integers, which a float would round.
        (
            "18446744073709551615",
            "DT_FLOAT",
            "Cannot convert JSON value: 18446744073709551615 to float without loss of "
            "precision (input 'x')",
        ),
        (
            "-9223372036854775808",
            "DT_DOUBLE",
            "Cannot convert JSON value: -9223372036854775808 to double without loss of "
            "precision (input 'x')",
        ),
        # A double, not an integer: an integer input refuses its type.
        (
            "100000000000000000000",
            "DT_INT64",
            "JSON Value: 1e+20 Type: float is not of expected type: int64 (input 'x')",
        ),
        (
            "18446744073709551616",
            "DT_UINT64",
            "JSON Value: 1.8446744073709552e+19 Type: float is not of expected type: uint64 "
            "(input 'x')",
        ),
        # Past the float range.
        ("1" + "0" * 39, "DT_FLOAT", "JSON Value: 1e+39 out of range for float"),
    ],
)
def test_integer_literals_a_tensor_cannot_take_are_still_400(literal, dtype, message):
    with pytest.raises(ServingError) as info:
        _parse(f'{{"inputs": [{literal}]}}', dtype)
    assert (info.value.status_code, info.value.message) == (400, message)


def _model_config(base):
    return (
        "model_config_list {\n"
        f'  config {{ name: "toy" base_path: "{base / "toy"}" model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 1 } } }\n"
        "}\n"
    )


def test_a_reread_config_listing_no_model_unloads_every_model(failing_versions, tmp_path, caplog):
    # It was refused ("has no model_config_list"), the models kept serving; TF Serving's
    # ReloadConfig accepts one ModelConfigList after another, an empty one included.
    caplog.set_level(logging.INFO, logger=LOGGER)
    config_file = tmp_path / "models.config"
    config_file.write_text(_model_config(failing_versions))
    model_server = ModelServer.from_config_file(str(config_file), config_poll_interval=5)
    try:
        model_server.poll()
        assert model_server.servable("toy").version == 1
        config_file.write_text("model_config_list {}\n")
        assert model_server.poll_config_file() is True
        assert model_server.model_names() == []
        with pytest.raises(ServingError) as info:
            model_server.servable("toy")
        assert (info.value.status_code, info.value.message) == (
            404,
            "Servable not found for request: Latest(toy)",
        )
        assert _status(model_server) == {"1": ("END", "OK", "")}
        assert "model config reloaded: added [], removed ['toy'], changed []" in caplog.text
        # Listed again, it is loaded again.
        config_file.write_text(_model_config(failing_versions))
        assert model_server.poll_config_file() is True
        assert model_server.servable("toy").version == 1
        # A file with no model_config_list at all stays refused, as TF Serving refuses to
        # transition from a ModelConfigList to no config.
        config_file.write_text("# emptied\n")
        assert model_server.poll_config_file() is False
        assert model_server.servable("toy").version == 1
        refused = [r for r in caplog.records if "failed to reload the model config" in r.message]
        assert len(refused) == 1 and refused[0].levelno == logging.ERROR
        assert (
            refused[0]
            .getMessage()
            .endswith(
                f"keeping the previous one: {config_file} has no model_config_list {{ config "
                "{ ... } }: it is only legal to transition from one ModelConfigList to another "
                "(write model_config_list {} to serve no model)"
            )
        )
    finally:
        model_server.stop()


def test_a_config_listing_no_model_starts_a_server_serving_none(tmp_path, caplog, monkeypatch):
    # As TF Serving starts with it; a warning says so. `keras-seq serve` gets as far as
    # serving (it exited with "has no model_config_list").
    import keras_seq.serving

    config_file = tmp_path / "models.config"
    config_file.write_text("model_config_list {}\n")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    model_server = ModelServer.from_config_file(str(config_file))
    assert model_server.model_names() == []
    assert (
        f"{config_file} lists no model in its model_config_list: no model is served" in caplog.text
    )
    served = []
    monkeypatch.setattr(keras_seq.serving, "run_server", lambda server, **_: served.append(server))
    argv = ["serve", "--model_config_file", str(config_file), "--rest_api_port", "0"]
    assert cli.main(argv) == 0
    assert [server.model_names() for server in served] == [[]]
    # An empty file is still refused at start (TF Serving would serve nothing).
    config_file.write_text("")
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == (
        f"serve: {config_file} has no model_config_list {{ config {{ ... }} }}: it is only "
        "legal to transition from one ModelConfigList to another (write model_config_list "
        "{} to serve no model)"
    )


@pytest.fixture(scope="module")
def server(failing_versions):
    with ServerThread(
        ModelServer(toy_config(failing_versions, versions=[1]), poll_interval=5)
    ) as s:
        yield s


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/models/toy/versions/x"),
        ("GET", "/v1/models/toy/versions/x/metadata"),
        ("GET", "/v1/models/toy/versions/-1"),
        ("GET", "/v1/models/toy/versions/+1"),
        ("GET", "/v1/models/toy/versions/1x"),
        ("POST", "/v1/models/toy/versions/x:predict"),
        ("POST", "/v1/models/toy/versions/1.0:predict"),
    ],
)
def test_a_version_that_is_not_ascii_digits_is_a_malformed_request(server, method, path):
    # TF Serving's path regexes take a version as \d+: any other matches no route.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=b'{"instances": ["a"]}')
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read()))
    finally:
        connection.close()
    assert answer == (400, {"error": f"Malformed request: {method} {path}"})


def test_a_version_in_other_digits_is_a_malformed_request(server):
    # Python's \d and str.isdigit take "١" (ARABIC-INDIC DIGIT ONE); RE2's \d does not.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/v1/models/toy/versions/%D9%A1")
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read()))
    finally:
        connection.close()
    assert answer == (400, {"error": "Malformed request: GET /v1/models/toy/versions/\u0661"})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/v1/models/toy/versions/0001")
        response = connection.getresponse()
        versions = [s["version"] for s in json.loads(response.read())["model_version_status"]]
    finally:
        connection.close()
    assert (response.status, versions) == (200, ["1"])
