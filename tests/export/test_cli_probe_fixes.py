"""`keras-seq` command-line defects found by probing: bad arguments and inputs end with a
one-line message and a non-zero status, never a traceback or a silently empty output."""

import io
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from keras_seq import cli
from keras_seq.export import check_export, export, read_warmup_requests
from keras_seq.export.standalone_checker import WARMUP_FILE
from tests.export.toy_models import make_classifier


@pytest.fixture
def no_server(monkeypatch):
    """Makes `keras-seq serve` fail instead of serving, should it get that far."""
    import keras_seq.serving

    def run_server(*args, **kwargs):
        raise AssertionError("the server was started")

    monkeypatch.setattr(keras_seq.serving, "run_server", run_server)


def _fails_with(capsys, argv, message, code=2):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    # argparse exits 2 and prints its one-line error on stderr; our own checks exit with
    # the message itself (status 1).
    printed = capsys.readouterr().err.strip().splitlines()
    if code == 2:
        assert info.value.code == 2
        assert message in printed[-1], printed
    else:
        assert info.value.code == message


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch_size", "0"], "argument --batch_size: expected an int >= 1, got '0'"),
        # A negative batch size used to translate nothing and exit 0.
        (["--batch_size", "-1"], "argument --batch_size: expected an int >= 1, got '-1'"),
        (["--beam_size", "0"], "argument --beam_size: expected an int >= 1, got '0'"),
        (["--n_best", "0"], "argument --n_best: expected an int >= 1, got '0'"),
        (["--max_length", "0"], "argument --max_length: expected an int >= 1, got '0'"),
        (["--max_source_length", "x"], "--max_source_length: expected an int >= 1, got 'x'"),
        (["--length_penalty", "nan"], "--length_penalty: expected a number >= 0, got 'nan'"),
        # A negative penalty got through the parser and failed after the model was loaded.
        (["--length_penalty", "-1"], "--length_penalty: expected a number >= 0, got '-1'"),
    ],
)
def test_translate_refuses_bad_options(capsys, argv, message):
    _fails_with(capsys, ["translate", "--model", "unused.keras", *argv], message)


def test_translate_refuses_n_best_above_beam_size_and_missing_or_bad_models(capsys, tmp_path):
    argv = ["translate", "--model", "unused.keras", "--beam_size", "2", "--n_best", "3"]
    _fails_with(capsys, argv, "translate: --n_best must be at most --beam_size (2), got 3", 1)
    missing = str(tmp_path / "missing.keras")
    _fails_with(
        capsys, ["translate", "--model", missing], f"translate: --model {missing}: no such file", 1
    )
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(junk)])
    assert info.value.code.startswith(f"translate: cannot load --model {junk}: ")


def test_translate_input_that_is_not_utf8_names_the_line():
    # Under Python's UTF-8 mode stdin decodes with surrogateescape; strict decoding raises.
    escaped = io.StringIO("ok\nalso ok\n\udcff bad\n")
    with pytest.raises(SystemExit, match="^translate: line 3 of the input is not valid UTF-8$"):
        cli._read_lines(escaped)
    strict = io.TextIOWrapper(io.BytesIO(b"ok\n\xff bad\n"), encoding="utf-8")
    with pytest.raises(SystemExit, match="^translate: line 2 of the input is not valid UTF-8$"):
        cli._read_lines(strict)
    assert cli._read_lines(io.StringIO("a\n\nb")) == ["a", "", "b"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--rest_api_port", "99999"],
            "--rest_api_port: expected an int in [0, 65535], got '99999'",
        ),
        (["--rest_api_num_threads", "0"], "--rest_api_num_threads: expected an int >= 1, got '0'"),
        (["--max_queued_requests", "-1"], "--max_queued_requests: expected an int >= 0"),
        (["--rest_api_timeout_in_ms", "0"], "--rest_api_timeout_in_ms: expected an int >= 1"),
        (["--file_system_poll_wait_seconds", "0"], "expected a number > 0, got '0'"),
        (["--max_request_bytes", "0"], "--max_request_bytes: expected an int >= 1, got '0'"),
        (["--max_batch_size", "-1"], "--max_batch_size: expected an int >= 0, got '-1'"),
        (["--max_string_bytes", "-1"], "--max_string_bytes: expected an int >= 0, got '-1'"),
        (["--log_level", "verbose"], "argument --log_level: invalid choice: 'verbose'"),
    ],
)
def test_serve_refuses_bad_options(capsys, tmp_path, no_server, argv, message):
    _fails_with(capsys, ["serve", "--model_base_path", str(tmp_path), *argv], message)


def test_serve_reports_an_unreadable_or_malformed_config_in_one_line(tmp_path, no_server):
    missing = tmp_path / "missing.config"
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--model_config_file", str(missing)])
    assert info.value.code == f"serve: [Errno 2] No such file or directory: '{missing}'"
    malformed = tmp_path / "models.config"
    malformed.write_text("model_config_list { bogus: 1 }")
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--model_config_file", str(malformed)])
    assert info.value.code.startswith(f"serve: {malformed} is not a text ModelServerConfig")
    assert "\n" not in info.value.code


def test_check_export_passes_tolerances_and_report_modules_to_the_checker(monkeypatch):
    # docs/serving.md: "numbers with rtol=1e-5, atol=1e-6, adjustable with --rtol/--atol";
    # the subcommand refused both flags.
    calls = []

    def fake_run(command, **kwargs):
        calls.append((command, kwargs))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    argv = ["check-export", "base", "--rtol", "1e-3", "--atol", "0", "--report_modules"]
    assert cli.main(argv) == 0
    ((command, kwargs),) = calls
    assert command[2:] == ["base", "--report_modules", "--rtol", "0.001", "--atol", "0.0"]
    assert kwargs["timeout"] is None  # a long check is not abandoned with a traceback


def test_check_export_tolerances_decide_a_near_miss(tmp_path):
    """A served output 1e-4 away from the recorded one fails by default and passes with atol."""
    path = export(make_classifier(seed=0), tmp_path / "models", name="toy")
    logs = read_warmup_requests(os.path.join(path, WARMUP_FILE))
    expected = next(
        log.predict_log.response.outputs
        for log in logs
        if log.predict_log.request.model_spec.signature_name == "serving_default"
    )
    shifted = tf.make_ndarray(expected["probabilities"]) + np.float32(1e-4)
    expected["probabilities"].CopyFrom(tf.make_tensor_proto(shifted))
    with tf.io.TFRecordWriter(os.path.join(path, WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    result = check_export(path, atol=1e-3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_every_subcommand_has_help(capsys):
    for argv in (
        ["--help"],
        ["serve", "--help"],
        ["check-export", "--help"],
        ["translate", "--help"],
    ):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith("usage: keras-seq")


def test_checker_tolerances_are_finite_and_non_negative():
    import argparse

    from keras_seq.export.standalone_checker import tolerance

    assert tolerance("1e-3") == 1e-3 and tolerance("0") == 0.0
    for bad in ("-1e-3", "nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            tolerance(bad)
