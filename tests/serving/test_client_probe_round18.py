"""Round 18 of the REST probes: JSON requests TF Serving's codec (util/json_tensor.cc) cannot
read, and `keras-seq` command lines written as tensorflow_model_server reads them."""

import subprocess
import sys

import numpy as np
import pytest

from keras_seq import cli
from keras_seq.export import CHECKER_PATH
from keras_seq.serving.json_tensor import parse_predict_request
from keras_seq.serving.serving_error import ServingError


def _parse(body, dtypes):
    return parse_predict_request(body, lambda signature_name: dtypes)


def test_a_uint16_input_is_refused_as_tf_serving_cannot_read_it():
    # TF Serving's AddValueToTensor has no DT_UINT16 case ("Unimplemented: Conversion of JSON
    # Value: 7 to type: uint16"); the local server built a uint16 tensor and served it.
    with pytest.raises(ServingError) as info:
        _parse('{"instances": [7, 65535]}', {"x": "DT_UINT16"})
    assert info.value.status_code == 400
    assert "Input 'x' has dtype DT_UINT16, which JSON cannot carry" in info.value.message
    # Its neighbours are read, with their exact values.
    _, arrays, _ = _parse('{"inputs": [7, 4294967295]}', {"x": "DT_UINT32"})
    assert arrays["x"].dtype == np.uint32 and arrays["x"].tolist() == [7, 2**32 - 1]
    _, arrays, _ = _parse('{"inputs": [7, 255]}', {"x": "DT_UINT8"})
    assert arrays["x"].dtype == np.uint8 and arrays["x"].tolist() == [7, 255]


@pytest.mark.parametrize(
    "body, signature",
    [
        ('{"instances": [1]}', "DEFAULT"),
        ('{"inputs": {}}', "DEFAULT"),
        ('{"signature_name": "clock", "instances": [{}]}', "clock"),
    ],
)
def test_a_signature_without_inputs_is_refused_as_tf_serving_does(body, signature):
    # FillPredictRequestFromJson: "Failed to get input map for signature: DEFAULT" before the
    # body's keys are read; the local server said "Expecting object with 0 keys" or read {}.
    with pytest.raises(ServingError) as info:
        _parse(body, {})
    assert info.value.status_code == 400
    assert info.value.message == f"Failed to get input map for signature: {signature}"


def test_rapidjson_infinity_and_nan_spellings_are_floats():
    # RapidJSON (kParseNanAndInfFlag) reads Inf, -Inf and -NaN too; they were a 400 here.
    body = '{"instances": [[Inf, -Inf, -NaN, NaN, Infinity, -Infinity, 1.5]]}'
    _, arrays, _ = _parse(body, {"x": "DT_FLOAT"})
    values = arrays["x"][0]
    assert arrays["x"].dtype == np.float32 and arrays["x"].shape == (1, 7)
    assert values[[0, 4]].tolist() == [np.inf, np.inf]
    assert values[[1, 5]].tolist() == [-np.inf, -np.inf]
    assert np.isnan(values[[2, 3]]).all() and values[6] == 1.5
    # Inside strings they stay text, and a key is not rewritten either.
    body = '{"instances": [{"Inf": "Inf \\" -Inf", "y": -Inf}]}'
    _, arrays, _ = _parse(body, {"Inf": "DT_STRING", "y": "DT_DOUBLE"})
    assert arrays["Inf"].tolist() == [b'Inf " -Inf'] and arrays["y"].tolist() == [-np.inf]


@pytest.mark.parametrize(
    "body, message",
    [
        # What RapidJSON refuses stays refused, with Python's first error.
        ('{"instances": [Infinit]}', "JSON Parse error: Expecting value: line 1 column 16"),
        ('{"instances": [inf]}', "JSON Parse error: Expecting value: line 1 column 16"),
        ('{"instances": [-Inf, ]}', "JSON Parse error: Expecting value: line 1 column 16"),
        ('{"instances": [Inf "x"]}', "JSON Parse error: Expecting value: line 1 column 16"),
    ],
)
def test_other_spellings_stay_parse_errors(body, message):
    with pytest.raises(ServingError) as info:
        _parse(body, {"x": "DT_FLOAT"})
    assert info.value.status_code == 400
    assert info.value.message.startswith(message), info.value.message
    assert "Infinity" not in info.value.message


def _serve_arguments(monkeypatch, argv):
    """The keyword arguments `keras-seq serve argv` would start the server with."""
    import keras_seq.serving

    started = {}
    monkeypatch.setattr(
        keras_seq.serving.ModelServer, "for_base_path", classmethod(lambda cls, *a, **k: None)
    )
    monkeypatch.setattr(
        keras_seq.serving, "run_server", lambda server, **kwargs: started.update(kwargs)
    )
    assert cli.main(["serve", "--model_base_path", "base", "--rest_api_port=0", *argv]) == 0
    return started


@pytest.mark.parametrize(
    "argv, enabled",
    [
        ([], False),
        (["--enable_batching"], True),
        (["--enable_batching=true"], True),  # serving/docker_run.sh's form
        (["--enable_batching=false"], False),
        (["--enable_batching", "--log_level=warning"], True),
    ],
)
def test_enable_batching_is_read_as_tensorflow_model_server_reads_it(monkeypatch, argv, enabled):
    # `--enable_batching=true` was a usage error: "ignored explicit argument 'true'".
    assert _serve_arguments(monkeypatch, argv)["enable_batching"] is enabled


@pytest.mark.parametrize("value", ["yes", "True", "1", ""])
def test_enable_batching_takes_only_true_or_false(capsys, value):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(
            ["serve", "--model_base_path", "base", f"--enable_batching={value}"]
        )
    assert info.value.code == 2
    assert (
        f"argument --enable_batching: expected true or false, got {value!r}"
        in capsys.readouterr().err
    )


def test_check_export_refuses_an_empty_path(capsys, monkeypatch):
    # `keras-seq check-export "$MODEL_DIR"` with the variable unset checked the working
    # directory (a PASS when it was a version directory), or failed with "FAIL : ...".
    def run(*args, **kwargs):
        raise AssertionError("the checker was started")

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(SystemExit) as info:
        cli.main(["check-export", "models/toy", ""])
    assert info.value.code == 2
    assert "argument paths: expected a path, got ''" in capsys.readouterr().err
    # The checker script itself (`python standalone_checker.py ""`) says the same, before it
    # imports TensorFlow.
    monkeypatch.undo()
    result = subprocess.run(
        [sys.executable, CHECKER_PATH, ""], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "argument paths: expected a path, got ''" in result.stderr
